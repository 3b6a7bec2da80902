"""The same bits on every x86-64 machine: the CPU kernels pinned to one instruction-set level.

torch (ATen), oneDNN, MKL, numpy and OpenBLAS each pick their kernels per instruction set at
load time (AVX2, AVX-512, AMX ...), and those kernels round differently; training amplifies a
last-bit difference into points of mIoU. So, before any of them loads, every job caps them at
AVX2 (x86-64-v3, which any x86-64 machine of the last decade has) through their own variables.
Then one commit and seed give the same files on every such machine (bench/expected_results.sha256).

`ZS3_CPU_KERNELS=native` leaves every library its own choice (the workflow sets it from
`compute.cpu_kernels` through `use_cpu_kernels`, and its jobs inherit it); a variable the user set
already is never overridden. GPUs are not covered:
CUDA kernels are neither pinned nor bit-identical across cards. Other processors (e.g. aarch64)
are left alone.
"""
from __future__ import annotations

import os
import platform
from typing import MutableMapping

SWITCH = "ZS3_CPU_KERNELS"
MODES = ("portable", "native")
PORTABLE = {
    "ATEN_CPU_CAPABILITY": "avx2",                            # torch's own vectorised kernels
    "DNNL_MAX_CPU_ISA": "AVX2",                               # oneDNN convolutions
    "MKL_CBWR": "AVX2",                                       # MKL matmuls (conditional reproducibility)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's AVX-512 loops
    "OPENBLAS_CORETYPE": "Haswell",                           # numpy's linear algebra
}
_ADDED: dict[str, str] = {}  # what pin_cpu_kernels set in this process's environment


def pin_cpu_kernels(environ: MutableMapping[str, str] = os.environ, machine: str | None = None) -> dict[str, str]:
    """Set the portable kernel variables that are not set yet; return those it set.

    Nothing is set with `ZS3_CPU_KERNELS=native` or on a processor that is not x86-64.
    """
    mode = environ.get(SWITCH, "portable")
    if mode not in MODES:
        raise ValueError(f"{SWITCH}={mode!r}: expected one of {MODES} (config key compute.cpu_kernels)")
    if mode == "native" or (machine or platform.machine()).lower() not in ("x86_64", "amd64"):
        return {}
    added = {k: v for k, v in PORTABLE.items() if k not in environ}
    environ.update(added)
    if environ is os.environ:
        _ADDED.update(added)
    return added


def use_cpu_kernels(mode: str) -> None:
    """Set the mode for the processes this one starts (the workflow's jobs): `portable` pins them,
    `native` takes back what the pin set here on import."""
    if mode not in MODES:
        raise ValueError(f"compute.cpu_kernels is {mode!r}, expected one of {MODES}")
    os.environ[SWITCH] = mode
    if mode == "native":
        for key, value in _ADDED.items():
            if os.environ.get(key) == value:
                del os.environ[key]
        _ADDED.clear()
    else:
        pin_cpu_kernels()
