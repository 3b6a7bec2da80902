"""Step 1 of ZS3Net: train the GMMN generator on real seen-class features; write unseen-class banks.

Jobs
- `train_gmmn(feature_file, embeddings, cfg, out_path, seed=...)`: trains the generator
  (`zs3core.models.gmmn.GMMN`) and writes its checkpoint atomically, plus a loss-curve CSV.
- `write_bank(generator_path, embeddings, unseen_class_ids, n_per_class, out_h5, seed=...,
  class_names=...)`: N synthetic features per unseen class, as a bank (`zs3core.banks`: its
  HDF5 layout, `read_bank`, and the default N, `default_bank_size`).

What the generator sees. Only rows of SEEN classes from images WITHOUT any unseen pixel
(`FeatureFile.read(classes=seen, exclude_unseen_images=True)`), as in the authors' code; this is
asserted on the rows actually loaded (`seen_training_rows`, in `zs3core.train.generator_kit`, the
toolkit every generator shares), so no unseen-class or
unseen-image row can reach the loss.

One iteration. Choose `classes_per_step` seen classes (uniformly without replacement; null or
>= the number of seen classes: all of them, every step). For each chosen class draw
`real_per_class` real rows uniformly WITH replacement from all of its training rows (the
authors draw with replacement too, `torch.randint`; classes pool the rows of every training
image, where the authors' batches are one (image, class) at a time), and generate
`fake_per_class` features from the class embedding and fresh noise (dropout active). The loss
is the mean over the chosen classes of `zs3core.mmd.mmd_loss` (sqrt of the biased multi-kernel
MMD^2, the authors' loss), computed for all classes in one batched call; one Adam step.

Bandwidths. `bandwidth_mode: authors` (config.yaml's default, so the real datasets' setting)
uses `bandwidths` as is (null: the authors' code's {2, 5, 10, 20, 40, 80}), `paper` squares them
(sigma; null: {2, 5, 10, 20, 40, 60}); `relative` (the synthetic datasets' setting) multiplies
`bandwidths` (null: {1/4, 1/2, 1, 2, 4}) by the median pairwise squared distance of a
class-balanced sample of the real training rows (`bandwidth_sample`: ceil(median_sample /
n_seen_classes) rows per seen class, without replacement, numpy generator seeded with `seed`),
estimated once before training and fixed. The absolute values used are stored in the checkpoint (`bandwidths`).

Determinism. Initial weights come from a CPU `torch.Generator` seeded with `seed` (identical on
every device); class choice, real-row draws, noise and dropout masks from one generator on the
training device seeded with `seed`; torch's global RNG is never used. The same seed on the CPU
gives identical weights. On CUDA the run is seeded but bitwise equality is not promised.

Config: the `generator:` section of config.yaml, every key given (its values there, their
ranges in schemas/config.schema.yaml, which the workflow checks before any job):
  noise_dim                noise dimensions concatenated to the 300-d class embedding
  noise                    'gaussian' N(0,1) (paper) | 'uniform' [0,1) (authors' code)
  hidden                   hidden width
  dropout                  dropout after the LeakyReLU(0.2)
  output_relu              ReLU on the output (real features are post-ReLU); the paper has none
  lr                       Adam learning rate (betas 0.9, 0.999)
  iterations               optimiser steps; null when `epochs` is set
  epochs                   (optional) the budget in the authors' unit instead: passes over the
                           (image, seen class) pairs of the training rows; steps = ceil(epochs x
                           pairs / classes per step) (`zs3core.budgets`)
  classes_per_step         seen classes per step; null = all
  real_per_class           real rows per class and step
  fake_per_class           generated rows per class and step
  bandwidth_mode           'relative' | 'authors' | 'paper' (zs3core.bandwidths)
  bandwidths               kernel bandwidths s in k = exp(-|x-y|^2 / (2 s)); null = the mode's default
  median_sample            rows sampled to estimate the median squared distance (relative mode)
  log_every                iterations between loss-curve points (the first and last always logged)
  device                   'auto' (CUDA if available) | 'cpu' | 'cuda'
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from zs3core.banks import save_bank
from zs3core.checkpoints import load_checkpoint, save_checkpoint
from zs3core.device import resolve_device
from zs3core.mmd import mmd_loss
from zs3core.models.gmmn import GMMN, build_gmmn, gmmn_from_state
from zs3core.train.generator_kit import (GeneratorRows, checkpoint_state, config_bandwidths, default_loss_csv, logged,
                                         resolve_section, sampling_plan, training_data, write_curve)

GMMN_KEYS = ("noise_dim", "noise", "hidden", "dropout", "output_relu", "lr", "iterations",
             "classes_per_step", "real_per_class", "fake_per_class", "bandwidth_mode", "bandwidths",
             "median_sample", "log_every", "device")
CHECKPOINT_KIND = "gmmn"
# Checkpoint kinds whose generator is a GMMN network (`model`, `state_dict`): the GMMN's and the
# GAN's (`zs3core.train.gan`), so both bank through `load_generator` and `write_bank`.
BANKABLE_KINDS = (CHECKPOINT_KIND, "gan")


# ---------------------------------------------------------------- configuration


def resolve_config(cfg: dict) -> dict:
    """The GMMN's keys of a full `generator:` section (values as config.yaml and its schema give
    them: this module checks no range); a missing key raises KeyError naming it."""
    return resolve_section(cfg, GMMN_KEYS, "generator")


# ---------------------------------------------------------------- training


@dataclass
class FittedGMMN:
    """A trained GMMN (train mode, on its device) and the record of its training."""
    model: GMMN
    bandwidths: list[float]
    reference: float | None
    trained_class_ids: list[int]
    rows_per_class: dict[int, int]
    curve: list[tuple[int, float]]
    seconds: float
    iterations: int


def fit_gmmn(rows: GeneratorRows, table: torch.Tensor, feature_dim: int, cfg: dict, *, seed: int,
             device: torch.device, class_names: Sequence[str], log: logging.Logger | None = None,
             source: object = "") -> FittedGMMN:
    """The MMD training loop on given real rows (`cfg` resolved): shared by step 1 and the
    zero-shot cross-validation (`zs3core.cv`), which trains on a subset of the seen classes.
    `source` names the data in errors."""
    bandwidths, reference = config_bandwidths(cfg, rows.features, rows.class_id, seed)

    sampler, per_step, rows_per_class, n_iter = sampling_plan(rows, cfg, device, class_names=class_names, name="GMMN",
                                                              log=log)
    del rows
    n_classes = len(sampler)
    if log:
        log.info("GMMN: %d seen classes with rows (%d per step), %d rows, %d steps%s, bandwidths %s (%s%s), "
                 "device %s", n_classes, per_step, sum(rows_per_class.values()), n_iter,
                 f" ({cfg['epochs']:g} epochs)" if cfg.get("epochs") is not None else "",
                 [round(b, 4) for b in bandwidths], cfg["bandwidth_mode"],
                 f", median sq. distance {reference:.4g}" if reference is not None else "", device)

    model = build_gmmn(cfg, table.shape[1], feature_dim,
                       init_generator=torch.Generator().manual_seed(seed)).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    gen = torch.Generator(device=device).manual_seed(seed)
    table_dev = table.to(device)
    bw = torch.tensor(bandwidths, dtype=torch.float32, device=device)
    m = cfg["fake_per_class"]

    curve: list[tuple[int, float]] = []
    started = time.perf_counter()
    for it in range(1, n_iter + 1):
        if per_step == n_classes:
            which = torch.arange(n_classes, device=device)
        else:
            which = torch.randperm(n_classes, generator=gen, device=gen.device)[:per_step].to(device)
        real = sampler.sample(which, cfg["real_per_class"], gen)
        a = table_dev[sampler.classes[which]].repeat_interleave(m, dim=0)
        fake = model(a, generator=gen).view(len(which), m, feature_dim)
        loss = mmd_loss(fake, real, bw, reduction="mean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if logged(it, n_iter, cfg["log_every"]):
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(f"GMMN loss is {value} at iteration {it} ({source})")
            curve.append((it, value))
            if log and (it == 1 or it == n_iter or it % max(cfg["log_every"], n_iter // 10) == 0):
                log.info("GMMN iteration %d/%d: loss %.5f", it, n_iter, value)
    return FittedGMMN(model, bandwidths, reference, sampler.classes.cpu().tolist(), rows_per_class, curve,
                      time.perf_counter() - started, n_iter)


def train_gmmn(feature_file: str | os.PathLike, embeddings: np.ndarray, cfg: dict,
               out_path: str | os.PathLike, *, seed: int, holdout: frozenset[str] = frozenset(),
               log: logging.Logger | None = None, loss_csv: str | os.PathLike | None = None,
               provenance: dict | None = None) -> dict:
    """Train the GMMN on the seen classes of `feature_file`; write weights and loss curve atomically.

    `embeddings` is the (C, E) class table in the file's class order; the images of `holdout` are
    left out (`zs3core.holdout`). Returns a summary
    (iterations, final loss, bandwidths, rows per class, seconds). The checkpoint holds
    everything `load_generator` needs to rebuild the network (`model`), the resolved config, the
    absolute bandwidths used, class names and what was trained on, and `provenance`: the columns
    of the rows built from it that say how its settings were chosen (`zs3core.provenance`).
    """
    cfg = resolve_config(cfg)
    device = resolve_device(cfg["device"], "generator.device")
    data, _ = training_data(feature_file, embeddings, holdout)
    fit = fit_gmmn(data.rows, data.table, data.feature_dim, cfg, seed=seed, device=device,
                   class_names=data.class_names, log=log, source=feature_file)
    curve = fit.curve
    state = checkpoint_state(CHECKPOINT_KIND, fit.model, cfg, data, trained_class_ids=fit.trained_class_ids,
                             feature_file=feature_file, seed=seed, iterations=fit.iterations, curve=curve,
                             bandwidths=fit.bandwidths, bandwidth_mode=cfg["bandwidth_mode"],
                             bandwidth_reference=fit.reference, rows_per_class=fit.rows_per_class)
    if provenance:
        state["provenance"] = dict(provenance)
    write_curve(loss_csv if loss_csv is not None else default_loss_csv(out_path), curve)
    save_checkpoint(out_path, state)
    if log:
        log.info("GMMN: %d iterations in %.1f s, final loss %.5f -> %s", fit.iterations, fit.seconds, curve[-1][1],
                 out_path)
    return {"iterations": fit.iterations, "final_loss": curve[-1][1], "bandwidths": fit.bandwidths,
            "bandwidth_reference": fit.reference, "rows_per_class": fit.rows_per_class,
            "seconds": fit.seconds, "curve": curve}


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[GMMN, dict]:
    """The trained generator network (a GMMN's or a GAN's; eval mode, on `device`) and its checkpoint dict."""
    state = load_checkpoint(path, rebuild_hint=str(path))
    if state.get("kind") not in BANKABLE_KINDS or "model" not in state:
        raise ValueError(f"{path} is not a GMMN or GAN generator checkpoint (kind {state.get('kind')!r}); "
                         f"delete it and rerun `snakemake {path}`")
    return gmmn_from_state(state).to(device), state


# ---------------------------------------------------------------- the unseen-class bank


def write_bank(generator_path: str | os.PathLike, embeddings: np.ndarray,
               unseen_class_ids: Sequence[int], n_per_class: int, out_h5: str | os.PathLike, *,
               seed: int, class_names: Sequence[str], dropout_at_generation: bool = False,
               device: str | torch.device | None = None) -> None:
    """`n_per_class` generated features for each unseen class, written atomically to `out_h5`.

    `dropout_at_generation`: keep the generator's dropout active (the authors' code, whose
    generator never leaves train mode) or not (eval mode).
    Noise (and dropout masks with `dropout_at_generation`) come from a CPU generator seeded
    with `seed`, class after class in the given order: the same bank on every device up to
    floating-point differences of the network. Generation runs on CUDA when available.
    """
    device = resolve_device(device)
    model, state = load_generator(generator_path, device)
    class_names = list(class_names)
    if state.get("class_names") not in (None, class_names):
        raise ValueError(f"{generator_path} was trained with classes {state['class_names']}, "
                         f"not {class_names}")
    table = np.asarray(embeddings, dtype=np.float32)
    if table.shape != (len(class_names), model.embed_dim):
        raise ValueError(f"embeddings {table.shape} must be ({len(class_names)}, {model.embed_dim})")
    ids = [int(c) for c in unseen_class_ids]
    if any(not 0 <= c < len(class_names) for c in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"unseen class ids {ids} must be distinct ids of the {len(class_names)} classes")
    n = int(n_per_class)
    if n < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n}")
    dropout = bool(dropout_at_generation)
    blocks = generated_blocks(model, table, ids, n, seed=seed, dropout=dropout)
    save_bank(out_h5, blocks, ids, n, class_names, model.feature_dim,
              {"generator": str(generator_path), "seed": int(seed), "dropout_at_generation": dropout})


def generated_blocks(model: GMMN, table: np.ndarray, class_ids: Sequence[int], n: int, *, seed: int,
                     dropout: bool) -> Iterator[np.ndarray]:
    """(n, D) float32 generated features per class of `class_ids`, lazily, class after class, all
    from one CPU generator seeded with `seed`: a bank's rows, and a named model's
    (`zs3core.retrain.named_rows`), whose first classes, the split's unseen, thus get the bank's rows."""
    gen = torch.Generator().manual_seed(seed)
    tab = torch.from_numpy(np.asarray(table, dtype=np.float32))
    return (model.generate(tab, n, gen, class_ids=[c], dropout=dropout)[0].cpu().numpy() for c in class_ids)
