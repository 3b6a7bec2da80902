"""The layouts people hold VOC and Context in, found from the root alone, with the paper's
membership and the labels decoded as the converters wrote them."""
import numpy as np
import pytest

from fixtures import (CONTEXT_CLASSES, VOC_CLASSES, make_context, make_context_mmseg, make_sbd, make_voc,
                      make_voc_aug, write_grey_png)
from zs3core.data.context import MMSEG_CONTEXT_CLASSES, context_ids, convert_mmseg_context_labels, context_records
from zs3core.data.index import index_rows
from zs3core.data.labels import read_label
from zs3core.data.layouts import LayoutError, choose_layout
from zs3core.data.voc import read_aug_list, voc_records


def voc_config(root, **extra):
    return {"format": "voc", "root": str(root), "sbd_root": None, **extra}


def context_config(root, **extra):
    return {"format": "context", "root": str(root), "labels": None, "splits": None, **extra}


def by_split(records):
    return {s: [r["image_id"] for r in records if r["split"] == s] for s in ("train", "val")}


@pytest.mark.parametrize("style, list_path", [("mmseg", "ImageSets/Segmentation/aug.txt"),
                                              ("deeplab", "ImageSets/SegmentationAug/train_aug.txt")])
def test_aug_tree_is_found_from_root_alone_with_the_papers_membership(tmp_path, style, list_path):
    # The list names VOC val id v1 and VOC train id c, besides the augmented d and e.
    root, labels = make_voc_aug(tmp_path, ["a", "b", "c"], ["v1", "v2"], ["d", "v1", "c", "e"], style)
    layout = choose_layout("voc", voc_config(root))
    assert layout.name == "voc_aug_png" and layout.paths == {"root": str(root), "aug_list": str(root / list_path)}
    assert layout.official == {"train": 10582, "val": 1449} and layout.others == ()
    assert "found under datasets.voc.root" in layout.reason and list_path in layout.reason

    records = voc_records(root, aug_list=layout.paths["aug_list"])
    # (VOC train {a,b,c} | listed {d,v1,c,e}) - VOC val {v1,v2}: v1 never trains.
    assert by_split(records) == {"train": ["a", "b", "c", "d", "e"], "val": ["v1", "v2"]}
    source = {(r["image_id"], r["split"]): r["label"] for r in records}
    assert source["c", "train"] == str(root / "SegmentationClass/c.png")  # VOC train keeps its VOC PNG
    assert source["v1", "val"] == str(root / "SegmentationClass/v1.png")
    assert source["d", "train"] == str(root / "SegmentationClassAug/d.png")
    assert next(r["image"] for r in records if r["image_id"] == "d") == str(root / "JPEGImages/d.jpg")
    rows = {r["image_id"]: r for r in index_rows(records, VOC_CLASSES)}
    for image_id, row in rows.items():
        assert np.array_equal(read_label(row["label"]), labels[image_id])
        assert row["classes"] == [VOC_CLASSES[v] for v in np.unique(labels[image_id]) if v != 255]


def test_a_grey_aug_png_keeps_void_255(tmp_path):
    root, labels = make_voc_aug(tmp_path, ["a"], ["v1"], ["d"])
    label = read_label(root / "SegmentationClassAug/d.png")
    assert (label == 255).any() and np.array_equal(label, labels["d"])  # read as written, 255 kept
    (row,) = [r for r in index_rows(voc_records(root, aug_list=root / "ImageSets/Segmentation/aug.txt"), VOC_CLASSES)
              if r["image_id"] == "d"]
    assert "255" not in " ".join(row["classes"]) and row["classes"] == [VOC_CLASSES[v] for v in np.unique(label) if v < 255]


def test_aug_list_lines(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("2007_000032\n\n/JPEGImages/2008_000001.jpg /SegmentationClassAug/2008_000001.png\n2007_000032\n")
    assert read_aug_list(path) == {
        "2007_000032": ("JPEGImages/2007_000032.jpg", "SegmentationClassAug/2007_000032.png"),
        "2008_000001": ("JPEGImages/2008_000001.jpg", "SegmentationClassAug/2008_000001.png")}
    path.write_text("a\nb c d\n")
    with pytest.raises(ValueError, match=r"list\.txt:2"):
        read_aug_list(path)


def test_two_lists_in_one_tree_choose_mmsegmentations(tmp_path):
    root, _ = make_voc_aug(tmp_path, ["a"], ["v1"], ["d"], "deeplab")
    (root / "ImageSets/Segmentation/trainaug.txt").write_text("a\nd\n")
    layout = choose_layout("voc", voc_config(root))
    assert layout.paths["aug_list"] == str(root / "ImageSets/Segmentation/trainaug.txt")
    assert "ImageSets/SegmentationAug/train_aug.txt" in layout.reason and "same membership" in layout.reason


def test_a_path_the_config_sets_wins_over_what_the_root_holds(tmp_path):
    root, _ = make_voc_aug(tmp_path, ["a"], ["v1"], ["d"])
    sbd, _ = make_sbd(tmp_path, ["d"], [])
    layout = choose_layout("voc", voc_config(root, sbd_root=str(sbd)))
    assert (layout.name, layout.paths, layout.others) == ("voc_sbd_mat", {"root": str(root), "sbd_root": str(sbd)},
                                                          ("voc_aug_png",))
    assert "datasets.voc.sbd_root is set" in layout.reason
    forced = choose_layout("voc", voc_config(root, sbd_root=str(sbd), layout="voc_aug_png"))
    assert (forced.name, forced.others) == ("voc_aug_png", ("voc_sbd_mat",))
    assert forced.reason.startswith("datasets.voc.layout names it")
    alone = choose_layout("voc", voc_config(root, layout="voc"))
    assert (alone.name, alone.paths, alone.others) == ("voc", {"root": str(root)}, ("voc_aug_png",))


def test_existing_layouts_keep_their_paths(tmp_path):
    voc, _ = make_voc(tmp_path, ["a"], ["v1"])
    sbd, _ = make_sbd(tmp_path, ["d"], [])
    assert choose_layout("voc", voc_config(voc)).name == "voc"
    assert choose_layout("voc", voc_config(voc)).official == {"train": 1464, "val": 1449}
    assert choose_layout("voc", voc_config(voc, sbd_root=str(sbd))).paths == {"root": str(voc), "sbd_root": str(sbd)}
    ctx = make_context(tmp_path, ["c1"], ["c2"])
    given = context_config(ctx.root, labels=str(ctx.labels_dir), splits=str(ctx.splits_dir))
    layout = choose_layout("context", given)
    assert layout.name == "context_mat" and layout.paths == {k: given[k] for k in ("root", "labels", "splits")}


def test_missing_or_unreadable_layouts_name_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"datasets\.voc\.root: folder .*nowhere not found"):
        choose_layout("voc", voc_config(tmp_path / "nowhere"))
    voc, _ = make_voc(tmp_path, ["a"], ["v1"])
    with pytest.raises(LayoutError, match=r"datasets\.voc\.layout is 'voc_aug_png' but .* no SegmentationClassAug/"):
        choose_layout("voc", voc_config(voc, layout="voc_aug_png"))
    (voc / "SegmentationClassAug").mkdir()  # the folder without a list is not the layout
    assert choose_layout("voc", voc_config(voc)).name == "voc"
    empty = tmp_path / "VOC2010"
    empty.mkdir()
    with pytest.raises(LayoutError, match=r"SegmentationClassContext.*datasets\.context\.labels / datasets\.context\.splits"):
        choose_layout("context", context_config(empty))


def test_mmseg_context_is_found_and_mapped_by_name(tmp_path):
    root, values = make_context_mmseg(tmp_path, ["c2", "c1"], ["d1"])
    layout = choose_layout("context", context_config(root))
    assert (layout.name, layout.official) == ("context_mmseg_png", {"train": 4998, "val": 5105})
    assert layout.paths == {"root": str(root), "labels": str(root / "SegmentationClassContext"),
                            "splits": str(root / "ImageSets/SegmentationContext")}
    ids = context_ids(layout.paths["splits"])
    assert ids == {"train": ["c1", "c2"], "val": ["d1"]}

    out = tmp_path / "out"
    convert_mmseg_context_labels(layout.paths["labels"], CONTEXT_CLASSES, {}, ids["train"] + ids["val"], out)
    for image_id, raw in values.items():  # the configured list is mmsegmentation's order: unchanged
        assert np.array_equal(read_label(out / f"{image_id}.png"), raw)
    records = context_records(root, layout.paths["splits"], out)
    assert [(r["image_id"], r["split"]) for r in records] == [("c1", "train"), ("c2", "train"), ("d1", "val")]

    # Another order of the same names: every value lands on its class by name.
    shuffled = ["background"] + sorted(CONTEXT_CLASSES[1:], reverse=True)
    convert_mmseg_context_labels(layout.paths["labels"], shuffled, {}, ["c1"], tmp_path / "shuffled")
    got = read_label(tmp_path / "shuffled/c1.png")
    assert [shuffled[v] for v in got.ravel()] == [CONTEXT_CLASSES[v] for v in values["c1"].ravel()]


def test_mmseg_png_values_mean_background_then_the_59_in_name_order(tmp_path):
    png_dir = tmp_path / "SegmentationClassContext"
    write_grey_png(png_dir / "all.png", np.array([list(range(60)) + [255]], np.uint8))
    classes = ["background", "wood", "aeroplane", "cow", "tvmonitor"]
    convert_mmseg_context_labels(png_dir, classes, {}, ["all"], tmp_path / "out")
    got = read_label(tmp_path / "out/all.png")[0]
    names = ["background"] + sorted(CONTEXT_CLASSES[1:])  # k = the k-th class by name, 0 = background
    assert MMSEG_CONTEXT_CLASSES == names
    assert [classes[v] if v < 255 else "void" for v in got] == \
        [n if n in classes else "background" for n in names] + ["void"]

    write_grey_png(png_dir / "bad.png", np.array([[0, 60]], np.uint8))
    with pytest.raises(ValueError, match=r"bad\.png: values \[60\]"):
        convert_mmseg_context_labels(png_dir, classes, {}, ["bad"], tmp_path / "out")
    with pytest.raises(ValueError, match=r"\['diningtable'\] match no name in mmsegmentation's"):
        convert_mmseg_context_labels(png_dir, ["background", "diningtable"], {}, ["all"], tmp_path / "out")
    convert_mmseg_context_labels(png_dir, ["background", "diningtable"], {"table": "diningtable"}, ["all"],
                                 tmp_path / "renamed")
    assert read_label(tmp_path / "renamed/all.png")[0, names.index("table")] == 1
