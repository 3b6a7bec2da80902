"""Faults injected into real workflow runs: SIGKILL during training and feature extraction,
truncated checkpoint and HDF5 inputs.

Near the moment of a fault, the job's script runs in 20 ms slices (SIGSTOP / SIGCONT), so the kill
lands where intended however loaded the machine is.
"""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run_snakemake, small_synthetic, snakemake_command

TARGET = "results/synthvoc_k2_ceiling.csv"
CHECKPOINT = "checkpoints/synthvoc/k2/seenonly.pt"
FEATURES = "features/synthvoc/k2/train.h5"
CLASSIFIER = "classifiers/synthvoc/k2/ceiling.pt"


def config():
    overrides = small_synthetic()
    overrides["datasets"]["synthvoc"].update(ks=[2], segmenter={"train": {"epochs": 3, "batch_size": 8}})
    overrides["compute"] = {"threads": 1}
    return overrides


def script_process(workdir: Path, script: str, run: subprocess.Popen) -> int:
    """The pid of the job running workflow_scripts/<script>.py in `workdir`."""
    marker = f"{workdir}/.snakemake/scripts/".encode()
    while run.poll() is None:
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline and cmdline.rstrip(b"\0").endswith(f".{script}.py".encode()):
                return int(proc.name)
        time.sleep(0.05)
    raise AssertionError(f"the run ended before {script} started")


def stop_when(pid: int, near, ready, timeout: float = 300) -> None:
    """Once `near()`, let `pid` run in 20 ms slices until `ready()`; leave it stopped (SIGSTOP)."""
    deadline = time.monotonic() + timeout
    while not near():
        assert time.monotonic() < deadline and Path(f"/proc/{pid}").exists(), "the job ended early"
        time.sleep(0.05)
    while True:
        os.kill(pid, signal.SIGSTOP)
        if ready():
            return
        os.kill(pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "the fault point was never reached"
        time.sleep(0.02)


def files_outside_bookkeeping(workdir: Path) -> dict:
    skip = ("logs", "benchmarks", ".snakemake", "overrides.yaml")
    return {str(p.relative_to(workdir)): (p.stat().st_size, p.stat().st_mtime_ns) for p in workdir.rglob("*")
            if p.is_file() and p.relative_to(workdir).parts[0] not in skip}


@pytest.fixture(scope="module")
def faulted(tmp_path_factory):
    """An uninterrupted run and one killed twice, then rerun to the end; what was seen on the way."""
    root = tmp_path_factory.mktemp("faults")
    reference, work = root / "reference", root / "faulted"
    reference.mkdir(), work.mkdir()
    uninterrupted = subprocess.Popen(snakemake_command(reference, [TARGET], config()),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = {}

    # 1. the machine dies during training (SIGKILL to snakemake and its job), after an epoch
    run = subprocess.Popen(snakemake_command(work, [TARGET], config()), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = work / "logs/train_step0/synthvoc_k2_seenonly.log"
    stop_when(script_process(work, "train_step0", run), lambda: log.exists() and "training on" in log.read_text(),
              (work / "checkpoints/synthvoc/k2/seenonly.work/last.pt").exists)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    seen["checkpoint after kill"] = (work / CHECKPOINT).exists()
    run_snakemake(work, [], config(), "--unlock")

    # 2. the rerun resumes training; the extraction job is killed mid-file (e.g. by the OOM killer)
    run = subprocess.Popen(snakemake_command(work, [TARGET], config()), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    extraction = script_process(work, "extract_features", run)
    stop_when(extraction, (work / "logs/extract_features/synthvoc_k2_train.log").exists,
              lambda: any((work / FEATURES).parent.glob(".train.*.tmp.h5")))
    os.kill(extraction, signal.SIGKILL)
    seen["output of the killed run"] = run.communicate()[0]
    seen["returncode of the killed run"] = run.returncode
    seen["features after kill"] = (work / FEATURES).exists()
    seen["training log"] = (work / "logs/train_step0/synthvoc_k2_seenonly.log").read_text()

    # 3. the next rerun completes
    run_snakemake(work, [TARGET], config())
    assert uninterrupted.wait() == 0, "the uninterrupted run failed"
    return reference, work, seen


def test_killed_jobs_resume_and_end_as_an_uninterrupted_run(faulted):
    reference, work, seen = faulted
    assert not seen["checkpoint after kill"]
    assert "resuming from checkpoints/synthvoc/k2/seenonly.work/last.pt after epoch" in seen["training log"]
    assert seen["returncode of the killed run"] != 0 and "Error in rule extract_features" in seen["output of the killed run"]
    assert not seen["features after kill"]  # the half-written file never took the output's name
    for name in ("synthvoc_k2_ceiling.csv", "synthvoc_k2_ceiling_per_class.csv"):
        assert (work / "results" / name).read_bytes() == (reference / "results" / name).read_bytes(), name


def test_truncated_inputs_fail_naming_the_file_and_its_target(faulted, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(faulted[1], work, symlinks=True)
    for name in (CHECKPOINT, FEATURES):  # truncated, modification time kept: invisible to Snakemake
        path, stat = work / name, (work / name).stat()
        os.truncate(path, stat.st_size // 2)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (work / CLASSIFIER).unlink()  # to be rebuilt from the truncated feature file
    before = files_outside_bookkeeping(work)

    result = run_snakemake(work, [CLASSIFIER, "results/synthvoc_k2_seenonly.csv"], config(), "--keep-going",
                           check=False)
    assert result.returncode != 0
    evaluation = (work / "logs/evaluate/synthvoc_k2_seenonly.log").read_text()
    assert f"{CHECKPOINT} is not a readable checkpoint" in evaluation and f"`snakemake {CHECKPOINT}`" in evaluation
    retraining = (work / "logs/retrain/synthvoc_k2_ceiling.log").read_text()
    assert f"{FEATURES}: " in retraining and f"`snakemake --forcerun {FEATURES}`" in retraining
    assert files_outside_bookkeeping(work) == before  # nothing deleted, the corrupt files kept for inspection
