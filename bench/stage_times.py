"""Summarise a workflow run's job times per stage: each job's record (`zs3core.runlog.run_records`):
Snakemake's benchmark file (benchmarks/<stage>/<job>.tsv) or, for the cached rules that cannot
have one (`cache: True`), the resources line its job log ends with (logs/<stage>/<job>.log).

Prints, per stage folder: jobs, total wall seconds, total CPU seconds (what a shared machine does
not inflate as much), the slowest job, and the largest peak memory (max RSS). A job linked from
Snakemake's output cache ran in an earlier run: its log is empty and it is not counted.
Run after `make run`:  .venv/bin/python bench/stage_times.py [benchmarks] [logs]
"""
import sys
from pathlib import Path

import pandas as pd

from zs3core.runlog import run_records


def main(folder: str = "benchmarks", logs: str = "logs") -> None:
    rows = [{"rule": Path(job).parts[0], "job": Path(job).name, "seconds": record["wall"],
             "cpu_seconds": record["cpu"], "max_rss_mb": record["rss"]}
            for job, record in run_records(folder, logs).items()]
    if not rows:
        sys.exit(f"no job records under {folder}/ or {logs}/: run the workflow first")
    df = pd.DataFrame(rows)
    summary = df.groupby("rule").agg(jobs=("job", "size"), seconds=("seconds", "sum"),
                                     cpu_seconds=("cpu_seconds", "sum"),
                                     slowest=("seconds", "max"), peak_rss_mb=("max_rss_mb", "max"))
    summary = summary.sort_values("seconds", ascending=False)
    total = summary["seconds"].sum()
    summary["share"] = (100 * summary["seconds"] / total).round(1).astype(str) + "%"
    print(summary.round(1).to_markdown())
    print(f"\ntotal job time {total / 60:.1f} min, CPU time {df['cpu_seconds'].sum() / 60:.1f} min, "
          f"over {len(df)} jobs")


if __name__ == "__main__":
    main(*sys.argv[1:])
