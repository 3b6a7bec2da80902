"""The rehearsal overlay (config/rehearsal.yaml) builds every table of the real datasets from
real-format trees, in its own folder, with config paths given as a user would (relative)."""
import csv
import subprocess
import sys

import yaml

from conftest import REPO
from fixtures import make_context, make_voc

TABLES = ["results/table1_voc.md", "results/table2_voc.md", "results/table4_voc.md",
          "results/table3_context.md", "results/table4_context.md"]


def test_rehearsal_overlay_builds_tables_1_to_4(workdir, tmp_path):
    voc_root, _ = make_voc(tmp_path / "raw", [f"t{i}" for i in range(20)], ["v0", "v1", "v2"], size=(40, 48))
    ctx = make_context(tmp_path / "raw", [f"c{i}" for i in range(20)], ["d0", "d1", "d2"], size=(40, 48))
    my = tmp_path / "my.yaml"
    my.write_text(yaml.safe_dump({"datasets": {
        "voc": {"root": str(voc_root)},
        "context": {"root": str(ctx.root), "labels": str(ctx.labels_dir), "splits": str(ctx.splits_dir)}}}))
    # The fixtures' images are 40x48: crop to fit them, and train with no loader processes on CPU.
    cpu = tmp_path / "cpu.yaml"
    cpu.write_text(yaml.safe_dump({"segmenter": {"train": {"base_size": 40, "crop_size": 33, "num_workers": 0}}}))
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(workdir), "--cores", "2", *TABLES,
           "--configfile", "config.yaml", str(my), "config/rehearsal.yaml", str(cpu)]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stdout + result.stderr

    for table in TABLES:
        assert (workdir / table).stat().st_size > 0
    with open(workdir / "data/voc/index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["image_id"] for r in rows] == [f"t{i}" for i in range(16)] + ["v0", "v1", "v2"]
    assert len(list((workdir / "data/context/labels").glob("*.png"))) == 16 + 3
    with open(workdir / "results/voc_k2_seenonly.csv", newline="") as f:
        assert next(csv.DictReader(f))["backbone"] == "resnet101"
    assert not (workdir / "results/table1_synthvoc.md").exists()
