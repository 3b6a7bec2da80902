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
def voc(workdir, tmp_path):
    """A tiny VOC tree; the jobs up to TARGET marked as done (touched) with config.yaml's split."""
    root, _ = make_voc(tmp_path / "raw", ["a", "b"], ["c"])
    overrides = {"datasets": {"voc": {"root": str(root), "segmenter": {"init": "none"}}}}  # no backbone file
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


def test_the_real_datasets_plan_the_papers_backbone_and_the_authors_budgets(workdir, tmp_path, monkeypatch):
    """Table 1 on a VOC tree: without the authors' backbone the dry run stops, saying where to get
    it; with it, a run made the old way (full ImageNet, 800 generator steps, the classifier's 20
    epochs at unseen weight 1) is replanned with the paper's backbone and the authors' budgets."""
    root, _ = make_voc(tmp_path / "raw", ["a", "b", "d"], ["c"])
    voc = {"root": str(root), "ks": [2]}
    target = ("results/table1_voc.md",)
    missing = dry_run(workdir, {"datasets": {"voc": voc}}, targets=target)
    assert missing.returncode != 0
    for text in ("datasets.voc.segmenter.authors_dir: /data/zs3-authors/resnet_backbone_pretrained_imagenet_wo_"
                 "pascalvoc.pth.tar does not exist", "https://github.com/valeoai/ZS3/releases"):
        assert text in missing.stdout + missing.stderr

    imagenet = tmp_path / "torch/hub/checkpoints/resnet101-63fe2227.pth"  # init: imagenet's file, checked
    imagenet.parent.mkdir(parents=True)                                    # by the DAG (never read here)
    imagenet.touch()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    old = {"datasets": {"voc": {**voc, "segmenter": {"init": "imagenet", "authors_dir": None},
                                "generator": {"iterations": 800, "epochs": None},
                                "gc": {"iterations": 800, "epochs": None},
                                "classifier": {"epochs": 20, "unseen_weight": 1.0}}}}
    planned = dry_run(workdir, old, targets=target)
    for line in planned.stdout.splitlines():  # every output of the old run, marked as made under its params
        if line.strip().startswith("output:"):
            for path in line.split(":", 1)[1].split(","):
                (workdir / path.strip()).parent.mkdir(parents=True, exist_ok=True)
                (workdir / path.strip()).touch()
    touched = subprocess.run(snakemake_command(workdir, list(target), old, "--touch", "--forceall"),
                             capture_output=True, text=True, timeout=600)
    assert touched.returncode == 0, touched.stderr
    downloads = tmp_path / "zs3-authors"
    downloads.mkdir()
    (downloads / "resnet_backbone_pretrained_imagenet_wo_pascalvoc.pth.tar").touch()
    new_config = {"datasets": {"voc": {**voc, "segmenter": {"authors_dir": str(downloads)}}}}
    new = dry_run(workdir, new_config, targets=target)
    assert new.returncode == 0, new.stderr
    step0 = next(line for line in new.stdout.splitlines() if "reason: Params have changed" in line
                 and "'init': 'imagenet'" in line)
    assert "now: {" in step0 and "'init': 'authors_imagenet'" in step0.split("now: {")[1]
    changed = subprocess.run(snakemake_command(workdir, list(target), new_config, "--list-changes", "params"),
                             capture_output=True, text=True, timeout=600)
    assert changed.returncode == 0, changed.stderr
    assert {"checkpoints/voc/k2/seenonly.pt", "checkpoints/voc/supervised.pt",  # the backbone
            "generators/voc/k2/gmmn.pt", "cv/voc/k2/gamma_zs3.json",  # 30 epochs of the GMMN
            "classifiers/voc/k2/zs3.pt", "classifiers/voc/k2/ceiling.pt",  # the classifier's budget
            "results/voc_k2_zs3.csv"} <= set(changed.stdout.split())  # their provenance columns
