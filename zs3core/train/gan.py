"""Step 1, GAN variant (method `zs3gan`): train f-CLSWGAN's conditional WGAN-GP on real seen features.

The losses and the critic are in `zs3core.models.gan`; the generator is the GMMN's network, so
the checkpoint banks through `zs3core.train.generator.write_bank` like the GMMN's (same
`load_generator`, same bank format). What the GAN sees is what the GMMN sees: rows of seen
classes from seen-only images, held-out images left out, checked on the rows loaded
(`seen_training_rows`).

Training (f-CLSWGAN, Section 3.1 and their code):
1. The seen-class classifier of L_CLS: a linear softmax over the seen classes with rows, trained
   `classifier_steps` Adam steps (lr `classifier_lr`, the GAN's betas) on class-balanced batches of
   `real_per_class` real rows per seen class; then frozen.
2. `iterations` generator steps (or `epochs`, the GMMN's unit: `zs3core.train.generator.
   training_steps`), each after `n_critic` critic steps. Every step (critic or generator) picks
   `classes_per_step` seen classes (null: all), and for each `real_per_class` real rows (drawn
   with replacement, `RealSampler`) and as many generated ones (fresh noise, dropout active). The
   critic minimises E[D(fake)] - E[D(real)] + gp_weight * penalty; the generator
   -E[D(fake)] + cls_weight * L_CLS. Adam for both, lr `lr`, betas `betas`. Where f-CLSWGAN
   draws batches of rows uniformly, batches here are class-balanced, like the GMMN's.

Determinism. The initial weights come from a CPU `torch.Generator` seeded with `seed`; every
draw of training (classes, rows, noise, dropout masks, interpolation weights) from one generator
on the training device seeded with `seed`. On the CPU the same seed gives the same weights.

Resumable. Every `checkpoint_every` generator steps the whole training state (the three
networks, both optimisers, the generator's RNG state, the loss curve) is written atomically to
`<out>.resume.pt` beside the output (`default_resume_path`); a new call with the same data and
config resumes from it, so that on the CPU a resumed run ends with exactly the weights of an
uninterrupted one. It is deleted once the checkpoint is written; one from another config raises
`CheckpointMismatch`.

Loss curve (`<out stem>.loss.csv`, or `loss_csv`): iteration, loss (the critic's estimate of the
Wasserstein distance, E[D(real)] - E[D(fake)], the curve that tracks a WGAN's progress),
critic_loss, generator_loss, classification_loss, at the iteration's last critic step and its
generator step.

Config: the `gan:` section of config.yaml, every key of `GAN_KEYS` given; `GAN_DEFAULTS` holds
the defaults and says where each comes from.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from zs3core.checkpoints import CheckpointMismatch, load_checkpoint, save_checkpoint
from zs3core.device import resolve_device
from zs3core.models.gan import Critic, classification_loss, critic_loss, generator_loss, gradient_penalty
from zs3core.models.gmmn import GMMN, build_gmmn
from zs3core.train.generator_kit import (GeneratorRows, RealSampler, checkpoint_state, default_loss_csv,
                                         resolve_section, sampling_plan, training_data, write_curve)

CHECKPOINT_KIND = "gan"
RESUME_KIND = "gan_resume"

# The `gan:` section's keys and defaults (config.yaml copies them). Sources: f-CLSWGAN (Xian et al.,
# CVPR 2018) and their released code (CLSWGAN: lr, betas, lambda, n_critic, beta = cls_weight as
# for CUB, the classifier's lr); the GMMN's section where the GAN shares its network.
GAN_DEFAULTS = {
    "noise_dim": 300,          # noise dimensions: the embedding's (f-CLSWGAN: noise as long as the class embedding)
    "noise": "gaussian",       # N(0, 1), f-CLSWGAN's and the paper's; 'uniform' [0, 1) as the GMMN allows
    "hidden": 256,             # generator's hidden width: the GMMN's (f-CLSWGAN: 4096 for 2048-d features)
    "dropout": 0.0,            # f-CLSWGAN's generator has no dropout
    "output_relu": True,       # f-CLSWGAN's generator ends with a ReLU (real features are post-ReLU)
    "critic_hidden": 256,      # critic's hidden width: as the generator's (f-CLSWGAN: both 4096)
    "lr": 1e-4,                # Adam learning rate of both networks (f-CLSWGAN)
    "betas": [0.5, 0.999],     # Adam betas of both networks (f-CLSWGAN)
    "iterations": 2000,        # generator steps; null when `epochs` is set (the GMMN's units)
    "classes_per_step": None,  # seen classes per step; null = all
    "real_per_class": 64,      # real rows per class and step, as many generated (f-CLSWGAN: batches of 64)
    "n_critic": 5,             # critic steps per generator step (f-CLSWGAN's critic_iter)
    "gp_weight": 10.0,         # lambda of the gradient penalty (f-CLSWGAN, after Gulrajani et al.)
    "cls_weight": 0.01,        # beta of L_CLS (f-CLSWGAN's CUB/SUN/AWA value)
    "classifier_steps": 500,   # Adam steps of the seen-class classifier before the GAN trains
    "classifier_lr": 1e-3,     # its learning rate (f-CLSWGAN's pre-trained classifier)
    "log_every": 10,           # generator steps between loss-curve points (first and last always logged)
    "checkpoint_every": 500,   # generator steps between resume checkpoints; null = none
    "device": "auto",          # 'auto' (CUDA if available) | 'cpu' | 'cuda'
}
GAN_KEYS = tuple(GAN_DEFAULTS)


def resolve_gan_config(cfg: dict) -> dict:
    """The GAN's keys of a full `gan:` section (ranges are the schema's business); a missing key
    raises KeyError naming it, a budget other than exactly one of `iterations`/`epochs` ValueError."""
    resolved = resolve_section(cfg, GAN_KEYS, "gan")
    resolved["betas"] = [float(b) for b in resolved["betas"]]
    return resolved


def default_resume_path(out_path: str | os.PathLike) -> Path:
    """Where `train_gan` keeps its resume state: beside the weights, `<stem>.resume.pt`."""
    return Path(out_path).with_suffix(".resume.pt")


# ---------------------------------------------------------------- training


@dataclass
class GANNetworks:
    """The three networks and two optimisers of a GAN run, on the training device."""
    generator: GMMN
    critic: Critic
    classifier: torch.nn.Linear
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam

    def state(self) -> dict:
        cpu = lambda module: {k: v.detach().cpu() for k, v in module.state_dict().items()}  # noqa: E731
        return {"generator": cpu(self.generator), "critic": cpu(self.critic), "classifier": cpu(self.classifier),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.classifier.load_state_dict(state["classifier"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


def build_networks(cfg: dict, embed_dim: int, feature_dim: int, n_classes: int, *, seed: int,
                   device: torch.device) -> GANNetworks:
    """Fresh networks (weights from a CPU generator seeded with `seed`) and their optimisers."""
    init = torch.Generator().manual_seed(seed)
    generator = build_gmmn(cfg, embed_dim, feature_dim, init_generator=init).to(device).train()
    critic = Critic(feature_dim, embed_dim, hidden=cfg["critic_hidden"], init_generator=init).to(device).train()
    classifier = torch.nn.Linear(feature_dim, n_classes)
    bound = 1.0 / math.sqrt(feature_dim)  # torch's default Linear init, drawn from `init`
    torch.nn.init.uniform_(classifier.weight, -bound, bound, generator=init)
    torch.nn.init.uniform_(classifier.bias, -bound, bound, generator=init)
    betas = tuple(cfg["betas"])
    return GANNetworks(generator, critic, classifier.to(device),
                       torch.optim.Adam(generator.parameters(), lr=cfg["lr"], betas=betas),
                       torch.optim.Adam(critic.parameters(), lr=cfg["lr"], betas=betas))


def fit_seen_classifier(classifier: torch.nn.Linear, sampler: RealSampler, cfg: dict,
                        gen: torch.Generator) -> float:
    """Train the L_CLS classifier on class-balanced real batches, then freeze it; its last loss."""
    opt = torch.optim.Adam(classifier.parameters(), lr=cfg["classifier_lr"], betas=tuple(cfg["betas"]))
    which = torch.arange(len(sampler), device=sampler.classes.device)
    n = cfg["real_per_class"]
    labels = which.repeat_interleave(n)
    loss = torch.tensor(float("nan"))
    for _ in range(cfg["classifier_steps"]):
        real = sampler.sample(which, n, gen).reshape(len(which) * n, -1)
        loss = F.cross_entropy(classifier(real), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    classifier.requires_grad_(False).eval()
    return float(loss.item())


@dataclass
class FittedGAN:
    """A trained GAN (networks on their device) and the record of its training."""
    nets: GANNetworks
    trained_class_ids: list[int]
    rows_per_class: dict[int, int]
    classifier_loss: float
    curve: list[tuple[int, float, float, float, float]]  # iteration, wasserstein, critic, generator, cls
    seconds: float
    iterations: int


def fit_gan(rows: GeneratorRows, table: torch.Tensor, feature_dim: int, cfg: dict, *, seed: int,
            device: torch.device, class_names: Sequence[str], resume_path: Path | None = None,
            log: logging.Logger | None = None, source: object = "") -> FittedGAN:
    """The WGAN-GP + L_CLS training loop on given real rows (`cfg` resolved), resuming from
    `resume_path` when it exists and saving there every `checkpoint_every` generator steps."""
    sampler, per_step, rows_per_class, n_iter = sampling_plan(rows, cfg, device, class_names=class_names, name="GAN",
                                                              log=log)
    del rows
    n_classes = len(sampler)
    trained = sampler.classes.cpu().tolist()

    nets = build_networks(cfg, table.shape[1], feature_dim, n_classes, seed=seed, device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    identity = {"config": cfg, "seed": int(seed), "rows_per_class": rows_per_class, "iterations": n_iter}
    start, curve, seconds = 0, [], 0.0
    if resume_path is not None and resume_path.exists():
        state = load_checkpoint(resume_path, rebuild_hint=str(resume_path))
        _check_resumable(state, identity, resume_path)
        nets.load(state["networks"])
        nets.classifier.requires_grad_(False).eval()
        gen.set_state(state["rng"])
        start, curve, seconds = state["iteration"], [tuple(p) for p in state["curve"]], state["seconds"]
        cls_final = state["classifier_loss"]
        if log:
            log.info("GAN: resuming from %s after generator step %d/%d", resume_path, start, n_iter)
    else:
        cls_final = fit_seen_classifier(nets.classifier, sampler, cfg, gen)
    if log:
        log.info("GAN: %d seen classes with rows (%d per step), %d rows, %d generator steps%s x %d critic "
                 "steps, seen classifier's loss %.4f, device %s", n_classes, per_step, sum(rows_per_class.values()),
                 n_iter, f" ({cfg['epochs']:g} epochs)" if cfg.get("epochs") is not None else "",
                 cfg["n_critic"], cls_final, device)

    table_dev = table.to(device)
    n = cfg["real_per_class"]

    def batch(classes_only: bool = False):
        """(labels (B n,) into the sampler's classes, embeddings (B n, E), real rows (B n, D) or None)."""
        if per_step == n_classes:
            which = torch.arange(n_classes, device=device)
        else:
            which = torch.randperm(n_classes, generator=gen, device=gen.device)[:per_step].to(device)
        real = None if classes_only else sampler.sample(which, n, gen).reshape(len(which) * n, feature_dim)
        return which.repeat_interleave(n), table_dev[sampler.classes[which]].repeat_interleave(n, dim=0), real

    g, d = nets.generator, nets.critic
    started = time.perf_counter() - seconds
    for it in range(start + 1, n_iter + 1):
        d.requires_grad_(True)
        for _ in range(cfg["n_critic"]):
            _, e, real = batch()
            with torch.no_grad():
                fake = g(e, generator=gen)
            alpha = torch.rand((len(e), 1), generator=gen, device=gen.device).to(device)
            d_real, d_fake = d(real, e), d(fake, e)
            loss_d = critic_loss(d_real, d_fake, gradient_penalty(d, real, fake, e, alpha), cfg["gp_weight"])
            nets.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            nets.opt_d.step()
        d.requires_grad_(False)
        labels, e, _ = batch(classes_only=True)
        fake = g(e, generator=gen)
        loss_cls = classification_loss(nets.classifier(fake), labels)
        loss_g = generator_loss(d(fake, e), loss_cls, cfg["cls_weight"])
        nets.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        nets.opt_g.step()
        if it == 1 or it % cfg["log_every"] == 0 or it == n_iter:
            point = (it, (d_real.mean() - d_fake.mean()).item(), loss_d.item(), loss_g.item(), loss_cls.item())
            if not all(math.isfinite(v) for v in point[1:]):
                raise FloatingPointError(f"GAN losses {point[1:]} at generator step {it} ({source})")
            curve.append(point)
            if log and (it == 1 or it == n_iter or it % max(cfg["log_every"], n_iter // 10) == 0):
                log.info("GAN step %d/%d: Wasserstein estimate %.5f, critic %.5f, generator %.5f, L_CLS %.5f",
                         *point[:1], n_iter, *point[1:])
        if resume_path is not None and cfg["checkpoint_every"] and it % cfg["checkpoint_every"] == 0 and it < n_iter:
            save_checkpoint(resume_path, identity | {
                "kind": RESUME_KIND, "iteration": it, "networks": nets.state(), "rng": gen.get_state(),
                "curve": [list(p) for p in curve], "seconds": time.perf_counter() - started,
                "classifier_loss": cls_final})
    return FittedGAN(nets, trained, rows_per_class, cls_final, curve, time.perf_counter() - started, n_iter)


def _check_resumable(state: dict, identity: dict, path: Path) -> None:
    diff = [k for k, v in identity.items() if state.get(k) != v]
    if state.get("kind") != RESUME_KIND or diff:
        raise CheckpointMismatch(f"{path} is the resume state of another GAN training (differs in "
                                 f"{diff or ['kind']}); delete it to start this training from scratch")


def train_gan(feature_file: str | os.PathLike, embeddings: np.ndarray, cfg: dict,
              out_path: str | os.PathLike, *, seed: int, holdout: frozenset[str] = frozenset(),
              log: logging.Logger | None = None, loss_csv: str | os.PathLike | None = None,
              provenance: dict | None = None) -> dict:
    """Train the GAN on the seen classes of `feature_file`; write weights and loss curve atomically.

    Arguments as `zs3core.train.generator.train_gmmn`'s. The checkpoint has the GMMN's layout
    (`kind` 'gan'; `model` and `state_dict` the generator's, which `load_generator` rebuilds)
    plus the critic and classifier. Returns a summary (iterations, final losses, rows per class,
    seconds, curve).
    """
    cfg = resolve_gan_config(cfg)
    device = resolve_device(cfg["device"], "gan.device")
    data, _ = training_data(feature_file, embeddings, holdout)
    resume_path = default_resume_path(out_path)
    fit = fit_gan(data.rows, data.table, data.feature_dim, cfg, seed=seed, device=device,
                  class_names=data.class_names, resume_path=resume_path, log=log, source=feature_file)
    nets, curve = fit.nets, fit.curve
    networks = nets.state()
    state = checkpoint_state(CHECKPOINT_KIND, nets.generator, cfg, data, trained_class_ids=fit.trained_class_ids,
                             feature_file=feature_file, seed=seed, iterations=fit.iterations, curve=curve,
                             critic={"model": nets.critic.config(), "state_dict": networks["critic"]},
                             classifier=networks["classifier"], classifier_loss=fit.classifier_loss,
                             rows_per_class=fit.rows_per_class)
    if provenance:
        state["provenance"] = dict(provenance)
    write_curve(Path(loss_csv) if loss_csv is not None else default_loss_csv(out_path), curve, CURVE_COLUMNS)
    save_checkpoint(out_path, state)
    resume_path.unlink(missing_ok=True)
    if log:
        log.info("GAN: %d generator steps in %.1f s, final Wasserstein estimate %.5f -> %s",
                 fit.iterations, fit.seconds, curve[-1][1], out_path)
    return {"iterations": fit.iterations, "final_loss": curve[-1][1], "final_generator_loss": curve[-1][3],
            "classifier_loss": fit.classifier_loss, "rows_per_class": fit.rows_per_class,
            "seconds": fit.seconds, "curve": curve}


CURVE_COLUMNS = ("loss", "critic_loss", "generator_loss", "classification_loss")  # after `iteration`
