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
from zs3core.calibration import apply_gamma
from zs3core.data.dataset import SegmentationDataset
from zs3core.data.transforms import EvalTransform
from zs3core.device import resolve_device
from zs3core.io import atomic_path, write_npy

Scorer = Callable[[torch.Tensor], torch.Tensor]


def full_size_scores(scorer: Scorer, images: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Scores upsampled bilinearly to the label size: the resolution every metric (and every
    saved prediction, `zs3core.predict`) is computed at."""
    return F.interpolate(scorer(images).float(), size=tuple(size), mode="bilinear", align_corners=False)


@torch.no_grad()
def confusion_matrices(scorer: Scorer, batches: Iterable, num_classes: int, unseen: Sequence[int],
                       device: torch.device | str = "cpu",
                       gammas: Sequence[float] = (0.0,)) -> tuple[list[np.ndarray], np.ndarray]:
    """Generalized confusion matrices (one per seen-logit offset gamma) and the vanilla one.

    Batches of one image each keep every image at its own size. The vanilla matrix compares
    unseen classes only, so the seen offset does not change it.
    """
    seen = [c for c in range(num_classes) if c not in set(unseen)]
    cms = [np.zeros((num_classes, num_classes), dtype=np.int64) for _ in gammas]
    cm_vanilla = np.zeros((num_classes, num_classes), dtype=np.int64)
    for images, masks, _ in batches:
        scores = full_size_scores(scorer, images.to(device), masks.shape[-2:]).cpu()
        for cm, gamma in zip(cms, gammas):
            pred = apply_gamma(scores, seen, gamma).argmax(1)
            for p, mask in zip(pred.numpy(), masks.numpy()):
                cm += metrics.confusion_matrix(mask, p, num_classes)
        if unseen:
            for score, mask in zip(scores.numpy(), masks.numpy()):
                cm_vanilla += metrics.vanilla_confusion_matrix(mask, score, unseen)
    return cms, cm_vanilla


def results_row(cm: np.ndarray, cm_vanilla: np.ndarray, unseen: Sequence[int], meta: dict,
                absent_as_zero: bool = False) -> dict:
    """One results row: `meta` (dataset, K, method, seed, protocol switches...) then percentages."""
    summary = metrics.summarize(cm, unseen, absent_as_zero)
    vanilla = metrics.summarize(cm_vanilla, unseen, absent_as_zero)["unseen_miou"] if unseen else math.nan
    row = dict(meta, absent_as_zero=absent_as_zero)
    row.update({k: 100 * summary[k] for k in metrics.SUMMARY_KEYS})
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


def write_evaluation(cms: Sequence[np.ndarray], cm_vanilla: np.ndarray, class_names: Sequence[str],
                     unseen: Sequence[int], meta: dict, calibrations: dict[str, float], *, metrics_csv,
                     per_class_csv, confusion_npy, absent_as_zero: bool = False,
                     row_meta: dict[str, dict] | None = None) -> list[dict]:
    """The three evaluation outputs of a run, one row per calibration (raw: gamma = 0, ...).

    The confusion matrices are stacked as (len(calibrations), C, C) in the order of the rows.
    `row_meta` adds columns to the row of a calibration (e.g. the rule that chose its gamma).
    """
    rows, per_class = [], []
    for cm, (name, gamma) in zip(cms, calibrations.items()):
        extra = (row_meta or {}).get(name, {})
        rows.append(results_row(cm, cm_vanilla, unseen, dict(meta, calibration=name, gamma=gamma, **extra),
                                absent_as_zero))
        per_class += [dict(r, calibration=name) for r in per_class_rows(cm, class_names, unseen)]
    write_csv(per_class_csv, per_class)
    write_npy(confusion_npy, np.stack(cms))
    write_csv(metrics_csv, rows)
    return rows


def evaluate_on_split(score: Scorer, index_csv, class_names: Sequence[str], unseen: Sequence[str], meta: dict, *,
                      metrics_csv, per_class_csv, confusion_npy, calibrations: dict[str, float] | None = None,
                      row_meta: dict[str, dict] | None = None, absent_as_zero: bool = False, split: str = "val",
                      device: torch.device | str | None = None) -> list[dict]:
    """Evaluate a scorer on a dataset split at original resolution and write the three outputs.

    `calibrations` maps a row name to its seen-logit offset (default: only `raw`, gamma 0).
    A non-zero `meta["eval_short_side"]` evaluates at the authors' resolution instead: images and
    ground truth resized to that short side. The row's own column decides, so it cannot misreport.
    """
    calibrations = calibrations or {"raw": 0.0}
    device = resolve_device(device)
    dataset = SegmentationDataset(index_csv, split, EvalTransform(meta.get("eval_short_side") or None))
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False)
    unseen_ids = [class_names.index(c) for c in unseen]
    cms, cm_vanilla = confusion_matrices(score, loader, len(class_names), unseen_ids, device,
                                         list(calibrations.values()))
    return write_evaluation(cms, cm_vanilla, class_names, unseen_ids, meta, calibrations, metrics_csv=metrics_csv,
                            per_class_csv=per_class_csv, confusion_npy=confusion_npy,
                            absent_as_zero=absent_as_zero, row_meta=row_meta)
