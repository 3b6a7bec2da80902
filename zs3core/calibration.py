"""Calibrated stacking (Chao et al. 2016, the paper's reference [9]): a seen-logit offset gamma.

A classifier retrained on real seen and synthetic unseen features still favours seen classes.
Subtracting a constant gamma from every seen-class logit trades seen for unseen predictions.
Gamma is chosen WITHOUT the test split: the largest gamma on a grid at which at most
`max_unseen_rate` of the pixels of held-out seen-only training images (which contain no unseen
class at all) are predicted as an unseen class. The rate grows with gamma, so this is the most
unseen-friendly offset that still keeps seen pixels seen.
"""
from __future__ import annotations

from typing import Sequence

import torch


def apply_gamma(logits: torch.Tensor, seen: Sequence[int], gamma: float, dim: int = 1) -> torch.Tensor:
    """Logits with `gamma` subtracted from the seen classes (along `dim`)."""
    if gamma == 0:
        return logits
    offset = torch.zeros(logits.shape[dim], dtype=logits.dtype, device=logits.device)
    offset[list(seen)] = gamma
    shape = [1] * logits.dim()
    shape[dim] = -1
    return logits - offset.view(shape)


def unseen_rate(logits: torch.Tensor, seen: Sequence[int], gamma: float) -> float:
    """Fraction of rows (N, C) predicted as a class not in `seen` after the offset."""
    pred = apply_gamma(logits, seen, gamma).argmax(1)
    return float((~torch.isin(pred, torch.as_tensor(list(seen)))).double().mean())


def choose_gamma(heldout_logits: torch.Tensor, seen: Sequence[int], grid: Sequence[float],
                 max_unseen_rate: float) -> tuple[float, list[dict]]:
    """The largest gamma of `grid` whose unseen rate on held-out seen pixels is within bounds.

    Returns it with the whole sweep (gamma, unseen_rate) for the record. Falls back to 0 when
    even gamma = 0 exceeds the bound (the classifier is already unseen-biased).
    """
    if heldout_logits.numel() == 0:
        raise ValueError("no held-out seen-only pixels to choose gamma on; "
                         "raise holdout.fraction or use more training images")
    sweep = [{"gamma": float(g), "unseen_rate": unseen_rate(heldout_logits, seen, float(g))}
             for g in sorted(grid)]
    admissible = [s["gamma"] for s in sweep if s["unseen_rate"] <= max_unseen_rate]
    return (max(admissible) if admissible else 0.0), sweep
