"""MMD kernel bandwidths: the modes a config names and the values s each gives.

Every kernel is k_s(x, y) = exp(-|x - y|^2 / (2 s)) (`zs3core.mmd`). Torch-free, so that the
workflow can record a row's kernel without loading torch.

Modes (`resolve_bandwidths`), each with a default list:
- `authors`: the list is s as is: the authors' code, whose {2, 5, 10, 20, 40, 80} (default)
  produced the paper's numbers;
- `paper`: the list is sigma, the kernel exp(-|x - y|^2 / (2 sigma^2)) of the paper's printed
  formula, so s = sigma^2; default sigma in {2, 5, 10, 20, 40, 60};
- `relative`: the list multiplies a reference squared distance, `zs3core.mmd.median_sq_distance`
  of a sample
  of real features (the median over all distinct pairs i < j of |f_i - f_j|^2, computed in
  float64, numpy's median: the mean of the two middle values for an even count). The GMMN
  training estimates it ONCE, before the first step, from a seeded class-balanced sample of the
  real training features, and keeps the resulting absolute bandwidths fixed (they are stored in
  the generator checkpoint). Default relative list: RELATIVE_BANDWIDTHS = (1/4, 1/2, 1, 2, 4),
  the range that matched the feature scale of the synthetic worlds' small segmenter (multiples of
  the median SQUARED distance, the unit of s, so that s = median gives exp(-1/2) at a
  median-distance pair).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

PAPER_BANDWIDTHS = (2.0, 5.0, 10.0, 20.0, 40.0, 60.0)
CODE_BANDWIDTHS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)  # the authors' code (valeoai/ZS3)
RELATIVE_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)  # multiples of the median squared distance
BANDWIDTH_MODES = ("relative", "authors", "paper")
DEFAULT_BANDWIDTHS = {"relative": RELATIVE_BANDWIDTHS, "authors": CODE_BANDWIDTHS, "paper": PAPER_BANDWIDTHS}


def resolve_bandwidths(mode: str, bandwidths: Sequence[float] | None = None,
                       reference: float | None = None) -> list[float]:
    """The bandwidths s of a mode: the list itself (`authors`), its squares (`paper`: sigma), or
    the list times `reference` (`relative`).

    `bandwidths=None` takes the mode's default (DEFAULT_BANDWIDTHS). `reference` (relative mode
    only) is the median squared distance of real features (`median_sq_distance`); it must be positive.
    """
    if mode not in BANDWIDTH_MODES:
        raise ValueError(f"bandwidth_mode must be one of {BANDWIDTH_MODES}, got {mode!r}")
    if bandwidths is None:
        bandwidths = DEFAULT_BANDWIDTHS[mode]
    values = [float(b) for b in bandwidths]
    if not values or any(not np.isfinite(b) or b <= 0 for b in values):
        raise ValueError(f"bandwidths must be a non-empty list of positive numbers, got {bandwidths!r}")
    if mode == "authors":
        return values
    if mode == "paper":
        return [b * b for b in values]
    if reference is None or not np.isfinite(reference) or reference <= 0:
        raise ValueError(f"relative bandwidths need a positive reference squared distance, got {reference!r} "
                         "(all sampled real features identical?)")
    return [b * float(reference) for b in values]
