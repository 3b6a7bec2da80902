"""Run a frozen seen-only segmenter over a split and stream its pixel features to HDF5.

The segmenter runs in eval mode (no dropout, frozen batch-norm statistics) at each image's
original resolution; labels are downsampled to the feature grid by nearest neighbour (void
kept). Whether an image contains an unseen class is decided on its full-resolution label (the
index's `classes` column), since a small unseen region can vanish on the feature grid.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from zs3core.data.dataset import SegmentationDataset
from zs3core.data.transforms import eval_transform
from zs3core.features import FeatureWriter, downsample_labels
from zs3core.models.deeplab import DeepLabV3Plus


@torch.no_grad()
def extract_features(segmenter: DeepLabV3Plus, index_csv, split: str, class_names: Sequence[str],
                     unseen: Sequence[str], out_path, *, max_per_class: int, seed: int,
                     attrs: dict | None = None, num_workers: int = 0, device: str | None = None,
                     log: logging.Logger | None = None) -> int:
    """Write `out_path` for every image of `split`; returns the number of images."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    segmenter = segmenter.eval().to(device)
    dataset = SegmentationDataset(index_csv, split, eval_transform())
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=num_workers)
    unseen_set = set(unseen)
    feature_dim = segmenter.classifier.in_channels
    with FeatureWriter(out_path, feature_dim, class_names, unseen, max_per_class=max_per_class,
                       attrs=dict(attrs or {}, seed=seed, split=split)) as writer:
        for i, (image, mask, (image_id,)) in enumerate(tqdm(loader, desc=f"features {split}", mininterval=10)):
            feats = segmenter.features(image.to(device))[0].float().cpu().numpy()
            label_small = downsample_labels(mask[0].numpy().astype(np.uint8), feats.shape[-2:])
            has_unseen = not unseen_set.isdisjoint(dataset.rows[i]["classes"])
            writer.add(image_id, feats, label_small, np.random.default_rng([seed, i]), has_unseen=has_unseen)
    if log:
        log.info("wrote %d %s images to %s", len(dataset), split, out_path)
    return len(dataset)
