"""Reading the authors' files: the strict key map, the numpy allow-list, and a converted stage-1 file
read back by the same code path as a trained seen-only checkpoint."""
import argparse

import numpy as np
import pytest
import torch
from torchvision.models import resnet101

from authors_layout import authors_state_dict, constant_state_dict, write_authors_file
from zs3core.authors import AUTHORS_ARCHITECTURE, CLASSES, UNSEEN_ORDER
from zs3core.authors_checkpoints import MODULE_MAP, authors_segmenter, convert_step0, rename
from zs3core.checkpoints import CorruptCheckpoint, load_checkpoint
from zs3core.models.deeplab import build_segmenter
from zs3core.train.step0 import load_step0

VOC = CLASSES["voc"]
SPLIT = dict(dataset="voc", fmt="voc", k=2, class_names=VOC, unseen=["cow", "motorbike"])
SEGMENTER = {"architecture": "authors", "init": "none"}


@pytest.fixture(scope="module")
def state():
    return authors_state_dict(21, seed=7)


@pytest.fixture(scope="module")
def cheap():
    """The same layout, one stored value per tensor: for the tests in which values do not matter."""
    return constant_state_dict(21)


def test_key_map_covers_our_network_exactly(cheap):
    """Every tensor of theirs has one of ours and the other way round (a bijection of names)."""
    ours = build_segmenter(21, SEGMENTER).state_dict()
    assert sorted(rename(k, MODULE_MAP) for k in cheap) == sorted(ours)
    inverse = {v: k for k, v in MODULE_MAP.items()}
    assert sorted(rename(k, inverse) for k in ours) == sorted(cheap)


def test_convert_then_load_step0(tmp_path, state):
    """A converted stage-1 file is a seen-only checkpoint like a trained one: same outputs."""
    path = write_authors_file(tmp_path / "stage1.pth.tar", state)
    out = tmp_path / "checkpoints/voc/k2/seenonly.pt"
    convert_step0(path, out, seg_cfg={**SEGMENTER, "init": "authors"}, **SPLIT)
    model = load_step0("seenonly", out, 21, {**SEGMENTER, **AUTHORS_ARCHITECTURE})
    x = torch.randn(1, 3, 33, 41)
    with torch.no_grad():
        torch.testing.assert_close(model(x), authors_segmenter(path, **SPLIT)(x), rtol=0, atol=0)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]  # written atomically


def test_file_without_num_batches_tracked(tmp_path, cheap):
    older = {k: v for k, v in cheap.items() if not k.endswith("num_batches_tracked")}
    model = authors_segmenter(write_authors_file(tmp_path / "old.pth.tar", older), **SPLIT)
    assert len(older) == 567 and int(model.backbone.bn1.num_batches_tracked) == 0


def test_missing_extra_and_misshapen_keys_are_listed(tmp_path, cheap):
    broken = dict(cheap)
    del broken["aspp.aspp3.bn.running_var"]
    broken["decoder.extra_conv.weight"] = torch.zeros(1)
    broken["backbone.layer4.1.conv2.weight"] = torch.zeros(512, 512, 1, 1)
    path = write_authors_file(tmp_path / "broken.pth.tar", broken)
    with pytest.raises(ValueError) as err:
        authors_segmenter(path, **SPLIT)
    message = str(err.value)
    for text in (str(path), "missing keys ['aspp.aspp3.bn.running_var']", "unmapped keys ['decoder.extra_conv.weight']",
                 "backbone.layer4.1.conv2.weight (512, 512, 1, 1) (expected (512, 512, 3, 3))"):
        assert text in message


def test_partial_num_batches_tracked_is_missing(tmp_path, cheap):
    """Either every batch-norm counter is there or none: one missing counter is a missing key."""
    partial = {k: v for k, v in cheap.items() if k != "decoder.bn1.num_batches_tracked"}
    with pytest.raises(ValueError, match=r"missing keys \['decoder.bn1.num_batches_tracked'\]"):
        authors_segmenter(write_authors_file(tmp_path / "partial.pth.tar", partial), **SPLIT)


def test_unexpected_pickled_object_is_refused(tmp_path, cheap):
    path = write_authors_file(tmp_path / "args.pth.tar", cheap, args=argparse.Namespace(lr=0.007))
    with pytest.raises(CorruptCheckpoint, match="argparse.Namespace") as err:
        authors_segmenter(path, **SPLIT)
    assert str(path) in str(err.value)


def test_numpy_scalar_allowed_other_numpy_types_not(tmp_path):
    torch.save({"best_pred": np.float64(0.5), "epoch": 3}, tmp_path / "ok.pt")
    assert load_checkpoint(tmp_path / "ok.pt", foreign=True)["best_pred"] == 0.5
    with pytest.raises(CorruptCheckpoint, match="ok.pt.*scalar"):  # not in the workflow's own files
        load_checkpoint(tmp_path / "ok.pt")
    torch.save({"table": np.zeros(3)}, tmp_path / "array.pt")
    with pytest.raises(CorruptCheckpoint, match="array.pt"):
        load_checkpoint(tmp_path / "array.pt", foreign=True)


def test_not_a_deeplab_file(tmp_path):
    torch.save({"model": {}}, tmp_path / "ours.pt")
    with pytest.raises(ValueError, match=r"ours.pt has no 'state_dict'"):
        authors_segmenter(tmp_path / "ours.pt", **SPLIT)


def test_split_and_architecture_must_match(tmp_path, cheap):
    path = write_authors_file(tmp_path / "stage1.pth.tar", cheap)
    with pytest.raises(ValueError, match=r"datasets.voc.unseen.2 is \['cow', 'sheep'\]"):
        authors_segmenter(path, **{**SPLIT, "unseen": ["cow", "sheep"]})
    with pytest.raises(ValueError, match="segmenter.architecture 'authors'"):
        convert_step0(path, tmp_path / "out.pt", seg_cfg={"init": "authors"}, **SPLIT)
    assert UNSEEN_ORDER["voc"][:2] == SPLIT["unseen"]


def test_their_imagenet_backbone_initialises_training(tmp_path):
    """`init: authors` starts what is still trained from their ResNet-101 without Pascal classes:
    `module.` prefix, a numpy scalar beside the weights, an `fc` of another size (dropped)."""
    body = {k: v for k, v in resnet101(num_classes=900).state_dict().items() if not k.endswith("num_batches_tracked")}
    path = write_authors_file(tmp_path / "resnet_backbone_pretrained_imagenet_wo_pascalvoc.pth.tar",
                              {f"module.{k}": v for k, v in body.items()})
    model = build_segmenter(21, {**SEGMENTER, "init": "authors", "backbone_weights": str(path)})
    loaded = model.backbone.state_dict()
    assert len(body) == 522 and all(torch.equal(loaded[k], v) for k, v in body.items() if not k.startswith("fc."))
