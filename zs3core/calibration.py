"""Calibrated stacking (Chao et al. 2016, the paper's reference [9]): a seen-logit offset gamma,
and every rule that chooses it.

A classifier retrained on real seen and synthetic unseen features still favours seen classes.
Subtracting a constant gamma from every seen-class logit trades seen for unseen predictions.
Gamma is chosen WITHOUT the test split, by one of two rules (`classifier.calibration.rule`):

- `rate` (`choose_gamma`): the largest gamma on a grid at which at most `max_unseen_rate` of the
  pixels of held-out seen-only training images (which contain no unseen class at all) are
  predicted as an unseen class. The rate grows with gamma, so this is the most unseen-friendly
  offset that still keeps seen pixels seen;
- `cv` (`choose_gamma_by_hiou`, run by the zero-shot cross-validation, `zs3core.cv`): the gamma
  of the highest pseudo hIoU on hidden seen classes, or the smallest within one standard error
  of it (`cv.choice`).

Every classifier (ZS3Net's, the ceiling's, ZS5Net's in both modes, the named model's) records both
gammas and applies the configured rule's (`calibration_gammas`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from zs3core.metrics import summarize


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


def calibration_gammas(heldout_logits: torch.Tensor, seen: Sequence[int], calibration: dict,
                       cv_gamma: float | None = None) -> tuple[dict[str, float], list[dict]]:
    """{rule: gamma} of a classifier, `rate` from its held-out logits and `cv` the cross-validated
    gamma when given, with the rate rule's sweep; a ValueError names `classifier.calibration.rule`
    when the rule it sets has no gamma here."""
    rate_gamma, sweep = choose_gamma(heldout_logits, seen, calibration["gammas"], calibration["max_unseen_rate"])
    gammas = {"rate": rate_gamma}
    if cv_gamma is not None:
        gammas["cv"] = float(cv_gamma)
    if calibration["rule"] not in gammas:
        raise ValueError(f"classifier.calibration.rule is {calibration['rule']!r} but no such gamma was given "
                         f"(known: {sorted(gammas)})")
    return gammas, sweep


CHOICES = ("one_standard_error", "best")


def check_choice(choice: str) -> None:
    if choice not in CHOICES:
        raise ValueError(f"cv.choice: unknown {choice!r}, expected one of {CHOICES}")


class HIoUScorer:
    """Pseudo hIoU of predictions on the scored rows, with its bootstrap standard error over
    `n_bootstrap` resamples of the scored images (seeded: every candidate of a sweep is scored on
    the same resamples). Classes are 0 .. n - 1; `images` says which image each row comes from."""

    def __init__(self, labels: np.ndarray, weights: np.ndarray, images: np.ndarray, n: int, unseen: Sequence[int],
                 *, n_bootstrap: int, seed: int):
        self.labels, self.weights, self.n, self.unseen = labels, weights, n, list(unseen)
        _, self.image = np.unique(images, return_inverse=True)
        self.n_images = int(self.image.max()) + 1
        self.resamples = np.random.default_rng([seed, 0xB5]).multinomial(
            self.n_images, np.full(self.n_images, 1 / self.n_images), size=n_bootstrap).astype(np.float64)

    def __call__(self, pred: np.ndarray) -> dict:
        """seen / unseen mIoU, hIoU and its standard error of the predicted classes `pred`."""
        n = self.n
        per_image = np.bincount((self.image * n + self.labels) * n + pred, weights=self.weights,
                                minlength=self.n_images * n * n).reshape(self.n_images, n * n)
        m = summarize(per_image.sum(0).reshape(n, n), self.unseen)
        boot = np.array([summarize(cm.reshape(n, n), self.unseen)["hiou"] for cm in self.resamples @ per_image])
        boot = boot[np.isfinite(boot)]  # a resample without any pseudo-unseen pixel has no hIoU
        return {"seen_miou": m["seen_miou"], "unseen_miou": m["unseen_miou"], "hiou": m["hiou"],
                "hiou_se": float(np.std(boot, ddof=1)) if boot.size > 1 else 0.0}


def choose_by_hiou(sweep: list[dict], key: str, choice: str):
    """The `key` value that `choice` picks from a sweep sorted by `key`, ascending (see the module
    docstring): the smallest within one standard error of the highest pseudo hIoU, or the highest
    (ties: the smallest)."""
    check_choice(choice)
    best = max(range(len(sweep)), key=lambda i: (sweep[i]["hiou"], -i))
    if choice == "best":
        return sweep[best][key]
    floor = sweep[best]["hiou"] - sweep[best]["hiou_se"]
    return next(s[key] for s in sweep if s["hiou"] >= floor)


def choose_gamma_by_hiou(logits: torch.Tensor, labels: np.ndarray, weights: np.ndarray, images: np.ndarray,
                         seen: Sequence[int], unseen: Sequence[int], grid: Sequence[float], *,
                         choice: str = "one_standard_error", n_bootstrap: int = 200, seed: int = 0
                         ) -> tuple[float, list[dict]]:
    """The gamma of `grid` chosen by `choice` (see the module docstring) on the scored rows, and
    the sweep (gamma, seen / unseen mIoU, hIoU and its bootstrap standard error). Classes are the
    columns of `logits`; `images` says which image each row comes from (the resampled unit)."""
    check_choice(choice)
    score = HIoUScorer(labels, weights, images, logits.shape[1], unseen, n_bootstrap=n_bootstrap, seed=seed)
    sweep = [{"gamma": g} | score(apply_gamma(logits, seen, g).argmax(1).numpy())
             for g in sorted(float(x) for x in grid)]
    return choose_by_hiou(sweep, "gamma", choice), sweep
