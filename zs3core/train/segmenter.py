"""Supervised training of a segmentation network (DeepLabv3+ on seen classes, or the DeViSE baseline).

The loop follows torchvision's segmentation reference: SGD with momentum and weight decay, two
parameter groups (the head at `head_lr_mult` x the backbone learning rate), and a poly decay of the
learning rate applied every iteration.

Resumable and reproducible:
- after every epoch `work_dir/last.pt` holds the model, optimizer, scheduler (and AMP scaler)
  states, the epoch count, the RNG states and the configuration; a new call resumes from it;
- the randomness of an epoch (shuffling, data augmentation, dropout) is a pure function of
  (seed, epoch): the torch, numpy and Python RNGs and the DataLoader's generator are re-seeded at
  the start of every epoch, so on the CPU a resumed run ends with exactly the weights of an
  uninterrupted one (on CUDA, up to the non-determinism of the GPU kernels);
- the final weights appear atomically at `out_path` only once the last epoch is done.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from zs3core.checkpoints import (CheckpointMismatch, CorruptCheckpoint, capture_rng_state,
                                 load_checkpoint, restore_rng_state, save_checkpoint)
from zs3core.device import resolve_device
from zs3core.io import write_text

PROGRESS_INTERVAL_S = 10.0  # tqdm refresh period: keeps the rule logs small
# Configuration fields that may change between an interrupted run and its resumption.
RESUME_INSENSITIVE = frozenset({"num_workers"})


@dataclass
class SegmenterTraining:
    """Hyper-parameters of one training run (all from config.yaml)."""
    epochs: int
    batch_size: int
    lr: float
    head_lr_mult: float = 10.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    num_workers: int = 0
    amp: bool = True  # mixed precision, used on CUDA only
    seed: int = 0


def build_optimizer(model: torch.nn.Module, cfg: SegmenterTraining) -> torch.optim.SGD:
    """SGD over two parameter groups: [0] backbone at cfg.lr, [1] head at cfg.lr * head_lr_mult."""
    backbone = [p for p in model.backbone_parameters() if p.requires_grad]
    head = [p for p in model.head_parameters() if p.requires_grad]
    ids_b, ids_h = {id(p) for p in backbone}, {id(p) for p in head}
    if ids_b & ids_h:
        raise ValueError("some parameters are both in backbone_parameters() and head_parameters()")
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in ids_b | ids_h]
    if missing:
        raise ValueError(f"trainable parameters in neither backbone_parameters() nor head_parameters(): "
                         f"{missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return torch.optim.SGD([{"params": backbone, "lr": cfg.lr},
                            {"params": head, "lr": cfg.lr * cfg.head_lr_mult}],
                           lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def poly_scheduler(optimizer: torch.optim.Optimizer, max_iter: int, power: float) -> torch.optim.lr_scheduler.LambdaLR:
    """lr = base_lr * (1 - it / max_iter) ** power, to be stepped once per iteration."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: max(0.0, 1.0 - it / max_iter) ** power)


def epoch_seeds(seed: int, epoch: int) -> tuple[int, int]:
    """Two independent 32-bit seeds for epoch `epoch`: (global RNGs, DataLoader generator)."""
    a, b = np.random.SeedSequence([seed, epoch]).generate_state(2)
    return int(a), int(b)


def seed_epoch(seed: int, epoch: int) -> torch.Generator:
    """Seed the torch (CPU + CUDA), numpy and Python RNGs for `epoch`; return the DataLoader generator.

    The generator drives the shuffling and the seeds of the DataLoader workers (which seed their own
    torch, numpy and Python RNGs from it); in the main process (num_workers=0) the transforms draw
    from the global RNGs seeded here.
    """
    global_seed, loader_seed = epoch_seeds(seed, epoch)
    random.seed(global_seed)
    np.random.seed(global_seed)
    torch.manual_seed(global_seed)
    generator = torch.Generator()
    generator.manual_seed(loader_seed)
    return generator


def _amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def train_one_epoch(model, loader, loss_fn, optimizer, scheduler, scaler, device, amp_dtype,
                    progress: tqdm) -> float:
    """One pass over `loader`; returns the mean training loss."""
    model.train()
    loss_sum, n = 0.0, 0
    for images, masks, *_ in loader:  # the image ids are not needed
        images = images.to(device, non_blocking=True)
        masks = masks.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            outputs = model(images)
            loss = loss_fn(outputs, masks)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()

        loss_sum += loss.item()
        n += 1
        progress.set_postfix(loss=f"{loss_sum / n:.4f}", refresh=False)
        progress.update(1)
    return loss_sum / max(n, 1)


def _check_resumable(state: dict, cfg: SegmenterTraining, dataset_size: int, path: Path) -> None:
    saved, now = state.get("cfg", {}), dataclasses.asdict(cfg)
    diff = {k: (saved.get(k), v) for k, v in now.items()
            if k not in RESUME_INSENSITIVE and saved.get(k) != v}
    if state.get("dataset_size") != dataset_size:
        diff["dataset_size"] = (state.get("dataset_size"), dataset_size)
    if diff:
        details = ", ".join(f"{k}: {a!r} in the checkpoint vs {b!r} now" for k, (a, b) in diff.items())
        raise CheckpointMismatch(f"{path} is a checkpoint of another training configuration ({details}); "
                                 f"delete it to start this training from scratch")


def _write_loss_csv(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["epoch", "loss", "lr_backbone", "lr_head", "seconds"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def train_segmenter(model: torch.nn.Module, dataset, loss_fn, cfg: SegmenterTraining, *,
                    work_dir, out_path, device=None, log: logging.Logger | None = None) -> None:
    """Train `model` on `dataset`, resuming from `work_dir/last.pt`; write the final weights to `out_path`.

    `dataset[i]` is (image (3,h,w) float, mask (h,w) int64, image_id); all items of a batch must have
    the same size. `model(x)` returns outputs at the input resolution and `loss_fn(outputs, masks)`
    a scalar. Per epoch, `work_dir/last.pt` (resume state) and `work_dir/loss.csv` are rewritten.
    `out_path` receives {"model": state_dict (CPU), "meta": {...}} after the last epoch, after which
    `last.pt` is deleted. Raises CheckpointMismatch if `last.pt` comes from another configuration.
    """
    log = log or logging.getLogger(__name__)
    device = resolve_device(device)
    work_dir, out_path = Path(work_dir), Path(out_path)
    ckpt_path = work_dir / "last.pt"

    iters_per_epoch = len(dataset) // cfg.batch_size
    if iters_per_epoch == 0:
        raise ValueError(f"dataset of {len(dataset)} items is smaller than one batch ({cfg.batch_size})")
    max_iter = cfg.epochs * iters_per_epoch

    model.to(device)
    optimizer = build_optimizer(model, cfg)
    scheduler = poly_scheduler(optimizer, max_iter, cfg.poly_power)
    amp_dtype = _amp_dtype(device, cfg.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    start_epoch, history = 0, []
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path, rebuild_hint=str(out_path))
        _check_resumable(state, cfg, len(dataset), ckpt_path)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise CheckpointMismatch(f"{ckpt_path} holds the weights of another model; delete it to start "
                                     f"this training from scratch ({str(e).splitlines()[0]})") from e
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"])
        start_epoch, history = state["epoch"], state["history"]
        log.info("resuming from %s after epoch %d/%d", ckpt_path, start_epoch, cfg.epochs)
    log.info("training on %s (%s) for %d epochs x %d iterations, batch %d, %d images",
             device, amp_dtype or torch.float32, cfg.epochs, iters_per_epoch, cfg.batch_size, len(dataset))

    with tqdm(total=max_iter, initial=start_epoch * iters_per_epoch, file=sys.stderr,
              mininterval=PROGRESS_INTERVAL_S, desc="train") as progress:
        for epoch in range(start_epoch, cfg.epochs):
            progress.set_description(f"epoch {epoch + 1}/{cfg.epochs}", refresh=False)
            generator = seed_epoch(cfg.seed, epoch)
            loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                num_workers=cfg.num_workers, generator=generator,
                                pin_memory=device.type == "cuda")
            start = time.perf_counter()
            mean_loss = train_one_epoch(model, loader, loss_fn, optimizer, scheduler, scaler, device,
                                        amp_dtype, progress)
            seconds = time.perf_counter() - start
            if not math.isfinite(mean_loss):
                raise FloatingPointError(f"epoch {epoch + 1}: mean training loss is {mean_loss}; "
                                         f"{ckpt_path} (if any) still holds the last finite epoch")
            lr_backbone, lr_head = scheduler.get_last_lr()
            history.append({"epoch": epoch + 1, "loss": mean_loss, "lr_backbone": lr_backbone,
                            "lr_head": lr_head, "seconds": round(seconds, 3)})
            save_checkpoint(ckpt_path, {
                "epoch": epoch + 1, "iteration": (epoch + 1) * iters_per_epoch,
                "cfg": dataclasses.asdict(cfg), "dataset_size": len(dataset),
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "rng": capture_rng_state(), "history": history,
            })
            _write_loss_csv(work_dir / "loss.csv", history)
            log.info("epoch %d/%d  loss %.4f  lr %.3g (head %.3g)  %.1fs",
                     epoch + 1, cfg.epochs, mean_loss, lr_backbone, lr_head, seconds)

    weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    meta = {"epochs": cfg.epochs, "iterations": max_iter, "seed": cfg.seed, "cfg": dataclasses.asdict(cfg),
            "dataset_size": len(dataset), "final_loss": history[-1]["loss"] if history else None}
    save_checkpoint(out_path, {"model": weights, "meta": meta})
    ckpt_path.unlink(missing_ok=True)
    log.info("wrote %s", out_path)


def load_trained(path, rebuild_hint: str | None = None) -> tuple[dict, dict]:
    """(state_dict, meta) of a file written by `train_segmenter`."""
    state = load_checkpoint(path, rebuild_hint=rebuild_hint)
    if "model" not in state:
        raise CorruptCheckpoint(f"{path} has no 'model' entry: not a file written by train_segmenter; "
                                f"delete it and rerun `snakemake {rebuild_hint or path}`")
    return state["model"], state.get("meta", {})
