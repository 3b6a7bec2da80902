"""Bilinear resizing as two matrix products, the same function as `F.interpolate(mode="bilinear")`.

Bilinear interpolation is separable: resizing (..., h, w) to (H, W) is A_h @ x @ A_w^T, with A
the (out, in) matrix of each axis's two-tap weights. On a CPU, torch's own kernel for NCHW maps
runs pixel by pixel over every channel: upsampling the 60-class logits of the synthetic default
(8 x 60 x 16 x 16 to 64 x 64) took 12 ms forward and 18 ms with backward on one thread, a third
of a training step, where the two products take about 2 ms (bench/README.md). The values agree
with F.interpolate to float rounding (tests/test_resize.py); the bits do not.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch
from torch import Tensor


@lru_cache(maxsize=64)
def _weights(n_in: int, n_out: int, align_corners: bool) -> Tensor:
    """(n_out, n_in) float64 interpolation matrix of one axis, PyTorch's source-index rule:
    align_corners maps the corner pixels' centres onto each other, otherwise the pixel edges
    (src = (dst + 0.5) * n_in / n_out - 0.5, clamped at 0)."""
    dst = torch.arange(n_out, dtype=torch.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else torch.zeros_like(dst)
    else:
        src = ((dst + 0.5) * (n_in / n_out) - 0.5).clamp(min=0)
    lo = src.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    frac = src - lo
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    matrix.index_put_((rows, lo), 1 - frac, accumulate=True)
    matrix.index_put_((rows, hi), frac, accumulate=True)
    return matrix


def resize_bilinear(x: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """x (..., h, w) resized bilinearly to (..., size[0], size[1]), in x's dtype (also under autocast,
    as F.interpolate)."""
    (h, w), (out_h, out_w) = x.shape[-2:], (int(size[0]), int(size[1]))
    a_h = _weights(h, out_h, align_corners).to(x.device, x.dtype)
    a_w = _weights(w, out_w, align_corners).to(x.device, x.dtype)
    with torch.autocast(x.device.type, enabled=False):
        return a_h @ x @ a_w.T
