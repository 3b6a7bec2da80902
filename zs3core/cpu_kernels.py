"""The same bits on every x86-64 machine: the CPU kernels pinned to one instruction-set level.

torch (ATen), oneDNN, MKL, numpy and OpenBLAS each pick their kernels per instruction set at
load time (AVX2, AVX-512, AMX ...), and those kernels round differently; training amplifies a
last-bit difference into points of mIoU. So, before any of them loads, every job caps them at
AVX2 (x86-64-v3, which any x86-64 machine of the last decade has) through their own variables.
Then one commit and seed give the same files on every such machine (bench/expected_results.sha256).

`ZS3_CPU_KERNELS=native` (the workflow sets it from `compute.cpu_kernels`) leaves every library
its own choice; a variable the user set already is never overridden. GPUs are not covered:
CUDA kernels are neither pinned nor bit-identical across cards. Other processors (e.g. aarch64)
are left alone.
"""
from __future__ import annotations

import os
import platform
import sys
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
LIBRARIES = ("torch", "numpy")  # modules whose kernels are chosen when they load


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
    return added


def loaded_too_early() -> list[str]:
    """Libraries imported before the pin, whose kernels it cannot reach in this process."""
    return [name for name in LIBRARIES if name in sys.modules]
