"""ZS5Net self-training: pseudo-labels for the unlabelled pool (the paper's Section 3.3).

The unlabelled pool is the training images that seen-only training dropped because they contain
an unseen class. Membership is decided from the index's `classes` column, as the seen-only set
is; the pool's label files are never opened (`PoolImages` has no label path to open). The ZS3
model (frozen seen-only segmenter + retrained classifier, with its calibration offset gamma)
labels each pool image at its original resolution; among the pixels it predicts as an unseen
class, the top p% by confidence (softmax probability of the predicted class) become
pseudo-labels, the rest void (255). Pseudo-label maps are palette PNGs (lossless) indexed by an
`index.csv` in the dataset index's format, so feature extraction and training read them like
any labelled split.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from zs3core.calibration import apply_gamma
from zs3core.data.index import read_index, write_index
from zs3core.data.labels import read_label, write_palette_png
from zs3core.data.transforms import VOID, normalise_image
from zs3core.device import resolve_device
from zs3core.io import atomic_dir

PSEUDO_INDEX = "index.csv"


def unlabelled_pool(index_csv, unseen: Sequence[str], holdout: frozenset[str] = frozenset()) -> list[dict]:
    """Training rows with an unseen class present: the images step 0 dropped, minus the held-out
    ones (`zs3core.holdout`: no classifier trains on them). Only the image path and id travel on;
    the label path stays behind so nothing downstream can open it."""
    unseen = set(unseen)
    return [{"image_id": r["image_id"], "image": r["image"]} for r in read_index(index_csv)
            if r["split"] == "train" and not unseen.isdisjoint(r["classes"]) and r["image_id"] not in holdout]


class PoolImages(torch.utils.data.Dataset):
    """(normalised image, image_id) of pool rows, at their original resolution."""

    def __init__(self, rows: Sequence[dict]):
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        with Image.open(self.rows[i]["image"]) as img:
            image = torch.from_numpy(np.asarray(img.convert("RGB")).copy()).permute(2, 0, 1)
        return normalise_image(image), self.rows[i]["image_id"]


def top_p_pseudo_labels(scores: torch.Tensor, unseen: Sequence[int], p: float, gamma: float = 0.0) -> np.ndarray:
    """Pseudo-label map (H, W) uint8 from class scores (C, H, W): the ceil(p% x n) most confident
    of the n pixels predicted as an unseen class keep their prediction, every other pixel is void.

    Predictions and confidences are taken after the seen-logit offset `gamma`. Ties in confidence
    are broken by raster order (the earlier pixel wins), so the result is deterministic.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"selftrain p must be a percentage in [0, 100], got {p}")
    seen = [c for c in range(scores.shape[0]) if c not in set(unseen)]
    probs = apply_gamma(scores[None].float(), seen, gamma).softmax(1)[0]
    confidence, predicted = probs.max(0)
    flat_pred, flat_conf = predicted.flatten().numpy(), confidence.flatten().numpy()
    candidates = np.flatnonzero(np.isin(flat_pred, list(unseen)))
    n_keep = math.ceil(p * len(candidates) / 100 - 1e-9)
    order = np.argsort(-flat_conf[candidates], kind="stable")
    keep = candidates[order[:n_keep]]
    out = np.full(flat_pred.shape, VOID, dtype=np.uint8)
    out[keep] = flat_pred[keep]
    return out.reshape(predicted.shape)


@torch.no_grad()
def pseudo_label_pool(score: Callable[[torch.Tensor], torch.Tensor], index_csv, class_names: Sequence[str],
                      unseen: Sequence[str], p: float, gamma: float, out_dir, *,
                      holdout: frozenset[str] = frozenset(), device: str | None = None,
                      log: logging.Logger | None = None) -> int:
    """Write `out_dir/{image_id}.png` for every pool image and `out_dir/index.csv` (split `train`,
    `classes` = the pseudo-labelled classes), atomically as one directory. Returns the pool size."""
    device = resolve_device(device)
    unseen_ids = [class_names.index(c) for c in unseen]
    pool = unlabelled_pool(index_csv, unseen, holdout)
    loader = torch.utils.data.DataLoader(PoolImages(pool), batch_size=1, shuffle=False)
    records, labelled = [], 0
    with atomic_dir(out_dir) as tmp:
        for (image, (image_id,)), row in zip(loader, pool):
            scores = score(image.to(device)).float()
            scores = F.interpolate(scores, size=image.shape[-2:], mode="bilinear", align_corners=False)
            pseudo = top_p_pseudo_labels(scores[0].cpu(), unseen_ids, p, gamma)
            label_path = Path(tmp) / f"{image_id}.png"
            write_palette_png(label_path, pseudo)
            present = [class_names[c] for c in np.unique(pseudo) if c != VOID]
            labelled += int((pseudo != VOID).sum())
            records.append({"image_id": image_id, "split": "train", "image": row["image"],
                            "label": Path(out_dir) / label_path.name, "classes": present})
        write_index(Path(tmp) / PSEUDO_INDEX, records)
    if log:
        log.info("%d pool images, %d pseudo-labelled pixels (p = %g%%, gamma = %g)", len(pool), labelled, p, gamma)
    return len(pool)


def pseudo_label_quality(pseudo_dir, index_csv, class_names: Sequence[str], unseen: Sequence[str]) -> list[dict]:
    """DIAGNOSTIC (reads the pool's ground truth; training never reads its output): per unseen
    class, the pixels pseudo-labelled as it, how many of them are correct (precision), and how
    many of its ground-truth pool pixels were pseudo-labelled at all (coverage)."""
    truth = {r["image_id"]: r["label"] for r in read_index(index_csv)}
    unseen_ids = [class_names.index(c) for c in unseen]
    C = len(class_names)
    labelled, correct, gt_pixels, covered = (np.zeros(C, dtype=np.int64) for _ in range(4))
    for row in read_index(Path(pseudo_dir) / PSEUDO_INDEX):
        pseudo, gt = read_label(row["label"]), read_label(truth[row["image_id"]])
        has = pseudo != VOID
        labelled += np.bincount(pseudo[has], minlength=C)[:C]
        correct += np.bincount(pseudo[has & (pseudo == gt)], minlength=C)[:C]
        valid = gt != VOID
        gt_pixels += np.bincount(gt[valid], minlength=C)[:C]
        covered += np.bincount(gt[valid & has], minlength=C)[:C]
    return [{"class": class_names[c], "pseudo_pixels": int(labelled[c]), "correct": int(correct[c]),
             "precision": 100 * correct[c] / labelled[c] if labelled[c] else math.nan,
             "gt_pool_pixels": int(gt_pixels[c]),
             "coverage": 100 * covered[c] / gt_pixels[c] if gt_pixels[c] else math.nan}
            for c in unseen_ids]


def pseudo_index(pseudo_dir: str | os.PathLike) -> Path:
    """The index CSV of a pseudo-label directory (what feature extraction reads)."""
    return Path(pseudo_dir) / PSEUDO_INDEX
