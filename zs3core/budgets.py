"""Training budgets in the authors' units, where the workflow's own units differ (torch-free).

The authors' generator takes one Adam step per (image, seen class) pair of each seen-only
training image, 128 real + 128 generated features of that pair, for 30 epochs (VOC) or 20
(Context). The GMMN here pools a class's rows over the images and takes one step over several
classes at once; `generator.epochs` states its budget in their unit: `epochs` passes over the
feature file's pairs, each pair one class term of a step, so ceil(epochs x pairs / classes per
step) steps (`classes_per_step: 1`: exactly their steps). docs/method.md ("Budgets") derives the
real datasets' numbers.
"""
from __future__ import annotations

import math


def generator_steps(cfg: dict, pairs: int, per_step: int) -> int:
    """Optimiser steps of a generator section: `iterations`, or ceil(`epochs` x `pairs` / `per_step`)."""
    if cfg.get("epochs") is None:
        return int(cfg["iterations"])
    return max(1, math.ceil(cfg["epochs"] * pairs / per_step))


def generator_budget(cfg: dict) -> str:
    """The budget as configured, for results rows: `30 epochs` or `800 iterations`."""
    if cfg.get("epochs") is not None:
        return f"{float(cfg['epochs']):g} epochs"
    return f"{int(cfg['iterations'])} iterations"
