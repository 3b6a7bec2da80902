"""The preflight on real-format trees with known faults: each fault is named by its file, and the
counts equal those of the labels the fixtures wrote."""
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from fixtures import CONTEXT_CLASSES, VOC_CLASSES, make_context, make_sbd, make_voc, write_voc_png
from zs3core.preflight import (PreflightError, class_table, decode_all, decode_findings, listed_ids, scan_context,
                               scan_voc, split_findings, split_table)
from zs3core.preflight_inputs import embedding_rows, weight_findings
from zs3core.preflight_report import feature_file_bytes, run_preflight


def broken_voc(tmp):
    """VOC + SBD with a truncated JPEG (a2), a label holding 30 (a3), a missing label (a4) and
    a1 listed twice."""
    root, labels = make_voc(tmp, ["a1", "a2", "a3", "a4", "a5"], ["v1", "v2"])
    sbd, sbd_labels = make_sbd(tmp, ["s1", "s2"], ["v1"])
    jpeg = root / "JPEGImages/a2.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    bad = labels["a3"].copy()
    bad[0, 0] = 30
    write_voc_png(root / "SegmentationClass/a3.png", bad)
    (root / "SegmentationClass/a4.png").unlink()
    sets = root / "ImageSets/Segmentation/train.txt"
    sets.write_text(sets.read_text() + "a1\n")
    return root, sbd, {**labels, **{k: v for k, v in sbd_labels.items() if k != "v1"}}


def by_check(findings):
    out = {}
    for f in findings:
        out.setdefault(f.check, []).append(f)
    return out


def test_listed_ids_reports_repeats_once(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("a\nb\n\na\na\nc\n")
    assert listed_ids(path) == (["a", "b", "c"], ["a"])


def test_voc_faults_are_named_and_counts_match(tmp_path):
    root, sbd, labels = broken_voc(tmp_path)
    plan = scan_voc(root, sbd)
    assert plan.listed == {"train": 7, "val": 2}  # a1-a5, s1, s2 (v1 of SBD is VOC val)
    found = by_check(plan.findings)
    assert [f.message for f in found["listed twice"]] == ["id a1 is listed more than once"]
    assert [f.path for f in found["missing file"]] == [str(root / "SegmentationClass/a4.png")]
    results = decode_all(plan.records, len(VOC_CLASSES))
    problems = by_check(decode_findings(results))
    assert [f.path for f in problems["unreadable image"]] == [str(root / "JPEGImages/a2.jpg")]
    assert [f.path for f in problems["label value"]] == [str(root / "SegmentationClass/a3.png")]
    assert "[30]" in problems["label value"][0].message

    good = {"a1", "a5", "s1", "s2", "v1", "v2"}
    assert {r["image_id"] for r in results if r["counts"] is not None} == good
    table = {r["class"]: r for r in class_table(results, VOC_CLASSES)}
    for c, name in enumerate(VOC_CLASSES):
        for split, ids in (("train", good - {"v1", "v2"}), ("val", {"v1", "v2"})):
            assert table[name][f"{split}_pixels"] == sum(int((labels[i] == c).sum()) for i in ids)
            assert table[name][f"{split}_images"] == sum(bool((labels[i] == c).any()) for i in ids)

    unseen = {2: ["cow", "motorbike"]}
    train = sorted(good - {"v1", "v2"})
    (row,) = split_table(results, VOC_CLASSES, unseen, holdout=frozenset(train[:2]))
    has_unseen = {i for i in train if np.isin(labels[i], [10, 14]).any()}
    assert row["zs5_pool_images"] == len(has_unseen)
    assert row["seen_only_train_images"] == 4 - len(has_unseen)
    assert row["seen_only_held_out"] == len(set(train[:2]) - has_unseen)
    assert row["unseen_val_pixels"] == {c: sum(int((labels[i] == VOC_CLASSES.index(c)).sum()) for i in ("v1", "v2"))
                                        for c in unseen[2]}
    assert [f.check for f in split_findings([row], batch_size=100)] == \
        ["seen-only images"] * (1 + (row["seen_only_held_out"] == 0)) + \
        ["unseen class untested"] * sum(p == 0 for p in row["unseen_val_pixels"].values())
    (no_holdout,) = split_table(results, VOC_CLASSES, unseen)
    assert "nothing to choose gamma on" in split_findings([no_holdout], batch_size=1)[0].message


def test_pool_of_workers_gives_the_same_results(tmp_path):
    root, sbd, _ = broken_voc(tmp_path)
    plan = scan_voc(root, sbd)
    one = decode_all(plan.records, len(VOC_CLASSES), workers=1)
    two = decode_all(plan.records, len(VOC_CLASSES), workers=2)
    assert [r["problems"] for r in one] == [r["problems"] for r in two]
    assert all((a["counts"] is None and b["counts"] is None) or (a["counts"] == b["counts"]).all()
               for a, b in zip(one, two))


def test_size_mismatch_is_named(tmp_path):
    root, _ = make_voc(tmp_path, ["a1"], ["v1"])
    write_voc_png(root / "SegmentationClass/a1.png", np.zeros((10, 10), np.uint8))
    results = decode_all(scan_voc(root).records, len(VOC_CLASSES))
    (finding,) = decode_findings(results)
    assert finding.check == "size mismatch" and finding.path.endswith("a1.png")


def test_missing_root_is_a_hard_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="datasets.voc.root"):
        scan_voc(tmp_path / "nothing")


def test_context_faults(tmp_path):
    ctx = make_context(tmp_path, ["c1", "c2", "c3"], ["c4"])
    scipy.io.savemat(ctx.labels_dir / "c2.mat", {"Other": np.zeros((2, 2), np.uint16)})
    names_txt = ctx.labels_dir.parent / "labels.txt"
    names_txt.write_text(names_txt.read_text().replace(": wood\n", ": timber\n"))
    plan = scan_context(ctx.root, ctx.labels_dir, ctx.splits_dir, CONTEXT_CLASSES)
    assert plan.listed == {"train": 3, "val": 1}
    (absent,) = by_check(plan.findings)["class not in labels.txt"]
    assert "'wood'" in absent.message and absent.path == str(names_txt)
    results = decode_all(plan.records, len(CONTEXT_CLASSES), plan.lut)
    (unreadable,) = decode_findings(results)
    assert unreadable.path == str(ctx.labels_dir / "c2.mat") and "LabelMap" in unreadable.message
    table = {r["class"]: r for r in class_table(results, CONTEXT_CLASSES)}
    expected = {i: np.where(ctx.expected[i] == CONTEXT_CLASSES.index("wood"), 0, ctx.expected[i]) for i in ctx.expected}
    for c, name in enumerate(CONTEXT_CLASSES):
        assert table[name]["train_pixels"] == sum(int((expected[i] == c).sum()) for i in ("c1", "c3"))
        assert table[name]["val_pixels"] == int((expected["c4"] == c).sum())


def test_feature_file_bytes_by_hand():
    counts = np.zeros(21, np.int64)
    counts[0], counts[5] = 16 * 300, 16 * 3  # 300 and 3 pixels on the stride-4 grid
    result = {"split": "train", "counts": counts, "size": (40, 41)}
    size, rows = feature_file_bytes([result], feature_dim=8, max_per_class=100)
    assert rows == 103
    assert size == 103 * (16 + 14) + 2 * (16 + 6) + 10 * 11


def test_embeddings_and_weights(tmp_path):
    rows, findings = embedding_rows(["cow", "tvmonitor"], "spacy_md", {"format": "spacy_md"}, {"tvmonitor": ["tv", "monitor"]})
    assert [(r["class"], r["words"], r["alias"], r["missing"]) for r in rows] == \
        [("cow", ["cow"], False, []), ("tvmonitor", ["tv", "monitor"], True, [])] and not findings
    missing = tmp_path / "vectors.bin"
    _, findings = embedding_rows(["cow"], "w2v", {"format": "word2vec_binary", "path": str(missing)}, {})
    assert [f.check for f in findings] == ["word vectors"] and str(missing) in findings[0].message

    authors = {"format": "authors", "normalisation": "none", "table": "context"}
    rows, findings = embedding_rows(["background", "diningtable", "cow"], "authors", authors, {}, "context")
    assert [(r["class"], r["words"], r["alias"], r["missing"]) for r in rows] == \
        [("background", ["background"], False, []), ("diningtable", ["table"], True, []), ("cow", ["cow"], False, [])]
    assert not findings
    rows, findings = embedding_rows(["background", "unicorn"], "authors", authors, {}, "context")
    assert rows[1]["missing"] == ["unicorn"] and [f.check for f in findings] == ["class embeddings"]
    assert "datasets.context.classes: 'unicorn' has no row in the authors' context table" in findings[0].message

    import torch
    bad = tmp_path / "backbone.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    seg = {"backbone": "resnet50", "output_stride": 16, "multi_grid": [1, 2, 4], "init": "file", "backbone_weights": str(bad)}
    checked, findings = weight_findings(seg, "voc", [2], VOC_CLASSES)
    assert checked == [str(bad)] and findings[0].path == str(bad) and "does not fit" in findings[0].message
    _, findings = weight_findings({**seg, "init": "authors", "authors_dir": str(tmp_path)}, "voc", [2], VOC_CLASSES)
    assert any(f.check == "authors' file" and "deeplab_pretrained_pascal_voc_02_unseen" in f.path for f in findings)


def test_no_image_at_all_stops(tmp_path):
    root, _ = make_voc(tmp_path, ["a1"], ["v1"])
    for p in (root / "JPEGImages").iterdir():
        p.unlink()
    params = {"format": "voc", "classes": VOC_CLASSES, "root": str(root), "unseen": {2: ["cow", "motorbike"]}}
    with pytest.raises(PreflightError, match="no image"):
        run_preflight("voc", params, tmp_path / "r.md", tmp_path / "r.csv")


def test_gpu_hours_by_hand():
    from zs3core.preflight_report import RATES, gpu_hours

    cfg = {"epochs": 200, "baseline_epochs": 200, "init": "imagenet", "generator_iterations": 800,
           "gc_iterations": 800, "tables": [1]}
    hours = {r["stage"]: r["gpu_hours"] for r in gpu_hours(10582, 1449, {2: 9000, 4: 8000}, {2: 1582, 4: 2582}, cfg)}
    assert hours["step 0: seen-only segmenters"] == round(17000 * 200 / RATES["train_images_per_s"] / 3600, 2)
    assert hours["step 0: supervised oracle"] == round(10582 * 200 / RATES["train_images_per_s"] / 3600, 2)
    assert hours["step 1: GC generator"] == 0 and hours["ZS5: pseudo-labels of the pool"] == 0  # no Table 3 / 4
    # per K the 4 methods of Table 1, plus the oracle: 2 * 4 + 1 evaluations of the test split
    assert hours["evaluations (test split)"] == round(9 * 1449 / RATES["eval_images_per_s"] / 3600, 2)
    authors = {r["stage"]: r["gpu_hours"] for r in gpu_hours(10582, 1449, {2: 9000}, {2: 1582}, {**cfg, "init": "authors"})}
    assert authors["step 0: seen-only segmenters"] == 0
