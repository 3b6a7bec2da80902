"""The graph-context (GC) generator: the GMMN with its two linear layers made graph convolutions.

Paper, section 2.2 and Figure 3: every node of a mask's region graph gets [its class
embedding, its own noise], and two graph-convolution layers (Kipf & Welling, the paper's [23])
turn them into one feature per node, so a region's generated feature depends on its neighbours:

    x = concat(a_v, z_v) per node -> A x W1 + b1 -> LeakyReLU(0.2) -> Dropout(p)
      -> A h W2 + b2 [-> ReLU if output_relu]

with A the batch's matrix of `gc.adjacency` (`zs3core.graph`: the authors' binary neighbour
matrix, or Kipf & Welling's A_hat), passed as a sparse (n, n) tensor. With `separate_self`
(`gc.adjacency: self_and_neighbours`, not the paper's) each layer is x W + A x W_nb + b
(GraphSAGE-like: a node's own input and the sum of its neighbours' through separate weights;
the W_nb have no bias). Same widths, initialisation, noise and dropout handling as the GMMN,
which it subclasses: with no adjacency (every row an isolated node) it is exactly the GMMN,
which is how it generates pixel features and how `GMMN.generate` works on it unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zs3core.models.gmmn import GMMN


def graph_conv(x: Tensor, layer: nn.Linear, adjacency: Tensor | None, neighbours: nn.Linear | None = None) -> Tensor:
    """A x W + b (the bias after propagation, as Kipf & Welling and pygcn); x W + A x W_nb + b with
    `neighbours` (W_nb); plain `layer(x)` without A."""
    if adjacency is None:
        return layer(x)
    if neighbours is None:
        return torch.sparse.mm(adjacency.to(x.device), F.linear(x, layer.weight)) + layer.bias
    return layer(x) + torch.sparse.mm(adjacency.to(x.device), neighbours(x))


class GCNGenerator(GMMN):
    def __init__(self, embed_dim: int, feature_dim: int, *, separate_self: bool = False,
                 init_generator: torch.Generator | None = None, **kwargs):
        super().__init__(embed_dim, feature_dim, init_generator=init_generator, **kwargs)
        self.separate_self = bool(separate_self)
        self.fc1_nb = self.fc2_nb = None
        if self.separate_self:  # drawn after fc1, fc2: those stay the GMMN's under the same seed
            self.fc1_nb = nn.Linear(self.fc1.in_features, self.hidden, bias=False)
            self.fc2_nb = nn.Linear(self.hidden, self.feature_dim, bias=False)
            for layer in (self.fc1_nb, self.fc2_nb):
                nn.init.xavier_uniform_(layer.weight, generator=init_generator)

    def config(self) -> dict:
        return {**super().config(), "separate_self": self.separate_self}

    def forward(self, embeddings: Tensor, noise: Tensor | None = None, adjacency: Tensor | None = None, *,
                generator: torch.Generator | None = None, dropout: bool | None = None) -> Tensor:
        """Features (N, D) of N nodes from their class embeddings (N, E), noise (N, noise_dim) and
        the batch's adjacency (N, N); noise and dropout as `GMMN.forward`."""
        if noise is None:
            noise = self.sample_noise(embeddings.shape[0], generator)
        device = self.fc1.weight.device
        h = graph_conv(torch.cat([embeddings.to(device), noise.to(device)], dim=1), self.fc1, adjacency, self.fc1_nb)
        h = self.hidden_dropout(F.leaky_relu(h, 0.2), generator, dropout)
        out = graph_conv(h, self.fc2, adjacency, self.fc2_nb)
        return F.relu(out) if self.output_relu else out


def gcn_from_state(state: dict) -> GCNGenerator:
    """Rebuild a trained GC generator (eval mode, CPU) from its checkpoint dict."""
    model = GCNGenerator(**state["model"])
    model.load_state_dict(state["state_dict"])
    return model.eval()
