"""Summarise a workflow run's job times per stage: each job's record (`zs3core.runlog.run_records`):
Snakemake's benchmark file (benchmarks/<stage>/<job>.tsv) or, for the cached rules that cannot
have one (`cache: True`), the resources line its job log ends with (logs/<stage>/<job>.log).

Prints, per stage folder: jobs, total wall seconds, total CPU seconds (what a shared machine does
not inflate as much), the slowest job, and the largest peak memory (max RSS). A job linked from
Snakemake's output cache ran in an earlier run: its log is empty and it is not counted.
Run after `make run`:  .venv/bin/python bench/stage_times.py [benchmarks] [logs] [-- TARGETS...]
With `-- TARGETS` (and any Snakemake arguments), only the jobs those targets need, as
`snakemake -n --forceall` lists them: e.g. `-- results/mechanisms.md`, the mechanisms bench's grid.
"""
import sys
from pathlib import Path

import pandas as pd

from zs3core.runlog import planned_jobs, run_records


def needed_jobs(args: list[str], folder: str, logs: str) -> set[str]:
    """The `run_records` keys of every job `snakemake -n --forceall <args>` lists."""
    keys = set()
    for job in planned_jobs(["--forceall", *args]):
        if job.benchmark:
            keys.add(str(Path(job.benchmark).relative_to(folder).with_suffix("")))
        if job.log:
            keys.add(str(Path(job.log).relative_to(logs).with_suffix("")))
    return keys


def main(folder: str = "benchmarks", logs: str = "logs", snakemake_args: list[str] = ()) -> None:
    keep = needed_jobs(list(snakemake_args), folder, logs) if snakemake_args else None
    rows = [{"rule": Path(job).parts[0], "job": Path(job).name, "seconds": record["wall"],
             "cpu_seconds": record["cpu"], "max_rss_mb": record["rss"]}
            for job, record in run_records(folder, logs).items() if keep is None or job in keep]
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
    args = sys.argv[1:]
    cut = args.index("--") if "--" in args else len(args)
    main(*args[:cut], snakemake_args=args[cut + 1:])
