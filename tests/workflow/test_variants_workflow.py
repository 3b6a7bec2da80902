"""Named variants (docs/variants.md) on a tiny synthetic world: a run fills Snakemake's output
cache; `make variant` with only the classifier changed runs in runs/<name>/, links step 0, the
features, the generator and its bank from the cache (their scripts never run), leaves the main
run's files as they were, and gives the very results a fresh run of the same settings gives."""
import hashlib
import os
import re
import shlex
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import REPO, small_synthetic

# What a clone holds that the workflow reads.
PROJECT = ["Snakefile", "config.yaml", "rules", "workflow_scripts", "zs3core", "schemas", "report", "Makefile",
           "pyproject.toml"]
TARGETS = ["results/table2_synthvoc.csv"]  # baseline and ZS3Net at the largest K
CACHED_UPSTREAM = {"train_step0": "checkpoints/synthvoc/k2/seenonly.pt", "extract_features": "features/synthvoc/k2/train.h5",
                   "train_generator": "generators/synthvoc/k2/gmmn.pt", "generate_bank": "banks/synthvoc/k2/gmmn.h5"}
RESULTS = ["results/synthvoc_k2_zs3.csv", "results/synthvoc_k2_zs3_per_class.csv", "results/synthvoc_k2_zs3_confusion.npy",
           "results/synthvoc_k2_baseline.csv", "results/table2_synthvoc.csv"]


def settings(classifier_epochs):
    overrides = small_synthetic()
    overrides["datasets"]["synthvoc"].update(ks=[2], segmenter={"train": {"epochs": 1, "batch_size": 8}},
                                             generator={"iterations": 30})
    overrides["classifier"] = {"epochs": classifier_epochs}
    # The generator's own cross-validation scores its grid with classifiers, so with it a classifier
    # change reruns the generators too (docs/variants.md); this test is of the classifier alone.
    overrides["generator_cv"] = {"enabled": False}
    overrides["default_datasets"] = ["synthvoc"]
    return overrides


def snakemake(folder, args, env=None):
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"snakemake {shlex.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def make_line(clone, *args):
    """The Snakemake command `make -n` prints for `args`: (its environment, its arguments)."""
    result = subprocess.run(["make", "-n", *args], cwd=clone, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if ".venv/bin/snakemake" in line)
    words, env = shlex.split(line), {}
    while re.match(r"^[A-Za-z_]\w*=", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0] == ".venv/bin/snakemake", line
    return env, words[1:]


def snapshot(folder, skip):
    """{path: (link target or None, bytes digest, mtime)} of every file under `folder` but `skip`."""
    state = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if os.path.relpath(os.path.join(root, d), folder) not in skip]
        for name in files:
            path = os.path.join(root, name)
            link = os.readlink(path) if os.path.islink(path) else None
            with open(path, "rb") as f:
                state[os.path.relpath(path, folder)] = (link, hashlib.sha256(f.read()).hexdigest(),
                                                        os.lstat(path).st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    top = tmp_path_factory.mktemp("variants")
    clone, fresh = top / "clone", top / "fresh"
    clone.mkdir()
    fresh.mkdir()
    for name in PROJECT:
        (clone / name).symlink_to(REPO / name)
    (clone / "main.yaml").write_text(yaml.safe_dump(settings(classifier_epochs=2)))
    (top / "fewer.yaml").write_text(yaml.safe_dump(settings(classifier_epochs=3)))

    # the main run, as `make run` runs it (with the tiny settings), fills the cache
    env, args = make_line(clone, "run", "CORES=2")
    cache = env["SNAKEMAKE_OUTPUT_CACHE"]
    assert cache == str(clone / ".snakemake-cache") and args[0] == "--cache"
    os.mkdir(cache)
    env = {**os.environ, **env}
    snakemake(clone, [*args, "--configfile", "config.yaml", "main.yaml", "--", *TARGETS], env)
    before = snapshot(clone, skip={"runs", ".snakemake-cache"})

    # the variant, as `make variant` runs it
    venv, vargs = make_line(clone, "variant", "NAME=more_epochs", f"CONFIG={top / 'fewer.yaml'}",
                            f"TARGETS={' '.join(TARGETS)}", "CORES=2")
    assert {**os.environ, **venv} == env
    plan = snakemake(clone, ["-n", *vargs], env)
    log = snakemake(clone, vargs, env)
    after = snapshot(clone, skip={"runs", ".snakemake-cache"})

    # a fresh run of the variant's settings, without the cache
    (fresh / "fewer.yaml").write_text((top / "fewer.yaml").read_text())
    snakemake(fresh, ["--snakefile", str(REPO / "Snakefile"), "--cores", "2", "--configfile",
                      str(REPO / "config.yaml"), "fewer.yaml", "--", *TARGETS])
    return {"clone": clone, "variant": clone / "runs/more_epochs", "fresh": fresh, "plan": plan, "log": log,
            "before": before, "after": after, "cache": cache}


def test_the_variant_takes_the_unchanged_stages_from_the_cache(runs):
    for rule, path in CACHED_UPSTREAM.items():
        assert f"Output file {path} will be obtained from global between-workflow cache" in runs["plan"], rule
        assert f"Symlinking output file {path} from cache" in runs["log"], rule
        assert f"Moving output file {path} to cache" not in runs["log"], rule  # what a job that ran does
        # the job's script never ran (Snakemake only touched its log, which the main run's job filled),
        # and its output is the main run's file, linked
        assert all(log.stat().st_size == 0 for log in (runs["variant"] / "logs" / rule).iterdir()), rule
        assert all(log.stat().st_size > 0 for log in (runs["clone"] / "logs" / rule).iterdir()), rule
        linked = runs["variant"] / path
        assert linked.is_symlink() and linked.resolve() == (runs["clone"] / path).resolve(), rule
        assert os.path.commonpath([linked.resolve(), runs["cache"]]) == runs["cache"]
    # the classifier's settings changed: it, its cross-validation and the evaluation ran here
    assert "Output file cv/synthvoc/k2/gamma_zs3.json will be written to global between-workflow cache" in runs["plan"]
    assert "Moving output file cv/synthvoc/k2/gamma_zs3.json to cache" in runs["log"]
    for rule in ("retrain", "cv", "evaluate"):  # log folders
        assert all(log.stat().st_size > 0 for log in (runs["variant"] / "logs" / rule).iterdir()), rule


def test_the_main_run_is_untouched(runs):
    assert runs["after"] == runs["before"]
    assert "results/table2_synthvoc.csv" in runs["before"]


def test_the_variant_equals_a_fresh_run_of_its_settings(runs):
    """Bit for bit: the CPU kernels are pinned and each job is seeded (docs/reproducibility.md)."""
    for path in RESULTS:
        assert (runs["variant"] / path).read_bytes() == (runs["fresh"] / path).read_bytes(), path
    zs3 = pd.read_csv(runs["variant"] / "results/synthvoc_k2_zs3.csv")
    assert set(zs3["classifier_epochs"]) == {3}


def test_compare_puts_the_runs_side_by_side(runs):
    env = {**os.environ, "SNAKEMAKE_OUTPUT_CACHE": runs["cache"]}
    _, args = make_line(runs["clone"], "compare", "CORES=2")
    snakemake(runs["clone"], [*args[:-1], "--configfile", "config.yaml", "main.yaml", "--", args[-1]], env)
    df = pd.read_csv(runs["clone"] / "results/compare.csv")
    assert list(df.columns) == ["table", "row", "metric", "main", "more_epochs"]
    main = pd.read_csv(runs["clone"] / "results/table2_synthvoc.csv").set_index("Model")
    variant = pd.read_csv(runs["variant"] / "results/table2_synthvoc.csv").set_index("Model")
    cells = df.set_index(["row", "metric"])
    for model in ("Baseline", "ZS3Net"):
        cell = cells.loc[(f"K=2 {model}", "unseen_miou")]
        assert cell["main"] == pytest.approx(main.loc[model, "unseen_miou"], abs=1e-12)
        assert cell["more_epochs"] == pytest.approx(variant.loc[model, "unseen_miou"], abs=1e-12)
    # the baseline is step 0 alone, which the classifier does not change
    baseline = cells.loc[("K=2 Baseline", "unseen_miou")]
    assert baseline["main"] == baseline["more_epochs"]
