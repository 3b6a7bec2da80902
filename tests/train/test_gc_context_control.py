"""Positive control of the graph-context generator: where a class's features depend only on its
neighbour, GC's bank matches the real features better than the GMMN's (MMD).

The toy: background, two anchor classes a and b, and two "chameleon" classes m (seen) and u
(unseen) with nearly the same embedding. A chameleon region (inside an anchor block, so the
graph is the path background - anchor - chameleon) has features set by its anchor (P inside a,
Q inside b), never by its own class. Every unseen image has u inside a, so u's real features lie
at P. The GMMN sees only u's embedding (near m's, whose pixels lie at P and Q), while GC sees u's
neighbours in the masks: only GC can put u at P.

Measured: it does not (GC's bank for u sits near a's features, its node term hardly falls at the
configured weight 0.1: 1.09 -> 1.05 over 300 steps; at weight 1 and 1000 steps 0.70, with m's
nodes still a blend of a and b). One cause is structural and tested below: the paper's graph
convolution (Kipf & Welling, shared weights for a node and its neighbours) gives every node of
a clique the same input, so in any two-region mask, or three mutually touching regions, GC
cannot tell a node from its neighbours.
"""
import numpy as np
import pytest
import torch

from fixtures import config_section
from zs3core.banks import read_bank
from zs3core.features import FeatureWriter
from zs3core.mmd import median_sq_distance, mmd2
from zs3core.train.generator import train_gmmn, write_bank
from zs3core.train.graph_context import train_gc, write_gc_bank

CLASSES = ["background", "a", "b", "m", "u"]
UNSEEN = ["u"]
D = 4
ANCHOR_MEANS = np.array([[0, 0, 0, 0], [4.0, 0, 0, 0], [0, 4.0, 0, 0]])  # background, a, b
CHAMELEON = {1: np.array([0, 0, 4.0, 4.0]), 2: np.array([0, 0, 4.0, -4.0])}  # P next to a, Q next to b
EMBEDDINGS = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 0.2]],
                      dtype=np.float32)
NOISE = 0.3
SMALL = {"bandwidth_mode": "relative", "noise_dim": 4, "hidden": 32, "lr": 5e-3, "iterations": 300,
         "real_per_class": 32, "fake_per_class": 32, "log_every": 50, "device": "cpu", "median_sample": 400,
         "classes_per_step": None}

pytestmark = pytest.mark.usefixtures("one_thread")


def toy_images(rng):
    """(label map, chameleon class or 0): an anchor block with a chameleon block beside it."""
    out = []
    for i in range(48):
        unseen = i >= 36
        anchor = 1 if unseen else 1 + i % 2
        label = np.zeros((8, 8), dtype=np.uint8)
        y, x = rng.integers(0, 4, size=2)
        label[y:y + 5, x:x + 5] = anchor
        label[y + 1:y + 4, x + 1:x + 4] = 4 if unseen else 3
        out.append(label)
    return out


def features_of(label, rng):
    mean = np.zeros((8, 8, D))
    for c in (0, 1, 2):
        mean[label == c] = ANCHOR_MEANS[c]
    anchor = int(label[(label == 1) | (label == 2)][0])
    mean[label >= 3] = CHAMELEON[anchor]
    return (mean + NOISE * rng.normal(size=mean.shape)).transpose(2, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def banks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("control")
    rng = np.random.default_rng(0)
    path, real_u = tmp / "train.h5", []
    with FeatureWriter(path, D, CLASSES, UNSEEN, max_per_class=20) as writer:
        for i, label in enumerate(toy_images(rng)):
            feats = features_of(label, rng)
            writer.add(f"img{i:02d}", feats, label, rng)
            real_u.append(feats.transpose(1, 2, 0)[label == 4])
    gmmn_cfg = {**config_section("generator"), **SMALL}
    gc_cfg = {**config_section("gc"), **SMALL, "nodes_per_class": 16}
    train_gmmn(path, EMBEDDINGS, gmmn_cfg, tmp / "gmmn.pt", seed=0, loss_csv=tmp / "gmmn.csv")
    write_bank(tmp / "gmmn.pt", EMBEDDINGS, [4], 200, tmp / "gmmn.h5", seed=0, class_names=CLASSES)
    train_gc(path, EMBEDDINGS, gc_cfg, tmp / "gc.pt", seed=0, loss_csv=tmp / "gc.csv")
    write_gc_bank(tmp / "gc.pt", path, EMBEDDINGS, 200, tmp / "gc.h5", seed=0)
    return np.concatenate(real_u), read_bank(tmp / "gmmn.h5").features, read_bank(tmp / "gc.h5").features


@pytest.mark.xfail(strict=True, reason="GC does not learn neighbour-set features (module docstring)")
def test_gc_bank_matches_context_dependent_features_better_than_the_gmmn(banks):
    real, gmmn, gc = banks
    scale = median_sq_distance(real if len(real) < 400 else real[:400]) + median_sq_distance(gmmn)
    bandwidths = [scale * f for f in (0.25, 1, 4)]

    def mmd(bank):
        return float(mmd2(torch.from_numpy(np.asarray(bank, np.float32)), torch.from_numpy(real), bandwidths))

    to_p = lambda bank: np.linalg.norm(np.asarray(bank).mean(0) - CHAMELEON[1])  # noqa: E731
    # GC puts u where its neighbour says (P); the GMMN cannot know the neighbour
    assert to_p(gc) < 1.0, f"GC bank mean {np.asarray(gc).mean(0)} is not near P = {CHAMELEON[1]}"
    assert mmd(gc) < 0.5 * mmd(gmmn), f"MMD to the real unseen features: GC {mmd(gc):.4f}, GMMN {mmd(gmmn):.4f}"


def test_graph_convolution_cannot_tell_apart_the_nodes_of_a_clique():
    """Three mutually touching regions of different classes, the same noise at each node: the
    GC generator's outputs are identical (A_hat's rows are equal), whatever the classes."""
    from zs3core.graph import normalized_adjacency
    from zs3core.models.gcn import GCNGenerator
    model = GCNGenerator(5, D, noise_dim=4, hidden=32, dropout=0.0, output_relu=False,
                         init_generator=torch.Generator().manual_seed(0)).eval()
    row, col, value = normalized_adjacency(3, np.array([[0, 1], [0, 2], [1, 2]]))
    adjacency = torch.sparse_coo_tensor(np.stack([row, col]), value, (3, 3)).coalesce()
    noise = torch.randn(1, 4).repeat(3, 1)
    out = model(torch.from_numpy(EMBEDDINGS[[0, 1, 3]]), noise, adjacency)
    assert torch.allclose(out[0], out[1], atol=1e-5) and torch.allclose(out[1], out[2], atol=1e-5)
    isolated = model(torch.from_numpy(EMBEDDINGS[[0, 1, 3]]), noise)
    assert not torch.allclose(isolated[0], isolated[1], atol=1e-3)  # alone, the classes differ
