"""Adding classes by name to a trained split and predicting a folder of images: the wall clock.

In a directory holding a trained split (e.g. after `snakemake results/synthvoc_k2_zs3.csv` there:
the seen-only checkpoint, features, CV gamma and generator exist), copies the first N test images
of the dataset into `named_bench_images/`, then times `snakemake predictions/{dataset}_k{K}_named`
with `predict.classes` = the names, forcing its three jobs (the extended table, the classifier, the
predictions), then the same command again (nothing to do: the cost of the DAG and the name checks).
Prints the wall clock of both and the two timed jobs' own seconds (their benchmark files).

Run: .venv/bin/python bench/named_classes.py /tmp/run [--names giraffe truck] [--n 100] [--cores 2]
"""
import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from zs3core.data.index import read_index
from zs3core.named import named_tag, new_names

REPO = Path(__file__).resolve().parents[1]


def snakemake(directory: Path, target: str, config: str, cores: int, *extra: str) -> float:
    """Seconds `snakemake <target>` takes in `directory` (exits with its output if it fails)."""
    argv = [sys.executable, "-m", "snakemake", target, "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(directory), "--cores", str(cores), "--config", config, *extra]
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"snakemake failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--dataset", default="synthvoc")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--names", nargs="+", default=["giraffe", "truck"])
    parser.add_argument("--n", type=int, default=100, help="test images to predict")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    images = args.directory / "named_bench_images"
    shutil.rmtree(images, ignore_errors=True)
    images.mkdir()
    rows = [r for r in read_index(args.directory / f"data/{args.dataset}/index.csv") if r["split"] == "val"]
    for row in rows[:args.n]:
        shutil.copy(args.directory / row["image"], images)
    config = f"predict={{images: {images}, classes: [{', '.join(args.names)}]}}"
    target = f"predictions/{args.dataset}_k{args.k}_named"

    cold = snakemake(args.directory, target, config, args.cores, "--forcerun", "named_embeddings")
    cached = snakemake(args.directory, target, config, args.cores)
    classes = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"][args.dataset]["classes"]
    tag = named_tag(new_names(classes, args.names))
    jobs = {"named_embeddings": f"benchmarks/embeddings/spacy_md/{args.dataset}_named_{tag}.tsv",
            "retrain_named": f"benchmarks/retrain/{args.dataset}_k{args.k}_named_{tag}.tsv"}
    print(f"{args.names} added to {args.dataset} K={args.k}, {min(args.n, len(rows))} images predicted, "
          f"--cores {args.cores}: {cold:.1f} s wall clock; again (cached, nothing to do): {cached:.1f} s")
    for rule, path in jobs.items():
        print(f"  {rule}: {pd.read_csv(args.directory / path, sep=chr(9))['s'].iloc[-1]:.1f} s (its benchmark file)")


if __name__ == "__main__":
    main()
