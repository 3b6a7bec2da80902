"""Run a frozen seen-only segmenter over a split and stream its pixel features to HDF5.

The segmenter runs in eval mode (no dropout, frozen batch-norm statistics) at each image's
original resolution; labels are downsampled to the feature grid by nearest neighbour (void
kept). Whether an image contains an unseen class is decided on its full-resolution label (the
index's `classes` column), since a small unseen region can vanish on the feature grid.

Speed on CUDA: the sampled rows and the region means are computed where the feature map lives,
so only a few hundred rows per image cross to the host; everything that needs the label only
(downsampling, regions, sampling) is planned on the host, and image i is written while the
device already computes image i + 1 (pinned, asynchronous copies; an event says when image i's
arrays are ready). On the CPU the plain `FeatureWriter.add` path is used.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from zs3core.data.dataset import SegmentationDataset
from zs3core.data.transforms import eval_transform
from zs3core.features import FeatureWriter, connected_regions, downsample_labels, sample_pixels
from zs3core.models.deeplab import DeepLabV3Plus


def feature_grid(height: int, width: int, stride: int = 4) -> tuple[int, int]:
    """The (h, w) of a DeepLabv3+ feature map for an image: ceil(H / 4), ceil(W / 4)."""
    return -(-height // stride), -(-width // stride)


def plan_image(mask: np.ndarray, grid: tuple[int, int], max_per_class: int, rng: np.random.Generator) -> dict:
    """Everything about one image that needs its label only: done on the host before (and while)
    the device computes its features."""
    label_small = downsample_labels(mask.astype(np.uint8), grid)
    regions = connected_regions(label_small)
    ids = regions.ravel()
    valid = np.flatnonzero(ids >= 0)
    sizes = np.bincount(ids[valid], minlength=int(ids.max()) + 1 if valid.size else 0).astype(np.int32)
    return {"label_small": label_small, "regions": regions, "sizes": sizes, "valid": valid,
            "valid_ids": ids[valid], "pixels": sample_pixels(label_small, max_per_class, rng)}


def _device_index(values: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(values.astype(np.int64))
    if device.type == "cuda":  # pinned, so the copy does not wait for the queued forward pass
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def image_rows(features: torch.Tensor, plan: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampled rows (n, D) and region means (R, D) of a (D, h, w) map, on its device."""
    flat = features.flatten(1).float()
    rows = flat[:, _device_index(plan["pixels"], flat.device)].T
    sums = torch.zeros(len(plan["sizes"]), flat.shape[0], device=flat.device)
    sums.index_add_(0, _device_index(plan["valid_ids"], flat.device),
                    flat[:, _device_index(plan["valid"], flat.device)].T)
    sizes = torch.from_numpy(np.maximum(plan["sizes"], 1).astype(np.float32))
    return rows, sums / sizes.to(flat.device, non_blocking=True)[:, None]


@torch.no_grad()
def extract_features(segmenter: DeepLabV3Plus, index_csv, split: str, class_names: Sequence[str],
                     unseen: Sequence[str], out_path, *, max_per_class: int, seed: int,
                     attrs: dict | None = None, num_workers: int = 0, device: str | None = None,
                     log: logging.Logger | None = None) -> int:
    """Write `out_path` for every image of `split`; returns the number of images."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    segmenter = segmenter.eval().to(device)
    dataset = SegmentationDataset(index_csv, split, eval_transform())
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=num_workers,
                                         pin_memory=device.type == "cuda")
    unseen_set = set(unseen)
    feature_dim = segmenter.classifier.in_channels
    with FeatureWriter(out_path, feature_dim, class_names, unseen, max_per_class=max_per_class,
                       attrs=dict(attrs or {}, seed=seed, split=split)) as writer:

        def write(item: dict) -> None:
            item["ready"].synchronize()
            writer.append(item["image_id"], item["rows"].numpy(), item["pixels"], item["label_small"],
                          item["regions"], item["means"].numpy(), item["sizes"], has_unseen=item["has_unseen"])

        pending = None
        for i, (image, mask, (image_id,)) in enumerate(tqdm(loader, desc=f"features {split}", mininterval=10)):
            has_unseen = not unseen_set.isdisjoint(dataset.rows[i]["classes"])
            rng = np.random.default_rng([seed, i])
            feats = segmenter.features(image.to(device, non_blocking=True))[0]
            if device.type != "cuda":
                writer.add(image_id, feats.numpy(), downsample_labels(mask[0].numpy().astype(np.uint8),
                                                                      tuple(feats.shape[-2:])),
                           rng, has_unseen=has_unseen)
                continue
            plan = plan_image(mask[0].numpy(), feature_grid(*mask.shape[-2:]), max_per_class, rng)
            if tuple(feats.shape[-2:]) != plan["label_small"].shape:
                raise ValueError(f"{image_id}: feature map {tuple(feats.shape[-2:])} is not the expected "
                                 f"grid {plan['label_small'].shape}")
            rows, means = image_rows(feats, plan)
            item = dict(plan, image_id=image_id, has_unseen=has_unseen, ready=torch.cuda.Event(),
                        rows=rows.to("cpu", non_blocking=True), means=means.to("cpu", non_blocking=True))
            item["ready"].record()
            if pending is not None:
                write(pending)  # image i - 1, while the device works on image i
            pending = item
        if pending is not None:
            write(pending)
    if log:
        log.info("wrote %d %s images to %s", len(dataset), split, out_path)
    return len(dataset)
