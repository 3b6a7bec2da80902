"""What the workflow's HDF5 outputs (feature files, banks) share: one error, one completeness check.

Each is written under a temporary name with an attr `complete` = False, renamed over its target
once finished, and `complete` set True last; a reader refuses a file without it, of another
layout version, or lacking a dataset, with an error naming the file and the `snakemake` command
that rebuilds it.
"""
from __future__ import annotations

import os
from typing import Sequence

import h5py
import numpy as np


class CorruptHDF5(OSError):
    """An HDF5 output that is missing, unreadable, inconsistent or was never finished."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}. Rebuild it: `snakemake --forcerun {path}` "
                         f"(or delete {path} and rerun the workflow).")
        self.path = str(path)


def check_finished(h5: h5py.File, path: str | os.PathLike, layout_version: int, datasets: Sequence[str],
                   error: type[CorruptHDF5]) -> None:
    """Raise `error` unless `h5` is complete, of `layout_version` and holds every one of `datasets`."""
    attrs = h5.attrs
    complete = attrs.get("complete")
    if not (isinstance(complete, (bool, np.bool_)) and complete):
        raise error(path, "incomplete (its writer was interrupted)")
    if attrs.get("layout_version") != layout_version:
        raise error(path, f"layout version {attrs.get('layout_version')}, this code reads {layout_version}")
    missing = [name for name in datasets if not isinstance(h5.get(name), h5py.Dataset)]
    if missing:
        raise error(path, f"missing datasets {missing}")
