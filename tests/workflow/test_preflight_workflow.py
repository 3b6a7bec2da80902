"""`snakemake results/preflight_{voc,context}.md` on real-format trees with known faults."""
import csv

import numpy as np
import scipy.io

from conftest import run_snakemake
from fixtures import make_context
from test_preflight import broken_voc


def test_preflight_names_every_fault(workdir, tmp_path):
    root, sbd, _ = broken_voc(tmp_path / "raw")
    ctx = make_context(tmp_path / "raw", ["c1", "c2", "c3"], ["c4"])
    scipy.io.savemat(ctx.labels_dir / "c2.mat", {"Other": np.zeros((2, 2), np.uint16)})
    names_txt = ctx.labels_dir.parent / "labels.txt"
    names_txt.write_text(names_txt.read_text().replace(": wood\n", ": timber\n"))
    overrides = {"datasets": {
        "voc": {"root": str(root), "sbd_root": str(sbd)},
        "context": {"root": str(ctx.root), "labels": str(ctx.labels_dir), "splits": str(ctx.splits_dir)}}}
    run_snakemake(workdir, ["results/preflight_voc.md", "results/preflight_context.md"], overrides)

    with open(workdir / "results/preflight_voc.csv", newline="") as f:
        voc = {(r["check"], r["path"]) for r in csv.DictReader(f)}
    assert {("unreadable image", str(root / "JPEGImages/a2.jpg")),
            ("label value", str(root / "SegmentationClass/a3.png")),
            ("missing file", str(root / "SegmentationClass/a4.png")),
            ("listed twice", str(root / "ImageSets/Segmentation/train.txt")),
            ("split count", "train"), ("split count", "val")} <= voc
    # the default init needs the authors' ImageNet backbone without Pascal classes
    assert ("authors' ImageNet backbone", "/data/zs3-authors/resnet_backbone_pretrained_imagenet_wo_pascalvoc.pth.tar") in voc
    report = (workdir / "results/preflight_voc.md").read_text()
    assert "| train | 7 | 10582 | 6 | 4 |" in report and "| val | 2 | 1449 | 2 | 2 |" in report
    assert "## Class embeddings (`authors`)" in report  # the authors' table: one row per class, by name
    assert "| tvmonitor | tvmonitor | False |" in report

    with open(workdir / "results/preflight_context.csv", newline="") as f:
        context = {(r["check"], r["path"]) for r in csv.DictReader(f)}
    assert {("unreadable label", str(ctx.labels_dir / "c2.mat")),
            ("class not in labels.txt", str(names_txt))} <= context
    assert "| train | 3 | 4998 | 3 | 2 |" in (workdir / "results/preflight_context.md").read_text()


def test_preflight_stops_on_a_missing_root(workdir, tmp_path):
    overrides = {"datasets": {"voc": {"root": str(tmp_path / "no-VOC2012")}}}
    result = run_snakemake(workdir, ["results/preflight_voc.md"], overrides, check=False)
    assert result.returncode != 0
    assert "datasets.voc.root" in (workdir / "logs/preflight/voc.log").read_text()
    assert not (workdir / "results/preflight_voc.md").exists()
