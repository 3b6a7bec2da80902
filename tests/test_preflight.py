"""The preflight on real-format trees with known faults: each fault is named by its file, and the
counts equal those of the labels the fixtures wrote."""
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from fixtures import (CONTEXT_CLASSES, VOC_CLASSES, make_context, make_context_mmseg, make_sbd, make_voc,
                      make_voc_aug, write_grey_png, write_voc_png)
from zs3core.data.layouts import choose_layout
from zs3core.preflight import (PreflightError, class_table, decode_all, decode_findings, listed_ids, scan,
                               scan_context, scan_context_png, scan_voc, split_findings, split_table)
from zs3core import authors
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
    kept = [i for i in train if i not in has_unseen and i not in train[:2]]  # what the generators train on
    assert row["generator_pairs"] == sum(len(set(np.unique(labels[i]).tolist()) - {255}) for i in kept)
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

    tables = {"format": "authors", "normalisation": "none", "table": "context"}
    rows, findings = embedding_rows(["background", "diningtable", "cow"], "authors", tables, {}, "context")
    assert [(r["class"], r["words"], r["alias"], r["missing"]) for r in rows] == \
        [("background", ["background"], False, []), ("diningtable", ["table"], True, []), ("cow", ["cow"], False, [])]
    assert not findings
    rows, findings = embedding_rows(["background", "unicorn"], "authors", tables, {}, "context")
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

    authors_imagenet = {**seg, "backbone": "resnet101", "init": "authors_imagenet", "authors_dir": str(tmp_path),
                        "backbone_weights": None}
    path = tmp_path / "resnet_backbone_pretrained_imagenet_wo_pascalvoc.pth.tar"
    checked, findings = weight_findings(authors.with_authors_backbone(authors_imagenet, "voc"), "voc", [2], VOC_CLASSES)
    assert checked == [] and [f.check for f in findings] == ["authors' ImageNet backbone"]
    assert "valeoai/ZS3 GitHub releases" in findings[0].message
    torch.save({"state_dict": {"conv1.weight": torch.zeros(64, 3, 7, 7)}}, path)  # torchvision's names, no prefix
    _, findings = weight_findings(authors.with_authors_backbone(authors_imagenet, "voc"), "voc", [2], VOC_CLASSES)
    assert findings[0].path == str(path) and "keys without the prefix ['conv1.weight']" in findings[0].message


def test_no_image_at_all_stops(tmp_path):
    root, _ = make_voc(tmp_path, ["a1"], ["v1"])
    for p in (root / "JPEGImages").iterdir():
        p.unlink()
    params = {"format": "voc", "classes": VOC_CLASSES, "root": str(root), "unseen": {2: ["cow", "motorbike"]}}
    with pytest.raises(PreflightError, match="no image"):
        run_preflight("voc", params, tmp_path / "r.md", tmp_path / "r.csv")


def test_gpu_hours_by_hand():
    from zs3core.preflight_report import RATES, gpu_hours

    generator = {"iterations": None, "epochs": 30, "classes_per_step": None}
    cfg = {"epochs": 200, "baseline_epochs": 200, "init": "imagenet", "generator": generator,
           "gc": {**generator, "iterations": 800, "epochs": None}, "gan": {**generator, "n_critic": 5},
        "pairs": {2: 20000, 4: 18000},
           "seen_classes": {2: 19, 4: 17}, "tables": [1]}
    hours = {r["stage"]: r["gpu_hours"] for r in gpu_hours(10582, 1449, {2: 9000, 4: 8000}, {2: 1582, 4: 2582}, cfg)}
    # 30 passes over the pairs in steps of every seen class; a step of 19 classes costs 19 / 16 measured steps
    steps = math.ceil(30 * 20000 / 19) * 19 / 16 + math.ceil(30 * 18000 / 17) * 17 / 16
    assert hours["step 1: GMMN"] == round(steps / RATES["generator_iterations_per_s"] / 3600, 2)
    one_class = gpu_hours(10582, 1449, {2: 9000}, {2: 1582}, {**cfg, "generator": {**generator, "classes_per_step": 1}})
    assert one_class[4]["stage"] == "step 1: GMMN" and one_class[4]["gpu_hours"] == round(30 * 20000 / RATES["generator_iterations_per_s"] / 3600, 2)
    assert hours["step 0: seen-only segmenters"] == round(17000 * 200 / RATES["train_images_per_s"] / 3600, 2)
    assert hours["step 0: supervised oracle"] == round(10582 * 200 / RATES["train_images_per_s"] / 3600, 2)
    assert hours["step 1: GC generator"] == 0 and hours["ZS5: pseudo-labels of the pool"] == 0  # no Table 3 / 4
    # a GAN step: 5 critic updates and one generator update, each a GMMN step
    assert hours["step 1: GAN"] == round(6 * steps / RATES["generator_iterations_per_s"] / 3600, 2)
    # the DeViSE and the ALE baselines, each for the baseline's epochs
    assert hours["step 0: DeViSE and ALE baselines"] == round(2 * 17000 * 200 / RATES["train_images_per_s"] / 3600, 2)
    # per K the 6 methods of Table 1 (baseline, ALE, ZS3Net, its GAN variant, seen-only, ceiling),
    # plus the oracle: 2 * 6 + 1 evaluations of the test split
    assert hours["evaluations (test split)"] == round(13 * 1449 / RATES["eval_images_per_s"] / 3600, 2)
    authors = {r["stage"]: r["gpu_hours"] for r in gpu_hours(10582, 1449, {2: 9000}, {2: 1582}, {**cfg, "init": "authors"})}
    assert authors["step 0: seen-only segmenters"] == 0


def preflight_params(tmp, fmt, classes, **paths):
    """The preflight rule's params on a tiny run; the word-vector file is missing (a finding, no load)."""
    return {"format": fmt, "classes": classes, **paths, "unseen": {2: ["cow", "motorbike"]},
            "segmenter": {"backbone": "resnet_tiny", "feature_dim": 8, "init": "none",
                          "train": {"batch_size": 1, "epochs": 1}},
            "baseline_epochs": 1, "max_per_class": 10, "n_per_class": 10,
            "generator": {"iterations": 1, "epochs": None, "classes_per_step": None},
            "gc": {"iterations": 1, "epochs": None, "classes_per_step": None},
            "gan": {"iterations": 1, "epochs": None, "classes_per_step": None, "n_critic": 5}, "tables": [1], "holdout_fraction": 0.5, "seed": 0, "embedding_source": "w2v",
            "embedding": {"format": "word2vec_binary", "path": str(tmp / "none.bin")}, "aliases": {}}


def test_report_names_the_layout_found_and_why(tmp_path):
    root, _ = make_voc_aug(tmp_path, ["a1", "a2", "a3"], ["v1", "v2"], ["s1", "s2", "v1"])
    params = preflight_params(tmp_path, "voc", VOC_CLASSES, root=str(root), sbd_root=None, layout="auto")
    run_preflight("voc", params, tmp_path / "aug.md", tmp_path / "aug.csv")
    report = (tmp_path / "aug.md").read_text()
    assert "## Layout\n\n`voc_aug_png`: VOC 2012 + SegmentationClassAug/ grey PNGs" in report
    assert "Chosen because found under datasets.voc.root; list ImageSets/Segmentation/aug.txt." in report
    assert "Official counts of this layout: train 10,582, val 1,449" in report and "Also found" not in report
    assert "| train | 5 | 10582 | 5 | 5 |" in report and "| val | 2 | 1449 | 2 | 2 |" in report

    # The same tree with SBD's .mat set as well: two layouts, the configured one read.
    sbd, _ = make_sbd(tmp_path, ["s1", "s3"], ["v1"])
    run_preflight("voc", {**params, "sbd_root": str(sbd)}, tmp_path / "two.md", tmp_path / "two.csv")
    report = (tmp_path / "two.md").read_text()
    assert f"`voc_sbd_mat`: VOC 2012 + SBD's cls/*.mat (root `{root}`, sbd_root `{sbd}`)" in report
    assert "Chosen because datasets.voc.sbd_root is set: a path the config names wins over what " \
           "datasets.voc.root holds." in report
    assert "Also found, not read: `voc_aug_png` (choose with `datasets.<name>.layout`)." in report
    assert "| train | 5 | 10582 |" in report  # a1-a3 + s1, s3 (v1 is VOC val)


def test_voc_alone_is_reported_as_not_the_papers_training_set(tmp_path):
    root, _ = make_voc(tmp_path, ["a1"], ["v1"])
    params = preflight_params(tmp_path, "voc", VOC_CLASSES, root=str(root))
    findings = run_preflight("voc", params, tmp_path / "r.md", tmp_path / "r.csv")
    (warning,) = [f for f in findings if f.check == "layout"]
    assert warning.severity == "warning" and "10,582" in warning.message
    assert "| train | 1 | 1464 |" in (tmp_path / "r.md").read_text()


def test_context_pngs_of_mmsegmentation(tmp_path):
    root, values = make_context_mmseg(tmp_path, ["c1", "c2", "c3"], ["d1"])
    bad = values["c3"].copy()
    bad[0, 0] = 61
    write_grey_png(root / "SegmentationClassContext/c3.png", bad)
    plan = scan(choose_layout("context", {"format": "context", "root": str(root)}), CONTEXT_CLASSES)
    assert plan.listed == {"train": 3, "val": 1} and plan.official == {"train": 4998, "val": 5105}
    results = decode_all(plan.records, len(CONTEXT_CLASSES), plan.lut)
    (finding,) = decode_findings(results)
    assert (finding.check, finding.path) == ("label value", str(root / "SegmentationClassContext/c3.png"))
    assert "[61]" in finding.message
    table = {r["class"]: r for r in class_table(results, CONTEXT_CLASSES)}
    for c, name in enumerate(CONTEXT_CLASSES):  # the configured order is the PNGs': counts as written
        assert table[name]["train_pixels"] == sum(int((values[i] == c).sum()) for i in ("c1", "c2"))
        assert table[name]["val_pixels"] == int((values["d1"] == c).sum())
    renamed = scan_context_png(root, ["background", "diningtable"], {"table": "diningtable"})
    assert not renamed.findings
    (absent,) = scan_context_png(root, ["background", "diningtable"]).findings
    assert absent.check == "class not in the 59 classes of mmsegmentation's PNGs" and "'diningtable'" in absent.message
