"""Per-job logging: everything a workflow script prints goes to the rule's `log:` file."""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

from zs3core.cpu_kernels import SWITCH


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
        finally:
            root.removeHandler(handler)
