"""The rehearsal overlay (config/rehearsal.yaml) through profiles/slurm on the SLURM test cluster.

Table 1 of VOC is built from a real-format VOC tree (tests/fixtures.py) as docs/preflight.md tells a
user to run it: from the repository, `--directory` a folder of its own, the dataset root absolute in
the user's config file. Every job of the run is a SLURM job that completed (the data stage as the
profile's group jobs), every GPU rule asked for a GPU and no other job did, and the table is written
from the real configuration (ResNet-101). Tables 2-4 add rules of the same kinds (GPU training,
extraction and evaluation, CPU retraining); they run locally in tests/workflow/test_rehearsal_workflow.py
and are left out here to keep the run to minutes.
"""
import csv
import subprocess
import sys
from pathlib import Path

import yaml

from fixtures import make_voc
from slurm_harness import rule_of

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600
TARGET = "results/table1_voc.md"
GPU_RULES = {"train_step0", "train_supervised", "extract_features", "train_generator",
             "evaluate_step0", "evaluate_supervised", "evaluate_retrained"}
# The data group is one job per connected part: the class embeddings, and the index with the hold-out.
CPU_RULES = {"data_class_embeddings", "data_holdout_index_voc", "cross_validate", "generate_bank",
             "retrain_zs3", "retrain_ceiling", "table1"}


def test_rehearsal_table1_through_slurm(slurm, tmp_path):
    voc_root, _ = make_voc(tmp_path / "raw", [f"t{i}" for i in range(20)], ["v0", "v1", "v2"], size=(40, 48))
    my = tmp_path / "my.yaml"
    my.write_text(yaml.safe_dump({"datasets": {"voc": {"root": str(voc_root)}}}))
    # The fixture's images are 40x48: crop to fit them, and train with no loader processes on CPU.
    cpu = tmp_path / "cpu.yaml"
    cpu.write_text(yaml.safe_dump({"segmenter": {"train": {
        "base_size": 40, "crop_size": 33, "num_workers": 0}}}))
    workdir = tmp_path / "rehearsal"
    cmd = ["timeout", "-k", "30", str(TIMEOUT_S), sys.executable, "-m", "snakemake",
           "--profile", "profiles/slurm", "--slurm-status-command", "squeue",
           "--slurm-init-seconds-before-status-checks", "2", "--directory", str(workdir), TARGET,
           "--configfile", "config.yaml", str(my), "config/rehearsal.yaml", str(cpu)]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]

    jobs = slurm.jobs(workdir)
    assert {(rule_of(j), j["JobState"]) for j in jobs} == {(r, "COMPLETED") for r in GPU_RULES | CPU_RULES}
    for job in jobs:
        assert (job.get("TresPerJob") == "gres:gpu:1") == (rule_of(job) in GPU_RULES), job
        assert list((workdir / ".snakemake/slurm_logs").glob(f"*/**/{job['JobId']}.log")), job
    assert (workdir / TARGET).stat().st_size > 0
    with open(workdir / "data/voc/index.csv", newline="") as f:
        assert [r["image_id"] for r in csv.DictReader(f)] == [f"t{i}" for i in range(16)] + ["v0", "v1", "v2"]
    with open(workdir / "results/voc_k2_seenonly.csv", newline="") as f:
        assert next(csv.DictReader(f))["backbone"] == "resnet101"
