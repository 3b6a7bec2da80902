"""Per-rule time and memory peaks behind the SLURM profile's requests (profiles/slurm/config.yaml).

Writes VOC and Context trees in their real on-disk formats (tests/fixtures.py) of 20 training +
3 validation images at VOC's usual 500 x 375, and runs the rehearsal overlay on them
(config/rehearsal.yaml: ResNet-101, output stride 16, crop 312, batch 2, the first 16 images, a
few iterations per stage; step 0 for 2 epochs instead of 8, since a job's peak memory is reached
in its first steps and only its seconds grow with more) to Tables 1-4, the claims, the cross-validation reports, the figures,
predictions and the preflight, in `folder`. Then prints, per rule, the jobs, the slowest job's
seconds, the largest CPU seconds, max RSS and max PSS of each job's record
(`zs3core.runlog.job_record`; each job's rule, benchmark file and log read from a `--forceall`
dry run of the same targets): Snakemake's benchmark file, or for the cached rules, which cannot
have one, the resources line their log ends with. A benchmark's RSS sums the job's processes (a
data loader's workers count the pages they share with their parent again); PSS shares them out,
which is closer to what a SLURM memory cgroup counts. A log has no PSS, and its RSS is the largest
single process's peak (getrusage): the table's footnote names the rules measured that way.

    .venv/bin/python bench/cluster_resources.py /tmp/measure [--cores 2]

A second call in the same folder only summarises (Snakemake finds nothing to do).
"""
import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fixtures import REHEARSAL_TABLES, make_context, make_voc  # noqa: E402

from zs3core.runlog import dry_run_jobs, job_record  # noqa: E402

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


def summary(folder: Path, my: Path) -> tuple[pd.DataFrame, str]:
    """The per-rule table and its footnote: the rules timed from their logs, the jobs with no record."""
    dry = snakemake(folder, my, "-n", "--forceall")
    run = folder / "run"
    rows, untimed = [], []
    for job in dry_run_jobs(dry.stdout + dry.stderr):
        record = job_record(job.benchmark and run / job.benchmark, job.log and run / job.log)
        if record is None:
            untimed.append(job.rule)
        else:
            benchmarked = job.benchmark is not None and (run / job.benchmark).is_file()
            rows.append({"rule": job.rule, "from_log": not benchmarked, **record})
    df = pd.DataFrame(rows).astype({"wall": float, "cpu": float, "rss": float, "pss": float})  # None: NaN
    table = (df.groupby("rule").agg(jobs=("wall", "size"), slowest_s=("wall", "max"), cpu_s=("cpu", "max"),
                                    peak_rss_mb=("rss", "max"), peak_pss_mb=("pss", "max"))
             .sort_values("slowest_s", ascending=False).round(1))
    from_log = sorted(set(df.loc[df["from_log"], "rule"]))
    note = (f"Timed from the job log's resources line (no benchmark file; the cached rules cannot have one): "
            f"{', '.join(from_log) or 'none'}. A log has no PSS (left empty), and its RSS is the largest "
            f"single process's peak, not the sum over the job's processes a benchmark file has.")
    if untimed:
        note += f" No record at all (no benchmark file, no resources line): {', '.join(sorted(set(untimed)))}."
    return table, note


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
    table, note = summary(folder, my)
    print(table.astype(object).where(table.notna(), "").to_markdown())
    print(f"\n{note}")


if __name__ == "__main__":
    main()
