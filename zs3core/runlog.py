"""Per-job logging: everything a workflow script prints goes to the rule's `log:` file, which ends
with the job's resources (`RESOURCES_LINE`): the cached rules (`cache: True`) cannot have a
`benchmark:` file, so their wall time, CPU time and peak memory are read from here
(`bench/stage_times.py`)."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import resource
import time
from pathlib import Path
from typing import Iterator

from zs3core.cpu_kernels import SWITCH

RESOURCES_LINE = "job resources: wall {wall:.2f} s, cpu {cpu:.2f} s, max rss {rss:.1f} MB"
_RESOURCES = re.compile(r"job resources: wall ([\d.]+) s, cpu ([\d.]+) s, max rss ([\d.]+) MB")


def read_resources(log_path: str | os.PathLike) -> dict[str, float] | None:
    """The resources a finished job's log records (`RESOURCES_LINE`), None if it has none."""
    found = _RESOURCES.findall(Path(log_path).read_text(errors="replace"))
    return None if not found else dict(zip(("wall", "cpu", "rss"), map(float, found[-1])))


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
