"""Speed of the vectorised multi-kernel MMD against loop references, on one GMMN training step.

Batch: 16 classes x (128 real + 128 generated) features, 6 bandwidths (the authors' code's
{2, 5, 10, 20, 40, 80}), feature dims 256 (DeepLabv3+) and 64 (the synthetic worlds' segmenter).

Rows of the table:
- vectorised loss      `zs3core.mmd.mmd_loss` on (16, 128, D) batches: one call, one distance matrix;
                       forward, and forward + backward
- vectorised step      generator forward + that loss + backward + Adam step (what train_gmmn runs)
- per-class torch loop a Python loop over classes, and over kernels inside (the authors' code's
                       structure, one matrix per class); forward, and forward + backward
- per-pair python loop explicit double sums over pairs and a loop over kernels (plain floats,
                       numpy only for each pair's distance), forward only; run on `--loop-classes`
                       classes and EXTRAPOLATED linearly to 16 (its cost is the same for every class)

Every reference's per-class losses are asserted equal to the vectorised ones (rtol 1e-4).
On one CPU thread the batched call and the per-class torch loop cost about the same (both are
bound by the exp and memory traffic of 6 x 16 x 256^2 kernel values; the batched backward is
~1.2x faster thanks to `_KernelSum`); the big gain on a CPU is over per-pair Python loops. On a
GPU the batched call replaces ~16 x 10 small kernel launches with ~10 (run with --device cuda).
Run: .venv/bin/python bench/mmd_speed.py [--device cpu|cuda] [--threads 1] [--loop-classes 1]
(about 20-30 s on one CPU core; each row is timed for at most ~2 s, median reported)
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from zs3core.bandwidths import CODE_BANDWIDTHS  # noqa: E402
from zs3core.mmd import mmd_loss  # noqa: E402
from zs3core.models.gmmn import GMMN  # noqa: E402

CLASSES, PER_CLASS, EMBED = 16, 128, 300


def timed(fn, repeats: int, device: torch.device, budget_s: float = 2.0) -> float:
    """Median seconds of up to `repeats` calls (fewer once `budget_s` is spent) after one warm-up."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    fn()
    sync()
    times = []
    while len(times) < repeats and sum(times) < budget_s:
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_class_torch_loop(fake, real, bandwidths):
    """Authors' structure: for each class, one distance matrix, a Python loop over kernels."""
    losses = []
    for x, y in zip(fake, real):
        z = torch.cat([x, y])
        sq = (z * z).sum(1, keepdim=True)
        d2 = (sq + sq.t() - 2 * z @ z.t()).clamp_min(0)
        n, m = len(x), len(y)
        w = torch.cat([torch.full((n,), 1.0 / n, device=z.device), torch.full((m,), -1.0 / m, device=z.device)])
        total = 0.0
        for s in bandwidths:
            total = total + w @ torch.exp(-d2 / (2 * s)) @ w
        losses.append(torch.sqrt(total.clamp_min(0)))
    return torch.stack(losses)


def per_pair_python_loop(fake, real, bandwidths):
    """Explicit double sums over pairs and a loop over kernels: the paper's formula as written."""
    losses = []
    for x, y in zip(fake.astype(np.float64), real.astype(np.float64)):
        n, m = len(x), len(y)
        total = 0.0
        for s in bandwidths:
            kxx = kyy = kxy = 0.0
            for i in range(n):
                for j in range(n):
                    d = x[i] - x[j]
                    kxx += math.exp(-float(d @ d) / (2 * s))
            for i in range(m):
                for j in range(m):
                    d = y[i] - y[j]
                    kyy += math.exp(-float(d @ d) / (2 * s))
            for i in range(n):
                for j in range(m):
                    d = x[i] - y[j]
                    kxy += math.exp(-float(d @ d) / (2 * s))
            total += kxx / n ** 2 + kyy / m ** 2 - 2 * kxy / (n * m)
        losses.append(math.sqrt(max(total, 0.0)))
    return np.array(losses)


def bench_dim(dim: int, device: torch.device, loop_classes: int, repeats: int) -> list[tuple]:
    g = torch.Generator().manual_seed(dim)
    model = GMMN(EMBED, dim, init_generator=g).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    table = torch.nn.functional.normalize(torch.randn(CLASSES, EMBED, generator=g), dim=1).to(device)
    # post-ReLU-like real features whose squared distances span the bandwidths
    real = (torch.randn(CLASSES, PER_CLASS, dim, generator=g) * 0.4 + torch.rand(CLASSES, 1, dim, generator=g)
            ).clamp_min(0).to(device)
    bw = torch.tensor(CODE_BANDWIDTHS, device=device)
    a = table.repeat_interleave(PER_CLASS, dim=0)
    noise_gen = torch.Generator(device=device).manual_seed(0)

    def step():
        fake = model(a, generator=noise_gen).view(CLASSES, PER_CLASS, dim)
        loss = mmd_loss(fake, real, bw)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        fake = model(a, generator=noise_gen).view(CLASSES, PER_CLASS, dim)
    vec = mmd_loss(fake, real, bw, reduction="none")
    loop_t = per_class_torch_loop(fake, real, CODE_BANDWIDTHS)
    np.testing.assert_allclose(loop_t.cpu().numpy(), vec.cpu().numpy(), rtol=1e-4)
    k = min(loop_classes, CLASSES)
    start = time.perf_counter()
    loop_p = per_pair_python_loop(fake[:k].cpu().numpy(), real[:k].cpu().numpy(), CODE_BANDWIDTHS)
    pair_seconds = (time.perf_counter() - start) * CLASSES / k
    np.testing.assert_allclose(loop_p, vec[:k].double().cpu().numpy(), rtol=1e-4)

    with torch.no_grad():
        t_vec = timed(lambda: mmd_loss(fake, real, bw), repeats, device)
        t_cls = timed(lambda: per_class_torch_loop(fake, real, CODE_BANDWIDTHS), repeats, device)
    leaf = fake.clone().requires_grad_()
    t_vec_bwd = timed(lambda: mmd_loss(leaf, real, bw).backward(), repeats, device)
    t_cls_bwd = timed(lambda: per_class_torch_loop(leaf, real, CODE_BANDWIDTHS).mean().backward(), repeats, device)
    t_step = timed(step, repeats, device)
    return [  # (dim, method, seconds, the vectorised row it is compared with, note)
        (dim, "vectorised loss (fwd)", t_vec, t_vec, "measured"),
        (dim, "vectorised loss fwd+bwd", t_vec_bwd, t_vec_bwd, "measured"),
        (dim, "vectorised step (G fwd+bwd+Adam)", t_step, t_step, "measured"),
        (dim, "per-class torch loop (fwd)", t_cls, t_vec, "measured"),
        (dim, "per-class torch loop fwd+bwd", t_cls_bwd, t_vec_bwd, "measured"),
        (dim, "per-pair python loop (fwd)", pair_seconds, t_vec, f"extrapolated from {k}/{CLASSES} classes"),
    ], float(vec.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--loop-classes", type=int, default=1, help="classes the per-pair loop runs on")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per row (at most ~2 s each)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: stable numbers on a shared 2-core machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{CLASSES} classes x ({PER_CLASS} real + {PER_CLASS} fake), {len(CODE_BANDWIDTHS)} bandwidths "
          f"{list(CODE_BANDWIDTHS)}")
    print(f"{'D':>4}  {'method':<34}{'ms/step':>11}{'time / vectorised (same pass)':>31}  note")
    for dim in (256, 64):
        rows, loss = bench_dim(dim, device, args.loop_classes, args.repeats)
        for d, name, seconds, base, note in rows:
            print(f"{d:>4}  {name:<34}{seconds * 1e3:>11.2f}{seconds / base:>31.1f}  {note}")
        print(f"      (mean per-class loss {loss:.5f}; every reference agrees to rtol 1e-4)")


if __name__ == "__main__":
    main()
