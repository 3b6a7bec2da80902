"""results/cv_{dataset}.{csv,md}: what the zero-shot cross-validation chose, and what it gave.

Per split and seed: the pseudo-unseen classes, the gamma sweep of pseudo hIoU (ZS3Net and the
real-feature ceiling), the chosen gammas, and on the test split the hIoU of ZS3Net and of the
ceiling raw, with the cross-validated gamma and with the rate rule's (results rows located by
their `gamma_rule` column), with the ratio of calibrated ZS3Net to the calibrated ceiling.
"""
from __future__ import annotations

import json
from typing import Sequence

import pandas as pd

KINDS = ("zs3", "ceiling")


def _test_hiou(results_csv) -> dict[str, float]:
    """hIoU (percent, as results CSVs hold it) of the raw row and of the row of each gamma rule,
    with their gammas."""
    df = pd.read_csv(results_csv)
    out = {"raw": float(df.loc[df["calibration"] == "raw", "hiou"].iloc[0])}
    for _, row in df[df["calibration"] != "raw"].iterrows():
        out[row["gamma_rule"]] = float(row["hiou"])
        out[f"gamma_{row['gamma_rule']}"] = float(row["gamma"])
    out["applied"] = df.loc[df["calibration"] == "calibrated", "gamma_rule"].iloc[0]
    return out


def cv_summary(splits: Sequence[dict]) -> pd.DataFrame:
    """One row per (seed, K, kind). `splits`: dicts with seed, K and, per kind, the paths
    `gamma_<kind>` (cv json), `sweep_<kind>` (its sweep CSV) and `results_<kind>` (results CSV)."""
    rows = []
    for split in splits:
        for kind in KINDS:
            with open(split[f"gamma_{kind}"]) as f:
                record = json.load(f)
            table = pd.read_csv(split[f"sweep_{kind}"]).set_index("gamma")
            sweep = table["hiou"]
            best = sweep.idxmax() if sweep.notna().any() else None  # first of equal maxima: the smallest gamma
            test = _test_hiou(split[f"results_{kind}"])
            rows.append({"seed": split["seed"], "K": split["K"], "model": kind,
                         "pseudo_unseen": " ".join(record["pseudo_unseen"]) or f"skipped: {record.get('skipped')}",
                         "cv_gamma": record["gamma"], "choice": record.get("choice"),
                         "best_gamma": best, "pseudo_hiou_best": None if best is None else 100 * sweep[best],
                         "pseudo_hiou_se": None if best is None else 100 * table.loc[best, "hiou_se"],
                         "pseudo_hiou_gamma0": 100 * sweep.iloc[0], "pseudo_hiou_cv": 100 * sweep[record["gamma"]],
                         "rate_gamma": test.get("gamma_rate"), "applied_rule": test["applied"],
                         "test_hiou_raw": test["raw"], "test_hiou_cv": test.get("cv"), "test_hiou_rate": test.get("rate")})
    df = pd.DataFrame(rows)
    cv_hiou = df.set_index(["seed", "K", "model"])["test_hiou_cv"]
    df["zs3_over_ceiling_cv"] = [cv_hiou[(r.seed, r.K, "zs3")] / cv_hiou[(r.seed, r.K, "ceiling")]
                                 if r.model == "zs3" and cv_hiou[(r.seed, r.K, "ceiling")] > 0 else float("nan")
                                 for r in df.itertuples()]
    return df


def sweep_table(sweeps: dict[tuple[int, int, str], pd.DataFrame]) -> pd.DataFrame:
    """Pseudo hIoU (percent) per gamma of the grid, one column per (seed, K, kind)."""
    several_seeds = len({seed for seed, _, _ in sweeps}) > 1
    cols = {f"K={K} {kind}" + (f" (seed {seed})" if several_seeds else ""): sweep.set_index("gamma")["hiou"] * 100
            for (seed, K, kind), sweep in sorted(sweeps.items())}
    return pd.DataFrame(cols).rename_axis("gamma").reset_index()


def _fmt(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1f}" if isinstance(value, float) else str(value)


def _gamma(value) -> str | None:
    return None if value is None or pd.isna(value) else f"{value:g}"


def cv_markdown(dataset: str, summary: pd.DataFrame, sweeps: pd.DataFrame) -> str:
    lines = [f"# Zero-shot cross-validation of gamma: {dataset}", "",
             "Pseudo-unseen classes are seen classes hidden from a GMMN and classifier trained on the other "
             "seen classes, scored on held-out seen-only training images (pixel-weighted). CV gamma = the "
             "smallest grid value whose pseudo hIoU is within one standard error (bootstrap over the held-out "
             "images) of the best (`cv.choice: one_standard_error`), or the best's (`best`). Test hIoU from the "
             "results CSVs.", "",
             "| seed | K | model | pseudo-unseen | best gamma | pseudo hIoU best ± SE | CV gamma | pseudo hIoU (gamma 0) "
             "| pseudo hIoU (CV) | rate gamma | test hIoU raw | test hIoU CV | test hIoU rate | applied | ZS3/ceiling (CV) |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for _, r in summary.iterrows():
        lines.append("| " + " | ".join(_fmt(v) for v in (
            r["seed"], r["K"], r["model"], r["pseudo_unseen"], _gamma(r["best_gamma"]),
            None if pd.isna(r["pseudo_hiou_best"]) else f"{r['pseudo_hiou_best']:.1f} ± {r['pseudo_hiou_se']:.1f}",
            _gamma(r["cv_gamma"]), r["pseudo_hiou_gamma0"],
            r["pseudo_hiou_cv"], _gamma(r["rate_gamma"]), r["test_hiou_raw"],
            r["test_hiou_cv"], r["test_hiou_rate"], r["applied_rule"],
            None if pd.isna(r["zs3_over_ceiling_cv"]) else f"{r['zs3_over_ceiling_cv']:.2f}")) + " |")
    lines += ["", "Pseudo hIoU per gamma of the grid:", "",
              "| " + " | ".join(sweeps.columns) + " |", "|" + "---:|" * len(sweeps.columns)]
    lines += ["| " + " | ".join(f"{v:g}" if c == "gamma" else _fmt(v) for c, v in row.items()) + " |"
              for _, row in sweeps.iterrows()]
    return "\n".join(lines) + "\n"
