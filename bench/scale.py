"""How each stage's time and peak memory grow with the number (and size) of images.

Runs the workflow to one ZS3Net row (`results/synthvoc_k2_zs3.csv`: world, index, seen-only
segmenter, features, generator, bank, classifier, evaluation) on a reduced synthetic world at 1x,
4x and 16x its images, and at 4x with images twice as large, each in a fresh folder; reads every
job's CPU time (steadier than wall time on a shared machine), wall time and peak RSS from its
record (`zs3core.runlog.run_records`: Snakemake's benchmark file, or for the cached stages, which
cannot have one, their log's resources line) and the feature file's rows; fits CPU t = a + b n per
stage (a: fixed cost, b: per image) and the exponent of growth between 4x and 16x.

    nice .venv/bin/python bench/scale.py [base_train_images]   # prints markdown tables
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

from zs3core.runlog import run_records

REPO = Path(__file__).resolve().parents[1]
TARGET = "results/synthvoc_k2_zs3.csv"
# Reduced run: one split, one epoch of step 0, few generator steps and classifier epochs.
BUDGET = {"segmenter": {"train": {"epochs": 1}}, "generator": {"iterations": 50}}
# Projection inputs: images per split, and the classes present per image, assumed (VOC: about
# 1.5 object classes plus background; Context's dense scenes: about 8); the preflight counts them.
REAL = {"voc": {"train": 10582, "val": 1449, "classes_per_image": 2.5},
        "context": {"train": 4998, "val": 5105, "classes_per_image": 8.0}}


def run(scale: int, image_size: int, base: int, workdir: Path) -> pd.DataFrame:
    world = {"n_train": base * scale, "n_val": max(4, base * scale // 5), "image_size": image_size}
    overrides = {"datasets": {"synthvoc": {"world": world, "segmenter": {
        "train": {"base_size": image_size, "crop_size": image_size}}}},
        "classifier": {"epochs": 2}, **BUDGET}
    (workdir / "scale.yaml").write_text(yaml.safe_dump(overrides))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "1", TARGET, "--configfile", str(REPO / "config.yaml"), str(workdir / "scale.yaml")]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    records = run_records(workdir / "benchmarks", workdir / "logs")
    rows = [{"stage": Path(job).parts[0], "seconds": record["cpu"], "wall": record["wall"],
             "peak_rss_mb": record["rss"]} for job, record in records.items()]
    with h5py.File(workdir / "features/synthvoc/k2/train.h5", "r") as f:
        feature_rows, n_images = int(f.attrs["n_rows"]), int(f.attrs["n_images"])
    df = pd.DataFrame(rows).groupby("stage", as_index=False).agg({"seconds": "sum", "wall": "sum", "peak_rss_mb": "max"})
    return df.assign(scale=scale, image_size=image_size, images=world["n_train"] + world["n_val"],
                     rows_per_image=feature_rows / n_images)


def fit(df: pd.DataFrame) -> pd.DataFrame:
    """Per stage over the 1x/4x/16x runs: fixed and per-image cost, exponent between 4x and 16x."""
    out = []
    for stage, g in df[df.image_size == df.image_size.min()].groupby("stage"):
        g = g.sort_values("images")
        b, a = np.polyfit(g.images, g.seconds, 1)
        mb, ma = np.polyfit(g.images, g.peak_rss_mb, 1)
        (n1, t1), (n2, t2) = g[["images", "seconds"]].values[-2:]
        exponent = np.log(t2 / t1) / np.log(n2 / n1)
        big = df[(df.stage == stage) & (df.image_size > df.image_size.min())].seconds
        same = g[g.scale == 4].seconds
        out.append({"stage": stage, **{f"cpu s @{s}x": round(float(g[g.scale == s].seconds.iloc[0]), 1) for s in g.scale},
                    "wall s @16x": round(float(g.wall.iloc[-1]), 1),
                    "fixed s": round(a, 1), "ms / image": round(1000 * b, 1), "exponent 4x->16x": round(exponent, 2),
                    "2x side (4x images) / 4x": round(float(big.iloc[0] / same.iloc[0]), 2) if len(big) else None,
                    "peak MB @16x": round(float(g.peak_rss_mb.iloc[-1]), 0), "MB / 1000 images": round(1000 * mb, 1)})
    return pd.DataFrame(out).sort_values("ms / image", ascending=False)


def main(base: int = 25) -> None:
    runs = []
    for scale, size in ((1, 64), (4, 64), (16, 64), (4, 128)):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(run(scale, size, base, Path(tmp)))
            print(f"done {scale}x at {size}px", file=sys.stderr)
    df = pd.concat(runs)
    print(fit(df).to_markdown(index=False))
    rows = df.groupby(["scale", "image_size"]).rows_per_image.first()
    print("\nfeature rows per training image:", rows.round(1).to_dict())
    print("\nprojection (features.max_per_class = 100, D = 256; float16 in the file, float32 in the classifier):")
    for name, real in REAL.items():
        n_rows = real["train"] * real["classes_per_image"] * 100
        print(f"- {name}: {real['train']:,} + {real['val']:,} images, ~{n_rows / 1e6:.1f} M feature rows per "
              f"split K, file ~{n_rows * (2 * 256 + 14) / 1e9:.1f} GB, classifier rows in memory "
              f"~{n_rows * 256 * 4 / 1e9:.1f} GB float32")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
