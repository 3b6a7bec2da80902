"""Charts of measured results, drawn from results files alone (no model, no torch): a confusion
heatmap per results run (where unseen pixels go), Figure 5 (ZS5Net's p sweep) and the training
curves of a split (`zs3core.curves`).

Figures are `matplotlib.figure.Figure` objects drawn without pyplot, so no display backend or
global figure state is involved (the Agg canvas renders them), and are saved atomically.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zs3core.curves import PANELS, Curve
from zs3core.io import atomic_path, write_text
from zs3core.tables import RESULT_METRICS, aggregate, load_results

UNSEEN_COLOUR = "tab:red"


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")


# ----------------------------------------------------------------------------- confusion heatmaps
def row_normalised(cm: np.ndarray) -> np.ndarray:
    """Each ground-truth row divided by its pixel count; NaN rows for classes absent from the test set."""
    totals = cm.sum(axis=1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, cm / totals, np.nan)


def run_confusion(confusion_npy, metrics_csv) -> tuple[np.ndarray, str, float]:
    """The confusion matrix of a results run to show: the calibrated one where the run has it,
    else its only (raw) one; with the calibration's name and gamma.

    `write_evaluation` stacks the matrices in the order of the metrics CSV's rows.
    """
    stack = np.load(confusion_npy)
    rows = pd.read_csv(metrics_csv)
    if len(rows) != len(stack):
        raise ValueError(f"{confusion_npy} holds {len(stack)} matrices but {metrics_csv} has {len(rows)} rows")
    names = list(rows["calibration"])
    i = names.index("calibrated") if "calibrated" in names else 0
    return stack[i], names[i], float(rows["gamma"].iloc[i])


def confusion_heatmap(cm: np.ndarray, class_names: Sequence[str], unseen: Sequence[str], title: str) -> Figure:
    """Rows = ground truth (normalised to 1), columns = prediction; unseen classes in red with a *,
    and the cells of unseen rows written out as percentages (where their pixels went)."""
    frac = row_normalised(cm)
    n = len(class_names)
    side = max(5.0, 0.22 * n + 2.0)
    fig = Figure(figsize=(side + 1.0, side))
    ax = fig.subplots()
    cmap = colormaps["viridis"].with_extremes(bad="0.85")  # grey: classes absent from the test set
    image = ax.imshow(np.ma.masked_invalid(frac), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.04, label="fraction of the ground-truth class's pixels")
    labels = [f"{name} *" if name in set(unseen) else name for name in class_names]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        for tick, name in zip(ticks, class_names):
            if name in set(unseen):
                tick.set_color(UNSEEN_COLOUR)
    for r in (class_names.index(u) for u in unseen):
        for c in np.flatnonzero(frac[r] >= 0.01):
            ax.text(c, r, f"{100 * frac[r, c]:.0f}", ha="center", va="center", fontsize=6,
                    color="black" if frac[r, c] > 0.5 else "white")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("ground-truth class (* unseen)")
    ax.set_title(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------- Figure 5: the p sweep
FIG5_METRICS = {"seen_miou": "seen mIoU", "unseen_miou": "unseen mIoU", "all_miou": "overall mIoU", "hiou": "hIoU"}


def p_sweep_table(results_by_p: Mapping[float, object]) -> pd.DataFrame:
    """One row per (calibration, p): each metric's mean over seeds (`tables.aggregate`).

    `results_by_p` maps p (percent) to what `tables.load_results` reads (paths or a DataFrame of
    rows). All must be one dataset, K and method; a row's own `pseudo_p`, where present, must
    equal its p, so a file can never be plotted at another p than it was trained with.
    """
    frames = []
    for p, results in results_by_p.items():
        df = load_results(results)
        df = df[df["calibration"].isin(("raw", "calibrated"))]  # not the other rule's comparison rows
        if "pseudo_p" in df.columns and not np.allclose(df["pseudo_p"].astype(float), float(p)):
            raise ValueError(f"results given for p={p} were trained with pseudo_p {sorted(set(df['pseudo_p']))}")
        frames.append(aggregate(df).assign(p=float(p)))
    table = pd.concat(frames, ignore_index=True)
    runs = table[["dataset", "K", "method"]].drop_duplicates()
    if len(runs) != 1:
        raise ValueError(f"a p sweep is one dataset, K and method; got {runs.to_dict('records')}")
    order = {name: i for i, name in enumerate(dict.fromkeys(table["calibration"]))}
    table = table.sort_values(["calibration", "p"], key=lambda s: s.map(order) if s.name == "calibration" else s)
    return table[["dataset", "K", "method", "calibration", "p", "gamma", "n_seeds", *RESULT_METRICS]].reset_index(drop=True)


def write_p_sweep(table: pd.DataFrame, csv_path) -> None:
    write_text(csv_path, table.to_csv(index=False, na_rep="nan"))


def p_sweep_figure(table: pd.DataFrame, title: str) -> Figure:
    """mIoU against p, one panel per calibration (raw: the paper's protocol)."""
    calibrations = list(dict.fromkeys(table["calibration"]))
    fig = Figure(figsize=(4.5 * len(calibrations), 3.6))
    axes = fig.subplots(1, len(calibrations), squeeze=False, sharey=True)[0]
    for ax, name in zip(axes, calibrations):
        rows = table[table["calibration"] == name]
        for metric, label in FIG5_METRICS.items():
            ax.plot(rows["p"], rows[metric], marker="o", label=label, linestyle=":" if metric == "hiou" else "-")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("p: % of unseen-predicted pixels kept per image")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("%")
    axes[-1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------- training curves
def curves_figure(curves: Sequence[Curve], panels: Sequence[str], title: str,
                  unrecorded: Mapping[str, Sequence[str]] | None = None) -> Figure:
    """One panel per entry of `panels` (keys of `zs3core.curves.PANELS`, in that order), each
    with its curves' loss against epoch or iteration; `unrecorded` ({panel: stages}) names, in
    its panel, the stages that kept no curve. A log y-axis where a panel's losses span more
    than a factor of 20."""
    unrecorded = unrecorded or {}
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(3.6 * cols, 2.9 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        name, ylabel = PANELS[panel]
        mine = [c for c in curves if c.panel == panel]
        for curve in mine:
            ax.plot(curve.steps, curve.values, marker="o" if len(curve.steps) <= 30 else None, markersize=3,
                    label=curve.name)
        values = np.concatenate([c.values for c in mine]) if mine else np.array([])
        if len(values) and values.min() > 0 and values.max() / values.min() > 20:
            ax.set_yscale("log")
        missing = list(unrecorded.get(panel, ()))
        if missing:
            ax.text(0.5, 0.5, "no curve recorded:\n" + ", ".join(missing), transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color="0.4")
        if mine:
            ax.set_xlabel(mine[0].step_name, fontsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and iterations are whole
            if len(mine) > 1:
                ax.legend(fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
