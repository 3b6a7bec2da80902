"""Pascal-Context: 459-class LabelMaps mapped BY NAME onto the 60-class list."""
import numpy as np
import pytest
import scipy.io

from fixtures import CONTEXT_CLASSES, make_context
from zs3core.data.context import (context_ids, context_lut, context_records, convert_context_labels,
                                  read_context_names)
from zs3core.data.labels import read_label

LABELS_TXT = ("1: accordion\n2: aeroplane\n3: air conditioner\n18: bed\n\n"
              "300: table\n301: tvmonitor\n459: wood\n")
CLASSES = ["background", "aeroplane", "bed", "table", "tvmonitor", "wood"]


@pytest.fixture
def hand_made(tmp_path):
    labels_dir = tmp_path / "trainval"
    labels_dir.mkdir()
    (labels_dir / "labels.txt").write_text(LABELS_TXT)
    label_map = np.array([[0, 1, 2], [3, 18, 300], [301, 459, 2]], dtype=np.uint16)
    scipy.io.savemat(labels_dir / "img1.mat", {"LabelMap": label_map})
    return labels_dir


def test_read_names_keeps_multiword_names(tmp_path):
    (tmp_path / "labels.txt").write_text(LABELS_TXT)
    names = read_context_names(tmp_path / "labels.txt")
    assert names == {1: "accordion", 2: "aeroplane", 3: "air conditioner", 18: "bed", 300: "table",
                     301: "tvmonitor", 459: "wood"}
    (tmp_path / "labels.txt").write_text("1: accordion\n2 aeroplane\n")
    with pytest.raises(ValueError, match=r"labels\.txt:2"):
        read_context_names(tmp_path / "labels.txt")


def test_hand_made_label_map_is_mapped_by_name(hand_made, tmp_path):
    convert_context_labels(hand_made, CLASSES, {}, ["img1"], tmp_path / "out")
    # accordion, air conditioner: not in the list -> 0; unlabelled 0 -> 0; indices > 255 kept apart.
    expected = np.array([[0, 0, 1], [0, 2, 3], [4, 5, 1]], dtype=np.uint8)
    assert np.array_equal(read_label(tmp_path / "out" / "img1.png"), expected)


def test_renames_apply_before_matching(hand_made, tmp_path):
    classes = ["background", "aeroplane", "bed", "diningtable", "tvmonitor", "wood"]
    with pytest.raises(ValueError, match="diningtable"):
        convert_context_labels(hand_made, classes, {}, ["img1"], tmp_path / "out")
    convert_context_labels(hand_made, classes, {"table": "diningtable"}, ["img1"], tmp_path / "out")
    assert read_label(tmp_path / "out" / "img1.png")[1, 2] == 3


def test_class_name_missing_from_labels_txt_is_named():
    with pytest.raises(ValueError, match=r"\['sky'\]"):
        context_lut({1: "aeroplane", 2: "bed"}, ["background", "aeroplane", "sky", "bed"])


def test_label_map_value_beyond_labels_txt_names_the_file(hand_made, tmp_path):
    scipy.io.savemat(hand_made / "bad.mat", {"LabelMap": np.array([[460, 1]], dtype=np.uint16)})
    with pytest.raises(ValueError, match=r"bad\.mat.*460"):
        convert_context_labels(hand_made, CLASSES, None, ["bad"], tmp_path / "out")


def test_fixture_release_converts_to_the_expected_60_class_maps(tmp_path):
    fx = make_context(tmp_path, ["2008_000002", "2008_000003"], ["2008_000007"])
    assert max(fx.names) == 459 and any(v > 255 for m in fx.label_maps.values() for v in np.unique(m))
    ids = context_ids(fx.splits_dir)
    assert ids == {"train": ["2008_000002", "2008_000003"], "val": ["2008_000007"]}
    out = tmp_path / "converted"
    convert_context_labels(fx.labels_dir, CONTEXT_CLASSES, {}, ids["train"] + ids["val"], out)
    for image_id, expected in fx.expected.items():
        got = read_label(out / f"{image_id}.png")
        assert np.array_equal(got, expected) and got.max() < 60
    assert any((e > 0).any() for e in fx.expected.values())

    records = context_records(fx.root, fx.splits_dir, out)
    assert [(r["image_id"], r["split"]) for r in records] == [
        ("2008_000002", "train"), ("2008_000003", "train"), ("2008_000007", "val")]
    assert records[2]["image"] == str(fx.root / "JPEGImages" / "2008_000007.jpg")
    assert records[2]["label"] == str(out / "2008_000007.png")


def test_missing_roots_name_the_config_key(tmp_path):
    fx = make_context(tmp_path, ["a"], ["b"])
    with pytest.raises(FileNotFoundError, match=r"datasets\.context\.root"):
        context_records(tmp_path / "nowhere", fx.splits_dir, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"datasets\.context\.splits"):
        context_ids(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"datasets\.context\.labels"):
        convert_context_labels(tmp_path / "nowhere", CONTEXT_CLASSES, {}, ["a"], tmp_path / "out")
    (fx.labels_dir.parent / "labels.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"datasets\.context\.labels.*labels\.txt"):
        convert_context_labels(fx.labels_dir, CONTEXT_CLASSES, {}, ["a"], tmp_path / "out")


def test_overlapping_splits_are_refused(tmp_path):
    (tmp_path / "train.txt").write_text("a\nb\n")
    (tmp_path / "val.txt").write_text("b\nc\n")
    with pytest.raises(ValueError, match="both"):
        context_ids(tmp_path)
