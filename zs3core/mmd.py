"""Multi-bandwidth Gaussian-kernel maximum mean discrepancy (the GMMN loss of ZS3Net).

Kernels. For every bandwidth s: k_s(x, y) = exp(-|x - y|^2 / (2 s)). Bandwidths are in units
of SQUARED feature distance (the paper's {2, 5, 10, 20, 40, 60}, the authors' code's
{2, 5, 10, 20, 40, 80}).

Statistic. For samples x (n rows) and y (m rows), per kernel

    biased   MMD_s^2 = mean_{i,i'} k_s(x_i, x_i') + mean_{j,j'} k_s(y_j, y_j') - 2 mean_{i,j} k_s(x_i, y_j)
    unbiased MMD_s^2 = the same with the diagonal terms (i = i', j = j') left out of the first two
                       means, which then divide by n (n - 1) and m (m - 1)

and `mmd2` returns the sum over kernels (or each kernel's value with `per_kernel=True`). The
biased value is >= 0 and 0 (up to rounding) when x and y are the same set; for two
independent samples of ONE distribution it is positive (about 1/n). The unbiased value has
expectation 0 there and can be negative.

Loss. `mmd_loss` = sqrt(max(0, biased MMD^2 summed over kernels)), as in the authors' code
(`GMMNLoss.moment_loss`); this is what `zs3core.train.generator` minimises, averaged over the
classes of a step. Its gradient is 0 (not NaN) where the clamped value is 0.

Computation. One pairwise squared-distance matrix D2 of the stacked rows [x; y] per call, from
a single batched matmul (|a|^2 + |b|^2 - 2 a.b, clamped at 0, exact zeros on the diagonal),
then every kernel at once as exp(-D2[None] / (2 s[:, None, ...])) over the bandwidth vector
(kernels on the leading axis, which sums faster than a trailing one): no Python loop over rows
or kernels. The kernels are summed per pair (`_KernelSum`, whose backward keeps one
(..., N, N) tensor instead of S of them), and the biased statistic is the quadratic form
w^T K w with w = (1/n, ..., 1/n, -1/m, ..., -1/m) (two matrix-vector products). All functions
accept a leading batch dimension: x (B, n, D), y (B, m, D) give B independent statistics (one
per class) in one call; 2-D inputs give a scalar. Kernel values below exp(-60) = 8.8e-27 are
raised to it (`EXP_FLOOR`: float32 subnormals made exp about 10x slower on a CPU). Memory:
S B (n + m)^2 values (6 kernels x 16 classes x 256 rows: 25 MB in float32).

Groups of different sizes (`ragged_mmd_loss`): one loss per group of rows, pairs within a group
only, the groups padded to one batch.

Bandwidths: `zs3core.bandwidths` (the kernel modes and their default lists).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

REDUCTIONS = ("mean", "sum", "none")
# Kernel exponents are clamped at this floor: exp(-60) = 8.8e-27 is far below anything that
# matters, and float32 exp of smaller arguments gives subnormals, about 10x slower on a CPU.
EXP_FLOOR = -60.0


def pairwise_sq_dists(a: Tensor, b: Tensor | None = None) -> Tensor:
    """(..., n, m) squared Euclidean distances between the rows of a (..., n, D) and b (..., m, D).

    One batched matmul: |a_i|^2 + |b_j|^2 - 2 a_i.b_j, clamped at 0 (rounding can make it
    slightly negative). With b omitted (distances within a) the diagonal is exactly 0.
    """
    same = b is None
    b = a if same else b
    if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"a {tuple(a.shape)} and b {tuple(b.shape)} must share batch and feature dims")
    batch, n, m = a.shape[:-2], a.shape[-2], b.shape[-2]
    sq_a = (a * a).sum(-1)
    sq_b = sq_a if same else (b * b).sum(-1)
    norms = (sq_a.unsqueeze(-1) + sq_b.unsqueeze(-2)).reshape(-1, n, m)
    d2 = torch.baddbmm(norms, a.reshape(-1, n, a.shape[-1]), b.reshape(-1, m, b.shape[-1]).transpose(1, 2),
                       alpha=-2.0).reshape(*batch, n, m)
    if same:  # in place on the matmul's output (which its backward does not need)
        d2.diagonal(dim1=-2, dim2=-1).zero_()
    return d2.clamp_min_(0.0)


def _bandwidth_tensor(bandwidths: Sequence[float] | Tensor, like: Tensor) -> Tensor:
    s = torch.as_tensor(bandwidths, dtype=like.dtype, device=like.device).reshape(-1)
    if s.numel() == 0 or not bool((s > 0).all()):
        raise ValueError(f"bandwidths must be a non-empty list of positive numbers, got {bandwidths!r}")
    return s


class _KernelSum(torch.autograd.Function):
    """sum_s exp(c_s D2) for c_s = -1 / (2 s), all kernels at once, with a lean backward.

    The forward materialises every kernel, (S, ..., N, N), and reduces it in one pass to the
    kernel sum and its derivative sum_s c_s exp(c_s D2); only the latter, S times smaller, is kept
    for the backward (dL/dD2 = dL/dK * that). Plain autograd would keep and re-read the S-fold
    tensor: this halves the loss's backward time on a CPU. Bandwidths get no gradient.
    """

    @staticmethod
    def forward(ctx, d2: Tensor, scale: Tensor) -> Tensor:
        k = (d2.unsqueeze(0) * scale.reshape(-1, *([1] * d2.ndim))).clamp_min_(EXP_FLOOR).exp_()
        weights = torch.stack([torch.ones_like(scale), scale])  # (2, S)
        k_sum, k_grad = (weights @ k.reshape(scale.numel(), -1)).reshape(2, *d2.shape)
        ctx.save_for_backward(k_grad)
        return k_sum

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (k_grad,) = ctx.saved_tensors
        return grad * k_grad, None


def mmd2(x: Tensor, y: Tensor, bandwidths: Sequence[float] | Tensor, *, unbiased: bool = False,
         per_kernel: bool = False) -> Tensor:
    """Multi-kernel MMD^2 between samples x (..., n, D) and y (..., m, D).

    Returns the sum over kernels, shape (...) (a scalar for 2-D inputs), or with
    `per_kernel=True` one value per bandwidth, shape (..., S). Biased by default (see the module
    docstring); `unbiased=True` drops the within-sample diagonal terms (needs n, m >= 2).
    """
    if x.shape[:-2] != y.shape[:-2] or x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must share batch and feature dims")
    n, m = x.shape[-2], y.shape[-2]
    if n < 1 or m < 1 or (unbiased and min(n, m) < 2):
        raise ValueError(f"need at least {2 if unbiased else 1} rows in x and y, got {n} and {m}")
    s = _bandwidth_tensor(bandwidths, x)
    d2 = pairwise_sq_dists(torch.cat([x, y], dim=-2))  # (..., n+m, n+m), one matrix for all kernels
    scale = -0.5 / s
    if per_kernel:
        k = (d2.unsqueeze(0) * scale.reshape(-1, *([1] * d2.ndim))).clamp_min(EXP_FLOOR).exp_()  # (S, ..., n+m, n+m)
    else:  # the sum over kernels of each pair, with a backward that does not keep the S kernels
        k = _KernelSum.apply(d2, scale).unsqueeze(0)  # (1, ..., n+m, n+m)
    if unbiased:  # block sums; each kernel's diagonal is exp(0) = 1 (D2 is exactly 0 there)
        diagonal = 1.0 if per_kernel else float(s.numel())
        k_xx = k[..., :n, :n].sum((-2, -1)) - n * diagonal
        k_yy = k[..., n:, n:].sum((-2, -1)) - m * diagonal
        k_xy = k[..., :n, n:].sum((-2, -1))
        value = k_xx / (n * (n - 1)) + k_yy / (m * (m - 1)) - 2.0 * k_xy / (n * m)
    else:  # w^T K w with w = (1/n, ..., 1/n, -1/m, ..., -1/m): two matrix-vector products
        w = torch.cat([x.new_full((n,), 1.0 / n), x.new_full((m,), -1.0 / m)])
        value = ((k @ w) * w).sum(-1)  # (S or 1, ...)
    return value.movedim(0, -1) if per_kernel else value.squeeze(0)


def _safe_sqrt(value: Tensor) -> Tensor:
    """sqrt(max(value, 0)) with a zero (not infinite or NaN) gradient where the result is 0."""
    positive = value > 0
    return torch.where(positive, torch.where(positive, value, torch.ones_like(value)).sqrt(),
                       torch.zeros_like(value))


def mmd_loss(x: Tensor, y: Tensor, bandwidths: Sequence[float] | Tensor,
             reduction: str = "mean") -> Tensor:
    """The authors' GMMN loss: sqrt of the biased MMD^2 summed over kernels, clamped at 0.

    With batched inputs (B, n, D), (B, m, D) there is one loss per batch entry (class), reduced by
    `reduction`: 'mean' (what the generator training uses), 'sum' or 'none' (shape (B,)).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    loss = _safe_sqrt(mmd2(x, y, bandwidths))
    if reduction == "none" or loss.ndim == 0:
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def ragged_mmd_loss(x: Tensor, y: Tensor, counts: Sequence[int] | Tensor | np.ndarray,
                    bandwidths: Sequence[float] | Tensor) -> Tensor:
    """The mean over G groups of `mmd_loss` between each group's x rows and its y rows.

    x and y are (N, D): the rows of the groups one after the other, group g's the next counts[g]
    rows of both (x and y have the same group sizes, which may differ between groups). Only pairs
    within a group enter its statistic. Vectorised by padding every group to the largest: a
    (G, 2 n_max, 2 n_max) distance matrix whose padded rows get weight 0 in w^T K w, so they change
    nothing (memory S G (2 n_max)^2 in the forward). Used by the graph-context node term, one group
    per graph.
    """
    counts = torch.as_tensor(np.asarray(counts) if not isinstance(counts, Tensor) else counts,
                             dtype=torch.int64, device=x.device)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must both be (N, D)")
    if counts.ndim != 1 or counts.numel() == 0 or bool((counts < 1).any()) or int(counts.sum()) != x.shape[0]:
        raise ValueError(f"counts must be positive group sizes summing to {x.shape[0]} rows, got {counts.tolist()}")
    s = _bandwidth_tensor(bandwidths, x)
    n_max = int(counts.max())
    group = torch.repeat_interleave(torch.arange(len(counts), device=x.device), counts)
    position = torch.arange(x.shape[0], device=x.device) - (torch.cumsum(counts, 0) - counts)[group]
    padded = x.new_zeros(len(counts), 2 * n_max, x.shape[1])
    padded = padded.index_put((group, position), x).index_put((group, position + n_max), y)
    k = _KernelSum.apply(pairwise_sq_dists(padded), -0.5 / s)  # (G, 2 n_max, 2 n_max)
    inside = (torch.arange(n_max, device=x.device) < counts[:, None]).to(x.dtype) / counts[:, None].to(x.dtype)
    w = torch.cat([inside, -inside], dim=1)  # 1/n_g on group g's x rows, -1/n_g on its y rows, 0 on padding
    return _safe_sqrt(((k @ w.unsqueeze(-1)).squeeze(-1) * w).sum(-1)).mean()


def median_sq_distance(features: Tensor | np.ndarray) -> float:
    """Median over all distinct pairs i < j of |f_i - f_j|^2 of an (N, D) sample, in float64.

    numpy's median (the mean of the two middle values for an even number of pairs). The caller
    chooses the sample (N of a few thousand: N (N - 1) / 2 distances are held in memory).
    """
    f = torch.as_tensor(np.asarray(features) if not isinstance(features, Tensor) else features)
    f = f.detach().to("cpu", torch.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an (N >= 2, D) sample of features, got shape {tuple(f.shape)}")
    d2 = pairwise_sq_dists(f)
    upper = torch.triu_indices(f.shape[0], f.shape[0], offset=1)
    return float(np.median(d2[upper[0], upper[1]].numpy()))
