"""Zero-shot cross-validation of ZS5Net's p: the share of unseen-predicted pixels kept as pseudo-labels.

The paper fixed p "through zero-shot cross-validation" (25% on Pascal-VOC, 75% on Pascal-Context).
This runs ZS5Net on the pseudo-unseen split of `zs3core.cv` (the same draw, and the same GMMN, bank,
ZS3Net classifier and gamma as the gamma cross-validation: same rows, same seed) and scores each p
of a grid by pseudo hIoU on the held-out seen-only images. No unseen class and no test image is
touched; Figure 5, which sweeps p on the test split, is a diagnostic and never chooses it.

The pseudo split's roles (feature file `features/{dataset}/k{K}/train.h5`; only seen-only images
are read, as in `zs3core.cv`):

- the unlabelled pool: the non-held-out seen-only images that hold a pseudo-unseen class, i.e. the
  images the pseudo split's step 0 would have dropped (as ZS5Net's pool is the training images
  that hold a real unseen class). Each of their rows is weighted by its class's pixels in its image
  over the rows sampled of them (`cv.pixel_weights`, from their label maps), so that an image's
  rows stand for its pixels on the feature grid;
- pseudo-labels: the pseudo split's ZS3Net classifier (training rows + bank) predicts every pool
  row after its cross-validated gamma (`selftrain.calibrated`; else gamma 0); per image, of the
  rows predicted pseudo-unseen, the most confident ones that carry p% of their pixels keep their
  prediction (`top_p_rows`, what `zs3core.selftrain.top_p_pseudo_labels` does to pixels). The
  pool's labels decide no pseudo-label: they weight rows and measure the pseudo-labels' precision
  (recorded, never used to choose);
- per p of `selftrain.p_grid`: the classifier retrained as ZS5Net's (`selftrain.mode: classifier`)
  on the training rows + bank + the pool's pseudo-labelled rows, and scored on the held-out
  seen-only images at the same gamma (ZS5Net's classifier applies ZS3Net's cross-validated gamma
  under `classifier.calibration.rule: cv`, the default): pseudo hIoU and its bootstrap standard
  error (`calibration.HIoUScorer`, the same resamples for every p);
- p (`cv.choice`): `one_standard_error`, the smallest p whose pseudo hIoU is within one standard
  error of the highest: the fewest pseudo-labels, since a gain smaller than the noise of the
  held-out images is no evidence that more of them help; `best`, the highest (ties: the smallest).

What the simulation simplifies: the pool is labelled on the feature file's sampled rows (at most
`features.max_per_class` per class and image, weighted as above), where ZS5Net labels every pixel
at the image's resolution and then samples its pseudo-labelled pixels; each kept row joins the
training rows once. The features are the seen-only segmenter's, which trained on the
pseudo-unseen classes' labels (as in the gamma cross-validation). In `selftrain.mode: finetune`
the p chosen here for the classifier mode is used as well.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from zs3core.calibration import HIoUScorer, apply_gamma, choose_by_hiou, choose_gamma_by_hiou
from zs3core.cv import CVData, cv_logits, fit_cv_classifier, pixel_weights, zs3_rows
from zs3core.features import FeatureFile


@dataclass
class PoolRows:
    """The pseudo split's unlabelled pool: rows of the non-held-out seen-only images holding a
    pseudo-unseen class. `labels` (true class ids) only weight the rows and measure precision."""
    features: np.ndarray
    labels: np.ndarray
    weights: np.ndarray  # pixels each row stands for
    images: np.ndarray  # the image index of each row


def unlabelled_pool(feature_file, data: CVData) -> PoolRows:
    """The pool rows of `data` (already read) and their weights (the label maps of these images)."""
    images = np.unique(data.pool_images[np.isin(data.pool_labels, data.pseudo)])
    rows = np.isin(data.pool_images, images)
    with FeatureFile(feature_file) as f:
        label_maps = {int(i): f.label_map(int(i)) for i in images}
    return PoolRows(data.pool_features[rows], data.pool_labels[rows],
                    pixel_weights(data.pool_images[rows], data.pool_labels[rows], label_maps), data.pool_images[rows])


def top_p_rows(confidence: np.ndarray, predicted: np.ndarray, unseen: Sequence[int], weights: np.ndarray,
               images: np.ndarray, p: float) -> np.ndarray:
    """Which rows become pseudo-labels: per image, of the rows predicted as a class of `unseen`, the
    fewest most confident ones whose weights reach p% of those rows' weight (with unit weights:
    ceil(p% x n) of n rows, as `zs3core.selftrain.top_p_pseudo_labels` keeps of an image's pixels).
    Ties in confidence: the earlier row first."""
    if not 0 <= p <= 100:
        raise ValueError(f"selftrain p must be a percentage in [0, 100], got {p}")
    keep = np.zeros(len(predicted), dtype=bool)
    rows = np.flatnonzero(np.isin(predicted, list(unseen)))
    if p == 0 or rows.size == 0:
        return keep
    rows = rows[np.lexsort((-confidence[rows], images[rows]))]  # by image, then most confident first (stable)
    image = images[rows]
    starts = np.flatnonzero(np.r_[True, image[1:] != image[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], rows.size]):
        carried = np.cumsum(weights[rows[start:end]])
        n_keep = int(np.searchsorted(carried, p / 100 * carried[-1] * (1 - 1e-9), side="left")) + 1
        keep[rows[start:start + n_keep]] = True
    return keep


def cross_validate_p(data: CVData, pool: PoolRows, bank: tuple[np.ndarray, np.ndarray], classifier_cfg: dict,
                     cv_cfg: dict, grid: Sequence[float], *, calibrated: bool, seed: int,
                     log: logging.Logger | None = None) -> dict:
    """ZS5Net on the pseudo split at each p of `grid`, and the p `cv_cfg["choice"]` picks (module
    docstring). Returns {p, rule, choice, gamma, sweep, ...}."""
    features, labels = zs3_rows(data, bank)
    zs3 = fit_cv_classifier(data, features, labels, classifier_cfg, seed=seed)
    seen, outputs = list(range(len(data.remaining))), np.asarray(data.outputs)
    eval_labels = data.compact(data.eval_labels)
    gamma, _ = choose_gamma_by_hiou(cv_logits(zs3, data.eval_features), eval_labels, data.eval_weights,
                                    data.eval_images, seen, data.pseudo_outputs,
                                    classifier_cfg["calibration"]["gammas"], choice=cv_cfg["choice"],
                                    n_bootstrap=cv_cfg["bootstrap"], seed=seed)
    score = HIoUScorer(eval_labels, data.eval_weights, data.eval_images, len(outputs), data.pseudo_outputs,
                       n_bootstrap=cv_cfg["bootstrap"], seed=seed)

    def scored(model) -> dict:
        return score(apply_gamma(cv_logits(model, data.eval_features), seen, gamma).argmax(1).numpy())

    confidence, predicted = apply_gamma(cv_logits(zs3, pool.features), seen,
                                        gamma if calibrated else 0.0).softmax(1).max(1)
    confidence, predicted = confidence.numpy(), predicted.numpy()
    sweep = []
    for p in sorted(float(x) for x in grid):
        keep = top_p_rows(confidence, predicted, data.pseudo_outputs, pool.weights, pool.images, p)
        pseudo_labels = outputs[predicted[keep]]
        model = fit_cv_classifier(data, np.concatenate([features, pool.features[keep]]),
                                  np.concatenate([labels, pseudo_labels]), classifier_cfg, seed=seed)
        pixels = float(pool.weights[keep].sum())
        correct = float(pool.weights[keep][pool.labels[keep] == pseudo_labels].sum())
        sweep.append({"p": p} | scored(model) | {"pseudo_rows": int(keep.sum()), "pseudo_pixels": pixels,
                                                 "pseudo_precision": correct / pixels if pixels else math.nan})
    chosen = choose_by_hiou(sweep, "p", cv_cfg["choice"])
    zs3_hiou = scored(zs3)["hiou"]
    if log:
        best = max(sweep, key=lambda s: s["hiou"])
        log.info("p CV: %d pool images, gamma %g; p %g by %s (pseudo hIoU %.3f; best %.3f +- %.3f at p %g; "
                 "ZS3Net %.3f)", np.unique(pool.images).size, gamma, chosen, cv_cfg["choice"],
                 next(s["hiou"] for s in sweep if s["p"] == chosen), best["hiou"], best["hiou_se"], best["p"], zs3_hiou)
    return {"p": chosen, "rule": "cv", "choice": cv_cfg["choice"], "gamma": gamma, "calibrated": bool(calibrated),
            "sweep": sweep, "zs3_pseudo_hiou": zs3_hiou, "pseudo_unseen": [data.class_names[c] for c in data.pseudo],
            "pool_images": int(np.unique(pool.images).size), "pool_rows": int(len(pool.labels)),
            "training_rows": int(len(labels)), "scored_rows": int(len(data.eval_labels))}


def skipped(reason: str, grid: Sequence[float]) -> tuple[dict, list[dict]]:
    """The record and sweep of a split that cannot be cross-validated (`cv.TooFewClasses`): no
    evidence that more pseudo-labels help, so the smallest p of the grid, with the reason."""
    nan = float("nan")
    p = float(min(grid))
    return ({"p": p, "rule": "cv", "skipped": reason, "pseudo_unseen": []},
            [{"p": p, "seen_miou": nan, "unseen_miou": nan, "hiou": nan, "hiou_se": nan}])


def read_cv_p(path) -> float:
    """The cross-validated p of a `cv/.../p_zs5.json`."""
    with open(path) as f:
        record = json.load(f)
    p = record.get("p")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 100:
        raise ValueError(f"{path}: expected a percentage 'p' in (0, 100]; rebuild it with "
                         f"`snakemake --forcerun {path}`")
    return float(p)


def resolve_p(p_wildcard: str, p_cv_file=None) -> tuple[float, str]:
    """(p, rule) of a ZS5Net job: its path's `p{p}`, or at `pcv` the p of its cross-validation file."""
    if p_wildcard == "cv":
        if not p_cv_file:
            raise ValueError("ZS5Net at p 'cv' needs its cross-validation file cv/.../p_zs5.json as input")
        return read_cv_p(p_cv_file), "cv"
    return float(p_wildcard), "fixed"
