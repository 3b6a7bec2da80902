"""The mechanisms bench: the paper's two method claims on a grid of synthetic worlds.

Why: on the default synthetic worlds appearance follows the embeddings exactly and ignores
context, so "ZS3Net beats the baseline" and "GC beats ZS3Net" are findings about the world as much
as about the methods. The bench renders worlds of one base dataset at each pair of
`semantic_predictability` x `context_dependence` (`zs3core.data.synthetic`), runs both claims
on each, judged by the claims' paired one-sided t-test over seeds (`zs3core.claims`), and says
under which settings each claim holds.

Grid datasets are copies of the base dataset's config with the two world settings replaced, named
`{base}_p{100 p}_c{100 c}` (`synthcontext_p50_c100`); the point at the base's own settings is the
base dataset itself, so its runs are shared with the default target. Config: `mechanisms:`.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import pandas as pd

from zs3core.claims import CALIBRATIONS, FAILS, HOLDS, INCONCLUSIVE, NOT_MEASURED, Claim, check_claims, verdict_rule
from zs3core.tables import load_results

SETTINGS = ("semantic_predictability", "context_dependence")
METHODS = ("baseline", "zs3", "zs3gc")
CLAIMS = (
    Claim("ZS3Net beats the baseline on unseen classes", "zs3", "baseline"),
    Claim("ZS3Net + GC beats ZS3Net on unseen classes", "zs3gc", "zs3"),
)


@dataclass(frozen=True)
class GridPoint:
    dataset: str
    predictability: float
    context: float


def grid_points(config: dict) -> list[GridPoint]:
    """Every (predictability, context) pair of `mechanisms`, with the dataset that renders it."""
    mech = config["mechanisms"]
    base = mech["base"]
    world = config["datasets"][base].get("world")
    if world is None:
        raise ValueError(f"mechanisms.base: {base!r} is not a synthetic dataset (it has no `world:` section)")
    missing = sorted(set(mech["ks"]) - set(map(int, config["datasets"][base]["unseen"])))
    if missing:
        raise ValueError(f"mechanisms.ks: {missing} are not splits of {base} (datasets.{base}.unseen)")
    points = []
    for p in mech["predictability"]:
        for c in mech["context"]:
            own = (p, c) == (world["semantic_predictability"], world["context_dependence"])
            name = base if own else f"{base}_p{round(100 * p)}_c{round(100 * c)}"
            points.append(GridPoint(name, float(p), float(c)))
    if len({pt.dataset for pt in points}) != len(points):
        raise ValueError(f"mechanisms: two settings round to the same dataset name: {[pt.dataset for pt in points]}")
    return points


def grid_datasets(config: dict) -> dict[str, dict]:
    """The dataset configs the grid adds (the base's own point adds none)."""
    base = config["mechanisms"]["base"]
    out = {}
    for pt in grid_points(config):
        if pt.dataset == base:
            continue
        spec = copy.deepcopy(config["datasets"][base])
        spec["world"].update(semantic_predictability=pt.predictability, context_dependence=pt.context)
        out[pt.dataset] = spec
    return out


def grid_results(points: list[GridPoint], ks, seed_tags) -> list[str]:
    """The results CSVs the report reads."""
    return [f"results/{pt.dataset}{tag}_k{k}_{m}.csv" for pt in points for tag in seed_tags for k in ks
            for m in METHODS]


def _with_calibrated_baseline(df: pd.DataFrame) -> pd.DataFrame:
    """The baseline has one output (no seen-logit offset): its raw rows also stand as the reference
    of the calibrated comparison."""
    base = df[(df["method"] == "baseline") & (df["calibration"] == "raw")].assign(calibration="calibrated")
    return pd.concat([df[~((df["method"] == "baseline") & (df["calibration"] == "calibrated"))], base],
                     ignore_index=True)


def judge_grid(results, points: list[GridPoint], ks, *, alpha: float) -> pd.DataFrame:
    """One row per (grid point, claim, K, calibration): `check_claims`' columns plus the settings."""
    df = _with_calibrated_baseline(load_results(results))
    frames = [check_claims(df, pt.dataset, ks, alpha=alpha, claims=CLAIMS).assign(
        dataset=pt.dataset, predictability=pt.predictability, context=pt.context) for pt in points]
    return pd.concat(frames, ignore_index=True)


def _setting(r) -> str:
    return f"p = {r.predictability:g}, c = {r.context:g}"


def _cell(r) -> str:
    if r.n_seeds == 0:
        return NOT_MEASURED
    std = "\u2013" if math.isnan(r.margin_std) else f"{r.margin_std:.1f}"
    return (f"{r.value:.1f} vs {r.reference_value:.1f} ({r.margin:+.1f} \u00b1 {std}; p = {r.p_value:.3g}) "
            f"**{r.verdict}**")


def claim_paragraph(g: pd.DataFrame) -> str:
    """Under which settings one claim holds, written from its verdicts."""
    parts = []
    for verdict in (HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURED):
        sel = g[g["verdict"] == verdict]
        if sel.empty:
            continue
        where = "; ".join(f"{_setting(r)}, K = {r.K}, {r.calibration}" for r in sel.itertuples())
        verb = verdict if verdict in (HOLDS, FAILS) else f"is {verdict}"
        parts.append(f"it **{verb}** in {len(sel)} of {len(g)} comparisons ({where})")
    by_setting = g.groupby(["predictability", "context"])["verdict"].apply(lambda v: (v == HOLDS).all())
    always = [f"p = {p:g}, c = {c:g}" for (p, c), ok in by_setting.items() if ok]
    summary = (f"It holds at every K and calibration exactly at {', '.join(always)}." if always
               else "At no setting does it hold at every K and calibration.")
    return f"**{g['claim'].iloc[0]}**: " + "; ".join(parts) + ". " + summary


def mechanisms_markdown(df: pd.DataFrame, *, base: str, alpha: float, n_seeds: int, gc: dict) -> str:
    """The report: the rule, the GC it judged (`gc`: its adjacency and node term, which decide
    whether it can read context at all), the grid of verdicts per claim, a paragraph per claim."""
    lines = [f"# The paper's mechanisms on a grid of {base} worlds", "",
             "Each dataset is the base world with two settings changed (docs/synthetic-data.md): "
             "`semantic_predictability` p, the share of each class's appearance that follows the word "
             "embeddings, and `context_dependence` c, the share of a region's colour set by the classes it "
             f"touches. Up to {n_seeds} seeds per cell; unseen mIoU, mean over seeds, method vs reference "
             "(mean margin \u00b1 std over seeds; p of the one-sided test).", "",
             f"GC: `gc.adjacency: {gc['adjacency']}`, `gc.node_term: {gc['node_term']}` (docs/method.md).", "",
             verdict_rule(alpha), "",
             "The baseline has no seen-logit offset: its one output is the reference of both the raw and "
             "the calibrated comparison.", ""]
    for name, g in df.groupby("claim", sort=False):
        lines += [f"## {name}", "", "| p | c | dataset | K | raw | calibrated |", "|---:|---:|---|---:|---|---|"]
        for (p, c, ds, K), cell in g.groupby(["predictability", "context", "dataset", "K"], sort=False):
            by_cal = {r.calibration: r for r in cell.itertuples()}
            lines.append(f"| {p:g} | {c:g} | {ds} | {K} | "
                         + " | ".join(_cell(by_cal[cal]) for cal in CALIBRATIONS) + " |")
        lines += ["", claim_paragraph(g), ""]
    return "\n".join(lines)
