"""Summarise a workflow run's job times per stage: Snakemake's benchmark files
(benchmarks/<stage>/<job>.tsv) and, for the cached rules that cannot have one (`cache: True`),
the resources line their job log ends with (logs/<stage>/<job>.log, `zs3core.runlog`).

Prints, per stage folder: jobs, total wall seconds, total CPU seconds (what a shared machine does
not inflate as much), the slowest job, and the largest peak memory (max RSS). A job linked from
Snakemake's output cache ran in an earlier run: its log is empty and it is not counted.
Run after `make run`:  .venv/bin/python bench/stage_times.py [benchmarks] [logs]
"""
import sys
from pathlib import Path

import pandas as pd

from zs3core.runlog import read_resources


def main(folder: str = "benchmarks", logs: str = "logs") -> None:
    rows = []
    for tsv in sorted(Path(folder).glob("*/**/*.tsv")):
        record = pd.read_csv(tsv, sep="\t").iloc[-1]
        rows.append({"rule": tsv.relative_to(folder).parts[0], "job": tsv.stem,
                     "seconds": float(record["s"]), "cpu_seconds": float(record["cpu_time"]),
                     "max_rss_mb": float(record["max_rss"])})
    for log in sorted(Path(logs).glob("*/**/*.log")):
        relative = log.relative_to(logs)
        record = None if (Path(folder) / relative).with_suffix(".tsv").exists() else read_resources(log)
        if record:
            rows.append({"rule": relative.parts[0], "job": log.stem, "seconds": record["wall"],
                         "cpu_seconds": record["cpu"], "max_rss_mb": record["rss"]})
    if not rows:
        sys.exit(f"no benchmark files under {folder}/: run the workflow first")
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
