"""The config as the workflow sees it: checked before any job, and every override taking effect."""
import re
import subprocess

import pytest

from conftest import snakemake_command
from fixtures import make_voc

TARGET = "features/voc/k2/train.h5"  # its step-0 segmenter's params hold the unseen classes of K=2


def dry_run(workdir, overrides, *config_entries, targets=(TARGET,)):
    cmd = snakemake_command(workdir, list(targets), overrides, "-n")
    if config_entries:
        cmd += ["--config", *config_entries]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture
def voc(workdir, tmp_path, monkeypatch):
    """A tiny VOC tree; the jobs up to TARGET marked as done (touched) with config.yaml's split."""
    root, _ = make_voc(tmp_path / "raw", ["a", "b"], ["c"])
    imagenet = tmp_path / "torch/hub/checkpoints/resnet101-63fe2227.pth"  # init: imagenet's file, checked
    imagenet.parent.mkdir(parents=True)                                    # by the DAG (never read here)
    imagenet.touch()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    overrides = {"datasets": {"voc": {"root": str(root)}}}
    for path in ("data/voc/index.csv", "checkpoints/voc/k2/seenonly.pt", TARGET):
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).touch()
    touched = subprocess.run(snakemake_command(workdir, [TARGET], overrides, "--touch", "--forceall"),
                             capture_output=True, text=True, timeout=600)
    assert touched.returncode == 0, touched.stderr
    unchanged = dry_run(workdir, overrides)
    assert "Nothing to be done" in unchanged.stdout + unchanged.stderr
    return overrides


@pytest.mark.parametrize("entry, named", [
    ("generator={iterationz: 10}", "generator.iterationz: unknown key; allowed: ["),
    ("datasets={synthvoc: {generator: {bandwidth_mode: absolut}}}",
     "datasets.synthvoc.generator.bandwidth_mode is 'absolut', expected one of ['relative', 'authors', 'paper']"),
])
def test_a_bad_key_stops_the_dry_run_naming_it(workdir, entry, named):
    result = dry_run(workdir, None, entry, targets=())
    assert result.returncode != 0 and named in result.stdout + result.stderr


def test_command_line_split_with_an_unknown_class_stops(workdir, voc):
    result = dry_run(workdir, voc, "datasets={voc: {unseen: {2: [cow, unicorn]}}}")
    assert result.returncode != 0
    assert "datasets.voc.unseen.2 names unknown classes ['unicorn']" in result.stdout + result.stderr


def test_command_line_split_takes_effect(workdir, voc):
    result = dry_run(workdir, voc, "datasets={voc: {unseen: {2: [cow, sofa]}}}")
    assert result.returncode == 0, result.stderr
    log = result.stdout + result.stderr
    assert "rule train_step0" in log and "before: ['cow', 'motorbike'] now: ['cow', 'sofa']" in log


def test_configfile_split_takes_effect(workdir, voc):
    result = dry_run(workdir, {"datasets": {"voc": {**voc["datasets"]["voc"], "unseen": {2: ["sofa", "cow"]}}}})
    assert result.returncode == 0, result.stderr
    assert "now: ['sofa', 'cow']" in result.stdout + result.stderr


def test_command_line_seeds_and_ks_take_effect(workdir):
    # the command line gives ['0', '1'] and ['2']: typed as config.yaml would, they plan every
    # seed-dependent job twice, for K = 2 alone
    result = dry_run(workdir, None, "seeds=[0,1]", "datasets={synthvoc: {ks: [2]}}",
                     targets=("results/table1_synthvoc.md",))
    assert result.returncode == 0, result.stderr
    outputs = {line.split()[1] for line in result.stdout.splitlines() if line.strip().startswith("output:")}
    assert "checkpoints/synthvoc_seed1/k2/seenonly.pt" in outputs
    assert "checkpoints/synthvoc/k2/seenonly.pt" in outputs
    assert not any("/k4/" in o or "/k10/" in o for o in outputs)


@pytest.mark.parametrize("scope", ["all_stages", "classifier_only"])
def test_holdout_scope_decides_which_jobs_read_the_hold_out(workdir, scope):
    # all_stages: step 0 and the generator leave the hold-out out, so they read it; classifier_only:
    # only the classifiers (and cross-validation, ZS5Net's pool) do
    result = dry_run(workdir, None, f"holdout={{scope: {scope}}}", targets=("classifiers/synthvoc/k2/zs5_p25.pt",))
    assert result.returncode == 0, result.stderr
    reads = {}
    for rule, inputs in re.findall(r"^rule (\w+):\n(?:    .*\n)*?    input: (.*)$", result.stdout, re.M):
        reads.setdefault(rule, set()).add("data/synthvoc/holdout.txt" in inputs.split(", "))
    step0_and_generator = {True} if scope == "all_stages" else {False}
    assert reads["train_step0"] == reads["train_generator"] == step0_and_generator
    assert reads["cross_validate"] == reads["retrain_zs3"] == reads["pseudo_label"] == reads["retrain_zs5"] == {True}
