"""Region graphs of segmentation masks: the context that the graph-context (GC) generator reads.

A mask's graph (paper, section 2.2): one node per 8-connected region of one label
(`zs3core.regions.connected_regions`, so node ids are the feature files' region ids), an edge
between two regions that touch. Void (255) is never a node. Where void separates two regions
(VOC's void object outlines) each void pixel counts as part of its nearest region for
adjacency only, so an outlined object stays a neighbour of what surrounds it; node membership
and region means ignore void, as the feature files do.

The matrix the generator propagates over (`gc.adjacency`, `ADJACENCIES`):
- `authors`: the binary matrix A of touching regions, no self-loops, no normalisation, as the
  authors' code (`construct_adj_mat`, pygcn's spmm(adj, x W) + b). A node's layer output sums
  its neighbours only, never itself; a mask with one region has no edge and no graph there.
- `kipf`: Kipf & Welling's normalised adjacency with self-loops (the paper's [23]):
  A_hat = D^-1/2 (A + I) D^-1/2, D the degree of A + I.
- `self_and_neighbours` (not the paper's): the same binary A as `authors`, which the generator
  pairs with separate weights for the node itself (`zs3core.models.gcn`).
- `self_and_mean_neighbours` (not the paper's): D^-1 A, the mean over a node's neighbours, with
  separate self weights as above: a sum grows with the number of neighbours, a mean does not, and
  the synthetic worlds' context sets a region's colour from its neighbours' mean
  (`world.context_dependence`).
`GraphSet` holds many graphs at once and batches any selection of them (repeats allowed) into
one block-diagonal sparse matrix, so a whole training step runs as one graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.ndimage
import torch

from zs3core.regions import connected_regions, region_adjacency


@dataclass(frozen=True)
class MaskGraph:
    """The graph of one mask: node classes (ids = region ids) and undirected edges a < b."""
    node_class: np.ndarray  # (R,) int64
    edges: np.ndarray  # (E, 2) int64


def mask_graph(label: np.ndarray) -> MaskGraph:
    """Nodes and edges of a label map; void bridges the regions on either side of it."""
    label = np.asarray(label)
    regions = connected_regions(label)
    n = int(regions.max()) + 1 if regions.size else 0
    node_class = np.zeros(n, dtype=np.int64)
    inside = regions >= 0
    node_class[regions[inside]] = label[inside]
    if n and not inside.all():  # void takes the id of its nearest region, for adjacency only
        nearest = scipy.ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True)
        regions = regions[tuple(nearest)]
    return MaskGraph(node_class, region_adjacency(regions).astype(np.int64))


def normalized_adjacency(n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A_hat = D^-1/2 (A + I) D^-1/2 of an n-node graph as COO entries (row, col, value)."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    row = np.concatenate([np.arange(n), edges[:, 0], edges[:, 1]])
    col = np.concatenate([np.arange(n), edges[:, 1], edges[:, 0]])
    degree = np.bincount(row, minlength=n).astype(np.float64)
    return row, col, (1.0 / np.sqrt(degree[row] * degree[col])).astype(np.float32)


def neighbour_adjacency(n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The binary A of an n-node graph (1 between touching regions, 0 on the diagonal) as COO entries."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    row, col = np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]])
    return row, col, np.ones(len(row), dtype=np.float32)


def mean_neighbour_adjacency(n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D^-1 A of an n-node graph (1 / degree between touching regions, rows summing to 1 where a
    node has a neighbour) as COO entries."""
    row, col, value = neighbour_adjacency(n, edges)
    return row, col, value / np.bincount(row, minlength=n)[row].astype(np.float32)


ADJACENCIES = {"authors": neighbour_adjacency, "kipf": normalized_adjacency,
               "self_and_neighbours": neighbour_adjacency, "self_and_mean_neighbours": mean_neighbour_adjacency}
SEPARATE_SELF = frozenset({"self_and_neighbours", "self_and_mean_neighbours"})  # with the node's own weights


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) over (starts, counts), without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, counts) + np.arange(counts.sum())


class GraphSet:
    """Region graphs of many masks, concatenated: node i of graph g is global node start[g] + i.

    `image` maps each graph back to the image (feature-file index) whose mask it is; `adjacency`
    names the matrix of each graph (`ADJACENCIES`).
    """

    def __init__(self, graphs: Sequence[MaskGraph], image: Sequence[int], adjacency: str):
        if len(graphs) != len(image):
            raise ValueError(f"{len(graphs)} graphs but {len(image)} image indices")
        if adjacency not in ADJACENCIES:
            raise ValueError(f"gc.adjacency must be one of {sorted(ADJACENCIES)}, got {adjacency!r}")
        self.image = np.asarray(image, dtype=np.int64)
        self.node_count = np.array([len(g.node_class) for g in graphs], dtype=np.int64)
        self.node_start = np.cumsum(self.node_count) - self.node_count
        self.node_class = (np.concatenate([g.node_class for g in graphs]) if graphs
                           else np.zeros(0, dtype=np.int64))
        self.node_graph = np.repeat(np.arange(len(graphs)), self.node_count)
        self.edge_count = np.array([len(g.edges) for g in graphs], dtype=np.int64)
        entries = [ADJACENCIES[adjacency](len(g.node_class), g.edges) for g in graphs]
        self.entry_count = np.array([len(e[0]) for e in entries], dtype=np.int64)
        self.entry_start = np.cumsum(self.entry_count) - self.entry_count
        cat = (lambda i, dtype: np.concatenate([e[i] for e in entries]) if entries else np.zeros(0, dtype))
        self.entry_row, self.entry_col, self.entry_value = cat(0, np.int64), cat(1, np.int64), cat(2, np.float32)

    def __len__(self) -> int:
        return len(self.node_count)

    def batch(self, graphs: np.ndarray) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
        """One block-diagonal graph of the selected graphs (repeats are separate copies).

        Returns the global node index of every batch node, the batch's matrix as a sparse
        (n, n) tensor, and the batch row of each selected graph's first node.
        """
        graphs = np.asarray(graphs, dtype=np.int64)
        counts = self.node_count[graphs]
        first = np.cumsum(counts) - counts
        entries = _ranges(self.entry_start[graphs], self.entry_count[graphs])
        shift = np.repeat(first, self.entry_count[graphs])
        index = torch.from_numpy(np.stack([self.entry_row[entries] + shift, self.entry_col[entries] + shift]))
        n = int(counts.sum())
        adjacency = torch.sparse_coo_tensor(index, torch.from_numpy(self.entry_value[entries]), (n, n),
                                            check_invariants=False)  # valid by construction
        return _ranges(self.node_start[graphs], counts), adjacency.coalesce(), first
