"""The dataset index: classes column, CSV round trip, and errors that name the bad file."""
import csv

import numpy as np
import pytest
from PIL import Image

from fixtures import VOC_CLASSES, make_voc, write_voc_png
from zs3core.data.index import COLUMNS, index_rows, read_index, verify_image, write_index
from zs3core.data.voc import voc_records


@pytest.fixture
def voc(tmp_path):
    return make_voc(tmp_path, ["a", "b", "c"], ["v"])


def test_classes_are_the_present_names_in_class_order(voc):
    root, labels = voc
    label = np.zeros((24, 32), np.uint8)
    label[:5] = 15  # person
    label[5:7] = 255
    label[10:] = 3  # bird
    label[0, 0] = 20  # tvmonitor
    write_voc_png(root / "SegmentationClass" / "a.png", label)
    rows = {r["image_id"]: r for r in index_rows(voc_records(root), VOC_CLASSES)}
    assert rows["a"]["classes"] == ["background", "bird", "person", "tvmonitor"]
    for image_id in "bcv":  # the fixture's ground truth, void excluded
        values = [v for v in np.unique(labels[image_id]) if v != 255]
        assert rows[image_id]["classes"] == [VOC_CLASSES[v] for v in values]


def test_csv_round_trip(voc, tmp_path):
    rows = list(index_rows(voc_records(voc[0]), VOC_CLASSES))
    path = tmp_path / "data" / "voc" / "index.csv"
    assert write_index(path, iter(rows)) == 4
    with open(path, newline="") as f:
        raw = list(csv.reader(f))
    assert tuple(raw[0]) == COLUMNS
    assert raw[1][4] == " ".join(rows[0]["classes"])
    assert read_index(path) == rows
    assert sorted(p.name for p in path.parent.iterdir()) == ["index.csv"]


def test_read_index_names_missing_columns(tmp_path):
    (tmp_path / "index.csv").write_text("image_id,split,image,label\nx,train,x.jpg,x.png\n")
    with pytest.raises(ValueError, match=r"index\.csv.*\['classes'\]"):
        read_index(tmp_path / "index.csv")


def test_duplicate_id_fails_and_keeps_the_previous_index(voc, tmp_path):
    rows = list(index_rows(voc_records(voc[0]), VOC_CLASSES))
    path = tmp_path / "index.csv"
    path.write_text("previous\n")
    with pytest.raises(ValueError, match="image_id a appears twice"):
        write_index(path, rows + rows[:1])
    assert path.read_text() == "previous\n"
    assert [p.name for p in tmp_path.glob("*index*")] == ["index.csv"]


def test_label_value_out_of_range_names_the_file(voc):
    root, _ = voc
    label = np.zeros((24, 32), np.uint8)
    label[3, 3] = 21
    write_voc_png(root / "SegmentationClass" / "b.png", label)
    with pytest.raises(ValueError, match=r"SegmentationClass/b\.png.*\[21\].*0\.\.20"):
        list(index_rows(voc_records(root), VOC_CLASSES))


def test_truncated_jpeg_names_the_file(voc, tmp_path):
    root, _ = voc
    image = root / "JPEGImages" / "c.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(image)
    data = image.read_bytes()
    image.write_bytes(data[: len(data) - 200])
    with Image.open(image) as img:
        img.verify()  # why verify_image decodes: verify() alone does not notice
    with pytest.raises(ValueError, match=r"JPEGImages/c\.jpg.*truncated"):
        verify_image(image)
    with pytest.raises(ValueError, match=r"JPEGImages/c\.jpg"):
        list(index_rows(voc_records(root), VOC_CLASSES))


def test_missing_image_and_size_mismatch(voc):
    root, _ = voc
    write_voc_png(root / "SegmentationClass" / "a.png", np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"a\.png.*10x10.*a\.jpg.*32x24"):
        list(index_rows(voc_records(root), VOC_CLASSES))
    (root / "JPEGImages" / "a.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"a\.jpg"):
        verify_image(root / "JPEGImages" / "a.jpg")


def test_class_names_with_spaces_are_refused(voc):
    with pytest.raises(ValueError, match="whitespace"):
        list(index_rows(voc_records(voc[0]), ["background", "potted plant"]))


def test_first_of_each_split_keeps_listing_order():
    from zs3core.data.index import first_of_each_split

    records = [{"image_id": i, "split": s} for i, s in
               [("a", "train"), ("b", "val"), ("c", "train"), ("d", "train"), ("e", "val")]]
    assert [r["image_id"] for r in first_of_each_split(records, 2)] == ["a", "b", "c", "e"]
    assert first_of_each_split(records, None) == records
