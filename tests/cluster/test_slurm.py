"""The workflow through `--executor slurm` on a real (single-node) SLURM cluster.

A tiny synthetic configuration runs through profiles/slurm, GPU rules included (the fake node
declares GPUs; they go to the profile's GPU partition, every other job to its CPU partition),
while the same configuration runs locally through profiles/local. One SLURM job of a running
rule is cancelled with scancel; the profile's `retries` resubmit it and the run completes. The
metrics CSVs of both runs are identical. A bad config or a missing file stops before any sbatch.
"""
import subprocess
import sys
import time
from pathlib import Path

import yaml

from slurm_harness import profile_partitions, rule_of

REPO = Path(__file__).resolve().parents[2]
PARTITIONS = profile_partitions(REPO / "profiles/slurm/config.yaml")
TIMEOUT_S = 300
TARGETS = ["results/synthvoc_k2_seenonly.csv", "features/synthvoc/k2/train.h5"]
GPU_RULES = ("train_step0", "extract_features", "evaluate_step0")
TINY = {
    "default_datasets": ["synthvoc"],
    "compute": {"threads": 1},
    "datasets": {"synthvoc": {"ks": [2], "world": {"n_train": 40, "n_val": 10},
                              "segmenter": {"train": {"epochs": 2, "batch_size": 8}}}},
}


def snakemake(workdir: Path, profile: str, overrides: dict, *extra: str) -> subprocess.Popen:
    """Start the workflow in `workdir` through a profile, bounded by `timeout -k 30`."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    cmd = ["timeout", "-k", "30", str(TIMEOUT_S), sys.executable, "-m", "snakemake",
           "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--profile", str(REPO / "profiles" / profile), *extra,
           "--configfile", str(REPO / "config.yaml"), str(workdir / "overrides.yaml")]
    return subprocess.Popen(cmd, stdout=open(workdir / "snakemake.out", "w"), stderr=subprocess.STDOUT)


def finish(run: subprocess.Popen, workdir: Path) -> str:
    run.wait()
    output = (workdir / "snakemake.out").read_text()
    assert run.returncode == 0, f"snakemake exited with {run.returncode}:\n{output[-6000:]}"
    return output


def cancel_first_running(slurm, rule: str, run: subprocess.Popen) -> str | None:
    """scancel the first SLURM job of `rule` seen RUNNING; its id (None if the run ended first)."""
    while run.poll() is None:
        for job in slurm.jobs():
            if rule_of(job) == rule and job["JobState"] == "RUNNING":
                slurm.run("scancel", job["JobId"])
                return job["JobId"]
        time.sleep(0.3)
    return None


def test_workflow_through_slurm_retries_a_cancelled_job_and_matches_a_local_run(slurm, tmp_path):
    local = snakemake(tmp_path / "local", "local", TINY, "--cores", "2", *TARGETS)
    cluster = snakemake(tmp_path / "cluster", "slurm", TINY, "--slurm-status-command", "squeue",
                        "--slurm-init-seconds-before-status-checks", "2", *TARGETS)
    cancelled = cancel_first_running(slurm, "train_step0", cluster)
    finish(local, tmp_path / "local")
    output = finish(cluster, tmp_path / "cluster")

    jobs = slurm.jobs(tmp_path / "cluster")
    states = {(rule_of(j), j["JobState"]) for j in jobs}
    assert cancelled is not None and ("train_step0", "CANCELLED") in states
    assert ("train_step0", "COMPLETED") in states, "the cancelled job was not resubmitted"
    assert f"SLURM-job '{cancelled}' failed" in output
    assert {s for r, s in states if r != "train_step0"} == {"COMPLETED"}
    assert {r for r, _ in states} == {"data_class_embeddings_holdout_index_synthetic_synthetic_world", *GPU_RULES}
    for job in jobs:
        assert (job.get("TresPerJob") == "gres:gpu:1") == (rule_of(job) in GPU_RULES), job
        assert job["Partition"] == PARTITIONS["gpu" if rule_of(job) in GPU_RULES else "cpu"], job
        assert list((tmp_path / "cluster/.snakemake/slurm_logs").glob(f"*/**/{job['JobId']}.log")), job
    for name in ("synthvoc_k2_seenonly.csv", "synthvoc_k2_seenonly_per_class.csv"):
        ours, theirs = (tmp_path / run / "results" / name for run in ("cluster", "local"))
        assert ours.read_bytes() == theirs.read_bytes(), name


def test_config_errors_and_missing_files_stop_before_any_submission(slurm, tmp_path):
    before = len(slurm.jobs())
    bad = [({"datasets": {"synthvoc": {"unseen": {2: ["cow", "unicorn"]}}}},
            "datasets.synthvoc.unseen.2 names unknown classes ['unicorn']", "data/synthvoc/index.csv"),
           ({"datasets": {"voc": {"root": str(tmp_path / "no-such-VOC2012")}}},
            "datasets.voc.root", "data/voc/index.csv"),
           ({"datasets": {"synthvoc": {"segmenter": {"init": "file", "backbone_weights": str(tmp_path / "r101.pth")}}}},
            f"datasets.synthvoc.segmenter.backbone_weights: {tmp_path / 'r101.pth'} does not exist",
            "checkpoints/synthvoc/k2/seenonly.pt")]
    for i, (overrides, message, target) in enumerate(bad):
        workdir = tmp_path / f"bad{i}"
        run = snakemake(workdir, "slurm", overrides, target)
        run.wait()
        assert run.returncode != 0 and message in (workdir / "snakemake.out").read_text()
    assert len(slurm.jobs()) == before
