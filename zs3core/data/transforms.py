"""Evaluation transforms: only dtype and normalisation, at the original resolution; or, as an
option, the authors' resize of the short side (`ShortSideResize`), so that their numbers can be
matched. torch and PIL only: the jobs that evaluate, extract features or pseudo-label do not
import torchvision (training's augmentation, `zs3core.data.augment`, does).
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VOID = 255


def normalise_image(image: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """uint8 (3, H, W) -> float32 scaled to [0, 1], minus `mean`, over `std`: torchvision v2's
    ToDtype(float32, scale=True) then Normalize, op for op, so the same bits as training's
    `zs3core.data.augment` normalisation."""
    if image.dtype != torch.uint8:
        raise TypeError(f"normalise_image expects a uint8 image, got {image.dtype}")
    x = image.to(torch.float32).mul_(1.0 / 255)
    mean = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    return x.sub(mean).div_(std)


class ShortSideResize:
    """The authors' evaluation resize (`FixScale` in their code): short side to `size`, long side
    truncated, image bilinear and mask nearest, by PIL as theirs, so the pixels are theirs."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = image.shape[-2:]
        oh, ow = (self.size, int(w * self.size / h)) if w > h else (int(h * self.size / w), self.size)
        rgb = Image.fromarray(image.permute(1, 2, 0).numpy()).resize((ow, oh), Image.BILINEAR)
        label = Image.fromarray(mask.numpy().astype(np.uint8)).resize((ow, oh), Image.NEAREST)
        return (torch.from_numpy(np.array(rgb)).permute(2, 0, 1),
                torch.from_numpy(np.array(label).astype(np.int64)))


class EvalTransform:
    """(uint8 image, mask) -> (normalised float32 image, int64 mask) at the original resolution
    (the standard: metrics on the full-size ground truth), or both resized to a short side of
    `short_side` pixels (the authors' 513)."""

    def __init__(self, short_side: int | None = None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.resize = ShortSideResize(short_side) if short_side else None
        self.mean, self.std = mean, std

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.resize is not None:
            image, mask = self.resize(image, mask)
        return normalise_image(image, self.mean, self.std), mask.to(torch.int64)
