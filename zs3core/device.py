"""Where torch work runs: one rule for every stage, so that a config's `device: auto` means the same
everywhere (CUDA when the machine has it, else the CPU), and asking for CUDA without it fails early."""
from __future__ import annotations

import torch


def resolve_device(name: str | torch.device | None = "auto", key: str = "device") -> torch.device:
    """`auto` or None: CUDA if available, else the CPU; otherwise the device named, which for
    'cuda' must exist (the error names the config `key` that asked for it)."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{key} is {str(name)!r} but no CUDA device is available")
    return device
