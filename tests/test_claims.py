"""The claims checker against hand-made results rows: like-for-like rows, verdicts over seeds, spread."""
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zs3core.claims import CLAIMS, check_claims, claims_markdown, verdict
from zs3core.seed_spread import read_spread, seed_spread
from zs3core.tables import RESULT_METRICS

BASELINE, SEENONLY, CEILING, ZS5, GC = CLAIMS


def row(method, K, unseen, hiou=10.0, calibration="raw", seed=0, **extra):
    r = {m: 50.0 for m in RESULT_METRICS}
    r.update(dataset="synthvoc", K=K, method=method, seed=seed, calibration=calibration, gamma=0.0,
             unseen_miou=unseen, hiou=hiou, **extra)
    return r


def verdicts(out):
    return {(r.claim, r.K, r.calibration): r.verdict for r in out.itertuples()}


def test_verdicts_compare_raw_with_raw_and_calibrated_with_calibrated():
    df = pd.DataFrame([
        row("baseline", 2, 1.0), row("zs3", 2, 20.0, hiou=30.0), row("zs3", 2, 24.0, hiou=40.0, calibration="calibrated"),
        row("ceiling", 2, 30.0), row("ceiling", 2, 50.0, calibration="calibrated"),
        row("zs5", 2, 30.0, hiou=35.0, pseudo_calibrated=True),
        row("zs5", 2, 30.0, hiou=39.0, calibration="calibrated", pseudo_calibrated=True),
        row("zs3", 2, 99.0, calibration="gamma_other"),  # another calibration rule: ignored
        row("baseline", 4, 12.0), row("zs3", 4, 12.0),
    ])
    v = verdicts(check_claims(df, "synthvoc", [2, 4]))
    assert v[(BASELINE.name, 2, "raw")] == "holds" and v[(BASELINE.name, 4, "raw")] == "does not hold"  # a tie is no win
    assert v[(BASELINE.name, 2, "calibrated")] == "not measured"  # the baseline has no calibrated row
    # the ceiling claim divides like by like: raw 20 >= 15 holds; calibrated 24 < 25 does not
    # (dividing calibrated ZS3Net by the raw ceiling would have said 24 >= 15)
    assert v[(CEILING.name, 2, "raw")] == "holds" and v[(CEILING.name, 2, "calibrated")] == "does not hold"
    # ZS5Net against its labeller (calibrated ZS3Net): 39 < 40; raw against raw 35 > 30
    assert v[(ZS5.name, 2, "calibrated")] == "does not hold" and v[(ZS5.name, 2, "raw")] == "holds"
    # every claim at every K and calibration has a row; missing rows say so
    assert len(v) == len(CLAIMS) * 2 * 2
    assert v[(SEENONLY.name, 2, "raw")] == "not measured" and v[(GC.name, 4, "calibrated")] == "not measured"
    md = claims_markdown(check_claims(df, "synthvoc", [2, 4]), "synthvoc")
    assert "labelled by the calibrated ZS3Net" in md and "single-run" in md and "no seed spread was measured" in md
    assert "99.0" not in md


def test_ratio_is_like_for_like():
    df = pd.DataFrame([row("zs3", 2, 24.0, calibration="calibrated"), row("ceiling", 2, 50.0, calibration="calibrated"),
                       row("ceiling", 2, 40.0)])
    out = check_claims(df, "synthvoc", [2])
    cal = out[(out["claim"] == CEILING.name) & (out["calibration"] == "calibrated")].iloc[0]
    assert cal["ratio"] == 24.0 / 50.0 and cal["margin"] == pytest.approx(24.0 - 25.0)


@pytest.mark.parametrize("margins, expected", [
    ([3.0, 2.5, 3.5], "holds"),             # mean 3 > std 0.5
    ([3.0, -1.0, 7.0], "inconclusive"),     # mean 3 < std 4
    ([-0.5, 3.0, 6.5], "inconclusive"),     # mean 3 < sample std 3.5 (the population std, 2.86, would say holds)
    ([1.0, -2.0, 1.0], "does not hold"),    # mean 0
    ([0.5], "holds"), ([-0.5, 0.2], "does not hold"), ([], "not measured"),
])
def test_verdict_rule(margins, expected):
    assert verdict(np.array(margins)) == expected


def test_three_seeds_judge_the_margin_against_its_spread():
    # baseline 1.4, 1.3, 22.7 (seed 2 transfers); ZS3Net 20, 21, 14: per-seed margins 18.6, 19.7, -8.7
    base, zs3 = [1.4, 1.3, 22.7], [20.0, 21.0, 14.0]
    df = pd.DataFrame([row("baseline", 2, b, seed=s) for s, b in enumerate(base)]
                      + [row("zs3", 2, z, seed=s) for s, z in enumerate(zs3)])
    out = check_claims(df, "synthvoc", [2])
    r = out[(out["claim"] == BASELINE.name) & (out["calibration"] == "raw")].iloc[0]
    d = np.array(zs3) - np.array(base)
    assert r["n_seeds"] == 3 and r["margin"] == pytest.approx(d.mean())
    assert r["margin_std"] == pytest.approx(d.std(ddof=1))
    assert r["verdict"] == "inconclusive"  # the mean (9.9) would call it a win; the spread (16.1) does not
    assert r["margins"] == "0:+18.60;1:+19.70;2:-8.70"
    md = claims_markdown(out, "synthvoc")
    assert "0:+18.60, 1:+19.70, 2:-8.70" in md and "inconclusive" in md and "18.3 \u00b1 3.8 vs 8.5 \u00b1 12.3" in md


def test_seed_spread_is_quoted_next_to_single_run_verdicts(tmp_path):
    runs = pd.DataFrame([row("zs3", 2, u, hiou=h, seed=s) for s, (u, h) in enumerate([(20, 30), (22, 31), (24, 35)])]
                        + [row("baseline", 2, b, seed=s) for s, b in enumerate([1.0, 2.0, 6.0])]
                        + [row("zs3", 2, 5.0, calibration="other_rule")])
    spread = seed_spread(runs)
    assert set(spread["calibration"]) == {"raw"} and set(spread["metric"]) == {"unseen_miou", "hiou"}
    zs3 = spread[(spread["method"] == "zs3") & (spread["metric"] == "unseen_miou")].iloc[0]
    assert zs3["mean"] == 22 and zs3["std"] == pytest.approx(2.0) and zs3["n_seeds"] == 3
    assert zs3["values"] == "0:20;1:22;2:24"
    path = tmp_path / "seed_spread.csv"
    spread.to_csv(path, index=False)
    single = pd.DataFrame([row("zs3", 2, 20.0), row("baseline", 2, 1.0)])
    out = check_claims(single, "synthvoc", [2], spread=read_spread(path))
    r = out[(out["claim"] == BASELINE.name) & (out["calibration"] == "raw")].iloc[0]
    assert r["spread_value_std"] == pytest.approx(2.0) and r["spread_reference_std"] == pytest.approx(np.std([1, 2, 6], ddof=1))
    md = claims_markdown(out, "synthvoc", spread_source="bench/seed_spread.csv")
    assert "holds (single run; seed spread \u00b1 2.0 / \u00b1 2.6 over 3 seeds)" in md
    assert "bench/seed_spread.csv" in md
    with pytest.raises(ValueError, match="bad.csv.*std"):
        bad = tmp_path / "bad.csv"
        spread.drop(columns="std").to_csv(bad, index=False)
        read_spread(bad)


def test_bench_script_reads_one_file_per_model(tmp_path):
    spec = importlib.util.spec_from_file_location("seed_spread_bench", Path(__file__).parents[1] / "bench/seed_spread.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for name in ("synthvoc_k2_zs3.csv", "synthvoc_seed1_k2_zs3.csv", "synthvoc_k2_zs3_per_class.csv",
                 "synthvoc_k2_zs5_p50.csv", "table1_synthvoc.csv", "claims_synthvoc.csv"):
        (tmp_path / name).write_text("x\n")
    assert [p.name for p in bench.results_files(tmp_path)] == ["synthvoc_k2_zs3.csv", "synthvoc_seed1_k2_zs3.csv"]
