"""ZS3Net + GC through Snakemake on a tiny synthcontext: a GC row from nothing, and Table 3 reads it."""
import re

import h5py
import pandas as pd
import pytest

from conftest import run_snakemake, small_synthetic
from zs3core import tables


def tiny_config():
    overrides = small_synthetic()
    overrides["datasets"]["synthcontext"].update(
        ks=[2], segmenter={"train": {"epochs": 2, "batch_size": 8}}, baseline={"epochs": 1},
        generator={"iterations": 20}, gc={"iterations": 20})
    overrides["classifier"] = {"epochs": 2}
    return overrides


def test_a_zs3gc_row_builds_from_nothing_and_table3_asks_for_it(workdir):
    run_snakemake(workdir, ["results/synthcontext_k2_zs3gc.csv"], tiny_config())
    gc = pd.read_csv(workdir / "results/synthcontext_k2_zs3gc.csv")
    assert list(gc["method"]) == ["zs3gc"] * 3 and list(gc["calibration"]) == ["raw", "calibrated", "calibrated_rate"]
    # the bank comes from the unseen classes' true masks of training images: never `strict`
    assert set(gc["protocol"]) == {"unseen_masks"} and set(gc["gc_graphs"]) == {"true_masks"}
    with h5py.File(workdir / "banks/synthcontext/k2/gc.h5") as bank:
        assert bank.attrs["graphs"] == "true_masks" and len(bank["graph_image_id"]) > 0
    curve = pd.read_csv(workdir / "generators/synthcontext/k2/gc_loss.csv")
    assert list(curve.columns) == ["iteration", "loss", "pixel_mmd", "node_mmd"]
    table = tables.table3([workdir / "results/synthcontext_k2_zs3gc.csv"], dataset="synthcontext", ks=[2])
    assert list(table["Model"]) == ["ZS3Net + GC", "ZS3Net + GC (calibrated)"]
    plan = run_snakemake(workdir, ["results/table3_synthcontext.md"], tiny_config(), "-n").stdout
    assert "results/synthcontext_k2_zs3gc.csv" in plan  # a dependency, up to date: not rebuilt
    assert "rule retrain_zs3gc" not in plan and "rule table3" in plan
    # gc.node_term reaches GC's trainer alone: it and what reads its generator rerun, nothing else
    overrides = tiny_config() | {"gc": {"node_term": "per_class"}}
    listing = run_snakemake(workdir, ["results/synthcontext_k2_zs3gc.csv"], overrides, "-n", "--quiet", "rules",
                            "--rerun-triggers=params").stdout
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", listing, re.M) if m.group(1) != "total"}
    assert jobs == {"train_gc": 1, "generate_gc_bank": 1, "retrain_zs3gc": 1, "evaluate_retrained": 1}


@pytest.mark.parametrize("scope", ["all_stages", "classifier_only"])
def test_gc_training_and_bank_read_the_holdout_exactly_under_all_stages(workdir, scope):
    """The rules hand the hold-out to GC's trainer and bank (which leave its images out:
    tests/train/test_graph_context.py) under `all_stages` only, as every other trained stage."""
    overrides = tiny_config() | {"holdout": {"scope": scope}}
    listing = run_snakemake(workdir, ["banks/synthcontext/k2/gc.h5"], overrides, "-n").stdout
    for rule in ("train_gc", "generate_gc_bank"):
        inputs = re.findall(rf"^rule {rule}:\n\s+input: (.*)$", listing, re.M)
        assert len(inputs) == 1, rule
        assert ("data/synthcontext/holdout.txt" in inputs[0].split(", ")) == (scope == "all_stages"), rule
