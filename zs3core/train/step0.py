"""Step 0 of the paper: the segmenters every later stage builds on.

- `seenonly`: DeepLabv3+ trained on seen classes only, one per split K. By default every
  training image containing an unseen pixel is dropped (the authors' protocol);
  `unseen_pixels: ignore` keeps the images and marks unseen pixels void instead. Either way the
  masks are relabelled so that no unseen class id can ever reach the loss.
- `supervised`: the oracle, trained on all classes (the first row of Tables 1 and 3).
- `baseline`: the DeViSE baseline, the classifier replaced by a projection to the embedding
  space, trained on seen classes by cosine regression onto the class embedding (the paper's,
  `baseline.loss: cosine`) or with DeViSE's hinge rank loss on cosine similarities (`rank`).
- `ale`: the ALE baseline, the same network scored by ALE's bilinear compatibility and trained
  with its weighted approximate ranking loss (`zs3core.models.ale`); initialised and trained
  for as many epochs as the DeViSE baseline (`baseline.init`, `baseline.epochs`).
"""
from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from zs3core.data.dataset import SegmentationDataset, void_lut, without_classes
from zs3core.device import resolve_device
from zs3core.models.deeplab import build_segmenter
from zs3core.models.ale import ALELoss, ALESegmenter
from zs3core.models.devise import CosineLoss, DeviseSegmenter, RankLoss
from zs3core.train.segmenter import SegmenterTraining, load_trained, train_segmenter

KINDS = ("seenonly", "supervised", "baseline", "ale")
EMBEDDING_KINDS = {"baseline": DeviseSegmenter, "ale": ALESegmenter}  # kinds that score class embeddings
TRAINING_KEYS = ("epochs", "batch_size", "lr", "head_lr_mult", "momentum", "weight_decay",
                 "poly_power", "num_workers", "amp")


def training_set(index_csv, class_names: Sequence[str], unseen: Sequence[str], seg_cfg: dict,
                 holdout: frozenset[str] = frozenset()) -> SegmentationDataset:
    """The training split as step 0 sees it: unseen classes dropped or voided, the held-out
    images (`zs3core.holdout`) left out, augmented."""
    # imported here: evaluation jobs import this module (load_step0) without paying torchvision's import
    from zs3core.data.augment import train_transform
    unseen_ids = [class_names.index(c) for c in unseen]
    mode = seg_cfg.get("unseen_pixels", "drop")
    if mode not in ("drop", "ignore"):
        raise ValueError(f"segmenter.unseen_pixels must be 'drop' or 'ignore', got {mode!r}")
    train = seg_cfg["train"]
    transform = train_transform(train["base_size"], train["crop_size"], tuple(train["scale"]))
    seen_only = without_classes(unseen) if mode == "drop" and unseen else (lambda row: True)
    return SegmentationDataset(index_csv, "train", transform,
                               keep=lambda row: row["image_id"] not in holdout and seen_only(row),
                               lut=void_lut(unseen_ids), cache=train.get("cache_images", False))


def build_model(kind: str, num_classes: int, seg_cfg: dict, embeddings: np.ndarray | None = None) -> nn.Module:
    """The network of one step-0 kind, freshly initialised as the config says."""
    if kind not in KINDS:
        raise ValueError(f"unknown segmenter kind {kind!r}, expected one of {KINDS}")
    if kind in EMBEDDING_KINDS:
        if embeddings is None:
            raise ValueError(f"the {kind} network needs the class embedding table")
        table = torch.as_tensor(embeddings, dtype=torch.float32)
        return EMBEDDING_KINDS[kind](build_segmenter(table.shape[1], seg_cfg), table)
    return build_segmenter(num_classes, seg_cfg)


def loss_function(kind: str, embeddings: np.ndarray | None = None, seen_ids: Sequence[int] = (),
                  devise: dict | None = None, ale: dict | None = None) -> nn.Module:
    """Cross-entropy; for the baseline the loss `devise` names (`rank` with its `margin`, or
    `cosine`) over the class embeddings; for ALE its ranking loss with `ale`'s `margin`. The
    ranking losses rank among the `seen_ids` only."""
    if kind not in EMBEDDING_KINDS:
        return nn.CrossEntropyLoss(ignore_index=255)
    table = torch.as_tensor(embeddings, dtype=torch.float32)
    if kind == "ale":
        return ALELoss(table, seen_ids, (ale or {"margin": 1.0})["margin"])  # config.yaml's `ale` default
    devise = devise or {"loss": "cosine", "margin": 0.1}  # config.yaml's `baseline` defaults
    if devise["loss"] == "rank":
        return RankLoss(table, seen_ids, devise["margin"])
    if devise["loss"] == "cosine":
        return CosineLoss(table)
    raise ValueError(f"baseline.loss must be 'rank' or 'cosine', got {devise['loss']!r}")


def init_from_seen_only(model: DeviseSegmenter, checkpoint) -> None:
    """Start the baseline (or ALE) from a trained seen-only segmenter: every weight but the classifier,
    which the projection to the embedding space replaces."""
    state, _ = load_trained(checkpoint, rebuild_hint=str(checkpoint))
    trunk = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing, unexpected = model.segmenter.load_state_dict(trunk, strict=False)
    if unexpected or set(missing) != {"classifier.weight", "classifier.bias"}:
        raise ValueError(f"{checkpoint} does not match the baseline's architecture "
                         f"(missing {missing}, unexpected {unexpected})")


def train_step0(kind: str, index_csv, class_names: Sequence[str], unseen: Sequence[str], seg_cfg: dict, *,
                out_path, work_dir, seed: int, embeddings: np.ndarray | None = None,
                init_checkpoint=None, holdout: frozenset[str] = frozenset(),
                log: logging.Logger | None = None) -> None:
    """Train one step-0 network and write its final weights atomically to `out_path`.

    `init_checkpoint`: for the baseline and ALE, a seen-only checkpoint to start its trunk from.
    `holdout`: training image ids it must not learn from (`zs3core.holdout`).
    """
    torch.manual_seed(seed)  # the initial weights are a function of the seed
    model = build_model(kind, len(class_names), seg_cfg, embeddings)
    if init_checkpoint is not None:
        init_from_seen_only(model, init_checkpoint)
    dataset = training_set(index_csv, class_names, unseen if kind != "supervised" else [], seg_cfg, holdout)
    if len(dataset) < seg_cfg["train"]["batch_size"]:
        raise ValueError(f"{index_csv}: only {len(dataset)} training images remain for {kind} "
                         f"(unseen: {list(unseen)}), fewer than one batch of {seg_cfg['train']['batch_size']}")
    if log:
        log.info("%s: %d training images (%d held-out ids left out), %d classes, unseen %s", kind, len(dataset),
                 len(holdout), len(class_names), list(unseen))
    cfg = SegmenterTraining(seed=seed, **{k: seg_cfg["train"][k] for k in TRAINING_KEYS})
    excluded = set(unseen)
    seen_ids = [i for i, c in enumerate(class_names) if c not in excluded]
    loss = loss_function(kind, embeddings, seen_ids, seg_cfg.get("devise"), seg_cfg.get("ale"))
    train_segmenter(model, dataset, loss, cfg, work_dir=work_dir, out_path=out_path, log=log)


def load_step0(kind: str, path, num_classes: int, seg_cfg: dict, embeddings: np.ndarray | None = None,
               rebuild_hint: str | None = None, device: str | torch.device | None = None) -> nn.Module:
    """A trained step-0 network in eval mode (no dropout, frozen batch-norm statistics), on
    `device` (default: CUDA when present, where evaluation and pseudo-labelling send images)."""
    model = build_model(kind, num_classes, {**seg_cfg, "init": "none"}, embeddings)
    state, _ = load_trained(path, rebuild_hint=rebuild_hint or str(path))
    model.load_state_dict(state)
    return model.eval().to(resolve_device(device))


def scorer(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-class scores for evaluation: logits, or for the baseline the cosine similarities
    (ALE: the bilinear compatibilities) to the class embeddings."""
    return model.scores if isinstance(model, DeviseSegmenter) else model
