"""Joint image/mask transforms (torchvision v2): the same geometry for both, nearest for masks.

Training follows the DeepLab recipe: random rescale of the short side around a base size,
random crop (padded with 0 for the image and 255 = void for the mask), horizontal flip.
Evaluation keeps the original resolution: only dtype and normalisation.
"""
from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VOID = 255


def _finish(mean, std) -> list:
    return [v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True),
            v2.Normalize(mean, std)]


def train_transform(base_size: int, crop_size: int, scale: tuple[float, float] = (0.5, 2.0),
                    mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """Random scale of the short side in [scale[0], scale[1]] x base_size, crop, flip."""
    return v2.Compose([
        v2.RandomResize(int(base_size * scale[0]), int(base_size * scale[1]) + 1),
        v2.RandomCrop(crop_size, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: VOID}),
        v2.RandomHorizontalFlip(),
        *_finish(mean, std),
    ])


def eval_transform(mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """Original resolution: metrics are computed on the full-size ground truth."""
    return v2.Compose(_finish(mean, std))
