"""Model x test split -> confusion matrices (generalized and vanilla) -> metrics files.

Every method (seen-only, DeViSE baseline, ZS3, GC, ZS5, supervised) is evaluated here through a
*scorer*: a callable mapping an image batch to per-class scores (N, C, h, w) at any resolution.
Scores are upsampled bilinearly to the ORIGINAL label resolution before the arg-max, so metrics
are computed against the full-size ground truth (the standard protocol).
"""
from __future__ import annotations

import csv
import math
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from zs3core import metrics
from zs3core.data.dataset import SegmentationDataset
from zs3core.data.transforms import eval_transform
from zs3core.io import atomic_path, write_npy

Scorer = Callable[[torch.Tensor], torch.Tensor]
METRIC_KEYS = [f"{group}_{m}" for group in ("seen", "unseen", "all") for m in ("pa", "ma", "miou")] + ["hiou"]


@torch.no_grad()
def confusion_matrices(scorer: Scorer, batches: Iterable, num_classes: int, unseen: Sequence[int],
                       device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Accumulate the generalized and the vanilla confusion matrices over (image, mask, id) batches.

    Batches of one image each keep every image at its own size.
    """
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    cm_vanilla = np.zeros_like(cm)
    for images, masks, _ in batches:
        scores = scorer(images.to(device)).float()
        scores = F.interpolate(scores, size=masks.shape[-2:], mode="bilinear", align_corners=False).cpu()
        for score, mask in zip(scores.numpy(), masks.numpy()):
            cm += metrics.confusion_matrix(mask, score.argmax(0), num_classes)
            if unseen:
                cm_vanilla += metrics.vanilla_confusion_matrix(mask, score, unseen)
    return cm, cm_vanilla


def results_row(cm: np.ndarray, cm_vanilla: np.ndarray, unseen: Sequence[int], meta: dict,
                absent_as_zero: bool = False) -> dict:
    """One results row: `meta` (dataset, K, method, seed, protocol switches...) then percentages."""
    summary = metrics.summarize(cm, unseen, absent_as_zero)
    vanilla = metrics.summarize(cm_vanilla, unseen, absent_as_zero)["unseen_miou"] if unseen else math.nan
    row = dict(meta, absent_as_zero=absent_as_zero)
    row.update({k: 100 * summary[k] for k in METRIC_KEYS})
    row["vanilla_unseen_miou"] = 100 * vanilla
    return row


def per_class_rows(cm: np.ndarray, class_names: Sequence[str], unseen: Sequence[int]) -> list[dict]:
    """IoU, accuracy (recall) and ground-truth pixel count of every class, in percent."""
    iou, acc = metrics.class_iou(cm), metrics.class_accuracy(cm)
    return [{"class": name, "split": "unseen" if c in set(unseen) else "seen",
             "iou": 100 * iou[c], "accuracy": 100 * acc[c], "pixels": int(cm[c].sum()),
             "predicted_pixels": int(cm[:, c].sum())}
            for c, name in enumerate(class_names)]


def write_csv(path, rows: list[dict]) -> None:
    """Rows with the same keys -> CSV, atomically; floats in full precision."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_evaluation(cm: np.ndarray, cm_vanilla: np.ndarray, class_names: Sequence[str],
                     unseen: Sequence[int], meta: dict, *, metrics_csv, per_class_csv, confusion_npy,
                     absent_as_zero: bool = False) -> dict:
    """The three evaluation outputs of a run; returns the metrics row."""
    row = results_row(cm, cm_vanilla, unseen, meta, absent_as_zero)
    write_csv(per_class_csv, per_class_rows(cm, class_names, unseen))
    write_npy(confusion_npy, cm)
    write_csv(metrics_csv, [row])
    return row


def evaluate_on_split(score: Scorer, index_csv, class_names: Sequence[str], unseen: Sequence[str], meta: dict, *,
                      metrics_csv, per_class_csv, confusion_npy, absent_as_zero: bool = False,
                      split: str = "val", device: torch.device | str | None = None) -> dict:
    """Evaluate a scorer on a dataset split at original resolution and write the three outputs."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dataset = SegmentationDataset(index_csv, split, eval_transform())
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False)
    unseen_ids = [class_names.index(c) for c in unseen]
    cm, cm_vanilla = confusion_matrices(score, loader, len(class_names), unseen_ids, device)
    return write_evaluation(cm, cm_vanilla, class_names, unseen_ids, meta, metrics_csv=metrics_csv,
                            per_class_csv=per_class_csv, confusion_npy=confusion_npy,
                            absent_as_zero=absent_as_zero)
