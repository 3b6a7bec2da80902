"""Training checkpoints: atomic save, safe load, and RNG states that survive `weights_only` loading.

Every checkpoint is written through `zs3core.io.atomic_path` (a killed job leaves either the old
file or the new one, never half of one) and read back with `torch.load(..., weights_only=True)`,
so a checkpoint can only hold tensors and plain Python containers/scalars. `capture_rng_state`
converts the numpy and Python RNG states into such types.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from zs3core.io import atomic_path


class CorruptCheckpoint(ValueError):
    """A checkpoint file exists but cannot be read (truncated, corrupt, or not a checkpoint)."""


class CheckpointMismatch(ValueError):
    """A checkpoint is readable but belongs to another configuration than the one being run."""


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write `state` (tensors and plain Python values only) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())


# What a pickled numpy float64 scalar needs (the authors' `best_pred`), under numpy 2's name and the
# numpy 1 name their files were written with; no other non-tensor object is let through.
NUMPY_SCALAR_GLOBALS = [np._core.multiarray.scalar, (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),
                        np.dtype, np.dtypes.Float64DType]


def load_checkpoint(path: str | os.PathLike, rebuild_hint: str | None = None, *, foreign: bool = False) -> dict:
    """Load a checkpoint dict on the CPU with `weights_only=True`.

    `foreign`: a file written by other code (the authors' files, ImageNet backbones), in which numpy
    float64 scalars are allowed too (never `weights_only=False`, which would run whatever the file
    pickled). A missing file raises FileNotFoundError; a file that cannot be read as a checkpoint
    dict raises `CorruptCheckpoint`, whose message names the file, the refused object or read
    error, and what to do: for the workflow's own files, delete it and rerun
    `snakemake <rebuild_hint>` (the target that produces it), or the rule that wrote it; for a
    foreign file, what it may hold.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if foreign:
        todo = "expected only tensors, containers and numpy float64 scalars"
    elif rebuild_hint:
        todo = f"delete it and rerun `snakemake {rebuild_hint}`"
    else:
        todo = "delete it and rerun the Snakemake rule that writes it"
    try:
        with torch.serialization.safe_globals(NUMPY_SCALAR_GLOBALS if foreign else []):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, garbage, pickled objects refused by weights_only, ...
        found = re.search(r"WeightsUnpickler error: (.*?)(?: was not an allowed global|\n|$)", str(e))
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        reason = found.group(1) if found else f"{type(e).__name__}: {first}" if first else type(e).__name__
        raise CorruptCheckpoint(f"{path} is not a readable checkpoint ({reason}); {todo}") from e
    if not isinstance(state, dict):
        raise CorruptCheckpoint(f"{path} holds a {type(state).__name__}, not a checkpoint dict; {todo}")
    return state


def capture_rng_state() -> dict:
    """The torch (CPU and CUDA), numpy and Python RNG states, as weights_only-loadable values."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "python": {"version": int(version), "internal": list(internal), "gauss_next": gauss_next},
    }


def restore_rng_state(state: dict) -> None:
    """Inverse of `capture_rng_state` (CUDA states are restored only if as many devices exist)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
