"""VOC 2012 + SBD composition: the SBD-augmented train set never contains a VOC val image."""
import numpy as np
import pytest

from fixtures import VOC_CLASSES, make_sbd, make_voc
from zs3core.data.index import index_rows
from zs3core.data.labels import read_label
from zs3core.data.voc import voc_records


@pytest.fixture
def roots(tmp_path):
    voc, voc_labels = make_voc(tmp_path, ["a", "b", "c"], ["v1", "v2"])
    # SBD lists VOC val id v1 (in its train) and VOC train ids c, a, plus new d, e (d twice).
    sbd, sbd_labels = make_sbd(tmp_path, ["c", "d", "v1"], ["e", "a", "d"])
    return voc, voc_labels, sbd, sbd_labels


def by_split(records):
    return {s: [r["image_id"] for r in records if r["split"] == s] for s in ("train", "val")}


def test_sbd_augmented_composition(roots):
    voc, _, sbd, _ = roots
    records = voc_records(voc, sbd)
    ids = by_split(records)
    # (VOC train {a,b,c} | SBD {c,d,v1,e,a}) - VOC val {v1,v2} = {a,b,c,d,e}, each once.
    assert sorted(ids["train"]) == ["a", "b", "c", "d", "e"]
    assert ids["val"] == ["v1", "v2"]
    assert len(records) == 7
    source = {r["image_id"]: (r["image"], r["label"]) for r in records if r["split"] == "train"}
    for i in "abc":  # in VOC train: VOC image and PNG, even when SBD also has them
        assert source[i] == (str(voc / "JPEGImages" / f"{i}.jpg"),
                             str(voc / "SegmentationClass" / f"{i}.png"))
    for i in "de":
        assert source[i] == (str(sbd / "img" / f"{i}.jpg"), str(sbd / "cls" / f"{i}.mat"))


def test_labels_come_from_the_right_source(roots):
    voc, voc_labels, sbd, sbd_labels = roots
    rows = {r["image_id"]: r for r in index_rows(voc_records(voc, sbd), VOC_CLASSES)}
    assert np.array_equal(read_label(rows["a"]["label"]), voc_labels["a"])  # VOC PNG, with 255
    assert (voc_labels["a"] == 255).any()
    assert np.array_equal(read_label(rows["d"]["label"]), sbd_labels["d"])
    assert np.array_equal(read_label(rows["v1"]["label"]), voc_labels["v1"])


def test_without_sbd_train_is_voc_train(roots):
    voc = roots[0]
    assert by_split(voc_records(voc)) == {"train": ["a", "b", "c"], "val": ["v1", "v2"]}


def test_missing_roots_name_the_config_key(tmp_path, roots):
    voc, _, sbd, _ = roots
    with pytest.raises(FileNotFoundError, match=r"datasets\.voc\.root.*SegmentationClass"):
        voc_records(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"datasets\.voc\.sbd_root.*cls/"):
        voc_records(voc, tmp_path / "nowhere")
    (voc / "ImageSets" / "Segmentation" / "val.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"datasets\.voc\.root: .*val\.txt not found"):
        voc_records(voc, sbd)
