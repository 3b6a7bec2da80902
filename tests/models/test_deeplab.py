"""DeepLabv3+: shapes, strides, multi-grid, parameter split, checkpoint loading, determinism."""
import math

import pytest
import torch
from torchvision.models import resnet50

from zs3core.models.backbones import stage_rates
from zs3core.models.deeplab import DeepLabV3Plus, build_segmenter

TINY = {"backbone": "resnet_tiny", "aspp_channels": 16, "feature_dim": 16, "low_level_channels": 8}


@pytest.fixture(scope="module")
def resnet101():
    return {os: DeepLabV3Plus(5, "resnet101", output_stride=os).eval() for os in (8, 16)}


@pytest.mark.parametrize("size", [(64, 64), (33, 47)])
@pytest.mark.parametrize("os", [8, 16])
def test_tiny_shapes(os, size):
    model = build_segmenter(7, {**TINY, "output_stride": os})
    x = torch.randn(2, 3, *size)
    assert model(x).shape == (2, 7, *size)
    assert model.features(x).shape == (2, 16, math.ceil(size[0] / 4), math.ceil(size[1] / 4))
    low, high = model.backbone(torch.randn(2, 3, 64, 64))
    assert low.shape[-2:] == (16, 16) and high.shape[-2:] == (64 // os, 64 // os)


@pytest.mark.parametrize("os", [8, 16])
def test_resnet101_shapes_and_multi_grid(resnet101, os):
    model = resnet101[os]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 33, 33)).shape == (1, 5, 33, 33)
        assert model.features(torch.randn(1, 3, 33, 33)).shape == (1, 256, 9, 9)
        low, high = model.backbone(torch.randn(1, 3, 64, 64))
    assert (low.shape[1:], high.shape[1:]) == ((256, 16, 16), (2048, 64 // os, 64 // os))
    base = 16 // os * 2
    assert [b.conv2.dilation for b in model.backbone.layer4] == [(base * g,) * 2 for g in (1, 2, 4)]
    assert all(b.conv2.padding == b.conv2.dilation for b in model.backbone.layer4)
    # at stride 8 every layer3 block is dilated, the first one included (DeepLab, not torchvision)
    assert {b.conv2.dilation for b in model.backbone.layer3} == {(16 // os,) * 2}
    assert [branch[0].dilation[0] for branch in model.aspp.convs[1:]] == [r * 16 // os for r in (6, 12, 18)]


def test_multi_grid_tiny_and_custom():
    model = build_segmenter(3, {**TINY, "tiny_blocks": [1, 1, 1, 3], "multi_grid": [1, 3]})
    assert [(b.conv1.dilation, b.conv2.dilation) for b in model.backbone.layer4] == \
        [((2, 2),) * 2, ((6, 6),) * 2, ((2, 2),) * 2]
    assert stage_rates(8, (1, 2, 4), (3, 4, 23, 3)) == [[1] * 3, [1] * 4, [2] * 23, [4, 8, 16]]


def test_head_backbone_partition(resnet101):
    for model in (resnet101[16], build_segmenter(4, TINY)):
        head, body = list(model.head_parameters()), list(model.backbone_parameters())
        ids = [id(p) for p in head + body]
        assert len(ids) == len(set(ids)) == len(list(model.parameters()))
        assert model.classifier in [m for part in model.head() for m in part.modules()]


def test_classifier_is_swappable_1x1_conv():
    model = build_segmenter(300, TINY)
    assert isinstance(model.classifier, torch.nn.Conv2d) and model.classifier.kernel_size == (1, 1)
    model.classifier = torch.nn.Conv2d(16, 9, 1)
    assert model(torch.randn(2, 3, 20, 20)).shape == (2, 9, 20, 20)


def test_init_from_file(tmp_path):
    torch.manual_seed(1)
    state = resnet50().state_dict()  # with fc.*, as a classification checkpoint has
    torch.save(state, tmp_path / "r50.pth")
    model = build_segmenter(3, {"backbone": "resnet50", "init": "file", "backbone_weights": str(tmp_path / "r50.pth")})
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if not k.startswith("fc."))
    assert set(loaded) == {k for k in state if not k.startswith("fc.")}

    # the authors' layout: under 'state_dict', DataParallel 'module.' prefix, no num_batches_tracked
    wrapped = {"state_dict": {"module." + k: v for k, v in state.items() if "num_batches_tracked" not in k}}
    torch.save(wrapped, tmp_path / "authors.pth.tar")
    model = build_segmenter(3, {"backbone": "resnet50", "init": "file", "backbone_weights": str(tmp_path / "authors.pth.tar")})
    assert torch.equal(model.backbone.layer3[2].conv2.weight, state["layer3.2.conv2.weight"])

    broken = dict(state)
    del broken["layer2.1.bn1.running_var"]
    broken["layer4.0.conv1.weight"] = torch.zeros(3, 3, 1, 1)
    broken["extra.weight"] = torch.zeros(1)
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(ValueError) as err:
        build_segmenter(3, {"backbone": "resnet50", "init": "file", "backbone_weights": str(tmp_path / "broken.pth")})
    for key in ("layer2.1.bn1.running_var", "layer4.0.conv1.weight", "extra.weight"):
        assert key in str(err.value)


def test_init_file_tiny_roundtrip(tmp_path):
    source = build_segmenter(3, TINY)
    torch.save(source.backbone.state_dict(), tmp_path / "tiny.pth")
    model = build_segmenter(3, {**TINY, "init": "file", "backbone_weights": str(tmp_path / "tiny.pth")})
    assert all(torch.equal(a, b) for a, b in zip(source.backbone.state_dict().values(),
                                                 model.backbone.state_dict().values()))


def test_imagenet_needs_local_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "hub" / "checkpoints" / "resnet50-0676ba61.pth")):
        build_segmenter(3, {"backbone": "resnet50", "init": "imagenet"})


@pytest.mark.parametrize("cfg, key", [
    ({"backbone": "vgg16"}, "segmenter.backbone"),
    ({**TINY, "output_stride": 32}, "segmenter.output_stride"),
    ({**TINY, "multi_grid": []}, "segmenter.multi_grid"),
    ({**TINY, "feature_dim": 0}, "segmenter.feature_dim"),
    ({**TINY, "decoder_dropout": [0.5]}, "segmenter.decoder_dropout"),
    ({**TINY, "tiny_widths": [8, 16, 32]}, "segmenter.tiny_widths"),
    ({"backbone": "resnet50", "tiny_widths": [8, 16, 32, 64]}, "segmenter.backbone"),
    ({**TINY, "init": "imagenet"}, "segmenter.init"),
    ({**TINY, "init": "random"}, "segmenter.init"),
    ({**TINY, "init": "file"}, "segmenter.backbone_weights"),
    ({**TINY, "init": "authors"}, "segmenter.backbone_weights"),
    ({**TINY, "architecture": "xception"}, "segmenter.architecture"),
])
def test_bad_config(cfg, key):
    with pytest.raises(ValueError, match=key):
        build_segmenter(3, cfg)


def test_same_seed_same_weights():
    def weights():
        torch.manual_seed(3)
        return build_segmenter(5, {**TINY, "tiny_widths": [4, 8, 8, 16]}).state_dict()
    a, b = weights(), weights()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_eval_is_deterministic_train_is_not():
    model = build_segmenter(5, {**TINY, "decoder_dropout": [0.5, 0.5]})
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model.features(x), model.features(x))
