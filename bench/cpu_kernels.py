"""What the CPU-kernel pin costs: the synthetic default's two hot loops, pinned against native.

Runs, in a fresh process per mode (the pin acts when torch loads), one torch thread each:
- a training step of the synthetic default's tiny DeepLabv3+ (synthvoc's segmenter section,
  batch 8, 64 x 64, 21 classes: forward, cross-entropy, backward, SGD);
- a GMMN step (16 classes x (128 real + 128 generated) rows of 64-d features, the MMD loss over
  5 bandwidths, backward, Adam),
and prints the median ms per step of each, `portable` (AVX2) against `native`, alternating the
modes over `--rounds` so that a busy machine slows both alike.

Usage: python bench/cpu_kernels.py [--steps 40] [--rounds 3]   (prints a Markdown table)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import zs3core, torch, yaml
from zs3core.models.deeplab import build_segmenter
from zs3core.config import stage_config
from zs3core.models.gmmn import build_gmmn
from zs3core.train.generator import resolve_config
from zs3core.mmd import mmd_loss
torch.set_num_threads(1)
steps = int(sys.argv[1])
config = yaml.safe_load(open("config.yaml"))
torch.manual_seed(0)
seg = build_segmenter(21, stage_config(config, "segmenter", "synthvoc")).train()
opt = torch.optim.SGD(seg.parameters(), lr=1e-3, momentum=0.9)
x, y = torch.rand(8, 3, 64, 64), torch.randint(0, 21, (8, 64, 64))
def seg_step():
    loss = torch.nn.functional.cross_entropy(seg(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
gcfg = resolve_config(stage_config(config, "generator", "synthvoc"))
gen = build_gmmn(gcfg, 300, 64, init_generator=torch.Generator().manual_seed(0)).train()
gopt = torch.optim.Adam(gen.parameters(), lr=1e-4)
table, real = torch.randn(16, 300), torch.randn(16, 128, 64)
bw = torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0]) * 128
noise_gen = torch.Generator().manual_seed(1)
a = table.repeat_interleave(128, dim=0)
def gen_step():
    fake = gen(a, generator=noise_gen).view(16, 128, 64)
    loss = mmd_loss(fake, real, bw)
    gopt.zero_grad(); loss.backward(); gopt.step()
out = {"capability": torch.backends.cpu.get_cpu_capability()}
for name, step in (("segmenter", seg_step), ("gmmn", gen_step)):
    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    out[name] = 1000 * (time.perf_counter() - t) / steps
print(json.dumps(out))
"""


def run(mode: str, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA", "MKL_CBWR",
                                                            "NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")}
    env["ZS3_CPU_KERNELS"] = mode
    out = subprocess.run([sys.executable, "-c", WORKER, str(steps)], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {"portable": [], "native": []}
    for _ in range(args.rounds):
        for mode in results:
            results[mode].append(run(mode, args.steps))
    print("| mode | kernels | segmenter step (ms) | GMMN step (ms) |\n|---|---|---:|---:|")
    for mode, runs in results.items():
        print(f"| {mode} | {runs[0]['capability']} | {statistics.median(r['segmenter'] for r in runs):.1f} | "
              f"{statistics.median(r['gmmn'] for r in runs):.1f} |")


if __name__ == "__main__":
    main()
