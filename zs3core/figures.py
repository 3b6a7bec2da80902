"""The paper's figures, measured: qualitative panels (Figures 4 and 6), Figure 5 (ZS5Net's p
sweep) and a confusion heatmap per results run (where unseen pixels go).

Figures are `matplotlib.figure.Figure` objects drawn without pyplot, so no display backend or
global figure state is involved (the Agg canvas renders them), and are saved atomically.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from zs3core.data.dataset import SegmentationDataset
from zs3core.data.labels import VOID
from zs3core.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform
from zs3core.io import atomic_path, write_text
from zs3core.palette import VOID_COLOUR, class_colours, colourise
from zs3core.predict import Predictor
from zs3core.tables import RESULT_METRICS, aggregate, load_results

UNSEEN_COLOUR = "tab:red"


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")


# ----------------------------------------------------------------------------- qualitative panels
def classes_present(label_maps: Sequence[np.ndarray]) -> list[int]:
    """Class ids that occur in any of the maps, ascending, void excluded."""
    present = np.unique(np.concatenate([np.unique(m) for m in label_maps]))
    return [int(c) for c in present if c != VOID]


def _legend(fig: Figure, entries: list[tuple[str, tuple]], title: str, where: str) -> None:
    if not entries:
        return
    handles = [Patch(facecolor=np.asarray(colour) / 255, edgecolor="0.5", label=name) for name, colour in entries]
    fig.legend(handles=handles, title=title, loc=f"outside lower {where}", ncol=max(1, min(4, len(handles))),
               fontsize=8, title_fontsize=9, frameon=False)


def qualitative_panel(images: Sequence[np.ndarray], label_maps: Sequence[Sequence[np.ndarray]],
                      column_titles: Sequence[str], class_names: Sequence[str], unseen: Sequence[str],
                      title: str) -> Figure:
    """Rows: image | its label maps (ground truth, then each method's prediction).

    The legend names exactly the classes drawn anywhere in the panel, unseen and seen apart,
    so a seen class that swallowed an unseen object is named too.
    """
    colours = class_colours(len(class_names))
    rows, cols = len(images), 1 + len(column_titles)
    fig = Figure(figsize=(2.0 * cols, 2.0 * rows + 1.2), layout="compressed")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, (image, maps) in enumerate(zip(images, label_maps)):
        for c, picture in enumerate([image, *(colourise(m, colours) for m in maps)]):
            ax = axes[r, c]
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title((["image", *column_titles])[c], fontsize=9)
    fig.suptitle(title, fontsize=10)
    drawn = [m for maps in label_maps for m in maps]
    present = classes_present(drawn)
    unseen_ids = {class_names.index(n) for n in unseen}
    _legend(fig, [(class_names[c], colours[c]) for c in present if c in unseen_ids], "unseen classes", "left")
    _legend(fig, [(class_names[c], colours[c]) for c in present if c not in unseen_ids]
            + ([("void (not scored)", VOID_COLOUR)] if any((m == VOID).any() for m in drawn) else []),
            "seen classes", "right")
    return fig


def displayed(image: torch.Tensor) -> np.ndarray:
    """A normalised (3, H, W) test image back to (H, W, 3) uint8, at the resolution it was scored."""
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (255 * (image * std + mean)).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()


def qualitative_figure(index_csv, predictors: Mapping[str, Predictor], class_names: Sequence[str],
                       unseen: Sequence[str], n_images: int, out_path, title: str,
                       short_side: int | None = None) -> list[str]:
    """Draw the first `n_images` test images (index order, no selection by result) containing an
    unseen class, with each predictor's labels; return their ids.

    Images are read through the evaluation's dataset and transform (`short_side`: the
    evaluation's resize, if any), so each prediction is the one the metrics counted.
    Predictors with a classifier are drawn at their calibrated gamma.
    """
    wanted = set(unseen)
    test = SegmentationDataset(index_csv, "val", eval_transform(short_side),
                               keep=lambda row: not wanted.isdisjoint(row["classes"]))
    if len(test) == 0:
        raise ValueError(f"{index_csv}: no test image contains an unseen class of {sorted(wanted)}")
    images, label_maps, ids = [], [], []
    for i in range(min(n_images, len(test))):
        image, mask, image_id = test[i]
        images.append(displayed(image))
        label_maps.append([mask.numpy().astype(np.uint8), *(predict(image) for predict in predictors.values())])
        ids.append(image_id)
    titles = ["ground truth", *(f"{name}\n(calibrated, γ={p.gamma:g})" if p.calibrated else name
                                for name, p in predictors.items())]
    save_figure(qualitative_panel(images, label_maps, titles, class_names, unseen, title), out_path)
    return ids


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
