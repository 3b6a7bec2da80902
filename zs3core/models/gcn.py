"""The graph-context (GC) generator: the GMMN with its two linear layers made graph convolutions.

Paper, section 2.2 and Figure 3: every node of a mask's region graph gets [its class
embedding, its own noise], and two graph-convolution layers (Kipf & Welling, the paper's [23])
turn them into one feature per node, so a region's generated feature depends on its neighbours:

    x = concat(a_v, z_v) per node -> A_hat x W1 + b1 -> LeakyReLU(0.2) -> Dropout(p)
      -> A_hat h W2 + b2 [-> ReLU if output_relu]

with A_hat the normalised adjacency with self-loops (`zs3core.graph`), passed as a sparse
(n, n) tensor. Same widths, initialisation, noise and dropout handling as the GMMN, which it
subclasses: with no adjacency (A_hat = I, every row an isolated node) it is exactly the GMMN,
which is how it generates pixel features and how `GMMN.generate` works on it unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zs3core.models.gmmn import GMMN


def graph_conv(x: Tensor, layer: nn.Linear, adjacency: Tensor | None) -> Tensor:
    """A_hat x W + b (the bias after propagation, as Kipf & Welling); plain `layer(x)` without A_hat."""
    if adjacency is None:
        return layer(x)
    return torch.sparse.mm(adjacency.to(x.device), F.linear(x, layer.weight)) + layer.bias


class GCNGenerator(GMMN):
    def forward(self, embeddings: Tensor, noise: Tensor | None = None, adjacency: Tensor | None = None, *,
                generator: torch.Generator | None = None, dropout: bool | None = None) -> Tensor:
        """Features (N, D) of N nodes from their class embeddings (N, E), noise (N, noise_dim) and
        the batch's A_hat (N, N); noise and dropout as `GMMN.forward`."""
        if noise is None:
            noise = self.sample_noise(embeddings.shape[0], generator)
        device = self.fc1.weight.device
        h = graph_conv(torch.cat([embeddings.to(device), noise.to(device)], dim=1), self.fc1, adjacency)
        h = self.hidden_dropout(F.leaky_relu(h, 0.2), generator, dropout)
        out = graph_conv(h, self.fc2, adjacency)
        return F.relu(out) if self.output_relu else out


def gcn_from_state(state: dict) -> GCNGenerator:
    """Rebuild a trained GC generator (eval mode, CPU) from its checkpoint dict."""
    model = GCNGenerator(**state["model"])
    model.load_state_dict(state["state_dict"])
    return model.eval()
