"""The GMMN feature generator of ZS3Net: G(a, z) maps a class embedding a and noise z to a feature.

    concat(a (E), z (noise_dim)) -> Linear(hidden) -> LeakyReLU(0.2) -> Dropout(p) -> Linear(D)
    [-> ReLU if output_relu]

as in the paper and the authors' code (Xavier-uniform weights, biases 0.01, as theirs). Choices
(the `generator:` config keys, config.yaml):
- `noise`: 'gaussian' (N(0, 1), the paper) or 'uniform' ([0, 1), the authors' code).
- `output_relu`: false (the paper: no output activation) or true (the segmenter's real features
  are post-ReLU, so they are never negative; a ReLU makes the generated ones so too).
- `bank.dropout_at_generation` (a generation setting, so changing it rewrites only the banks):
  true (config.yaml's default: dropout stays active when generating, as in the authors' code,
  which never switches its generator to eval mode; since the MMD was matched WITH dropout
  active, this samples the very distribution that was trained) or false (`generate` runs in
  eval mode, dropout off: the mean network).

Randomness: every random draw (noise, dropout masks, initial weights) can come from an explicit
`torch.Generator`, so a seed fixes the outcome without touching torch's global RNG. Noise is
drawn on the generator's device and moved to the model's, so a CPU generator gives the same noise
whichever device the network runs on.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NOISE_KINDS = ("gaussian", "uniform")
MODEL_KEYS = ("noise_dim", "noise", "hidden", "dropout", "output_relu")
GENERATE_CHUNK = 1 << 16  # rows generated per forward pass in `generate`


class GMMN(nn.Module):
    def __init__(self, embed_dim: int, feature_dim: int, *, noise_dim: int = 300,
                 noise: str = "gaussian", hidden: int = 256, dropout: float = 0.5,
                 output_relu: bool = False, init_generator: torch.Generator | None = None):
        super().__init__()
        if noise not in NOISE_KINDS:
            raise ValueError(f"noise must be one of {NOISE_KINDS}, got {noise!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if min(embed_dim, feature_dim, hidden) < 1 or noise_dim < 0:
            raise ValueError("embed_dim, feature_dim and hidden must be positive, noise_dim >= 0")
        self.embed_dim, self.feature_dim = int(embed_dim), int(feature_dim)
        self.noise_dim, self.noise, self.hidden = int(noise_dim), noise, int(hidden)
        self.dropout, self.output_relu = float(dropout), bool(output_relu)
        self.fc1 = nn.Linear(self.embed_dim + self.noise_dim, self.hidden)
        self.fc2 = nn.Linear(self.hidden, self.feature_dim)
        self.reset_parameters(init_generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-uniform weights and biases of 0.01 (the authors' `init_weights`)."""
        for layer in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.constant_(layer.bias, 0.01)

    def config(self) -> dict:
        """The constructor's keyword arguments (stored in checkpoints to rebuild the network)."""
        return {"embed_dim": self.embed_dim, "feature_dim": self.feature_dim,
                "noise_dim": self.noise_dim, "noise": self.noise, "hidden": self.hidden,
                "dropout": self.dropout, "output_relu": self.output_relu}

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, noise_dim) noise on the generator's device (the CPU without one)."""
        device = generator.device if generator is not None else torch.device("cpu")
        shape = (int(n), self.noise_dim)
        if self.noise == "gaussian":
            return torch.randn(shape, generator=generator, device=device)
        return torch.rand(shape, generator=generator, device=device)

    def forward(self, embeddings: Tensor, noise: Tensor | None = None, *,
                generator: torch.Generator | None = None, dropout: bool | None = None) -> Tensor:
        """Features (N, D) for per-row class embeddings (N, E) and noise (N, noise_dim).

        Noise is drawn from `generator` when omitted. Dropout is active when `dropout` says so
        (default: in training mode); its masks come from `generator` when one is given, from
        torch's global RNG otherwise.
        """
        if noise is None:
            noise = self.sample_noise(embeddings.shape[0], generator)
        device = self.fc1.weight.device
        h = self.fc1(torch.cat([embeddings.to(device), noise.to(device)], dim=1))
        out = self.fc2(self.hidden_dropout(F.leaky_relu(h, 0.2), generator, dropout))
        return F.relu(out) if self.output_relu else out

    def hidden_dropout(self, h: Tensor, generator: torch.Generator | None, dropout: bool | None) -> Tensor:
        """Dropout on the hidden layer, active in training mode unless `dropout` says otherwise;
        masks from `generator` when one is given (see `forward`)."""
        if not ((self.training if dropout is None else dropout) and self.dropout > 0):
            return h
        if generator is None:
            return F.dropout(h, self.dropout, training=True)
        keep = torch.rand(h.shape, generator=generator, device=generator.device)
        return h * ((keep >= self.dropout).to(h.device, h.dtype) / (1.0 - self.dropout))

    @torch.no_grad()
    def generate(self, embeddings: Tensor, n_per_class: int, generator: torch.Generator, *,
                 class_ids: Sequence[int] | Tensor | None = None,
                 dropout: bool = False) -> tuple[Tensor, Tensor]:
        """`n_per_class` synthetic features for each class, grouped by class in the given order.

        `embeddings` is the class table (C, E); `class_ids` picks its rows (default: all C).
        Returns (features (len(class_ids) * n, D) float32 on the model's device,
        class_ids (len(class_ids) * n,) int64 on the CPU). Deterministic for a given generator
        state: noise (and, with `dropout=True`, the dropout masks, see the module docstring) is
        drawn from it class by class. The network's training/eval mode is restored afterwards.
        """
        table = torch.as_tensor(embeddings, dtype=torch.float32)
        if table.ndim != 2 or table.shape[1] != self.embed_dim:
            raise ValueError(f"embeddings must be (C, {self.embed_dim}), got {tuple(table.shape)}")
        ids = (torch.arange(table.shape[0]) if class_ids is None
               else torch.as_tensor(class_ids, dtype=torch.int64).reshape(-1).cpu())
        if ids.numel() and (ids.min() < 0 or ids.max() >= table.shape[0]):
            raise ValueError(f"class ids {ids.tolist()} out of range for a table of {table.shape[0]} classes")
        n = int(n_per_class)
        if n < 0:
            raise ValueError(f"n_per_class must be >= 0, got {n}")
        device = self.fc1.weight.device
        was_training = self.training
        self.eval()
        try:
            chunks = []
            for c in ids.tolist():
                a = table[c].to(device)
                for start in range(0, n, GENERATE_CHUNK):
                    rows = min(GENERATE_CHUNK, n - start)
                    chunks.append(self(a.expand(rows, -1), self.sample_noise(rows, generator),
                                       generator=generator, dropout=dropout))
        finally:
            self.train(was_training)
        features = (torch.cat(chunks) if chunks else torch.zeros(0, self.feature_dim, device=device))
        return features.float(), ids.repeat_interleave(n)


def build_gmmn(cfg: dict, embed_dim: int, feature_dim: int,
               init_generator: torch.Generator | None = None) -> GMMN:
    """A fresh GMMN from the `generator:` config (only its MODEL_KEYS are read)."""
    return GMMN(embed_dim, feature_dim, **{k: cfg[k] for k in MODEL_KEYS if k in cfg},
                init_generator=init_generator)


def gmmn_from_state(state: dict) -> GMMN:
    """Rebuild a trained GMMN (eval mode, CPU) from a generator checkpoint dict."""
    model = GMMN(**state["model"])
    model.load_state_dict(state["state_dict"])
    return model.eval()
