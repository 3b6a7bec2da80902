"""The paper's claims, checked on the results a run produced: one verdict per claim, split and
calibration, by a stated test over seeds.

Each claim compares two rows built the same way: raw against raw, and calibrated against
calibrated (both are shown; other calibration rows are ignored):
- ZS3Net beats the DeViSE baseline and the seen-only segmenter on unseen classes (Table 1);
- ZS3Net reaches at least half of the real-feature ceiling (this project's target for the
  generator; the ceiling is a diagnostic trained on real unseen features);
- ZS5Net (self-training) beats, in hIoU, the ZS3Net model that labelled its pool (Table 4): its
  rows' `pseudo_calibrated` says whether that was the calibrated or the raw ZS3Net;
- ZS3Net + GC beats ZS3Net in unseen mIoU (Table 3);
and claims that two methods are *on a par* (within +-`par_margin` points of each other), judged by
an equivalence test (`par_test`): the GAN variant of ZS3Net and the GMMN-based one; ALE and the
DeViSE baseline (both in the paper's section 4.1).
A claim whose rows are missing says "not measured", never passes. A claim true by construction
(the seen-only segmenter has no unseen output, so its unseen mIoU is 0) is a sanity check: shown,
never counted among the claims.

Verdicts over seeds (`verdict_rule`): per seed s the margin d_s = value_s - ratio x reference_s,
and a paired one-sided t-test of the margins (`margin_test`, H1: mean margin > 0, n - 1 degrees
of freedom) at the level `alpha` (config `claims.alpha`). One seed cannot be tested: its verdict
is "not tested", beside the measured margin and the spread a multi-seed run measured once
(`zs3core.seed_spread`), when that file is given. An "on a par" claim is judged by two one-sided
tests (TOST) of the margins against the band [-delta, +delta] (config `claims.par_margin`): it holds
when both reject (the mean margin lies inside the band), does not hold when the mean margin lies
significantly outside it.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from zs3core.methods import METHODS
from zs3core.seed_spread import spread_lookup
from zs3core.tables import load_results

CALIBRATIONS = ("raw", "calibrated")
NOT_MEASURED = "not measured"
NOT_TESTED = "not tested"
HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED, NOT_MEASURED)
TEST = "paired one-sided t-test"
PAR_TEST = "two one-sided t-tests (TOST)"
RELATIONS = ("beats", "par")
COLUMNS = ["claim", "relation", "sanity_check", "K", "metric", "calibration", "method", "reference", "ratio_required",
           "par_margin",
           "n_seeds", "seeds", "value", "value_std", "reference_value", "reference_std", "ratio", "margin",
           "margin_std", "margins", "t", "df", "p_value", "p_value_reverse", "alpha", "verdict", "labeller",
           "spread_value_std", "spread_reference_std", "spread_n_seeds"]


def verdict_rule(alpha: float, par_margin: float | None = None) -> str:
    """The rule every verdict follows, as the claims file states it (with the "on a par" rule when
    `par_margin` is given)."""
    par = "" if par_margin is None else (
        f" A claim that two methods are **on a par** is judged by {PAR_TEST} of the margins d_s = value_s - "
        f"reference_s against the band \u00b1{par_margin:g} points: it **holds** when both H1: mean d > "
        f"-{par_margin:g} and H1: mean d < +{par_margin:g} give p < {alpha:g} (p is the larger of the two), "
        f"**does not hold** when H1: mean d > +{par_margin:g} or H1: mean d < -{par_margin:g} gives p < "
        f"{alpha:g}, and is **inconclusive** otherwise.")
    return (f"Per seed s, the margin d_s = value_s - ratio x reference_s (ratio 1 unless the claim says "
            f"otherwise). The verdict is a {TEST} of the margins over the seeds: t = mean(d) / (std(d) / "
            f"sqrt(n)) (sample std, ddof = 1) with n - 1 degrees of freedom, p = P(T >= t), the p-value of "
            f"H1: mean margin > 0. A claim **holds** when p < {alpha:g}, **does not hold** when the reverse "
            f"test (H1: mean margin < 0) gives p < {alpha:g}, and is **inconclusive** otherwise. With one "
            f"seed there is no spread to test against: the verdict is **not tested**, beside the measured "
            f"margin. Claims true by construction are **sanity checks**, shown but not counted." + par)


@dataclass(frozen=True)
class Claim:
    """`method` scores above `ratio` x `reference`'s `metric` (relation `beats`), or within
    +-`par_margin` of it (relation `par`), at the same K and calibration. `sanity_check`: why the
    claim holds by construction (None for a claim the run can refute)."""
    name: str
    method: str
    reference: str
    metric: str = "unseen_miou"
    ratio: float = 1.0
    sanity_check: str | None = None
    relation: str = "beats"

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"claim {self.name!r}: relation must be one of {RELATIONS}, got {self.relation!r}")
        if self.relation == "par" and self.ratio != 1.0:
            raise ValueError(f"claim {self.name!r}: an 'on a par' claim compares the values themselves (ratio 1)")


CLAIMS = (
    Claim("ZS3Net beats the baseline on unseen classes", "zs3", "baseline"),
    Claim("ZS3Net beats the seen-only segmenter on unseen classes", "zs3", "seenonly",
          sanity_check="the seen-only segmenter has no unseen output, so its unseen mIoU is 0 by construction"),
    Claim("ZS3Net reaches half of the real-feature ceiling on unseen classes", "zs3", "ceiling", ratio=0.5),
    Claim("ZS5Net beats the ZS3Net that labelled its pool, in hIoU", "zs5", "zs3", metric="hiou"),
    Claim("ZS3Net + GC beats ZS3Net on unseen classes", "zs3gc", "zs3"),
    Claim("ZS3Net's GAN variant is on a par with the GMMN-based ZS3Net on unseen classes", "zs3gan", "zs3",
          relation="par"),
    Claim("ALE is on a par with the DeViSE baseline on unseen classes", "ale", "baseline", relation="par"),
)


def claim_methods(tables: Iterable[int]) -> list[str]:
    """The methods whose rows the claims compare in a dataset showing `tables`: both sides of
    every claim whose method one of those tables shows (zs3core/methods.py), in the method table's order."""
    shown = {m.name for m in METHODS if set(m.tables) & set(tables)}
    compared = {name for c in CLAIMS if c.method in shown for name in (c.method, c.reference)}
    return [m.name for m in METHODS if m.name in compared]


def _stats():
    """scipy.stats, imported when a verdict is computed (the DAG reads `claim_methods` alone)."""
    from scipy import stats
    return stats


class MarginTest(NamedTuple):
    """The t statistic, its degrees of freedom, p of H1: mean > 0 and p of the reverse H1: mean < 0."""
    t: float
    df: int
    p: float
    p_reverse: float


def margin_test(margins: np.ndarray) -> MarginTest:
    """The paired one-sided t-test of the per-seed margins (NaN for fewer than two seeds).

    Margins equal at every seed have no spread: t is +inf or -inf by their sign (p 0 on that side,
    1 on the other) and 0 when they are all 0 (p 0.5 both ways)."""
    d = np.round(np.asarray(margins, dtype=float), 6)  # results are written to 0.01: no float noise
    n = len(d)
    if n < 2:
        return MarginTest(math.nan, max(n - 1, 0), math.nan, math.nan)
    if np.ptp(d) == 0:
        t = math.copysign(math.inf, d[0]) if d[0] else 0.0
    else:
        t = float(_stats().ttest_1samp(d, 0.0).statistic)
    t_dist = _stats().t
    return MarginTest(t, n - 1, float(t_dist.sf(t, n - 1)), float(t_dist.cdf(t, n - 1)))


def par_test(margins: np.ndarray, par_margin: float) -> MarginTest:
    """Equivalence of two methods within +-`par_margin`, by two one-sided t-tests of the margins.

    `p` is the TOST p-value, the larger of the p's of H1: mean > -delta and H1: mean < +delta
    (small when the mean margin lies inside the band); `p_reverse` the smaller of the p's of
    H1: mean > +delta and H1: mean < -delta (small when it lies outside); `t` the statistic of
    the binding side of the TOST. NaN for fewer than two seeds."""
    if not par_margin > 0:
        raise ValueError(f"claims.par_margin must be a positive number of points, got {par_margin}")
    d = np.round(np.asarray(margins, dtype=float), 6)
    n = len(d)
    if n < 2:
        return MarginTest(math.nan, max(n - 1, 0), math.nan, math.nan)
    lower, upper = margin_test(d + par_margin), margin_test(d - par_margin)  # H1: d > -delta; H1: d - delta > 0
    p_inside = max(lower.p, upper.p_reverse)
    p_outside = min(upper.p, lower.p_reverse)
    t = lower.t if lower.p >= upper.p_reverse else upper.t
    return MarginTest(t, n - 1, p_inside, p_outside)


def claim_test(margins: np.ndarray, claim: Claim, par_margin: float) -> MarginTest:
    """The claim's test of its per-seed margins: `margin_test`, or `par_test` for an "on a par" claim."""
    return par_test(margins, par_margin) if claim.relation == "par" else margin_test(margins)


def verdict(margins: np.ndarray, alpha: float, test: MarginTest | None = None) -> str:
    """`verdict_rule` applied to the per-seed margins (`test`: their claim's test, by default the
    one-sided `margin_test`)."""
    if len(margins) == 0 or np.isnan(margins).any():
        return NOT_MEASURED
    if len(margins) < 2:
        return NOT_TESTED
    test = margin_test(margins) if test is None else test
    return HOLDS if test.p < alpha else FAILS if test.p_reverse < alpha else INCONCLUSIVE


def _is_true(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0")


def _labeller_calibration(df: pd.DataFrame, K: int) -> str | None:
    """The calibration of the ZS3Net that pseudo-labelled ZS5Net's pool at K (None if unknown)."""
    zs5 = df[(df["method"] == "zs5") & (df["K"] == K)]
    if zs5.empty or "pseudo_calibrated" not in zs5.columns:
        return None
    flags = {_is_true(v) for v in zs5["pseudo_calibrated"]}
    return None if len(flags) != 1 else ("calibrated" if flags.pop() else "raw")


def _std(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def check_claims(results, dataset: str, ks: Iterable[int], *, alpha: float, par_margin: float = math.nan,
                 claims: Iterable[Claim] = CLAIMS, spread: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (claim, K, calibration), measured or not: means and stds over the seeds both
    rows share, the per-seed margins, their t-test at `alpha` and the verdict, and for ZS5Net
    whether the reference is its labeller. `par_margin`: the band of the "on a par" claims.
    `spread` (`zs3core.seed_spread.read_spread`) supplies the quoted spread."""
    if not 0 < alpha < 1:
        raise ValueError(f"claims.alpha must lie strictly between 0 and 1, got {alpha}")
    df = load_results(results)
    df = df[(df["dataset"] == dataset) & df["calibration"].isin(CALIBRATIONS)]
    quoted = spread_lookup(spread)

    def per_seed(method: str, K: int, calibration: str, metric: str) -> pd.Series:
        sel = df[(df["method"] == method) & (df["K"] == K) & (df["calibration"] == calibration)]
        return sel.set_index("seed")[metric].astype(float)

    rows = []
    for claim in claims:
        for K in map(int, ks):
            labeller = _labeller_calibration(df, K) if claim.method == "zs5" else None
            for cal in CALIBRATIONS:
                ours, ref = per_seed(claim.method, K, cal, claim.metric), per_seed(claim.reference, K, cal, claim.metric)
                seeds = sorted(set(ours.index) & set(ref.index))
                v, r = ours.reindex(seeds).to_numpy(), ref.reindex(seeds).to_numpy()
                d = v - claim.ratio * r
                test = claim_test(d, claim, par_margin)
                value_spread = quoted.get((dataset, claim.method, cal, K, claim.metric), (math.nan, 0))
                ref_spread = quoted.get((dataset, claim.reference, cal, K, claim.metric), (math.nan, 0))
                mean_v, mean_r = (float(v.mean()), float(r.mean())) if seeds else (math.nan, math.nan)
                rows.append({
                    "claim": claim.name, "relation": claim.relation, "sanity_check": claim.sanity_check is not None,
                    "K": K, "metric": claim.metric, "calibration": cal,
                    "method": claim.method, "reference": claim.reference, "ratio_required": claim.ratio,
                    "par_margin": par_margin if claim.relation == "par" else math.nan,
                    "n_seeds": len(seeds), "seeds": ";".join(map(str, seeds)),
                    "value": mean_v, "value_std": _std(v), "reference_value": mean_r, "reference_std": _std(r),
                    "ratio": mean_v / mean_r if seeds and mean_r else math.nan,
                    "margin": float(d.mean()) if seeds else math.nan, "margin_std": _std(d),
                    "margins": ";".join(f"{s}:{x:+.2f}" for s, x in zip(seeds, d)),
                    "t": test.t, "df": test.df if len(seeds) > 1 else None,
                    "p_value": test.p, "p_value_reverse": test.p_reverse, "alpha": alpha,
                    "verdict": verdict(d, alpha, test), "labeller": None if labeller is None else labeller == cal,
                    "spread_value_std": value_spread[0], "spread_reference_std": ref_spread[0],
                    "spread_n_seeds": max(value_spread[1], ref_spread[1]),
                })
    return pd.DataFrame(rows, columns=COLUMNS).astype({"df": "Int64"})


def _p(p: float) -> str:
    return "" if p != p else f"{p:.3g}"


def claims_csv(df: pd.DataFrame) -> str:
    """The CSV text of `check_claims`' rows: values to 0.01, p-values to three significant digits."""
    buf = io.StringIO()
    exact = {c: df[c].map(_p) for c in ("p_value", "p_value_reverse")} | {"alpha": df["alpha"].map("{:g}".format)}
    df.assign(**exact).to_csv(buf, index=False, float_format="%.2f")
    return buf.getvalue()


def detectable_ratio(n: int, alpha: float) -> float:
    """With n seeds a claim holds only when mean(d) / std(d) exceeds this (t's critical value / sqrt(n))."""
    return float(_stats().t.ppf(1 - alpha, n - 1)) / math.sqrt(n)


def _num(x: float) -> str:
    return "\u2013" if x != x else f"{x:.1f}"


def _pair(r) -> str:
    """'value vs [ratio x] reference' with stds over seeds when there are several."""
    if r.n_seeds == 0:
        return "\u2013"
    def cell(mean, std):
        return _num(mean) + ("" if std != std else f" \u00b1 {std:.1f}")
    factor = "" if r.ratio_required == 1 else f"{r.ratio_required:g} \u00d7 "
    return f"{cell(r.value, r.value_std)} vs {factor}{cell(r.reference_value, r.reference_std)}"


def _verdict_cell(r) -> str:
    if r.verdict == NOT_MEASURED:
        return r.verdict
    if r.verdict != NOT_TESTED:
        return f"{r.verdict} (p = {_p(r.p_value)})"
    quoted = (f"seed spread \u00b1 {_num(r.spread_value_std)} / \u00b1 {_num(r.spread_reference_std)} over "
              f"{r.spread_n_seeds} seeds" if r.spread_n_seeds >= 2  # a one-seed "spread" measures nothing
              else "no seed spread measured")
    return f"{NOT_TESTED} (one seed: margin {r.margin:+.1f}; {quoted})"


def _claim_text(name: str, g: pd.DataFrame) -> str:
    labelled = g.loc[g["labeller"].map(lambda x: x is True), "calibration"].unique()
    if len(labelled) == 1:
        return (f"{name} (its pool was labelled by the {labelled[0]} ZS3Net: the {labelled[0]} "
                f"column compares ZS5Net with its labeller)")
    return name


def _summary(c: pd.DataFrame) -> str:
    """'holds at K = 2, 4; inconclusive at K = 6' over one claim's splits of one calibration."""
    if (c["verdict"] == NOT_MEASURED).all():
        return NOT_MEASURED
    parts = []
    for v in VERDICTS:
        ks = c.loc[c["verdict"] == v, "K"].tolist()
        if ks:
            part = f"{v} at K = {', '.join(map(str, ks))}"
            if v == NOT_TESTED:
                positive = c.loc[(c["verdict"] == v) & (c["margin"] > 0), "K"].tolist()
                part += f" (one seed; margin > 0 at {len(positive)} of {len(ks)})"
            parts.append(part)
    return "; ".join(parts)


def verdict_counts(df: pd.DataFrame) -> dict[str, int]:
    """How many claim verdicts (sanity checks left out) read each of `VERDICTS`."""
    counted = df.loc[~df["sanity_check"].astype(bool), "verdict"]
    return {v: int((counted == v).sum()) for v in VERDICTS}


def claims_markdown(df: pd.DataFrame, dataset: str, *, alpha: float, spread_source: str | None = None) -> str:
    """The verdicts as Markdown: the rule, the counts, a summary per claim, raw and calibrated side
    by side per K, and the per-seed margins with their test."""
    bands = df.loc[df["relation"] == "par", "par_margin"].dropna()
    lines = [f"# The paper's claims on {dataset}", "", verdict_rule(alpha, bands.iloc[0] if len(bands) else None), ""]
    n = int(df["n_seeds"].max()) if len(df) else 0
    if n == 0:
        lines += ["No claim could be measured: none of the compared rows exist.", ""]
    elif n == 1:
        source = (f"the spread measured once by a multi-seed run ({spread_source}) is quoted next to each margin "
                  f"(std of the value / of the reference)") if spread_source and df["spread_n_seeds"].max() >= 2 \
            else "no seed spread was measured"
        lines += [f"These are **single-run** results (1 seed): no claim is tested, and a margin smaller than the "
                  f"seed-to-seed spread is not a finding; {source}. Run several seeds "
                  f"(`--config 'seeds=[0,1,2]'`) to test them.", ""]
    else:
        lines += [f"Verdicts over up to {n} seeds; values are mean \u00b1 std over seeds. With {n} seeds a claim "
                  f"holds only when its mean margin exceeds {detectable_ratio(n, alpha):.2f} times its std "
                  f"(t > {_stats().t.ppf(1 - alpha, n - 1):.2f}, {n - 1} degrees of freedom).", ""]
    counts = verdict_counts(df)
    lines += [f"Claims counted (sanity checks left out): {sum(counts.values())} verdicts, "
              + ", ".join(f"{counts[v]} {v}" for v in VERDICTS) + ".", ""]
    lines += ["Raw rows use no seen-logit offset; calibrated rows subtract the offset chosen on held-out "
              "seen-only training images. The baseline and the seen-only segmenter have no calibrated "
              "rows, so their calibrated comparisons are not measured.", ""]
    sanity = {c.name: c.sanity_check for c in CLAIMS if c.sanity_check}
    for name, g in df.groupby("claim", sort=False):
        parts = "; ".join(f"{cal}: {_summary(g[g['calibration'] == cal])}" for cal in CALIBRATIONS)
        if g["sanity_check"].astype(bool).all():
            why = f": {sanity[name]}" if name in sanity else ""
            lines.append(f"- *Sanity check, not counted{why}.* {name}: {parts}")
        else:
            lines.append(f"- {_claim_text(name, g)}: {parts}")
    lines += ["", "| claim | K | metric | raw | raw verdict | calibrated | calibrated verdict |",
              "|---|---:|---|---:|---|---:|---|"]
    for (name, K), g in df.groupby(["claim", "K"], sort=False):
        cells = []
        for cal in CALIBRATIONS:
            r = next(g[g["calibration"] == cal].itertuples())
            cells += [_pair(r), _verdict_cell(r)]
        label = f"{name} (sanity check)" if g["sanity_check"].astype(bool).all() else name
        lines.append(f"| {label} | {K} | {g['metric'].iloc[0]} | " + " | ".join(cells) + " |")
    multi = df[df["n_seeds"] > 1]
    if len(multi):
        lines += ["", "## Margins per seed and their test", "",
                  "| claim | K | calibration | d per seed (seed:d) | mean d \u00b1 std | t (df) | p | verdict |",
                  "|---|---:|---|---|---:|---:|---:|---|"]
        for r in multi.itertuples():
            lines.append(f"| {r.claim}{' (sanity check)' * bool(r.sanity_check)} | {r.K} | {r.calibration} | {r.margins.replace(';', ', ')} | "
                         f"{r.margin:+.2f} \u00b1 {r.margin_std:.2f} | {r.t:.2f} ({int(r.df)}) | {_p(r.p_value)} | "
                         f"{r.verdict} |")
    return "\n".join(lines) + "\n"
