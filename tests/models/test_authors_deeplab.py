"""`architecture: authors` computes the authors' forward pass: a file of their documented layout,
converted, against a reference written from their code's structure with their tensors by THEIR names
(stem, one dilated layer4 block, ASPP, decoder, classifier, and the whole network), on a CPU."""
import pytest
import torch
import torch.nn.functional as F

from authors_layout import authors_layout, authors_state_dict, write_authors_file
from zs3core.authors import CLASSES, UNSEEN_ORDER
from zs3core.authors_checkpoints import authors_segmenter

# Their ResNet-101 at output stride 16: (first block's stride, each block's dilation) per layer.
LAYERS = [(1, [1] * 3), (2, [1] * 4), (2, [1] * 23), (1, [2, 4, 8])]


def conv(x, sd, name, stride=1, dilation=1):
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w, sd.get(f"{name}.bias"), stride, dilation * (w.shape[-1] // 2), dilation)


def bn(x, sd, name):
    return F.batch_norm(x, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
                        sd[f"{name}.bias"], training=False, eps=1e-5)


def bottleneck(x, sd, name, stride, dilation):
    out = F.relu(bn(conv(x, sd, f"{name}.conv1"), sd, f"{name}.bn1"))
    out = F.relu(bn(conv(out, sd, f"{name}.conv2", stride, dilation), sd, f"{name}.bn2"))
    out = bn(conv(out, sd, f"{name}.conv3"), sd, f"{name}.bn3")
    if f"{name}.downsample.0.weight" in sd:
        x = bn(conv(x, sd, f"{name}.downsample.0", stride), sd, f"{name}.downsample.1")
    return F.relu(out + x)


def stem(x, sd):
    return F.max_pool2d(F.relu(bn(conv(x, sd, "backbone.conv1", stride=2), sd, "backbone.bn1")), 3, 2, 1)


def backbone(x, sd):
    x = stem(x, sd)
    for i, (stride, dilations) in enumerate(LAYERS, start=1):
        for b, dilation in enumerate(dilations):
            x = bottleneck(x, sd, f"backbone.layer{i}.{b}", stride if b == 0 else 1, dilation)
        low = x if i == 1 else low
    return low, x


def aspp(x, sd):
    branches = [F.relu(bn(conv(x, sd, f"aspp.aspp{i}.atrous_conv", dilation=rate), sd, f"aspp.aspp{i}.bn"))
                for i, rate in zip(range(1, 5), (1, 6, 12, 18))]
    pooled = F.adaptive_avg_pool2d(x, 1)
    pooled = F.relu(bn(conv(pooled, sd, "aspp.global_avg_pool.1"), sd, "aspp.global_avg_pool.2"))
    pooled = F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=True)
    return F.relu(bn(conv(torch.cat(branches + [pooled], 1), sd, "aspp.conv1"), sd, "aspp.bn1"))


def decoder(x, low, sd):
    low = F.relu(bn(conv(low, sd, "decoder.conv1"), sd, "decoder.bn1"))
    x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=True)
    x = F.relu(bn(conv(torch.cat([x, low], 1), sd, "decoder.last_conv.0"), sd, "decoder.last_conv.1"))
    return F.relu(bn(conv(x, sd, "decoder.last_conv.4"), sd, "decoder.last_conv.5"))


def forward(x, sd):
    low, high = backbone(x, sd)
    logits = conv(decoder(aspp(high, sd), low, sd), sd, "decoder.pred_conv")
    return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=True)


def our_classes(fmt):
    """This config's class order: VOC's is theirs; Context's is alphabetical after background."""
    return CLASSES[fmt] if fmt == "voc" else ["background"] + sorted(CLASSES[fmt][1:])


def converted(tmp_path_factory, fmt):
    """(their state dict, our network loaded from a file of theirs)."""
    sd = authors_state_dict(len(CLASSES[fmt]), seed=len(fmt))
    path = write_authors_file(tmp_path_factory.mktemp(fmt) / "deeplab_pretrained_pascal_02_unseen.pth.tar", sd)
    model = authors_segmenter(path, dataset=fmt, fmt=fmt, k=2, class_names=our_classes(fmt),
                              unseen=UNSEEN_ORDER[fmt][:2])
    return sd, model


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return converted(tmp_path_factory, "voc")


def close(got, want):
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))


def test_fake_file_has_the_documented_counts():
    layout = authors_layout(21)
    parts = [k.split(".")[0] for k in layout]
    assert (len(layout), len([k for k in layout if not k.endswith("num_batches_tracked")])) == (680, 567)
    assert [parts.count(p) for p in ("backbone", "aspp", "decoder")] == [624, 36, 20]


@torch.no_grad()
def test_first_conv(voc):
    sd, model = voc
    x = torch.randn(1, 3, 65, 65, generator=torch.Generator().manual_seed(1))
    close(model.backbone.conv1(x), conv(x, sd, "backbone.conv1", stride=2))
    close(model.backbone.maxpool(model.backbone.relu(model.backbone.bn1(model.backbone.conv1(x)))), stem(x, sd))


@torch.no_grad()
def test_dilated_layer4_block(voc):
    """Block 1 of layer4 has rate 4: on a 9x9 map taps at 4 pixels are inside, so rates 2 and 8 differ."""
    sd, model = voc
    x = torch.randn(1, 2048, 9, 9, generator=torch.Generator().manual_seed(2))
    got = model.backbone.layer4[1](x)
    close(got, bottleneck(x, sd, "backbone.layer4.1", 1, 4))
    for wrong in (2, 8):
        assert not torch.allclose(got, bottleneck(x, sd, "backbone.layer4.1", 1, wrong), atol=1e-3)


@torch.no_grad()
def test_aspp_projection(voc):
    """On a 20x20 map every rate (6, 12, 18) reaches inside the map."""
    sd, model = voc
    x = torch.randn(1, 2048, 20, 20, generator=torch.Generator().manual_seed(3))
    close(model.aspp(x), aspp(x, sd))


@torch.no_grad()
def test_decoder_and_classifier(voc):
    sd, model = voc
    g = torch.Generator().manual_seed(4)
    high, low = torch.rand(1, 256, 5, 5, generator=g), torch.rand(1, 256, 17, 17, generator=g)
    features = model.decoder(high, low)
    close(features, decoder(high, low, sd))
    close(model.classifier(features), conv(features, sd, "decoder.pred_conv"))


@pytest.mark.parametrize("fmt", ["voc", "context"])
@torch.no_grad()
def test_whole_network_in_our_class_order(tmp_path_factory, voc, fmt):
    """Their logits for class c sit in our channel of c: identity for VOC, permuted for Context."""
    sd, model = voc if fmt == "voc" else converted(tmp_path_factory, fmt)
    x = torch.randn(2, 3, 65, 57, generator=torch.Generator().manual_seed(5))
    theirs = forward(x, sd)
    close(model(x), theirs[:, [CLASSES[fmt].index(c) for c in our_classes(fmt)]])
    low, high = backbone(x, sd)
    close(model.features(x), decoder(aspp(high, sd), low, sd))
