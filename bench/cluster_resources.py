"""Per-rule time and memory peaks behind the SLURM profile's requests (profiles/slurm/config.yaml).

Writes VOC and Context trees in their real on-disk formats (tests/fixtures.py) of 20 training +
3 validation images at VOC's usual 500 x 375, and runs the rehearsal overlay on them
(config/rehearsal.yaml: ResNet-101, output stride 16, crop 312, batch 2, the first 16 images, a
few iterations per stage; step 0 for 2 epochs instead of 8, since a job's peak memory is reached
in its first steps and only its seconds grow with more) to Tables 1-4, the claims, the cross-validation reports, the figures,
predictions and the preflight, in `folder`. Then prints, per rule, the jobs, the slowest job's
seconds, the largest CPU seconds, max RSS and max PSS of Snakemake's benchmark files (each job's
rule read from a `--forceall` dry run of the same targets). RSS sums the job's processes (a data
loader's workers count the pages they share with their parent again); PSS shares them out, which
is closer to what a SLURM memory cgroup counts.

    .venv/bin/python bench/cluster_resources.py /tmp/measure [--cores 2]

A second call in the same folder only summarises (Snakemake finds nothing to do).
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fixtures import REHEARSAL_TABLES, make_context, make_voc  # noqa: E402

VOC_SIZE = (375, 500)  # height, width of most VOC and Context images
SHORTER = {"segmenter": {"train": {"epochs": 2}}}  # step 0's epochs (the baseline's stay the overlay's 2)
TARGETS = [*REHEARSAL_TABLES, "results/claims_voc.md", "results/claims_context.md", "results/cv_voc.md",
           "results/cv_context.md", "results/figures/voc_k2.png", "results/voc_k2_zs3_confusion.png",
           "results/fig5_voc.png", "predictions/voc_k2_zs3", "results/preflight_voc.md",
           "results/preflight_context.md"]


def write_inputs(folder: Path) -> Path:
    """The real-format trees and the user's config file pointing at them (absolute paths)."""
    raw = folder / "raw"
    voc_root, _ = make_voc(raw, [f"t{i}" for i in range(20)], ["v0", "v1", "v2"], size=VOC_SIZE)
    ctx = make_context(raw, [f"c{i}" for i in range(20)], ["d0", "d1", "d2"], size=VOC_SIZE)
    my = folder / "my.yaml"
    my.write_text(yaml.safe_dump({
        "datasets": {"voc": {"root": str(voc_root)},
                     "context": {"root": str(ctx.root), "labels": str(ctx.labels_dir), "splits": str(ctx.splits_dir)}},
        "predict": {"images": str(voc_root / "JPEGImages")}}))
    (folder / "shorter.yaml").write_text(yaml.safe_dump(SHORTER))
    return my


def snakemake(folder: Path, my: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(folder / "run"), *extra, *TARGETS,
           "--configfile", "config.yaml", str(my), "config/rehearsal.yaml", str(folder / "shorter.yaml")]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def jobs_by_rule(dry_run_log: str) -> list[tuple[str, str]]:
    """(rule, benchmark file) of every job a dry run lists."""
    pairs, rule = [], None
    for line in dry_run_log.splitlines():
        if m := re.match(r"(?:local)?rule (\w+):$", line.strip()):
            rule = m.group(1)
        elif m := re.match(r"benchmark: (\S+)$", line.strip()):
            pairs.append((rule, m.group(1)))
    return pairs


def summary(folder: Path, my: Path) -> pd.DataFrame:
    dry = snakemake(folder, my, "-n", "--forceall")
    rows = []
    for rule, tsv in jobs_by_rule(dry.stdout + dry.stderr):
        record = pd.read_csv(folder / "run" / tsv, sep="\t").iloc[-1]
        rows.append({"rule": rule, "seconds": float(record["s"]), "cpu_seconds": float(record["cpu_time"]),
                     "max_rss_mb": float(record["max_rss"]), "max_pss_mb": float(record["max_pss"])})
    df = pd.DataFrame(rows)
    return (df.groupby("rule").agg(jobs=("seconds", "size"), slowest_s=("seconds", "max"),
                                   cpu_s=("cpu_seconds", "max"), peak_rss_mb=("max_rss_mb", "max"),
                                   peak_pss_mb=("max_pss_mb", "max"))
            .sort_values("slowest_s", ascending=False).round(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--cores", default="2")
    args = parser.parse_args()
    folder = args.folder.resolve()
    my = folder / "my.yaml"
    if not my.exists():
        folder.mkdir(parents=True, exist_ok=True)
        my = write_inputs(folder)
    run = snakemake(folder, my, "--cores", args.cores)
    (folder / "snakemake.log").write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        sys.exit(f"the run failed; see {folder / 'snakemake.log'}")
    print(summary(folder, my).to_markdown())


if __name__ == "__main__":
    main()
