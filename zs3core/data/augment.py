"""Training augmentation (torchvision v2), the DeepLab recipe: random rescale of the short side
around a base size, random crop (padded with 0 for the image and 255 = void for the mask),
horizontal flip; the same geometry for image and mask, nearest for masks.
"""
from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from zs3core.data.transforms import IMAGENET_MEAN, IMAGENET_STD, VOID


def as_tv_tensors(image: torch.Tensor, mask: torch.Tensor) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """Tag the dataset's plain tensors, so that v2 moves the mask with the image."""
    return tv_tensors.Image(image), tv_tensors.Mask(mask)


def train_transform(base_size: int, crop_size: int, scale: tuple[float, float] = (0.5, 2.0),
                    mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """(uint8 image, int64 mask) -> randomly scaled (short side in [scale[0], scale[1]] x
    base_size), cropped and flipped (normalised float32 image, int64 mask)."""
    return v2.Compose([
        as_tv_tensors,
        v2.RandomResize(int(base_size * scale[0]), int(base_size * scale[1]) + 1),
        v2.RandomCrop(crop_size, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: VOID}),
        v2.RandomHorizontalFlip(),
        v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True),
        v2.Normalize(mean, std),
    ])
