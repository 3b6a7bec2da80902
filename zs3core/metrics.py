"""Generalized zero-shot segmentation metrics: confusion matrix -> PA, MA, mIoU, hIoU.

Conventions (the paper's generalized evaluation; docs/metrics-and-claims.md):
- the confusion matrix counts ground truth in rows and predictions in columns over all
  classes; pixels labelled `ignore_index` (255, VOC's void) are not counted;
- background is a seen class;
- IoU follows the standard convention (FCN, mmsegmentation, torchmetrics): a class with no
  ground-truth pixel that is nevertheless predicted has IoU 0 (TP = 0, union > 0) and counts in
  every mean; only a class neither present nor predicted (empty union) is left out.
  `absent_as_zero=True` is the authors' rule instead: every class absent from the ground truth
  counts 0, predicted or not. Accuracy (recall) of a class with no ground truth is undefined and
  left out of MA under the standard rule;
- "vanilla" evaluation (Table 2) classifies each unseen-ground-truth pixel among the unseen
  classes only; `vanilla_confusion_matrix` builds that matrix.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

IGNORE_INDEX = 255


def confusion_matrix(target: np.ndarray, pred: np.ndarray, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """(C, C) int64 counts of (ground truth, prediction) pairs; `ignore_index` pixels skipped."""
    target = np.asarray(target).ravel().astype(np.int64)
    pred = np.asarray(pred).ravel().astype(np.int64)
    if target.shape != pred.shape:
        raise ValueError(f"target has {target.size} pixels but prediction has {pred.size}")
    keep = target != ignore_index
    target, pred = target[keep], pred[keep]
    for name, values in (("ground truth", target), ("prediction", pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} holds class ids outside 0..{num_classes - 1} "
                             f"(and {ignore_index} = void): {sorted(set(values[(values < 0) | (values >= num_classes)].tolist()))[:10]}")
    return np.bincount(target * num_classes + pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def predict_among(scores: np.ndarray, classes: Sequence[int], axis: int = 0) -> np.ndarray:
    """Arg-max of `scores` restricted to `classes` (class ids along `axis`), as class ids."""
    classes = np.asarray(classes)
    return classes[np.take(scores, classes, axis=axis).argmax(axis=axis)]


def vanilla_confusion_matrix(target: np.ndarray, scores: np.ndarray, unseen: Sequence[int],
                             ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Confusion matrix of unseen-ground-truth pixels classified among unseen classes only.

    `scores` is (C, ...) with the spatial shape of `target`. Seen-ground-truth pixels are not
    counted: vanilla zero-shot evaluation asks only how well unseen classes are told apart.
    """
    num_classes = scores.shape[0]
    target = np.asarray(target)
    on_unseen = np.isin(target, np.asarray(unseen))
    pred = predict_among(scores, unseen, axis=0)
    return confusion_matrix(np.where(on_unseen, target, ignore_index), pred, num_classes, ignore_index)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def class_iou(cm: np.ndarray) -> np.ndarray:
    """Per-class IoU = TP / (TP + FP + FN); NaN only where the union is empty (the class is
    neither in the ground truth nor predicted), 0 for a class predicted but absent."""
    tp = np.diag(cm).astype(np.float64)
    return _safe_div(tp, cm.sum(axis=1) + cm.sum(axis=0) - tp)


def class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Per-class recall TP / (TP + FN); NaN where the class is absent from the ground truth."""
    return _safe_div(np.diag(cm).astype(np.float64), cm.sum(axis=1))


def _mean(values: np.ndarray, classes: Sequence[int], absent: np.ndarray | None = None) -> float:
    """Mean over `classes`, NaN values left out; classes flagged in `absent` count 0 instead."""
    picked = values[np.asarray(classes, dtype=np.int64)]
    if absent is not None:
        picked = np.where(absent[np.asarray(classes, dtype=np.int64)], 0.0, picked)
    picked = picked[~np.isnan(picked)]
    return float(picked.mean()) if picked.size else float("nan")


def _pixel_accuracy(cm: np.ndarray, classes: Sequence[int]) -> float:
    classes = np.asarray(classes, dtype=np.int64)
    total = cm[classes].sum()
    return float(np.diag(cm)[classes].sum() / total) if total else float("nan")


def harmonic_mean(seen: float, unseen: float) -> float:
    """hIoU = 2 s u / (s + u); 0 when both are 0."""
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


# The keys of `summarize`, in the order results CSVs and tables show them.
SUMMARY_KEYS = [f"{group}_{m}" for group in ("seen", "unseen", "all") for m in ("pa", "ma", "miou")] + ["hiou"]


def summarize(cm: np.ndarray, unseen: Sequence[int], absent_as_zero: bool = False) -> dict[str, float]:
    """PA / MA / mIoU over seen, unseen and all classes, plus hIoU, as fractions in [0, 1].

    Keys: `SUMMARY_KEYS`, `{seen,unseen,all}_{pa,ma,miou}` and `hiou`. With no unseen classes (the supervised
    oracle) the unseen numbers and hIoU are NaN. `absent_as_zero`: the authors' rule (every class
    absent from the ground truth counts 0 in MA and mIoU) instead of the standard one.
    """
    num_classes = cm.shape[0]
    unseen = sorted(set(int(c) for c in unseen))
    seen = [c for c in range(num_classes) if c not in unseen]
    groups = {"seen": seen, "unseen": unseen, "all": list(range(num_classes))}
    iou, acc = class_iou(cm), class_accuracy(cm)
    absent = cm.sum(axis=1) == 0 if absent_as_zero else None
    out: dict[str, float] = {}
    for name, classes in groups.items():
        out[f"{name}_pa"] = _pixel_accuracy(cm, classes) if classes else float("nan")
        out[f"{name}_ma"] = _mean(acc, classes, absent) if classes else float("nan")
        out[f"{name}_miou"] = _mean(iou, classes, absent) if classes else float("nan")
    out["hiou"] = harmonic_mean(out["seen_miou"], out["unseen_miou"]) if unseen else float("nan")
    return out
