"""Per-job logging: everything a workflow script prints goes to the rule's `log:` file, which ends
with the job's resources (`RESOURCES_LINE`): the cached rules (`cache: True`) cannot have a
`benchmark:` file, so their wall time, CPU time and peak memory are read from here.
`job_record` reads a finished job's record from either, `run_records` every job's of a run folder,
and `dry_run_jobs` lists the files to read it from for every job of a `snakemake -n`; the bench
scripts use them."""
from __future__ import annotations

import contextlib
import csv
import logging
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, NamedTuple

from zs3core.cpu_kernels import SWITCH

RESOURCES_LINE = "job resources: wall {wall:.2f} s, cpu {cpu:.2f} s, max rss {rss:.1f} MB"
_RESOURCES = re.compile(r"job resources: wall ([\d.]+) s, cpu ([\d.]+) s, max rss ([\d.]+) MB")


def read_resources(log_path: str | os.PathLike) -> dict[str, float] | None:
    """The resources a finished job's log records (`RESOURCES_LINE`), None if it has none."""
    found = _RESOURCES.findall(Path(log_path).read_text(errors="replace"))
    return None if not found else dict(zip(("wall", "cpu", "rss"), map(float, found[-1])))


def job_record(benchmark: str | os.PathLike | None, log: str | os.PathLike | None) -> dict | None:
    """A finished job's wall and CPU seconds, peak RSS and PSS (MB): the last row of its benchmark
    file when it has one, else its log's `RESOURCES_LINE` (a cached rule's job: no PSS there).
    None when neither records it, as for a job linked from the cache (its log is empty)."""
    if benchmark and Path(benchmark).is_file():
        with open(benchmark, newline="") as f:
            row = list(csv.DictReader(f, delimiter="\t"))[-1]
        return {key: _number(row.get(column)) for key, column in
                (("wall", "s"), ("cpu", "cpu_time"), ("rss", "max_rss"), ("pss", "max_pss"))}
    record = read_resources(log) if log and Path(log).is_file() else None
    return None if record is None else {**record, "pss": None}


def run_records(benchmarks: str | os.PathLike, logs: str | os.PathLike) -> dict[str, dict]:
    """{"<stage>/.../<job>": its `job_record`} of every job of a run folder that has a benchmark file
    under `benchmarks` or a log under `logs` (the rules give both the same relative path); jobs
    with no record (linked from the cache, failed) are left out."""
    jobs = {str(tsv.relative_to(benchmarks))[:-len(".tsv")] for tsv in Path(benchmarks).glob("*/**/*.tsv")}
    jobs |= {str(log.relative_to(logs))[:-len(".log")] for log in Path(logs).glob("*/**/*.log")}
    records = {job: job_record(Path(benchmarks) / f"{job}.tsv", Path(logs) / f"{job}.log") for job in sorted(jobs)}
    return {job: record for job, record in records.items() if record is not None}


def _number(text: str | None) -> float | None:
    """A benchmark cell as a number; None for a missing column or Snakemake's NA (no sample taken)."""
    return None if text in (None, "", "NA") else float(text)


class PlannedJob(NamedTuple):
    """One job of a dry run: its rule and the files its record is read from (None: not declared)."""
    rule: str
    benchmark: str | None
    log: str | None


_JOB = re.compile(r"(?:local)?rule (\w+):")
_FILE = re.compile(r"(benchmark|log): (.+)")


def dry_run_jobs(text: str) -> list[PlannedJob]:
    """Every job a `snakemake -n` output lists: its rule, benchmark file and log, the files
    `job_record` reads (a cached rule's job has a log and no benchmark). Of several logs, the
    first, which `job_log` writes to."""
    jobs = []
    for line in map(str.strip, text.splitlines()):
        if match := _JOB.fullmatch(line):
            jobs.append({"rule": match.group(1), "benchmark": None, "log": None})
        elif (match := _FILE.fullmatch(line)) and jobs:
            jobs[-1][match.group(1)] = match.group(2).split(", ")[0]
    return [PlannedJob(**job) for job in jobs]


def planned_jobs(args: list[str]) -> list[PlannedJob]:
    """Every job `snakemake -n <args>` lists (run in the current folder), with its files; exits
    with Snakemake's message when the dry run fails."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"snakemake -n failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return dry_run_jobs(out.stdout)


def job_resources(started: float) -> dict[str, float]:
    """Wall seconds since `started` (a `time.perf_counter()`), CPU seconds and peak resident memory
    (MB) of this process and its finished children (data loader workers), as a benchmark file has."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return {"wall": time.perf_counter() - started, "cpu": cpu, "rss": max(own.ru_maxrss, children.ru_maxrss) / 1024}


@contextlib.contextmanager
def job_log(path: str | None, threads: int | None = None) -> Iterator[logging.Logger]:
    """Send logging, stdout and stderr (tracebacks, progress bars) of one job to `path`.

    `threads`: the rule's declared threads; torch uses exactly that many, so that jobs running
    side by side under `--cores N` never oversubscribe the machine.
    """
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if not path:
        yield logging.getLogger("zs3")
        return
    started = time.perf_counter()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as stream, \
            contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        log = logging.getLogger("zs3")
        if threads is not None:
            log.info("torch: %d thread(s), CPU kernels %s (%s)", threads, torch.backends.cpu.get_cpu_capability(),
                     os.environ.get(SWITCH, "portable"))
        try:
            yield log
        except BaseException:
            logging.getLogger("zs3").exception("job failed")
            raise
        else:
            log.info(RESOURCES_LINE.format(**job_resources(started)))
        finally:
            root.removeHandler(handler)
