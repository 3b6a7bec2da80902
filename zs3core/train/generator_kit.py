"""What every generator's training shares: its real rows, their sampler, the class table, the
MMD bandwidths, the step budget, the checkpoint's common record and the loss-curve CSV.

The GMMN (`zs3core.train.generator`), the GC generator (`zs3core.train.graph_context`) and the
zero-shot cross-validation (`zs3core.cv`) train on the same rows, drawn the same way: rows of
SEEN classes from images WITHOUT any unseen pixel and not held out, checked on the rows actually
loaded (`seen_training_rows`), so no unseen-class, unseen-image or held-out row reaches a loss.
A new generator reads its data with `training_data`, draws real rows with `RealSampler`, sizes
its run with `classes_per_step` and `training_steps`, and writes `checkpoint_state` and
`write_curve`; `load_generator` and the banks stay its own.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from zs3core.bandwidths import resolve_bandwidths
from zs3core.budgets import generator_steps
from zs3core.features import FeatureFile
from zs3core.holdout import image_mask
from zs3core.io import atomic_path
from zs3core.mmd import median_sq_distance


@dataclass(frozen=True)
class GeneratorRows:
    """Real feature rows a generator trains on (seen classes of seen-only images), its seen classes."""
    features: np.ndarray  # (N, D) float32
    class_id: np.ndarray  # (N,) int64
    seen_class_ids: list[int]  # every seen class of the file (some may have no row)
    image: np.ndarray  # (N,) the image each row comes from (its index in the feature file)

    def pairs(self) -> int:
        """The (image, class) pairs the rows come from: the authors' generator steps per epoch."""
        return len(np.unique(self.image.astype(np.int64) * (int(self.class_id.max(initial=0)) + 1) + self.class_id))


def seen_training_rows(ff: FeatureFile, holdout: frozenset[str] = frozenset()) -> GeneratorRows:
    """Rows of seen classes from images without unseen pixels and not held out
    (`zs3core.holdout`); checked, not just requested."""
    seen = ff.seen_class_ids()
    table = ff.image_table()
    held = image_mask(table["image_id"], holdout)
    rows = ff.read(classes=seen, images=~held, exclude_unseen_images=True)
    unseen_ids = ff.class_ids(ff.unseen_classes)
    if (table["has_unseen"] | held)[rows.image].any() or np.isin(rows.class_id, unseen_ids).any():
        raise AssertionError(f"{ff.path}: an unseen-class, unseen-image or held-out row reached the generator's data")
    return GeneratorRows(rows.features, rows.class_id.astype(np.int64), seen, rows.image)


def checked_table(embeddings: np.ndarray, class_names: Sequence[str], rows: GeneratorRows,
                  feature_file: str | os.PathLike) -> torch.Tensor:
    """The (C, E) class table as a tensor, once it is known to fit the file and rows exist."""
    table = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    if table.ndim != 2 or table.shape[0] != len(class_names):
        raise ValueError(f"embeddings {tuple(table.shape)} must have one row per class of "
                         f"{feature_file} ({len(class_names)} classes)")
    if len(rows.class_id) == 0:
        raise ValueError(f"{feature_file}: no seen-class row in any image without unseen classes")
    return table


@dataclass(frozen=True)
class TrainingData:
    """What a generator's training reads from the feature file: its classes, the real rows, the table."""
    class_names: list[str]
    unseen_classes: list[str]
    feature_dim: int
    rows: GeneratorRows
    table: torch.Tensor  # (C, E) float32


def training_data(feature_file: str | os.PathLike, embeddings: np.ndarray, holdout: frozenset[str] = frozenset(),
                  read_more: Callable[[FeatureFile], object] | None = None) -> tuple[TrainingData, object]:
    """The trainers' common prologue: the seen training rows of `feature_file` (the images of
    `holdout` left out) and the checked class table; `read_more(ff)`, while the file is open,
    reads what else a generator needs (the GC's graphs), returned beside (None without it)."""
    with FeatureFile(feature_file) as ff:
        class_names, unseen_classes, feature_dim = ff.class_names, ff.unseen_classes, ff.feature_dim
        rows = seen_training_rows(ff, holdout)
        more = read_more(ff) if read_more is not None else None
    table = checked_table(embeddings, class_names, rows, feature_file)
    return TrainingData(class_names, unseen_classes, feature_dim, rows, table), more


class RealSampler:
    """Real rows grouped by class on the training device; draws (B, n, D) batches for B classes.

    Rows are stored in float16 (the feature files' precision, so lossless) and widened per batch.
    """

    def __init__(self, features: np.ndarray, class_id: np.ndarray, device: torch.device):
        order = np.argsort(class_id, kind="stable")
        classes, starts, counts = np.unique(class_id[order], return_index=True, return_counts=True)
        if classes.size == 0:
            raise ValueError("no real training rows")
        half = np.asarray(features).astype(np.float16)  # narrow first: one float32 copy less at peak
        self.features = torch.from_numpy(half[order]).to(device)
        self.classes = torch.as_tensor(classes, dtype=torch.int64, device=device)  # global class ids
        self.starts = torch.as_tensor(starts, dtype=torch.int64, device=device)
        self.counts = torch.as_tensor(counts, dtype=torch.int64, device=device)

    def __len__(self) -> int:
        return len(self.classes)

    def sample(self, which: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """(len(which), n, D) rows drawn with replacement; `which` indexes `self.classes`."""
        u = torch.rand((len(which), n), generator=generator, device=generator.device).to(self.starts.device)
        counts = self.counts[which].unsqueeze(1)
        offset = torch.minimum((u * counts).long(), counts - 1)
        return self.features[self.starts[which].unsqueeze(1) + offset].float()


def bandwidth_sample(features: np.ndarray, class_id: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Class-balanced sample: ceil(n / classes) rows per class without replacement (all if fewer)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(class_id, kind="stable")
    classes, starts, counts = np.unique(class_id[order], return_index=True, return_counts=True)
    per = math.ceil(n / max(len(classes), 1))
    picked = [order[s + rng.choice(c, size=min(per, c), replace=False)]
              for s, c in zip(starts, counts)]
    return features[np.sort(np.concatenate(picked))]


def config_bandwidths(cfg: dict, features: np.ndarray, class_id: np.ndarray,
                      seed: int) -> tuple[list[float], float | None]:
    """The MMD bandwidths s of `cfg` (`zs3core.bandwidths.resolve_bandwidths`; relative ones scaled by
    the features' median squared distance) and that reference distance (None for fixed modes)."""
    reference = None
    if cfg["bandwidth_mode"] == "relative":
        reference = median_sq_distance(bandwidth_sample(features, class_id, cfg["median_sample"], seed))
    return resolve_bandwidths(cfg["bandwidth_mode"], cfg["bandwidths"], reference), reference


def sampling_plan(rows: GeneratorRows, cfg: dict, device, *, class_names: Sequence[str], name: str,
                  log=None) -> tuple[RealSampler, int, dict[int, int], int]:
    """A generator's real-row sampler, the seen classes drawn per step, the rows per class and the
    steps of its budget; a warning names the seen classes without any row (not trained on)."""
    sampler = RealSampler(rows.features, rows.class_id, device)
    per_step = classes_per_step(cfg, len(sampler))
    rows_per_class = {int(c): int(k) for c, k in zip(*np.unique(rows.class_id, return_counts=True))}
    missing = sorted(set(rows.seen_class_ids) - set(rows_per_class))
    if log and missing:
        log.warning("%s: seen classes without any training row (not trained on): %s", name,
                    [class_names[c] for c in missing])
    return sampler, per_step, rows_per_class, training_steps(cfg, rows, per_step)


def classes_per_step(cfg: dict, n_classes: int) -> int:
    """The seen classes drawn per step: `classes_per_step`, at most all of them (null: all)."""
    return n_classes if cfg["classes_per_step"] is None else min(cfg["classes_per_step"], n_classes)


def training_steps(cfg: dict, rows: GeneratorRows, per_step: int) -> int:
    """The optimiser steps of a resolved generator config on `rows` (`zs3core.budgets`)."""
    return generator_steps(cfg, rows.pairs() if cfg.get("epochs") is not None else 0, per_step)


def logged(it: int, n_iter: int, log_every: int) -> bool:
    """Whether iteration `it` is a loss-curve point (the first and the last always are)."""
    return it == 1 or it % log_every == 0 or it == n_iter


def checkpoint_state(kind: str, model: torch.nn.Module, cfg: dict, data: TrainingData, *, trained_class_ids: list[int],
                     feature_file: str | os.PathLike, seed: int, iterations: int, curve: Sequence[tuple],
                     **record) -> dict:
    """A generator checkpoint's dict: what rebuilds the network (`model`: its `config()`, the
    weights), the resolved config, the classes, what it trained on, its budget and final loss,
    and the generator's own `record` (bandwidths, ...)."""
    return {"kind": kind, "model": model.config(),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "config": cfg, **record, "class_names": data.class_names, "unseen_classes": data.unseen_classes,
            "trained_class_ids": trained_class_ids, "feature_file": str(feature_file), "seed": int(seed),
            "iterations": int(iterations), "final_loss": curve[-1][1]}


BUDGET_KEYS = ("iterations", "epochs")  # a generator's budget: exactly one is set (`epochs` may be absent)


def resolve_section(cfg: dict, keys: Sequence[str], section: str) -> dict:
    """A generator's keys of its full config section (ranges are the schema's business): a missing
    key raises KeyError naming it, a budget other than exactly one of `BUDGET_KEYS` ValueError."""
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise KeyError(f"{section} config lacks {missing}: pass the whole section (config.yaml `{section}:`)")
    budget = [k for k in BUDGET_KEYS if cfg.get(k) is not None]
    if len(budget) != 1:
        raise ValueError(f"{section} config sets {budget or 'neither'} of {list(BUDGET_KEYS)}: set exactly one")
    return {k: cfg[k] for k in keys} | ({"epochs": cfg["epochs"]} if cfg.get("epochs") is not None else {})


def default_loss_csv(out_path: str | os.PathLike) -> Path:
    """Where a trainer writes the loss curve by default: beside the weights, `<stem>.loss.csv`."""
    return Path(out_path).with_suffix(".loss.csv")


def write_curve(path: str | os.PathLike, curve: Sequence[tuple], columns: Sequence[str] = ("loss",)) -> None:
    """The loss curve as CSV, atomically: `iteration` and `columns`, one row per (iteration, *values)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", *columns])
        writer.writerows((it, *map(repr, values)) for it, *values in curve)
