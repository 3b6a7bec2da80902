"""The grid of a generator section's settings that its zero-shot cross-validation chooses from
(torch-free: the workflow reads it when it builds the DAG).

`generator_cv.grids` maps a generator's config section (`generator`: the GMMN) to {key: values};
a grid point sets one value per key, the others keep the section's. Points come in listed order,
the first key varying slowest: the first point is every key's first value, so listing the
configured value first makes the one-standard-error rule leave it only on evidence. Each point
trains with `generator_cv.budget` times the section's steps (`scaled_budget`). The chosen point
is written to `cv/{dataset}/k{K}/settings_{section}.json` (`zs3core.cv_generator`); the section's
generator, and the gamma cross-validation's own pseudo-split generator, train with it
(`with_chosen`).
"""
from __future__ import annotations

import itertools
import json
import math

from zs3core.provenance import generator_settings_record


def section_grid(generator_cv: dict, section: str) -> dict[str, list]:
    """{key: values} of `section` where its cross-validation runs (`enabled` and a grid named), else {}."""
    if not generator_cv["enabled"]:
        return {}
    return dict(generator_cv["grids"].get(section) or {})


def grid_points(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, in listed order (the first key varies slowest)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def scaled_budget(cfg: dict, fraction: float) -> dict:
    """`cfg` with its steps (`iterations`, or `epochs`) times `fraction` (at least one step)."""
    if cfg.get("epochs") is not None:
        return cfg | {"epochs": cfg["epochs"] * fraction}
    return cfg | {"iterations": max(1, math.ceil(cfg["iterations"] * fraction))}


def grid_problems(config: dict) -> list[str]:
    """Config problems of `generator_cv` (global and per dataset): a grid naming a section the
    config lacks, or a key its section lacks."""
    problems = []
    scopes = [("generator_cv", config["generator_cv"], config)]
    scopes += [(f"datasets.{ds}.generator_cv", spec["generator_cv"], config)
               for ds, spec in config["datasets"].items() if "generator_cv" in spec]
    for where, scope, cfg in scopes:
        for section, grid in (scope.get("grids") or {}).items():
            if section not in cfg or not isinstance(cfg[section], dict):
                problems.append(f"{where}.grids.{section}: no config section `{section}` to cross-validate")
                continue
            problems += [f"{where}.grids.{section}.{key}: `{section}` has no key `{key}`"
                         for key in (grid or {}) if key not in cfg[section]]
    return problems


def read_settings(path, section: str | None = None) -> dict:
    """The record of a `settings_{section}.json` (of `section`, where given): `chosen` {key: value},
    and `columns`, the provenance columns of the rows built from a generator trained with it."""
    with open(path) as f:
        record = json.load(f)
    wrong_section = section is not None and record.get("section") != section
    if wrong_section or not all(isinstance(record.get(k), dict) for k in ("chosen", "columns")):
        raise ValueError(f"{path}: expected the cross-validated settings of `{section or 'a generator'}` "
                         f"('section', 'chosen', 'columns'); rebuild it with `snakemake --forcerun {path}`")
    return record


def trained_settings(cfg: dict, path, section: str) -> tuple[dict, dict]:
    """What a section's generator trains with and the provenance columns of the rows built from it:
    the cross-validated values of `path` in place, or the section as configured (no path)."""
    if not path:
        return cfg, generator_settings_record(cfg)
    record = read_settings(path, section)
    return cfg | record["chosen"], record["columns"]


def with_chosen(cfg: dict, path, section: str) -> dict:
    """The section's settings with the cross-validated values of `path` in place (no path: as is)."""
    return cfg | read_settings(path, section)["chosen"] if path else cfg
