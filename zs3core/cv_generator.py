"""The generator's own zero-shot cross-validation: a grid of a generator section's settings
(`zs3core.generator_grid`) scored on the pseudo-unseen split of `zs3core.cv`.

The paper chose its GMMN's hyper-parameters (hidden size, kernel bandwidths) "with the zero-shot
cross-validation procedure" of its reference [7]. Per split, on the data of one `load_cv_data`
(the same pseudo-unseen classes, training and scored rows as the gamma cross-validation), each
grid point trains the section's generator on the training rows with the point's settings at
`generator_cv.budget` of its steps, generates the pseudo-unseen bank, retrains the classifier on
the training rows + bank, and chooses its gamma as the `zs3` cross-validation does (`cv.choice`).
The point's score is its pseudo hIoU at that gamma, with the bootstrap standard error there (the
same resamples for every point). The choice (`generator_cv.choice`): `one_standard_error`, the
first point in listed order within one standard error of the best; `best`, the best (ties: the
earlier) — `calibration.choose_by_hiou` on the points in listed order.

A generator kind plugs in by its pseudo-split trainer in `cv.GENERATORS` (section -> its config
resolution and training loop on `CVData.train`); its grid is then a config entry.
"""
from __future__ import annotations

import logging

import numpy as np

from zs3core.calibration import choose_by_hiou
from zs3core.cv import GENERATORS, CVData, cross_validate, pseudo_bank
from zs3core.generator_grid import grid_points, scaled_budget
from zs3core.provenance import generator_settings_record

def point_text(point: dict) -> str:
    """A grid point as a sweep label, e.g. `hidden=512 bandwidths=default`."""
    def value(v):
        return "default" if v is None else " ".join(f"{float(x):g}" for x in v) if isinstance(v, list) else f"{v}"
    return " ".join(f"{k}={value(v)}" for k, v in point.items())


def cross_validate_settings(section: str, data: CVData, embeddings: np.ndarray, section_cfg: dict, grid: dict,
                            classifier_cfg: dict, cv_cfg: dict, *, choice: str, budget: float,
                            n_per_class: int | None, dropout_at_generation: bool, seed: int,
                            log: logging.Logger | None = None) -> tuple[dict, list[dict]]:
    """The chosen point of `grid` for `section` and the sweep (per point: its values, the gamma
    its classifier's CV chose, pseudo seen / unseen mIoU, hIoU and standard error at that gamma)."""
    if section not in GENERATORS:
        raise ValueError(f"generator_cv.grids.{section}: no pseudo-split trainer for `{section}` "
                         f"(cross-validated sections: {sorted(GENERATORS)})")
    sweep = []
    for i, point in enumerate(grid_points(grid)):
        cfg = scaled_budget(section_cfg | point, budget)
        bank = pseudo_bank(data, embeddings, cfg, n_per_class, dropout_at_generation=dropout_at_generation,
                           seed=seed, log=log, section=section)
        result = cross_validate("zs3", data, classifier_cfg, cv_cfg, seed=seed, bank=bank)
        at = next(s for s in result["sweep"] if s["gamma"] == result["gamma"])
        sweep.append({"point": i, "settings": point_text(point), "gamma": result["gamma"]}
                     | {k: at[k] for k in ("seen_miou", "unseen_miou", "hiou", "hiou_se")} | {"values": point})
        if log:
            log.info("%s point %d (%s): pseudo hIoU %.3f +- %.3f at gamma %g", section, i, point_text(point),
                     at["hiou"], at["hiou_se"], result["gamma"])
    chosen = choose_by_hiou(sweep, "point", choice)
    record = settings_record(section, section_cfg, grid, chosen) | {
        "choice": choice, "budget": budget, "pseudo_unseen": [data.class_names[c] for c in data.pseudo]}
    if log:
        log.info("%s: chose point %d (%s) by %s", section, chosen, sweep[chosen]["settings"], choice)
    return record, [{k: v for k, v in s.items() if k != "values"} for s in sweep]


def settings_record(section: str, section_cfg: dict, grid: dict, point: int) -> dict:
    """What `settings_{section}.json` keeps of the chosen point: its index and values, the grid, and
    the provenance columns of the rows built from the generator trained with it (`columns`)."""
    chosen = grid_points(grid)[point]
    return {"section": section, "rule": "cv", "point": point, "chosen": chosen, "grid": grid,
            "columns": generator_settings_record(section_cfg | chosen, "cv", keys=list(grid))}


def skipped_settings(section: str, section_cfg: dict, grid: dict, reason: str) -> tuple[dict, list[dict]]:
    """The record and sweep of a split too small to cross-validate (`cv.TooFewClasses`): no
    evidence against any point, so the first (the listed first values), with the reason."""
    nan = float("nan")
    return (settings_record(section, section_cfg, grid, 0) | {"skipped": reason},
            [{"point": 0, "settings": point_text(grid_points(grid)[0]), "gamma": 0.0, "seen_miou": nan,
              "unseen_miou": nan, "hiou": nan, "hiou_se": nan}])
