"""Region graphs of hand-drawn masks: nodes, 8-connected edges, void, normalised adjacency, batches."""
import numpy as np
import pytest

from zs3core.graph import GraphSet, mask_graph, normalized_adjacency

V = 255


def edges_of(mask):
    return mask_graph(np.array(mask, dtype=np.uint8)).edges.tolist()


def test_regions_and_edges_of_a_hand_drawn_mask():
    # the two 1s touch diagonally (one region); 1 and 2 touch only diagonally (an edge)
    graph = mask_graph(np.array([[0, 0, 0, 0, 0],
                                 [0, 1, 0, 2, 0],
                                 [0, 0, 1, 0, 0],
                                 [0, 0, 0, 0, 3]], dtype=np.uint8))
    assert graph.node_class.tolist() == [0, 1, 2, 3]
    assert graph.edges.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2]]


def test_same_label_regions_apart_are_separate_nodes():
    graph = mask_graph(np.array([[1, 1, 0, 1],
                                 [1, 1, 0, 1]], dtype=np.uint8))
    assert graph.node_class.tolist() == [0, 1, 1]
    assert graph.edges.tolist() == [[0, 1], [0, 2]]


def test_void_is_never_a_node_and_bridges_the_regions_it_separates():
    mask = [[1, 1, V, 2, 2],
            [1, 1, V, 2, 2],
            [V, V, V, V, V],
            [0, 0, 0, 0, 0]]
    graph = mask_graph(np.array(mask, dtype=np.uint8))
    assert graph.node_class.tolist() == [0, 1, 2]
    assert graph.edges.tolist() == [[0, 1], [0, 2], [1, 2]]


def test_void_touching_one_region_adds_no_edge_and_all_void_gives_an_empty_graph():
    assert edges_of([[1, 1, V], [V, V, V]]) == []
    graph = mask_graph(np.full((3, 3), V, dtype=np.uint8))
    assert graph.node_class.size == 0 and graph.edges.shape == (0, 2)


def dense(n, entries):
    a = np.zeros((n, n))
    np.add.at(a, (entries[0], entries[1]), entries[2])
    return a


def test_normalized_adjacency_matches_a_hand_computation():
    # path 0 - 1 - 2: degrees with self-loops 2, 3, 2
    r6 = 1 / np.sqrt(6)
    expected = [[1 / 2, r6, 0], [r6, 1 / 3, r6], [0, r6, 1 / 2]]
    np.testing.assert_allclose(dense(3, normalized_adjacency(3, np.array([[0, 1], [1, 2]]))), expected, rtol=1e-6)
    np.testing.assert_allclose(dense(2, normalized_adjacency(2, np.zeros((0, 2)))), np.eye(2))


def test_a_batch_is_block_diagonal_with_repeated_graphs_as_copies():
    path = mask_graph(np.array([[1, 2, 3]], dtype=np.uint8))
    single = mask_graph(np.array([[4]], dtype=np.uint8))
    graphs = GraphSet([path, single], image=[7, 9], adjacency="kipf")
    nodes, adjacency, first = graphs.batch(np.array([1, 0, 0]))
    assert nodes.tolist() == [3, 0, 1, 2, 0, 1, 2]
    assert first.tolist() == [0, 1, 4]
    assert graphs.node_class[nodes].tolist() == [4, 1, 2, 3, 1, 2, 3]
    block = dense(3, normalized_adjacency(3, path.edges))
    expected = np.zeros((7, 7))
    expected[0, 0], expected[1:4, 1:4], expected[4:, 4:] = 1, block, block
    np.testing.assert_allclose(adjacency.to_dense().numpy(), expected, rtol=1e-6)
    assert graphs.image[graphs.node_graph[nodes]].tolist() == [9, 7, 7, 7, 7, 7, 7]


def test_graph_set_refuses_mismatched_images():
    with pytest.raises(ValueError, match="image"):
        GraphSet([mask_graph(np.zeros((2, 2), dtype=np.uint8))], image=[0, 1], adjacency="kipf")


@pytest.mark.parametrize("adjacency", ["authors", "self_and_neighbours"])
def test_the_authors_matrix_is_binary_without_self_loops(adjacency):
    path = mask_graph(np.array([[1, 2, 3]], dtype=np.uint8))
    graphs = GraphSet([path, mask_graph(np.array([[4]], dtype=np.uint8))], image=[0, 1], adjacency=adjacency)
    _, matrix, _ = graphs.batch(np.array([0, 1]))
    expected = np.zeros((4, 4))
    expected[[0, 1, 1, 2], [1, 0, 2, 1]] = 1  # the single-region mask: no edge, an all-zero row
    np.testing.assert_array_equal(matrix.to_dense().numpy(), expected)
    assert graphs.edge_count.tolist() == [2, 0]


def test_the_mean_matrix_averages_the_neighbours():
    path = mask_graph(np.array([[1, 2, 3]], dtype=np.uint8))  # 0 - 1 - 2: the middle node has two neighbours
    graphs = GraphSet([path, mask_graph(np.array([[4]], dtype=np.uint8))], image=[0, 1],
                      adjacency="self_and_mean_neighbours")
    _, matrix, _ = graphs.batch(np.array([0, 1]))
    expected = np.zeros((4, 4))
    expected[[0, 1, 1, 2], [1, 0, 2, 1]] = [1.0, 0.5, 0.5, 1.0]  # the isolated node keeps an all-zero row
    np.testing.assert_allclose(matrix.to_dense().numpy(), expected)


def test_an_unknown_adjacency_is_refused():
    with pytest.raises(ValueError, match="gc.adjacency"):
        GraphSet([], image=[], adjacency="normalised")
