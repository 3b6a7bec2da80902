"""The tiny backbone's basic block is torchvision's, module for module."""
import pytest
import torch
from torchvision.models.resnet import BasicBlock as TorchvisionBasicBlock

from zs3core.models.backbones import BasicBlock


@pytest.mark.parametrize("inplanes, planes, stride", [(8, 8, 1), (8, 16, 2), (4, 12, 1)])
def test_basic_block_is_torchvisions(inplanes, planes, stride):
    def built(block_class):
        torch.manual_seed(0)
        down = None
        if stride != 1 or inplanes != planes:
            down = torch.nn.Sequential(torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                       torch.nn.BatchNorm2d(planes))
        block = block_class(inplanes, planes, stride, down)
        for p in block.parameters():  # random BatchNorm affine too, so that the paths differ
            torch.nn.init.normal_(p)
        return block, torch.rand(1)  # the generator's state after building

    (ours, after_ours), (theirs, after_theirs) = built(BasicBlock), built(TorchvisionBasicBlock)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(after_ours, after_theirs)
    x = torch.randn(2, inplanes, 9, 11)
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        assert torch.equal(ours(x), theirs(x))


# ---------------------------------------------------------------- the authors' ImageNet backbone files

from authors_layout import write_authors_file  # noqa: E402
from torchvision.models import resnet101  # noqa: E402

from zs3core.models.backbones import load_authors_backbone, torchvision_resnet  # noqa: E402
from zs3core.models.deeplab import build_segmenter  # noqa: E402

COUNTERS = "num_batches_tracked"


@pytest.fixture(scope="module")
def imagenet_body():
    """torchvision's resnet101 with random weights (counters made non-zero, so that they are seen to
    load), and its 624 body tensors."""
    torch.manual_seed(3)
    state = resnet101().state_dict()
    for k in state:
        if k.endswith(COUNTERS):
            state[k] = torch.tensor(7)
    body = {k: v for k, v in state.items() if not k.startswith("fc.")}
    assert len(body) == 624 and sum(not k.endswith(COUNTERS) for k in body) == 520  # the documented counts
    return body


def authors_state(body, counters=True, drop=()):
    """`body` in the authors' layout: every key under `module.`, and a classifier `fc` of another
    size (their ImageNet without Pascal classes)."""
    state = {f"module.{k}": v for k, v in body.items() if (counters or not k.endswith(COUNTERS)) and k not in drop}
    return state | {"module.fc.weight": torch.zeros(7, 2048), "module.fc.bias": torch.zeros(7)}


def authors_backbone_file(path, body, counters=True, drop=()):
    """`authors_state` pickled as their files are ({epoch, state_dict, optimizer, best_pred: a numpy float64})."""
    return write_authors_file(path, authors_state(body, counters, drop))


def fresh_backbone():
    return torchvision_resnet("resnet101", 16, [1, 2, 4])


def test_authors_backbone_loads_every_tensor(imagenet_body, tmp_path):
    backbone = fresh_backbone()
    load_authors_backbone(backbone, authors_backbone_file(tmp_path / "wo_pascal.pth.tar", imagenet_body))
    loaded = backbone.state_dict()
    assert set(loaded) == set(imagenet_body)
    assert all(torch.equal(loaded[k], v) for k, v in imagenet_body.items())


def test_authors_backbone_without_counters_loads_the_520_others(imagenet_body, tmp_path):
    backbone = fresh_backbone()
    own = {k: v.clone() for k, v in backbone.state_dict().items() if k.endswith(COUNTERS)}
    load_authors_backbone(backbone, authors_backbone_file(tmp_path / "old.pth.tar", imagenet_body, counters=False))
    loaded = backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in imagenet_body.items() if not k.endswith(COUNTERS))
    assert all(torch.equal(loaded[k], v) for k, v in own.items())  # the model's own counters kept


@pytest.mark.parametrize("fault, named", [
    ("missing", "layer3.7.bn2.running_var"),
    ("unprefixed", "layer1.0.conv1.weight"),
    ("shape", "layer4.2.conv3.weight (2048, 512, 3, 3) (expected (2048, 512, 1, 1))"),
    ("no_state_dict", "no 'state_dict'"),
])
def test_a_file_off_the_authors_layout_is_refused_by_name(imagenet_body, tmp_path, fault, named):
    body = dict(imagenet_body)
    path = tmp_path / f"{fault}.pth.tar"
    if fault == "missing":
        authors_backbone_file(path, body, drop=("layer3.7.bn2.running_var",))
    elif fault == "unprefixed":
        state = authors_state(body)
        state["layer1.0.conv1.weight"] = state.pop("module.layer1.0.conv1.weight")
        write_authors_file(path, state)
    elif fault == "shape":
        authors_backbone_file(path, body | {"layer4.2.conv3.weight": torch.zeros(2048, 512, 3, 3)})
    else:
        torch.save({f"module.{k}": v for k, v in body.items()}, path)
    backbone = fresh_backbone()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    with pytest.raises(ValueError) as err:
        load_authors_backbone(backbone, path)
    assert str(path) in str(err.value) and named in str(err.value)
    assert all(torch.equal(v, before[k]) for k, v in backbone.state_dict().items())  # nothing half-loaded


def test_init_authors_imagenet_builds_on_the_authors_backbone(imagenet_body, tmp_path):
    path = authors_backbone_file(tmp_path / "wo_pascal.pth.tar", imagenet_body, counters=False)
    model = build_segmenter(3, {"architecture": "authors", "init": "authors_imagenet", "backbone_weights": str(path)})
    assert torch.equal(model.backbone.layer2[3].conv2.weight, imagenet_body["layer2.3.conv2.weight"])
    with pytest.raises(ValueError, match="segmenter.backbone"):
        build_segmenter(3, {"backbone": "resnet50", "init": "authors_imagenet", "backbone_weights": str(path)})
