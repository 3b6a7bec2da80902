"""ZS3Net through Snakemake on a tiny synthetic world: tables, partial reruns, determinism."""
import re

import pandas as pd
import pytest

from conftest import run_snakemake, small_synthetic



def tiny_config():
    overrides = small_synthetic()
    overrides["datasets"]["synthvoc"].update(ks=[2, 4], segmenter={"train": {"epochs": 2, "batch_size": 8}})
    overrides["generator"] = {"iterations": 30}
    overrides["classifier"] = {"epochs": 2}
    overrides["default_datasets"] = ["synthvoc"]
    return overrides


def planned_jobs(workdir, overrides):
    """{rule: count} of what `snakemake -n` would run now."""
    out = run_snakemake(workdir, [], overrides, "-n", "--quiet", "rules").stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("zs3") / "work"
    workdir.mkdir()
    run_snakemake(workdir, [], tiny_config())
    return workdir


def test_default_target_builds_the_tables(built):
    table1 = pd.read_csv(built / "results/table1_synthvoc.csv")
    assert list(table1["Model"][:4]) == ["Supervised", "Baseline", "ZS3Net", "ZS3Net (calibrated)"]
    assert set(table1["K"]) == {0, 2, 4}
    md = (built / "results/table1_synthvoc.md").read_text()
    assert "Real-feature ceiling" in md and "ZS3Net (calibrated)" in md
    zs3 = pd.read_csv(built / "results/synthvoc_k2_zs3.csv")
    assert list(zs3["calibration"]) == ["raw", "calibrated"] and zs3["gamma"][0] == 0
    assert list(zs3["protocol"]) == ["strict", "strict"]
    table2 = pd.read_csv(built / "results/table2_synthvoc.csv")
    assert set(table2["K"]) == {4}


def test_changing_a_generator_parameter_reruns_only_what_depends_on_it(built):
    overrides = tiny_config()
    overrides["generator"]["iterations"] = 31
    jobs = planned_jobs(built, overrides)
    assert jobs.pop("train_generator") == 2 and jobs.pop("generate_bank") == 2
    assert jobs.pop("retrain_zs3") == 2 and jobs.pop("evaluate_retrained") == 2  # zs3 only, not the ceiling
    assert set(jobs) <= {"table1", "table2", "all"}


def test_changing_one_split_leaves_the_other_untouched(built):
    overrides = tiny_config()
    overrides["datasets"]["synthvoc"]["unseen"] = {4: ["cow", "motorbike", "aeroplane", "cat"]}
    jobs = planned_jobs(built, overrides)
    assert jobs["train_step0"] == 2  # K=4's seen-only and baseline segmenters
    listing = run_snakemake(built, [], overrides, "-n").stdout
    assert "k2" not in "".join(line for line in listing.splitlines() if line.strip().startswith("output:"))
    assert "k4" in listing


def test_same_seed_same_csvs(built, tmp_path):
    again = tmp_path / "again"
    again.mkdir()
    run_snakemake(again, ["results/synthvoc_k2_zs3.csv", "results/synthvoc_k2_baseline.csv"], tiny_config())
    for name in ("synthvoc_k2_zs3.csv", "synthvoc_k2_baseline.csv"):
        assert (again / "results" / name).read_bytes() == (built / "results" / name).read_bytes(), name
