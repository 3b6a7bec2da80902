"""The GC generator: graph convolution by hand, the GMMN without a graph, shapes and seeds."""
import numpy as np
import pytest
import torch
from torch import nn

from zs3core.graph import GraphSet, mask_graph
from zs3core.models.gcn import GCNGenerator, graph_conv
from zs3core.models.gmmn import GMMN

R6 = 1 / np.sqrt(6)


def path_adjacency():
    """A_hat of the path 0 - 1 - 2 (degrees with self-loops 2, 3, 2)."""
    _, adjacency, _ = GraphSet([mask_graph(np.array([[1, 2, 3]], dtype=np.uint8))], [0], "kipf").batch(np.array([0]))
    return adjacency


def test_graph_conv_matches_a_hand_computation():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        layer.bias.copy_(torch.tensor([0.5, -0.5]))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # x W^T = [[1, 0], [0, 2], [1, 2]]
    expected = torch.tensor([[0.5, 2 * R6], [2 * R6, 2 / 3 + 2 * R6], [0.5, 2 * R6 + 1]]) + layer.bias
    torch.testing.assert_close(graph_conv(x, layer, path_adjacency()), expected.float())
    torch.testing.assert_close(graph_conv(x, layer, None), layer(x))


def make(cls, seed=0, **kw):
    return cls(6, 5, noise_dim=4, hidden=8, init_generator=torch.Generator().manual_seed(seed), **kw)


def test_without_a_graph_it_is_the_gmmn():
    gcn, gmmn = make(GCNGenerator).eval(), make(GMMN).eval()
    a, z = torch.randn(7, 6), torch.randn(7, 4)
    torch.testing.assert_close(gcn(a, z), gmmn(a, z))
    identity = torch.eye(7).to_sparse()
    torch.testing.assert_close(gcn(a, z, identity), gmmn(a, z))


def test_a_node_feature_depends_on_its_neighbours():
    model = make(GCNGenerator).eval()
    a = torch.eye(6)[[1, 2, 3]]
    z = torch.zeros(3, 4)
    with_neighbours = model(a, z, path_adjacency())
    other = model(torch.eye(6)[[1, 2, 5]], z, path_adjacency())
    assert not torch.allclose(with_neighbours[1], other[1])  # node 1's neighbour changed class
    assert not torch.allclose(with_neighbours[1], model(a, z)[1])


def test_shapes_and_determinism_under_a_seed():
    a = torch.randn(3, 6)
    first, second, other = make(GCNGenerator), make(GCNGenerator), make(GCNGenerator, seed=1)
    out = [m(a, adjacency=path_adjacency(), generator=torch.Generator().manual_seed(3))  # noise and dropout
           for m in (first, second, other)]
    assert out[0].shape == (3, 5)
    torch.testing.assert_close(out[0], out[1])
    assert not torch.allclose(out[0], out[2])
    again = first(a, adjacency=path_adjacency(), generator=torch.Generator().manual_seed(4))
    assert not torch.allclose(out[0], again)


@pytest.mark.parametrize("output_relu", [False, True])
def test_generate_works_unchanged_on_isolated_nodes(output_relu):
    model = make(GCNGenerator, output_relu=output_relu)
    feats, ids = model.generate(torch.randn(4, 6), 10, torch.Generator().manual_seed(0), class_ids=[1, 3])
    assert feats.shape == (20, 5) and ids.tolist() == [1] * 10 + [3] * 10
    assert (feats >= 0).all() or not output_relu


def scalar_gcn(adjacency):
    """A two-layer GC generator on scalar inputs, no noise: W1 = W2 = 1, b1 = 0, b2 = 0.5, and
    W_nb = 10 in both layers under self_and_neighbours (LeakyReLU is the identity on x > 0)."""
    model = GCNGenerator(1, 1, noise_dim=0, hidden=1, dropout=0.0,
                         separate_self=adjacency == "self_and_neighbours").eval()
    with torch.no_grad():
        for layer in (model.fc1, model.fc2):
            layer.weight.fill_(1.0)
        model.fc1.bias.zero_()
        model.fc2.bias.fill_(0.5)
        for layer in (model.fc1_nb, model.fc2_nb) if model.separate_self else ():
            layer.weight.fill_(10.0)
    return model


PAIR, TRIANGLE, PATH = [[1, 2]], [[1, 2, 2], [1, 1, 3]], [[1, 2, 3]]  # masks: 2 nodes; 3 touching; 1 - 2 - 3
HAND = {  # node inputs x = 1, 2, 4 (node 0 - node 1 - node 2 on the path: its ends are 0 and 2)
    ("authors", "pair"): [1, 2],  # A A x = x: a node of a 2-node graph sees only itself
    ("authors", "triangle"): [8, 9, 11],  # A x = [6, 5, 3]
    ("authors", "path"): [5, 4, 5],  # A x = [2, 5, 2]: node 0 gets x0 + x2, never its neighbour x1
    ("kipf", "pair"): [1.5, 1.5],  # every row of A_hat is [1/2, 1/2]
    ("kipf", "triangle"): [7 / 3] * 3,  # every row is [1/3, 1/3, 1/3]: a clique's nodes are one
    ("kipf", "path"): [13 / 12 + 5 / 3 * R6, 8 / 9 + 25 / 6 * R6, 11 / 6 + 5 / 3 * R6],
    ("self_and_neighbours", "pair"): [141, 222],  # h = x + 10 A x = [21, 12]; h + 10 A h
    ("self_and_neighbours", "triangle"): [921, 1002, 1164],  # h = [61, 52, 34], A h = [86, 95, 113]
    ("self_and_neighbours", "path"): [541, 502, 544],  # h = [21, 52, 24], A h = [52, 45, 52]
}


@pytest.mark.parametrize("adjacency, graph", sorted(HAND))
def test_two_layers_match_a_hand_computation(adjacency, graph):
    mask = np.array({"pair": PAIR, "triangle": TRIANGLE, "path": PATH}[graph], dtype=np.uint8)
    _, matrix, _ = GraphSet([mask_graph(mask)], [0], adjacency).batch(np.array([0]))
    x = torch.tensor([[1.0], [2.0], [4.0]])[:len(HAND[adjacency, graph])]
    out = scalar_gcn(adjacency)(x, torch.zeros(len(x), 0), matrix)
    torch.testing.assert_close(out[:, 0], torch.tensor(HAND[adjacency, graph], dtype=torch.float32) + 0.5)


def test_separate_self_weights_keep_the_gmmn_weights_of_the_same_seed():
    gcn, gmmn = make(GCNGenerator, separate_self=True).eval(), make(GMMN).eval()
    a, z = torch.randn(7, 6), torch.randn(7, 4)
    torch.testing.assert_close(gcn(a, z), gmmn(a, z))  # no graph: the GMMN, its W_nb unused
    assert gcn.config()["separate_self"] and not make(GCNGenerator).config()["separate_self"]
