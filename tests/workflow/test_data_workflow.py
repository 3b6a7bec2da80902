"""The data and embedding stages of the DAG, run through Snakemake on real-format fixtures."""
import csv
import json

import numpy as np

from conftest import run_snakemake, small_synthetic
from fixtures import CONTEXT_CLASSES, VOC_CLASSES, make_context, make_context_mmseg, make_sbd, make_voc, make_voc_aug
from test_authors_workflow import job_counts


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_real_format_indexes(workdir, tmp_path):
    voc_root, voc_labels = make_voc(tmp_path / "raw", ["a1", "a2", "v9"], ["v1", "v2"])
    sbd_root, sbd_labels = make_sbd(tmp_path / "raw", ["s1", "v1"], ["s2", "a1"])
    ctx = make_context(tmp_path / "raw", ["c1", "c2", "c3"], ["c4"])
    overrides = {"datasets": {
        "voc": {"root": str(voc_root), "sbd_root": str(sbd_root)},
        "context": {"root": str(ctx.root), "labels": str(ctx.labels_dir), "splits": str(ctx.splits_dir)},
    }}
    run_snakemake(workdir, ["data/voc/index.csv", "data/context/index.csv"], overrides)

    voc = {r["image_id"]: r for r in read_csv(workdir / "data/voc/index.csv")}
    # VOC val (v1) never enters train even though SBD lists it; a1 keeps its VOC PNG.
    assert {i for i, r in voc.items() if r["split"] == "train"} == {"a1", "a2", "v9", "s1", "s2"}
    assert {i for i, r in voc.items() if r["split"] == "val"} == {"v1", "v2"}
    assert voc["a1"]["label"].endswith("SegmentationClass/a1.png")
    assert voc["s2"]["label"].endswith("cls/s2.mat")
    for image_id, row in voc.items():
        label = voc_labels.get(image_id) if row["label"].endswith(".png") else sbd_labels[image_id]
        want = [VOC_CLASSES[v] for v in np.unique(label) if v != 255]
        assert row["classes"].split() == want

    context = {r["image_id"]: r for r in read_csv(workdir / "data/context/index.csv")}
    assert {i: r["split"] for i, r in context.items()} == {"c1": "train", "c2": "train", "c3": "train", "c4": "val"}
    for image_id, row in context.items():
        want = [CONTEXT_CLASSES[v] for v in np.unique(ctx.expected[image_id])]
        assert row["classes"].split() == want
    assert (workdir / "data/context/labels/c4.png").exists()


def test_layouts_found_from_the_roots_alone(workdir, tmp_path):
    # DeepLab's train_aug.txt lists VOC train a1, VOC val v1 and the augmented s1, s2.
    voc_root, voc_labels = make_voc_aug(tmp_path / "raw", ["a1", "a2"], ["v1", "v2"], ["a1", "s1", "v1", "s2"], "deeplab")
    ctx_root, ctx_values = make_context_mmseg(tmp_path / "raw", ["c1", "c2"], ["d1"])
    overrides = {"datasets": {"voc": {"root": str(voc_root), "segmenter": {"init": "none"}},
                              "context": {"root": str(ctx_root)}}}
    jobs = job_counts(run_snakemake(workdir, ["results/table1_voc.md"], overrides, "-n"))
    assert jobs["index_voc_aug"] == 1 and "index_voc" not in jobs and jobs["table1"] == 1

    run_snakemake(workdir, ["data/voc/index.csv", "data/context/index.csv"], overrides)
    voc = {r["image_id"]: r for r in read_csv(workdir / "data/voc/index.csv")}
    assert {i: r["split"] for i, r in voc.items()} == {"a1": "train", "a2": "train", "s1": "train", "s2": "train",
                                                       "v1": "val", "v2": "val"}
    assert voc["a1"]["label"] == str(voc_root / "SegmentationClass/a1.png")
    assert voc["s1"]["label"] == str(voc_root / "SegmentationClassAug/s1.png")
    for image_id, row in voc.items():
        assert row["classes"].split() == [VOC_CLASSES[v] for v in np.unique(voc_labels[image_id]) if v != 255]
    context = {r["image_id"]: r for r in read_csv(workdir / "data/context/index.csv")}
    assert {i: r["split"] for i, r in context.items()} == {"c1": "train", "c2": "train", "d1": "val"}
    for image_id, row in context.items():
        assert row["classes"].split() == [CONTEXT_CLASSES[v] for v in np.unique(ctx_values[image_id])]
        assert row["label"].endswith(f"data/context/labels/{image_id}.png")


def test_synthetic_index_and_embeddings_build_from_nothing(workdir):
    run_snakemake(workdir, ["data/synthvoc/index.csv", "embeddings/spacy_md/synthvoc.npy"], small_synthetic())
    rows = read_csv(workdir / "data/synthvoc/index.csv")
    assert sum(r["split"] == "train" for r in rows) == 40 and sum(r["split"] == "val" for r in rows) == 10
    table = np.load(workdir / "embeddings/spacy_md/synthvoc.npy")
    provenance = json.loads((workdir / "embeddings/spacy_md/synthvoc.json").read_text())
    assert table.shape == (21, 300)
    assert [c["class"] for c in provenance["classes"]] == VOC_CLASSES  # rows in class order
    cow, sheep, tv = (table[VOC_CLASSES.index(c)] for c in ("cow", "sheep", "tvmonitor"))
    assert cow @ sheep > cow @ tv


def test_real_datasets_take_the_authors_tables_as_published(workdir):
    """voc and context read the shipped authors' tables by default: rows by name, values untouched."""
    from zs3core.authors_embeddings import authors_table

    run_snakemake(workdir, ["embeddings/authors/voc.npy", "embeddings/authors/context.npy"])
    for dataset, classes in (("voc", VOC_CLASSES), ("context", CONTEXT_CLASSES)):
        table = np.load(workdir / f"embeddings/authors/{dataset}.npy", allow_pickle=False)
        np.testing.assert_array_equal(table, authors_table(dataset, classes)[0])
        provenance = json.loads((workdir / f"embeddings/authors/{dataset}.json").read_text())
        assert provenance["normalisation"] == "none" and provenance["source"]["table"] == dataset
        assert [c["class"] for c in provenance["classes"]] == classes


def test_a_class_the_authors_tables_lack_stops_the_dry_run(workdir):
    classes = VOC_CLASSES + ["unicorn"]
    result = run_snakemake(workdir, ["embeddings/authors/voc.npy"], {"datasets": {"voc": {"classes": classes}}},
                           "-n", check=False)
    assert result.returncode != 0
    assert "datasets.voc.classes: 'unicorn' has no row in the authors' voc table" in result.stderr + result.stdout
    assert "datasets.voc.embeddings.source" in result.stderr + result.stdout


def test_config_errors_stop_before_any_job(workdir):
    bad = {"datasets": {"voc": {"unseen": {2: ["cow", "unicorn"]}}}}
    result = run_snakemake(workdir, ["data/synthvoc/index.csv"], bad, check=False)
    assert result.returncode != 0
    assert "datasets.voc.unseen.2 names unknown classes ['unicorn']" in result.stderr + result.stdout
    assert not (workdir / "data").exists() and not (workdir / "embeddings").exists()


def test_missing_dataset_root_is_named_before_any_job(workdir, tmp_path):
    overrides = {"datasets": {"voc": {"root": str(tmp_path / "no-such-VOC2012")}}}
    result = run_snakemake(workdir, ["data/voc/index.csv"], overrides, check=False)
    assert result.returncode != 0
    assert "datasets.voc.root" in result.stderr + result.stdout
    assert not (workdir / "data").exists()
