"""Joint image/mask transforms (torchvision v2): the same geometry for both, nearest for masks.

Training follows the DeepLab recipe: random rescale of the short side around a base size,
random crop (padded with 0 for the image and 255 = void for the mask), horizontal flip.
Evaluation keeps the original resolution: only dtype and normalisation; or, as an option, the
authors' resize of the short side (`ShortSideResize`), so that their numbers can be matched.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
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


class ShortSideResize:
    """The authors' evaluation resize (`FixScale` in their code): short side to `size`, long side
    truncated, image bilinear and mask nearest, by PIL as theirs, so the pixels are theirs."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, image: tv_tensors.Image, mask: tv_tensors.Mask) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        h, w = image.shape[-2:]
        oh, ow = (self.size, int(w * self.size / h)) if w > h else (int(h * self.size / w), self.size)
        rgb = Image.fromarray(image.permute(1, 2, 0).numpy()).resize((ow, oh), Image.BILINEAR)
        label = Image.fromarray(mask.numpy().astype(np.uint8)).resize((ow, oh), Image.NEAREST)
        return (tv_tensors.Image(torch.from_numpy(np.array(rgb)).permute(2, 0, 1)),
                tv_tensors.Mask(torch.from_numpy(np.array(label).astype(np.int64))))


def eval_transform(short_side: int | None = None, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """Original resolution (the standard: metrics on the full-size ground truth), or image and
    ground truth resized to a short side of `short_side` pixels (the authors' 513)."""
    return v2.Compose(([ShortSideResize(short_side)] if short_side else []) + _finish(mean, std))
