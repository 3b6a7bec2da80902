"""The seed-to-seed spread of unseen mIoU and hIoU, measured once on a multi-seed run.

A run with one or two seeds cannot tell a real difference from seed noise; its claims quote the
spread that a run with several seeds measured (`bench/seed_spread.py` writes the CSV, the claims
rule reads it).
"""
from __future__ import annotations

import math

import pandas as pd

from zs3core.tables import load_results

SPREAD_METRICS = ("unseen_miou", "hiou")
SPREAD_CALIBRATIONS = ("raw", "calibrated")
COLUMNS = ["dataset", "method", "calibration", "K", "metric", "mean", "std", "n_seeds", "values"]


def seed_spread(results) -> pd.DataFrame:
    """One row per (dataset, method, calibration, K, metric): mean, sample std (ddof=1; NaN for
    one seed), n_seeds and the per-seed values ('seed:value;...'), from results CSVs (or a frame).
    Only the `raw` and `calibrated` rows count."""
    df = load_results(results)
    df = df[df["calibration"].isin(SPREAD_CALIBRATIONS)]
    rows = []
    for (dataset, method, calibration, K), g in df.groupby(["dataset", "method", "calibration", "K"], sort=True):
        g = g.sort_values("seed")
        for metric in SPREAD_METRICS:
            values = g[metric].astype(float)
            rows.append({"dataset": dataset, "method": method, "calibration": calibration, "K": int(K),
                         "metric": metric, "mean": float(values.mean()),
                         "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                         "n_seeds": len(values),
                         "values": ";".join(f"{s}:{v:.4g}" for s, v in zip(g["seed"], values))})
    return pd.DataFrame(rows, columns=COLUMNS)


def read_spread(path) -> pd.DataFrame:
    """A seed-spread CSV, its columns checked (ValueError naming the file otherwise)."""
    df = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"seed spread file {path} lacks column(s) {missing}")
    df["K"] = df["K"].astype(int)
    return df


def spread_lookup(spread: pd.DataFrame | None) -> dict:
    """{(dataset, method, calibration, K, metric): (std, n_seeds)} of a spread frame (empty for None)."""
    if spread is None:
        return {}
    return {(r.dataset, r.method, r.calibration, int(r.K), r.metric): (float(r.std), int(r.n_seeds))
            for r in spread.itertuples(index=False)}
