"""The cost of a partial rerun: the job time a config change reruns, as a fraction of a full run's.

In a directory holding a complete run (its outputs, .snakemake/metadata, benchmarks/ and logs/),
dry-runs the default target twice: with --forceall (every job of a full run) and with the config
change (what Snakemake would rerun). Each job costs its wall seconds (`zs3core.runlog.job_record`:
the `s` column of its benchmark file, or for the cached stages, which have none, the resources line
their log ends with); jobs with neither (linked from the cache, or not run by the measured run) are
counted as untimed. Extra arguments go to both dry runs, e.g. `--rerun-triggers mtime params input`
to leave code changes out.

Run after `make run`:  .venv/bin/python bench/partial_rerun.py generator.lr=0.0003 [snakemake args]
"""
import sys
import tempfile

import pandas as pd
import yaml

from zs3core.runlog import PlannedJob, job_record, planned_jobs


def override(assignments: list[str]) -> dict:
    """{"a.b": "1"} style KEY=VALUE strings (YAML values) -> a nested config dict."""
    config = {}
    for item in assignments:
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return config


def seconds(job: PlannedJob) -> float | None:
    record = job_record(job.benchmark, job.log)
    return None if record is None else record["wall"]


def main(argv: list[str]) -> None:
    changes = [a for a in argv if "=" in a and not a.startswith("-")]
    extra = [a for a in argv if a not in changes]
    if not changes:
        sys.exit(__doc__)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(override(changes), f)
        f.flush()
        rerun = set(planned_jobs([*extra, "--configfile", "config.yaml", f.name]))
    full = planned_jobs([*extra, "--forceall"])
    rows = [{"rule": job.rule, "rerun": job in rerun, "seconds": seconds(job)} for job in full]
    df = pd.DataFrame(rows)
    timed = df.dropna(subset=["seconds"])
    summary = timed.groupby("rule").apply(lambda g: pd.Series({
        "jobs": len(g), "rerun": int(g["rerun"].sum()), "seconds": g["seconds"].sum(),
        "rerun_seconds": g.loc[g["rerun"], "seconds"].sum()}), include_groups=False)
    print(summary.sort_values("seconds", ascending=False).round(1).to_markdown())
    total, partial = timed["seconds"].sum(), timed.loc[timed["rerun"], "seconds"].sum()
    untimed = df[df["seconds"].isna()]
    print(f"\n{' '.join(changes)} reruns {int(df['rerun'].sum())} of {len(df)} jobs: {partial:.0f} s of "
          f"{total:.0f} s job time = {100 * partial / total:.1f}% of the full run's compute")
    print(f"untimed (no benchmark file, no resources line in the log): {untimed['rule'].value_counts().to_dict()} "
          f"(of which rerun: {int(untimed['rerun'].sum())})")


if __name__ == "__main__":
    main(sys.argv[1:])
