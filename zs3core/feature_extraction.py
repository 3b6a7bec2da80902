"""Run a frozen seen-only segmenter over a split and stream its pixel features to HDF5.

The segmenter runs in eval mode (no dropout, frozen batch-norm statistics) at each image's
original resolution; labels are downsampled to the feature grid by nearest neighbour (void
kept). Whether an image contains an unseen class is decided on its full-resolution label (the
index's `classes` column), since a small unseen region can vanish on the feature grid.

Speed: everything that needs only the label (downsampling, connected regions, region sizes,
pixel sampling: `plan_image`) runs in the DataLoader workers, in parallel with the model, and
images travel as uint8. The main loop runs the model on batches of consecutive equal-size
images, gathers the sampled rows and the region means where the feature map lives
(`image_rows`), so only a few hundred rows per image cross to the host, and on CUDA writes
batch i - 1 while the device computes batch i (pinned, asynchronous copies; an event says when
a batch's arrays are ready). CPU and CUDA share this one code path.
"""
from __future__ import annotations

import logging
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from zs3core.data.dataset import SegmentationDataset
from zs3core.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from zs3core.device import resolve_device
from zs3core.features import FeatureWriter
from zs3core.regions import connected_regions, downsample_labels, sample_pixels
from zs3core.models.deeplab import DeepLabV3Plus

BATCH_SIZE = 8  # images per forward pass where consecutive images have equal sizes


def feature_grid(height: int, width: int, stride: int = 4) -> tuple[int, int]:
    """The (h, w) of a DeepLabv3+ feature map for an image: ceil(H / 4), ceil(W / 4)."""
    return -(-height // stride), -(-width // stride)


def plan_image(mask: np.ndarray, grid: tuple[int, int], max_per_class: int, rng: np.random.Generator) -> dict:
    """Everything about one image that needs its label only, so that it can run in a worker.

    `index` packs what the device needs into one int64 array (one pinned copy per image):
    the sampled pixels, every pixel's region id (void -> R, a dummy region) and the R sizes.
    """
    label_small = downsample_labels(mask.astype(np.uint8), grid)
    regions = connected_regions(label_small)
    ids = regions.ravel()
    n_regions = int(ids.max()) + 1  # 0 when all void
    sizes = np.bincount(ids[ids >= 0], minlength=n_regions).astype(np.int32)
    pixels = sample_pixels(label_small, max_per_class, rng)
    index = np.concatenate([pixels, np.where(ids >= 0, ids, n_regions), sizes]).astype(np.int64)
    return {"label_small": label_small, "regions": regions, "sizes": sizes, "pixels": pixels, "index": index}


def image_rows(features: torch.Tensor, plan: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampled rows (n, D) and region means (R, D) of a (D, h, w) map, on its device."""
    flat = features.flatten(1).float()
    index = torch.from_numpy(plan["index"])
    if flat.device.type == "cuda":  # pinned, so the copy does not wait for the queued forward pass
        index = index.pin_memory()
    index = index.to(flat.device, non_blocking=True)
    n_regions = len(plan["sizes"])
    pixels, ids, sizes = index.split([len(plan["pixels"]), flat.shape[1], n_regions])
    # summed along dim 1 (pixels as columns): much faster than along dim 0 on the CPU
    sums = torch.zeros(flat.shape[0], n_regions + 1, device=flat.device).index_add_(1, ids, flat)
    return flat[:, pixels].T, (sums[:, :n_regions] / sizes.clamp(min=1)).T


class _PlannedImages(torch.utils.data.Dataset):
    """(uint8 image, plan, image_id, has_unseen) per image: the label-only work done in the worker.

    The image stays uint8 (a quarter of the bytes to move to the main process and the device);
    `_normalised` applies the evaluation transform where the model runs. The rng of image i is
    seeded with (seed, i), so the sample does not depend on the workers or the batching.
    """

    def __init__(self, dataset: SegmentationDataset, unseen: Sequence[str], max_per_class: int, seed: int):
        self.dataset, self.unseen = dataset, frozenset(unseen)
        self.max_per_class, self.seed = max_per_class, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        image, mask = self.dataset.read(i)
        plan = plan_image(mask.numpy(), feature_grid(*mask.shape[-2:]), self.max_per_class,
                          np.random.default_rng([self.seed, i]))
        row = self.dataset.rows[i]
        return image, plan, row["image_id"], not self.unseen.isdisjoint(row["classes"])


def _as_is(item):
    """Collate of single items: keeps the plan's numpy arrays (default_convert would not)."""
    return item


def equal_size_batches(items: Iterable[tuple], batch_size: int) -> Iterator[list[tuple]]:
    """Consecutive items whose images have the same size, at most `batch_size` per list, in order.

    One forward pass per batch instead of per image: at batch 1 a ResNet-101 forward on a GPU is
    bound by kernel launches, not by the device.
    """
    batch: list[tuple] = []
    for item in items:
        if batch and (len(batch) == batch_size or batch[0][0].shape != item[0].shape):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def _normalised(images: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """uint8 (3, H, W) images -> one float batch on `device`, normalised like `normalise_image`
    (dividing by 255 where it multiplies by 1/255: equal up to the last bit)."""
    x = torch.stack([image.to(device, non_blocking=True) for image in images]).float().div_(255)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


@torch.no_grad()
def extract_features(segmenter: DeepLabV3Plus, index_csv, split: str, class_names: Sequence[str],
                     unseen: Sequence[str], out_path, *, max_per_class: int, seed: int,
                     attrs: dict | None = None, num_workers: int = 0, batch_size: int = BATCH_SIZE,
                     device: str | None = None, log: logging.Logger | None = None) -> int:
    """Write `out_path` for every image of `split`; returns the number of images.

    Up to `batch_size` consecutive images of equal size share a forward pass (eval mode: the
    features do not depend on the batch).
    """
    device = resolve_device(device)
    segmenter = segmenter.eval().to(device)
    dataset = SegmentationDataset(index_csv, split)
    loader = torch.utils.data.DataLoader(_PlannedImages(dataset, unseen, max_per_class, seed), batch_size=None,
                                         collate_fn=_as_is, num_workers=num_workers,
                                         pin_memory=device.type == "cuda")
    feature_dim = segmenter.classifier.in_channels
    with FeatureWriter(out_path, feature_dim, class_names, unseen, max_per_class=max_per_class,
                       attrs=dict(attrs or {}, seed=seed, split=split)) as writer:

        def write(batch: list[tuple], ready: torch.cuda.Event | None) -> None:
            if ready is not None:
                ready.synchronize()
            for image_id, has_unseen, plan, rows, means in batch:
                writer.append(image_id, rows.numpy(), plan["pixels"], plan["label_small"], plan["regions"],
                              means.numpy(), plan["sizes"], has_unseen=has_unseen)

        pending = None
        with tqdm(total=len(dataset), desc=f"features {split}", mininterval=10) as progress:
            for batch in equal_size_batches(loader, batch_size):
                feats = segmenter.features(_normalised([item[0] for item in batch], device))
                done = []
                for (_, plan, image_id, has_unseen), image_feats in zip(batch, feats):
                    if tuple(image_feats.shape[-2:]) != plan["label_small"].shape:
                        raise ValueError(f"{image_id}: feature map {tuple(image_feats.shape[-2:])} is not "
                                         f"the expected grid {plan['label_small'].shape}")
                    rows, means = (t.to("cpu", non_blocking=True) for t in image_rows(image_feats, plan))
                    done.append((image_id, has_unseen, plan, rows, means))
                ready = torch.cuda.Event() if device.type == "cuda" else None
                if ready is not None:
                    ready.record()
                if pending is not None:
                    write(*pending)  # batch i - 1, while the device works on batch i
                pending = (done, ready)
                progress.update(len(batch))
        if pending is not None:
            write(*pending)
    if log:
        log.info("wrote %d %s images to %s", len(dataset), split, out_path)
    return len(dataset)
