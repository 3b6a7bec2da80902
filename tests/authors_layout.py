"""Fake files of the authors, built from their published layout (their DeepLab code's tensor names and
shapes), not from this project's model, so that a wrong key map cannot hide behind a test built from
the same map.

Names and shapes: `backbone.` + torchvision's resnet101 names (minus fc), then the ASPP and decoder
tensors as their DeepLab code names them; values seeded random (batch-norm variances positive). Files are
pickled as theirs were: {epoch, state_dict, optimizer, best_pred (a numpy float64)}, in torch's
legacy format with numpy 1's module name for the scalar (their files predate numpy 2).
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from torchvision.models import resnet101

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def authors_layout(num_classes: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of their DeepLab state dict -> its shape."""
    with torch.device("meta"):
        body = resnet101().state_dict()
    layout = {f"backbone.{k}": tuple(v.shape) for k, v in body.items() if not k.startswith("fc.")}

    def conv(name, cout, cin, k=1):
        layout[f"{name}.weight"] = (cout, cin, k, k)

    def bn(name, c):
        layout.update({f"{name}.{p}": () if p == "num_batches_tracked" else (c,) for p in BN})

    for i, k in enumerate((1, 3, 3, 3), start=1):
        conv(f"aspp.aspp{i}.atrous_conv", 256, 2048, k)
        bn(f"aspp.aspp{i}.bn", 256)
    conv("aspp.global_avg_pool.1", 256, 2048)
    bn("aspp.global_avg_pool.2", 256)
    conv("aspp.conv1", 256, 1280)
    bn("aspp.bn1", 256)
    conv("decoder.conv1", 48, 256)
    bn("decoder.bn1", 48)
    conv("decoder.last_conv.0", 256, 304, 3)
    bn("decoder.last_conv.1", 256)
    conv("decoder.last_conv.4", 256, 256, 3)
    bn("decoder.last_conv.5", 256)
    conv("decoder.pred_conv", num_classes, 256)
    layout["decoder.pred_conv.bias"] = (num_classes,)
    return layout


def authors_state_dict(num_classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded random values of the documented layout, scaled so activations stay moderate."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in authors_layout(num_classes).items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(1000)
        elif len(shape) == 4:  # conv: variance-preserving
            state[name] = torch.randn(shape, generator=g) / math.sqrt(shape[1] * shape[2] * shape[3])
        elif name.endswith("running_var"):
            state[name] = 0.75 + 0.5 * torch.rand(shape, generator=g)
        elif name.endswith(".weight"):  # batch-norm scale
            state[name] = 0.3 + 0.4 * torch.rand(shape, generator=g)
        else:  # batch-norm shift and mean, classifier bias
            state[name] = 0.1 * torch.randn(shape, generator=g)
    return state


def constant_state_dict(num_classes: int) -> dict[str, torch.Tensor]:
    """The documented layout with one stored value per tensor (stride-0 views): files of a few KB,
    for the tests in which the values do not matter."""
    return {name: torch.tensor(1000) if name.endswith("num_batches_tracked") else torch.ones(()).expand(shape)
            for name, shape in authors_layout(num_classes).items()}


def write_authors_file(path: Path, state: dict, **extra) -> Path:
    """Pickle `state` as the authors' files are pickled (see the module docstring)."""
    checkpoint = {"epoch": 50, "state_dict": state, "best_pred": np.float64(0.6873),
                  "optimizer": {"state": {}, "param_groups": [{"lr": 0.007, "momentum": 0.9, "params": [0, 1]}]},
                  **extra}
    buf = io.BytesIO()
    torch.save(checkpoint, buf, _use_new_zipfile_serialization=False)
    numpy2_name = b"numpy._core.multiarray\nscalar"
    assert numpy2_name in buf.getvalue(), "torch no longer pickles numpy scalars as expected"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().replace(numpy2_name, b"numpy.core.multiarray\nscalar"))
    return path
