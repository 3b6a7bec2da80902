"""The calibration hold-out: training images that no trained stage of this project learns from.

Calibration (the seen-logit offset gamma) and the zero-shot cross-validation choose their values
on held-out training images. If a stage had trained on them, their features would be cleaner than
any test image's, and gamma would be chosen on the wrong distribution. So one seeded set of
training image ids is drawn once per dataset (`data/{dataset}/holdout.txt`), and every stage
leaves it out according to `holdout.scope`:

- `all_stages` (default): the step-0 segmenters (seen-only, the DeViSE and ALE baselines), the
  generators, the retrained classifiers and ZS5Net's self-training never train on it;
- `classifier_only`: only the classifiers leave it out (the segmenters and generators see every
  training image, as in the paper's own training).

Of the held-out images, those with no unseen class of split K (the index's `classes` column)
score the calibration at K. The supervised oracle, which is never calibrated, trains on all.
`excluded_from` names the stages that left the hold-out out, for every results row.
"""
from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np

from zs3core.io import write_text

SCOPES = ("all_stages", "classifier_only")


def choose_holdout(train_ids: Sequence[str], fraction: float, seed: int) -> list[str]:
    """A seeded `fraction` of the training image ids (at least one), in sorted order.

    Depends only on the set of ids, the fraction and the seed (not on the index's row order)."""
    if not 0 < fraction < 1:
        raise ValueError(f"holdout.fraction must be in (0, 1), got {fraction}")
    ids = sorted(set(train_ids))
    if len(ids) < 2:
        raise ValueError(f"{len(ids)} training image(s): too few to hold any out")
    n = max(1, int(round(fraction * len(ids))))
    picked = np.random.default_rng([seed, 0xCA1]).permutation(len(ids))[:n]
    return sorted(ids[i] for i in picked)


def write_holdout(path: str | os.PathLike, ids: Iterable[str]) -> None:
    """One image id per line, written atomically."""
    write_text(path, "".join(f"{i}\n" for i in ids))


def read_holdout(path: str | os.PathLike) -> frozenset[str]:
    """The held-out image ids of a `holdout.txt`."""
    with open(path) as f:
        return frozenset(line.strip() for line in f if line.strip())


def excluded_from(scope: str, step0_trained_here: bool = True) -> str:
    """The stages that never trained on the hold-out, as a results column value: with
    `all_stages`, `step0+generator+classifier` (without `step0` where the seen-only segmenter
    is a foreign file, such as the authors' checkpoints, which saw every image)."""
    if scope not in SCOPES:
        raise ValueError(f"holdout.scope must be one of {SCOPES}, got {scope!r}")
    if scope == "classifier_only":
        return "classifier"
    return "step0+generator+classifier" if step0_trained_here else "generator+classifier"


def image_mask(image_ids: Sequence[str], holdout: frozenset[str]) -> np.ndarray:
    """Boolean mask over `image_ids`: True where the image is held out."""
    return np.fromiter((str(i) in holdout for i in image_ids), dtype=bool, count=len(image_ids))
