"""How close each generator's unseen bank is to the real unseen features: MMD^2 per unseen class.

Separates "the generator did not learn what the world shows" from "the classifier does not use
it" (the mechanisms bench's GC control, docs/synthetic-data.md). For each run folder (the main
run and named variants under runs/), dataset, seed and bank, the biased multi-kernel MMD^2
(`zs3core.mmd.mmd2`, bandwidths 0.25-4 x the real rows' median squared distance) between up to
`n` real rows of each unseen class (the training feature file's rows of that class) and up to
`n` bank rows of it, averaged over the unseen classes.

    .venv/bin/python bench/gc_bank_mmd.py RUN_DIR:BANK [RUN_DIR:BANK ...] --datasets D [D ...] --k 2 --seeds 0 1 2
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from zs3core.banks import read_bank
from zs3core.features import FeatureFile
from zs3core.mmd import median_sq_distance, mmd2

RELATIVE_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)


def bank_mmd(features: Path, bank: Path, n: int, seed: int) -> float:
    """Mean over the bank's unseen classes of MMD^2(real rows, bank rows)."""
    rng = np.random.default_rng(seed)
    generated = read_bank(bank)
    values = []
    with FeatureFile(features) as ff:
        for name, c in zip(generated.unseen_classes, generated.unseen_class_ids):
            real = ff.read([name]).features
            fake = generated.features[generated.class_id == c]
            real = real[rng.permutation(len(real))[:n]]
            fake = fake[rng.permutation(len(fake))[:n]]
            scale = median_sq_distance(real)
            x, y = torch.from_numpy(real), torch.from_numpy(fake)
            values.append(float(mmd2(x, y, [b * scale for b in RELATIVE_BANDWIDTHS])))
    return float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("banks", nargs="+", help="RUN_DIR:BANK, e.g. .:gmmn or runs/gc_context_control:gc")
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    print("| dataset | " + " | ".join(args.banks) + " |")
    print("|---|" + "---:|" * len(args.banks))
    for dataset in args.datasets:
        cells = []
        for spec in args.banks:
            run, bank = spec.rsplit(":", 1)
            per_seed = []
            for seed in args.seeds:
                tag = f"_seed{seed}" if seed else ""
                per_seed.append(bank_mmd(Path(run) / f"features/{dataset}{tag}/k{args.k}/train.h5",
                                         Path(run) / f"banks/{dataset}{tag}/k{args.k}/{bank}.h5", args.n, seed))
            cells.append(f"{np.mean(per_seed):.3f} ± {np.std(per_seed, ddof=1) if len(per_seed) > 1 else float('nan'):.3f}")
        print(f"| {dataset} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
