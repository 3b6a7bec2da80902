"""The paper's claims, checked on the results a run produced: one verdict per claim, split and
calibration.

Each claim compares two rows built the same way: raw against raw, and calibrated against
calibrated (both are shown; other calibration rows are ignored):
- ZS3Net beats the DeViSE baseline and the seen-only segmenter on unseen classes (Table 1);
- ZS3Net reaches at least half of the real-feature ceiling (this project's target for the
  generator; the ceiling is a diagnostic trained on real unseen features);
- ZS5Net (self-training) beats, in hIoU, the ZS3Net model that labelled its pool (Table 4): its
  rows' `pseudo_calibrated` says whether that was the calibrated or the raw ZS3Net;
- ZS3Net + GC beats ZS3Net in unseen mIoU (Table 3).
A claim whose rows are missing says "not measured", never passes.

Verdicts over seeds (`VERDICT_RULE`): per seed s the margin d_s = value_s - ratio x reference_s.
With three or more seeds a claim holds when the mean margin is positive and larger than the
margins' spread across seeds. With one or two seeds the verdict is the sign of the mean margin,
marked as a single (two-) run verdict, and quotes the spread a multi-seed run measured once
(`zs3core.seed_spread`), when that file is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from zs3core.seed_spread import spread_lookup
from zs3core.tables import load_results

CALIBRATIONS = ("raw", "calibrated")
MIN_SEEDS = 3
NOT_MEASURED = "not measured"
VERDICT_RULE = (
    "Per seed s, the margin d_s = value_s - ratio x reference_s (ratio 1 unless the claim says "
    "otherwise). With three or more seeds a claim **holds** when mean(d) > 0 and mean(d) > std(d) "
    "(sample standard deviation, ddof=1), **does not hold** when mean(d) <= 0, and is "
    "**inconclusive** otherwise. With one or two seeds the verdict is the sign of mean(d) alone.")
COLUMNS = ["claim", "K", "metric", "calibration", "method", "reference", "ratio_required", "n_seeds",
           "seeds", "value", "value_std", "reference_value", "reference_std", "ratio", "margin",
           "margin_std", "margins", "verdict", "labeller", "spread_value_std", "spread_reference_std",
           "spread_n_seeds"]


@dataclass(frozen=True)
class Claim:
    """`method` scores above `ratio` x `reference`'s `metric`, at the same K and calibration."""
    name: str
    method: str
    reference: str
    metric: str = "unseen_miou"
    ratio: float = 1.0


CLAIMS = (
    Claim("ZS3Net beats the baseline on unseen classes", "zs3", "baseline"),
    Claim("ZS3Net beats the seen-only segmenter on unseen classes", "zs3", "seenonly"),
    Claim("ZS3Net reaches half of the real-feature ceiling on unseen classes", "zs3", "ceiling", ratio=0.5),
    Claim("ZS5Net beats the ZS3Net that labelled its pool, in hIoU", "zs5", "zs3", metric="hiou"),
    Claim("ZS3Net + GC beats ZS3Net on unseen classes", "zs3gc", "zs3"),
)


def verdict(margins: np.ndarray) -> str:
    """`VERDICT_RULE` applied to the per-seed margins."""
    if len(margins) == 0 or np.isnan(margins).any():
        return NOT_MEASURED
    mean = float(margins.mean())
    if mean <= 0:
        return "does not hold"
    if len(margins) < MIN_SEEDS:
        return "holds"
    return "holds" if mean > float(margins.std(ddof=1)) else "inconclusive"


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


def check_claims(results, dataset: str, ks: Iterable[int], claims: Iterable[Claim] = CLAIMS,
                 spread: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (claim, K, calibration), measured or not: means and stds over the seeds both
    rows share, the per-seed margins, the verdict, and for ZS5Net whether the reference is its
    labeller. `spread` (`zs3core.seed_spread.read_spread`) supplies the quoted spread."""
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
                value_spread = quoted.get((dataset, claim.method, cal, K, claim.metric), (math.nan, 0))
                ref_spread = quoted.get((dataset, claim.reference, cal, K, claim.metric), (math.nan, 0))
                mean_v, mean_r = (float(v.mean()), float(r.mean())) if seeds else (math.nan, math.nan)
                rows.append({
                    "claim": claim.name, "K": K, "metric": claim.metric, "calibration": cal,
                    "method": claim.method, "reference": claim.reference, "ratio_required": claim.ratio,
                    "n_seeds": len(seeds), "seeds": ";".join(map(str, seeds)),
                    "value": mean_v, "value_std": _std(v), "reference_value": mean_r, "reference_std": _std(r),
                    "ratio": mean_v / mean_r if seeds and mean_r else math.nan,
                    "margin": float(d.mean()) if seeds else math.nan, "margin_std": _std(d),
                    "margins": ";".join(f"{s}:{x:+.2f}" for s, x in zip(seeds, d)),
                    "verdict": verdict(d), "labeller": None if labeller is None else labeller == cal,
                    "spread_value_std": value_spread[0], "spread_reference_std": ref_spread[0],
                    "spread_n_seeds": max(value_spread[1], ref_spread[1]),
                })
    return pd.DataFrame(rows, columns=COLUMNS)


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
    if r.verdict == NOT_MEASURED or r.n_seeds >= MIN_SEEDS:
        return r.verdict
    runs = "single run" if r.n_seeds == 1 else "two runs"
    if r.spread_n_seeds >= 2:  # a one-seed "spread" measures nothing
        return (f"{r.verdict} ({runs}; seed spread \u00b1 {_num(r.spread_value_std)} / "
                f"\u00b1 {_num(r.spread_reference_std)} over {r.spread_n_seeds} seeds)")
    return f"{r.verdict} ({runs}; no seed spread measured)"


def _claim_text(name: str, g: pd.DataFrame) -> str:
    labelled = g.loc[g["labeller"].map(lambda x: x is True), "calibration"].unique()
    if len(labelled) == 1:
        return (f"{name} (its pool was labelled by the {labelled[0]} ZS3Net: the {labelled[0]} "
                f"column compares ZS5Net with its labeller)")
    return name


def claims_markdown(df: pd.DataFrame, dataset: str, spread_source: str | None = None) -> str:
    """The verdicts as Markdown: the rule, a summary per claim, raw and calibrated side by side
    per K, and the per-seed margins."""
    lines = [f"# The paper's claims on {dataset}", "", VERDICT_RULE, ""]
    n = int(df["n_seeds"].max()) if len(df) else 0
    if n == 0:
        lines += ["No claim could be measured: none of the compared rows exist.", ""]
    elif n < MIN_SEEDS:
        runs = "single-run" if n == 1 else "two-run"
        source = (f"the spread measured once by a multi-seed run ({spread_source}) is quoted next to each verdict "
                  f"(std of the value / of the reference)") if spread_source and df["spread_n_seeds"].max() >= 2 \
            else "no seed spread was measured"
        lines += [f"These verdicts are **{runs}** ({n} seed{'s' * (n > 1)}): a margin smaller than the "
                  f"seed-to-seed spread is not a finding; {source}.", ""]
    else:
        lines += [f"Verdicts over up to {n} seeds; values are mean \u00b1 std over seeds.", ""]
    lines += ["Raw rows use no seen-logit offset; calibrated rows subtract the offset chosen on held-out "
              "seen-only training images. The baseline and the seen-only segmenter have no calibrated "
              "rows, so their calibrated comparisons are not measured.", ""]
    for name, g in df.groupby("claim", sort=False):
        parts = []
        for cal in CALIBRATIONS:
            c = g[g["calibration"] == cal]
            measured = c[c["verdict"] != NOT_MEASURED]
            held = measured.loc[measured["verdict"] == "holds", "K"].tolist()
            if measured.empty:
                parts.append(f"{cal}: {NOT_MEASURED}")
                continue
            parts.append(f"{cal}: holds at {len(held)} of {len(measured)} measured splits"
                         + (f" (K = {', '.join(map(str, held))})" if held else ""))
        lines.append(f"- {_claim_text(name, g)}: {'; '.join(parts)}")
    lines += ["", "| claim | K | metric | raw | raw verdict | calibrated | calibrated verdict |",
              "|---|---:|---|---:|---|---:|---|"]
    for (name, K), g in df.groupby(["claim", "K"], sort=False):
        cells = []
        for cal in CALIBRATIONS:
            r = next(g[g["calibration"] == cal].itertuples())
            cells += [_pair(r), _verdict_cell(r)]
        lines.append(f"| {name} | {K} | {g['metric'].iloc[0]} | " + " | ".join(cells) + " |")
    multi = df[df["n_seeds"] > 1]
    if len(multi):
        lines += ["", "## Margins per seed", "", "| claim | K | calibration | d per seed (seed:d) | mean d \u00b1 std |",
                  "|---|---:|---|---|---:|"]
        for r in multi.itertuples():
            lines.append(f"| {r.claim} | {r.K} | {r.calibration} | {r.margins.replace(';', ', ')} | "
                         f"{r.margin:+.2f} \u00b1 {r.margin_std:.2f} |")
    return "\n".join(lines) + "\n"
