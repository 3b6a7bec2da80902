"""The claims checker against hand-made results rows: like-for-like rows, the t-test over seeds
(p-values computed by hand), sanity checks kept out of the counts, the quoted spread."""
import importlib.util
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zs3core.claims import (CLAIMS, Claim, check_claims, claim_test, claims_csv, claims_markdown, margin_test, par_test,
                            verdict, verdict_counts)
from zs3core.seed_spread import read_spread, seed_spread
from zs3core.tables import RESULT_METRICS

BASELINE, SEENONLY, CEILING, ZS5, GC, GAN, ALE = CLAIMS
ALPHA = 0.05
PAR = 3.0  # config.yaml claims.par_margin


def row(method, K, unseen, hiou=10.0, calibration="raw", seed=0, **extra):
    r = {m: 50.0 for m in RESULT_METRICS}
    r.update(dataset="synthvoc", K=K, method=method, seed=seed, calibration=calibration, gamma=0.0,
             unseen_miou=unseen, hiou=hiou, **extra)
    return r


def verdicts(out):
    return {(r.claim, r.K, r.calibration): r.verdict for r in out.itertuples()}


def margins_of(out):
    return {(r.claim, r.K, r.calibration): r.margin for r in out.itertuples()}


def test_rows_compare_raw_with_raw_and_calibrated_with_calibrated():
    df = pd.DataFrame([
        row("baseline", 2, 1.0), row("zs3", 2, 20.0, hiou=30.0), row("zs3", 2, 24.0, hiou=40.0, calibration="calibrated"),
        row("ceiling", 2, 30.0), row("ceiling", 2, 50.0, calibration="calibrated"),
        row("zs5", 2, 30.0, hiou=35.0, pseudo_calibrated=True),
        row("zs5", 2, 30.0, hiou=39.0, calibration="calibrated", pseudo_calibrated=True),
        row("zs3", 2, 99.0, calibration="gamma_other"),  # another calibration rule: ignored
        row("baseline", 4, 12.0), row("zs3", 4, 12.0),
    ])
    out = check_claims(df, "synthvoc", [2, 4], alpha=ALPHA, par_margin=PAR)
    m, v = margins_of(out), verdicts(out)
    assert m[(BASELINE.name, 2, "raw")] == 19.0 and m[(BASELINE.name, 4, "raw")] == 0.0
    # the ceiling claim divides like by like: raw 20 - 15; calibrated 24 - 25
    # (dividing calibrated ZS3Net by the raw ceiling would have said 24 - 15)
    assert m[(CEILING.name, 2, "raw")] == 5.0 and m[(CEILING.name, 2, "calibrated")] == -1.0
    # ZS5Net against its labeller (calibrated ZS3Net): 39 - 40; raw against raw 35 - 30
    assert m[(ZS5.name, 2, "calibrated")] == -1.0 and m[(ZS5.name, 2, "raw")] == 5.0
    # one seed: every measured claim is "not tested", whatever its margin's sign
    assert v[(BASELINE.name, 2, "raw")] == "not tested" and v[(CEILING.name, 2, "calibrated")] == "not tested"
    assert v[(BASELINE.name, 2, "calibrated")] == "not measured"  # the baseline has no calibrated row
    # every claim at every K and calibration has a row; missing rows say so
    assert len(v) == len(CLAIMS) * 2 * 2
    assert v[(SEENONLY.name, 2, "raw")] == "not measured" and v[(GC.name, 4, "calibrated")] == "not measured"
    md = claims_markdown(out, "synthvoc", alpha=ALPHA)
    assert "labelled by the calibrated ZS3Net" in md and "single-run" in md and "no seed spread was measured" in md
    assert "not tested (one seed: margin +19.0; no seed spread measured)" in md
    assert "99.0" not in md and "holds (" not in md


def test_ratio_is_like_for_like():
    df = pd.DataFrame([row("zs3", 2, 24.0, calibration="calibrated"), row("ceiling", 2, 50.0, calibration="calibrated"),
                       row("ceiling", 2, 40.0)])
    out = check_claims(df, "synthvoc", [2], alpha=ALPHA, par_margin=PAR)
    cal = out[(out["claim"] == CEILING.name) & (out["calibration"] == "calibrated")].iloc[0]
    assert cal["ratio"] == 24.0 / 50.0 and cal["margin"] == pytest.approx(24.0 - 25.0)


# Hand-computed: t = mean / (sd / sqrt(n)), p = P(T_{n-1} >= t).
# [1, 2, 3]: mean 2, sd 1, t = 2 * sqrt(3) = 3.4641, df 2: p = 1/2 - t / (2 sqrt(2 + t^2)) = 0.0370900
#   (for df 2 the t distribution's tail has that closed form)
# [3, -1, 7]: mean 3, sd 4, t = 3 / (4 / sqrt 3) = 1.2990, df 2: p = 0.16176
# [1, 3]: mean 2, sd sqrt 2, t = 2 / (sqrt 2 / sqrt 2) = 2, df 1: p = 1/2 - atan(2) / pi = 0.147584
def df2_tail(t):
    return 0.5 - t / (2 * math.sqrt(2 + t * t))


@pytest.mark.parametrize("margins, t, df, p", [
    ([1.0, 2.0, 3.0], 2 * math.sqrt(3), 2, df2_tail(2 * math.sqrt(3))),
    ([3.0, -1.0, 7.0], 3 / (4 / math.sqrt(3)), 2, df2_tail(3 / (4 / math.sqrt(3)))),
    ([1.0, 3.0], 2.0, 1, 0.5 - math.atan(2.0) / math.pi),
    ([-1.0, -2.0, -3.0], -2 * math.sqrt(3), 2, 1 - df2_tail(2 * math.sqrt(3))),
])
def test_margin_test_is_the_one_sided_t_test(margins, t, df, p):
    test = margin_test(np.array(margins))
    assert test.t == pytest.approx(t) and test.df == df
    assert test.p == pytest.approx(p, rel=1e-9) and test.p_reverse == pytest.approx(1 - p, rel=1e-9)


def test_margins_1_2_3_give_the_quoted_p():
    assert df2_tail(2 * math.sqrt(3)) == pytest.approx(0.0371, abs=5e-5)
    assert margin_test(np.array([1.0, 2.0, 3.0])).p == pytest.approx(0.0370900, abs=1e-7)


@pytest.mark.parametrize("margins, expected", [
    ([1.0, 2.0, 3.0], "holds"),             # p = 0.037 < 0.05
    ([3.0, 2.5, 3.5], "holds"),             # t = 10.4
    ([3.0, -1.0, 7.0], "inconclusive"),     # p = 0.16 (the old rule, mean 3 < std 4, said the same)
    ([2.0, 1.0, 5.0], "inconclusive"),      # mean 2.67 > std 2.08 (the old rule: holds), p = 0.078
    ([-1.0, -2.0, -3.0], "does not hold"),  # the reverse test: p = 0.037
    ([1.0, -2.0, 1.0], "inconclusive"),     # mean 0: neither side
    ([1.0, 3.0], "inconclusive"),           # two seeds are tested: p = 0.148
    ([2.0, 2.0, 2.0], "holds"), ([-2.0, -2.0], "does not hold"), ([0.0, 0.0, 0.0], "inconclusive"),  # no spread
    ([0.5], "not tested"), ([-0.5], "not tested"), ([], "not measured"), ([1.0, float("nan")], "not measured"),
])
def test_verdict_rule(margins, expected):
    assert verdict(np.array(margins), ALPHA) == expected


def test_alpha_is_the_threshold():
    # [2, 1, 5]: p = 0.078 holds at alpha 0.1, not at 0.05
    assert verdict(np.array([2.0, 1.0, 5.0]), 0.1) == "holds" and verdict(np.array([2.0, 1.0, 5.0]), 0.05) == "inconclusive"
    with pytest.raises(ValueError, match="claims.alpha"):
        check_claims(pd.DataFrame([row("zs3", 2, 1.0)]), "synthvoc", [2], alpha=1.0)


def test_three_seeds_judge_the_margin_by_the_t_test():
    # baseline 1.4, 1.3, 22.7 (seed 2 transfers); ZS3Net 20, 21, 14: per-seed margins 18.6, 19.7, -8.7
    base, zs3 = [1.4, 1.3, 22.7], [20.0, 21.0, 14.0]
    df = pd.DataFrame([row("baseline", 2, b, seed=s) for s, b in enumerate(base)]
                      + [row("zs3", 2, z, seed=s) for s, z in enumerate(zs3)])
    out = check_claims(df, "synthvoc", [2], alpha=ALPHA, par_margin=PAR)
    r = out[(out["claim"] == BASELINE.name) & (out["calibration"] == "raw")].iloc[0]
    d = np.array(zs3) - np.array(base)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))  # 9.867 / (16.09 / 1.732) = 1.062
    assert r["n_seeds"] == 3 and r["margin"] == pytest.approx(d.mean())
    assert r["margin_std"] == pytest.approx(d.std(ddof=1)) and r["t"] == pytest.approx(t) and r["df"] == 2
    assert r["p_value"] == pytest.approx(df2_tail(t)) and r["alpha"] == ALPHA
    assert r["verdict"] == "inconclusive"  # the mean (9.9) would call it a win; p = 0.20 does not
    assert r["margins"] == "0:+18.60;1:+19.70;2:-8.70"
    md = claims_markdown(out, "synthvoc", alpha=ALPHA)
    assert "0:+18.60, 1:+19.70, 2:-8.70" in md and "inconclusive (p = 0.2)" in md
    assert "18.3 \u00b1 3.8 vs 8.5 \u00b1 12.3" in md
    assert "exceeds 1.69 times its std (t > 2.92, 2 degrees of freedom)" in md  # t_0.95(2) / sqrt 3
    text = claims_csv(out)
    back = pd.read_csv(io.StringIO(text))
    row0 = back[(back["claim"] == BASELINE.name) & (back["calibration"] == "raw")].iloc[0]
    assert row0["p_value"] == pytest.approx(df2_tail(t), abs=5e-4) and row0["df"] == 2 and row0["alpha"] == 0.05


def test_sanity_checks_are_marked_and_left_out_of_the_counts():
    # three seeds; ZS3Net beats the seen-only segmenter (0 by construction) and the baseline
    rows = []
    for s, (z, b) in enumerate([(20.0, 1.0), (22.0, 2.0), (24.0, 2.5)]):
        rows += [row("zs3", 2, z, seed=s), row("baseline", 2, b, seed=s), row("seenonly", 2, 0.0, seed=s)]
    out = check_claims(pd.DataFrame(rows), "synthvoc", [2], alpha=ALPHA, par_margin=PAR)
    sanity = out[out["sanity_check"]]
    assert set(sanity["claim"]) == {SEENONLY.name} and SEENONLY.sanity_check
    assert verdicts(out)[(SEENONLY.name, 2, "raw")] == "holds"  # tested like any claim ...
    counts = verdict_counts(out)  # ... but not counted: only the baseline's raw verdict holds
    assert counts["holds"] == 1 and counts["not measured"] == (len(CLAIMS) - 1) * 2 - 1 and sum(counts.values()) == (len(CLAIMS) - 1) * 2
    md = claims_markdown(out, "synthvoc", alpha=ALPHA)
    assert "Claims counted (sanity checks left out): 12 verdicts, 1 holds, 0 does not hold" in md
    assert f"| {SEENONLY.name} (sanity check) | 2 |" in md and "*Sanity check, not counted: the seen-only" in md
    assert f"- {BASELINE.name}: raw: holds at K = 2; calibrated: not measured" in md


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
    out = check_claims(single, "synthvoc", [2], alpha=ALPHA, par_margin=PAR, spread=read_spread(path))
    r = out[(out["claim"] == BASELINE.name) & (out["calibration"] == "raw")].iloc[0]
    assert r["spread_value_std"] == pytest.approx(2.0) and r["spread_reference_std"] == pytest.approx(np.std([1, 2, 6], ddof=1))
    md = claims_markdown(out, "synthvoc", alpha=ALPHA, spread_source="bench/seed_spread.csv")
    assert "not tested (one seed: margin +19.0; seed spread \u00b1 2.0 / \u00b1 2.6 over 3 seeds)" in md
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


def test_par_test_is_two_one_sided_t_tests_against_the_band():
    # margins 1, 2, 3 against +-3: mean 2, se 1 / sqrt 3; H1 d > -3: t = 5 sqrt 3; H1 d < 3: t = -sqrt 3
    test = par_test(np.array([1.0, 2.0, 3.0]), 3.0)
    assert test.df == 2 and test.t == pytest.approx(-math.sqrt(3))  # the binding side: the upper bound
    assert test.p == pytest.approx(df2_tail(math.sqrt(3)))  # max(P(T >= 5 sqrt 3), P(T <= -sqrt 3)) = 0.113
    assert test.p_reverse == pytest.approx(1 - df2_tail(math.sqrt(3)))  # H1 d > 3: P(T >= -sqrt 3)
    with pytest.raises(ValueError, match="claims.par_margin"):
        par_test(np.array([1.0, 2.0]), float("nan"))


@pytest.mark.parametrize("margins, expected", [
    ([0.5, -0.5, 0.0, 0.2, -0.2], "holds"),       # inside +-3, tight
    ([1.0, 2.0, 3.0], "inconclusive"),            # mean 2 inside, but p = 0.113 against the upper bound
    ([10.0, 11.0, 12.0], "does not hold"),        # significantly above +3
    ([-9.0, -10.0, -11.5], "does not hold"),      # significantly below -3
    ([1.0, 1.0, 1.0], "holds"), ([4.0, 4.0], "does not hold"),  # no spread: inside / outside the band
    ([0.3], "not tested"),
])
def test_on_a_par_verdicts(margins, expected):
    claim = Claim("A is on a par with B", "a", "b", relation="par")
    d = np.array(margins)
    assert verdict(d, ALPHA, claim_test(d, claim, 3.0)) == expected


def test_on_a_par_claims_in_the_claims_file():
    par = Claim("ZS3Net is on a par with the ceiling", "zs3", "ceiling", relation="par")
    df = pd.DataFrame([row("zs3", 2, z, seed=s) for s, z in enumerate([20.0, 21.0, 22.0])]
                      + [row("ceiling", 2, c, seed=s) for s, c in enumerate([20.5, 20.5, 21.5])])
    out = check_claims(df, "synthvoc", [2], alpha=ALPHA, par_margin=3.0, claims=[par])
    r = out[out["calibration"] == "raw"].iloc[0]
    assert r["relation"] == "par" and r["par_margin"] == 3.0 and r["margin"] == pytest.approx(1 / 6)
    assert r["verdict"] == "holds"  # margins -0.5, 0.5, 0.5: well inside +-3
    md = claims_markdown(out, "synthvoc", alpha=ALPHA)
    assert "**on a par** is judged by two one-sided t-tests (TOST)" in md and "\u00b13 points" in md
    with pytest.raises(ValueError, match="ratio 1"):
        Claim("x", "a", "b", ratio=0.5, relation="par")
    with pytest.raises(ValueError, match="claims.par_margin"):
        check_claims(df, "synthvoc", [2], alpha=ALPHA, claims=[par])  # no band given
