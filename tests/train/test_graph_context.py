"""GC training and banks on a toy feature file: region means, seen-only data, no unseen feature read."""
import json
from collections import deque

import h5py
import numpy as np
import pytest
import torch

import zs3core.features as features_mod
from fixtures import config_section
from zs3core.banks import read_bank
from zs3core.checkpoints import save_checkpoint
from zs3core.features import FeatureFile, FeatureWriter, image_table
from zs3core.holdout import excluded_from
from zs3core.retrain import retrain
from zs3core.train.classifier import fit_classifier
from zs3core.mmd import mmd_loss
from zs3core.models.gcn import GCNGenerator
from zs3core.train.graph_context import (GRAPHS, NodeSampler, context_graphs, node_loss, resolve_gc_config,
                                         seen_graphs, train_gc, write_gc_bank)

CLASSES = ["background", "a", "b", "u", "v"]
UNSEEN = ["u", "v"]  # v is in no mask: its bank rows come from its embedding alone
D = 4
MEANS = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0], [3.0, 3.0, 0, 0], [0, 0, 3.0, 3.0]])
POISON = 5000.0  # every feature of an image with unseen pixels: any such row would wreck training
V = 255
TINY = {**config_section("gc"), "bandwidth_mode": "relative", "noise_dim": 4, "hidden": 32, "dropout": 0.1, "lr": 5e-3,
        "iterations": 60, "real_per_class": 16,
        "fake_per_class": 16, "nodes_per_class": 8, "log_every": 5, "device": "cpu", "median_sample": 200}


pytestmark = pytest.mark.usefixtures("one_thread")


def toy_labels():
    """(label map, has unseen) of 8x8 masks: objects on background, some split in two, one void outline."""
    rng = np.random.default_rng(1)
    labels = []
    for i in range(24):
        label = np.zeros((8, 8), dtype=np.uint8)
        y, x = rng.integers(0, 5, size=2)
        label[y:y + 3, x:x + 3] = 1 + i % 2
        if i % 3 == 0:
            label[:, 7] = 2 - i % 2  # a second region touching the border
        labels.append((label, False))
    for y in (0, 4):  # u next to a, u alone on background, u with a void outline
        label = np.zeros((8, 8), dtype=np.uint8)
        label[y:y + 3, 0:3], label[y:y + 3, 4:7] = 3, 1
        labels.append((label, True))
    outlined = np.zeros((8, 8), dtype=np.uint8)
    outlined[1:6, 1:6], outlined[2:5, 2:5] = V, 3
    labels.append((outlined, True))
    return labels


def write_toy(path, seed=0):
    rng = np.random.default_rng(seed)
    maps = []
    with FeatureWriter(path, D, CLASSES, UNSEEN, max_per_class=20) as writer:
        for i, (label, unseen) in enumerate(toy_labels()):
            if unseen:
                feats = np.full((D, 8, 8), POISON, dtype=np.float32)
            else:
                feats = (MEANS[np.where(label == V, 0, label)] + 0.3 * rng.normal(size=(8, 8, D))).transpose(2, 0, 1)
            writer.add(f"img{i:02d}", feats, label, rng)
            maps.append((label, feats.astype(np.float16).astype(np.float32)))
    return maps


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    path = tmp_path_factory.mktemp("features") / "train.h5"
    return path, write_toy(path)


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("gc") / "gc.pt"
    summary = train_gc(toy[0], np.eye(5, dtype=np.float32), TINY, out, seed=0, loss_csv=out.with_suffix(".csv"))
    return out, summary


def brute_force_regions(label):
    """8-connected same-label regions by breadth-first search: lists of pixels."""
    seen, regions = np.zeros(label.shape, dtype=bool), []
    for start in zip(*np.nonzero(label != V)):  # scan order
        if seen[start]:
            continue
        queue, pixels = deque([start]), []
        seen[start] = True
        while queue:
            y, x = queue.popleft()
            pixels.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    q = (y + dy, x + dx)
                    if (0 <= q[0] < label.shape[0] and 0 <= q[1] < label.shape[1] and not seen[q]
                            and label[q] == label[start]):
                        seen[q] = True
                        queue.append(q)
        regions.append((int(label[start]), pixels))
    return sorted(regions, key=lambda r: r[0])  # region ids: by class, then scan order (stable sort)


def test_node_features_are_exact_region_means(toy):
    path, maps = toy
    with FeatureFile(path) as ff:
        graphs, node_features = seen_graphs(ff, "authors")
    assert len(graphs) == 24
    for g, image in enumerate(graphs.image):
        label, feats = maps[image]
        regions = brute_force_regions(label)
        nodes = slice(graphs.node_start[g], graphs.node_start[g] + graphs.node_count[g])
        assert graphs.node_class[nodes].tolist() == [c for c, _ in regions]
        expected = [np.mean([feats[:, y, x] for y, x in pixels], axis=0) for _, pixels in regions]
        np.testing.assert_allclose(node_features[nodes], expected, rtol=2e-3, atol=2e-3)


def test_the_generator_sees_no_unseen_image(toy):
    with FeatureFile(toy[0]) as ff:
        graphs, node_features = seen_graphs(ff, "authors")
        has_unseen = ff.image_table()["has_unseen"]
    assert not has_unseen[graphs.image].any() and not np.isin(graphs.node_class, [3, 4]).any()
    assert np.abs(node_features).max() < 10  # no poisoned feature


def test_the_generator_sees_no_held_out_image(toy):
    with FeatureFile(toy[0]) as ff:
        ids = ff.image_table()["image_id"]
        all_graphs, _ = seen_graphs(ff, "authors")
        graphs, node_features = seen_graphs(ff, "authors", frozenset(ids[all_graphs.image[:2]]))
    assert set(graphs.image) == set(all_graphs.image[2:])
    assert len(node_features) == len(graphs.node_class)


@pytest.fixture
def images_read(monkeypatch):
    """Spy: the image indices of every label map, feature row and region GC reads from a feature file."""
    seen = set()
    label_map, read, read_regions = FeatureFile.label_map, FeatureFile.read, FeatureFile.read_regions

    def spy_label_map(self, index):
        seen.add(int(index))
        return label_map(self, index)

    def spy_read(self, *args, **kwargs):
        rows = read(self, *args, **kwargs)
        seen.update(np.asarray(rows.image).tolist())
        return rows

    def spy_read_regions(self, *args, **kwargs):
        regions = read_regions(self, *args, **kwargs)
        seen.update(regions["image"].tolist())
        return regions

    monkeypatch.setattr(FeatureFile, "label_map", spy_label_map)
    monkeypatch.setattr(FeatureFile, "read", spy_read)
    monkeypatch.setattr(FeatureFile, "read_regions", spy_read_regions)
    return seen


@pytest.mark.parametrize("scope", ["all_stages", "classifier_only"])
def test_gc_reads_no_held_out_image_unless_only_the_classifier_leaves_it_out(toy, tmp_path, images_read, scope):
    """Training and bank, under each scope: the hold-out they are given is the one the rows'
    `holdout_excluded_from` column promises (the generator among its stages, or not)."""
    ids = image_table(toy[0])["image_id"]
    held_out = frozenset(ids[[0, 5, 24]])  # two seen-only images and one whose mask holds u
    given = held_out if "generator" in excluded_from(scope).split("+") else frozenset()
    cfg = dict(TINY, iterations=2)
    train_gc(toy[0], np.eye(5, dtype=np.float32), cfg, tmp_path / "gc.pt", seed=0, loss_csv=tmp_path / "gc.csv",
             holdout=given)
    found = write_gc_bank(tmp_path / "gc.pt", toy[0], np.eye(5, dtype=np.float32), 4, tmp_path / "gc.h5", seed=0,
                          holdout=given)
    read = {str(ids[i]) for i in images_read}
    with h5py.File(tmp_path / "gc.h5") as h5:
        graph_images = set(h5["graph_image_id"].asstr()[()].tolist())
    if scope == "all_stages":
        assert not read & held_out and not graph_images & held_out
        assert graph_images == {"img25", "img26"} and found == {"u": 2, "v": 0}
    else:
        assert held_out <= read and "img24" in graph_images and found == {"u": 3, "v": 0}
    assert {f"img{i:02d}" for i in range(27)} - held_out <= read  # every other image is still read


def test_training_never_reads_a_poisoned_feature_and_learns(trained):
    out, summary = trained
    assert np.isfinite(summary["final_loss"]) and summary["final_loss"] < 3
    state = torch.load(out, weights_only=True)
    assert state["kind"] == "gc" and state["trained_class_ids"] == [0, 1, 2]
    assert max(max(b) for b in state["bandwidths"].values()) < 100  # from real seen features only
    curve = np.loadtxt(out.with_suffix(".csv"), delimiter=",", skiprows=1)
    assert curve[-1, 1] < curve[0, 1]
    # the loss trained on is pixel MMD + `weight` x node MMD (columns loss, pixel_mmd, node_mmd)
    np.testing.assert_allclose(curve[:, 1], curve[:, 2] + TINY["weight"] * curve[:, 3], rtol=1e-6)
    assert TINY["weight"] == 0.1 and (0.1 * curve[:, 3] > 1e-2 * curve[:, 1]).all()  # the node term shows


@pytest.mark.parametrize("adjacency", ["authors", "self_and_neighbours"])
def test_node_terms_against_a_loop_over_classes_and_graphs(toy, adjacency):
    """A noiseless, dropout-free generator, so each graph's output is its own: per_class is, per
    class, the MMD of its drawn nodes (each generated on its own graph) against their region means;
    per_graph, per drawn node's graph, the MMD of all the graph's nodes against their region means."""
    with FeatureFile(toy[0]) as ff:
        graphs, real = seen_graphs(ff, adjacency)
    model = GCNGenerator(5, D, noise_dim=0, hidden=16, dropout=0.0, separate_self=adjacency != "authors",
                         init_generator=torch.Generator().manual_seed(0)).eval()
    table, real, bandwidths = torch.eye(5), torch.from_numpy(real), torch.tensor([1.0, 4.0])
    drawn = NodeSampler(graphs.node_class, np.arange(3), np.ones(len(graphs.node_class), bool)).sample(
        np.arange(3), 4, torch.Generator().manual_seed(1))

    def alone(g):  # the graph's generated nodes and their global ids, on its own
        nodes, matrix, _ = graphs.batch(np.array([g]))
        return model(table[graphs.node_class[nodes]], adjacency=matrix), nodes

    def generated(n):  # node n's feature, generated on its own graph
        g = graphs.node_graph[n]
        return alone(g)[0][n - graphs.node_start[g]]

    per_class = torch.stack([mmd_loss(torch.stack([generated(n) for n in row]), real[row], bandwidths)
                             for row in drawn]).mean()
    per_graph = torch.stack([mmd_loss(out, real[nodes], bandwidths)
                             for out, nodes in map(alone, graphs.node_graph[drawn.ravel()])]).mean()
    assert (graphs.node_count[graphs.node_graph[drawn.ravel()]] > 1).all()  # graphs with context
    for term, expected in (("per_class", per_class), ("per_graph", per_graph)):
        got = node_loss(model, graphs, table, real, drawn, term, bandwidths, torch.Generator())
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert not torch.isclose(per_class, per_graph)


def test_training_is_deterministic_under_a_seed(toy, trained, tmp_path):
    cfg = dict(TINY, iterations=5)
    states = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train_gc(toy[0], np.eye(5, dtype=np.float32), cfg, tmp_path / f"{name}.pt", seed=seed,
                 loss_csv=tmp_path / f"{name}.csv")
        states.append(torch.load(tmp_path / f"{name}.pt", weights_only=True)["state_dict"])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_epochs_are_passes_over_the_image_class_pairs(toy, tmp_path):
    """As the GMMN's (zs3core.budgets): one class term per (image, seen class) pair of the clean images."""
    pairs = sum(len(set(label.ravel().tolist()) - {V}) for label, unseen in toy_labels() if not unseen)
    cfg = dict(TINY, iterations=None, epochs=2, classes_per_step=1)
    summary = train_gc(toy[0], np.eye(5, dtype=np.float32), cfg, tmp_path / "gc.pt", seed=0,
                       loss_csv=tmp_path / "gc.csv")
    assert summary["iterations"] == 2 * pairs == torch.load(tmp_path / "gc.pt", weights_only=True)["iterations"]


@pytest.fixture
def no_feature_reads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the bank read a feature")

    for name in ("read", "read_regions", "image_rows", "_read_features"):
        monkeypatch.setattr(features_mod.FeatureFile, name, refuse)


def test_the_bank_reads_only_masks_and_uses_every_unseen_node(toy, trained, tmp_path, no_feature_reads):
    bank_path = tmp_path / "gc.h5"
    found = write_gc_bank(trained[0], toy[0], np.eye(5, dtype=np.float32), 7, bank_path, seed=0)
    assert found == {"u": 3, "v": 0}  # u once in each of the three unseen masks
    bank = read_bank(bank_path)
    assert bank.unseen_classes == UNSEEN and bank.features.shape == (14, D)
    assert np.abs(bank.features).max() < 50
    assert bank.attrs["graphs"] == GRAPHS and json.loads(bank.attrs["isolated_classes"]) == ["v"]
    with h5py.File(bank_path) as h5:
        assert h5["graph_image_id"].asstr()[()].tolist() == ["img24", "img25", "img26"]


def test_the_bank_is_deterministic_under_a_seed(toy, trained, tmp_path):
    banks = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        write_gc_bank(trained[0], toy[0], np.eye(5, dtype=np.float32), 5, tmp_path / f"{name}.h5", seed=seed)
        banks.append(read_bank(tmp_path / f"{name}.h5").features)
    np.testing.assert_array_equal(banks[0], banks[1])
    assert not np.array_equal(banks[0], banks[2])


def test_the_bank_honours_dropout_at_generation(toy, trained, tmp_path):
    # false: the mean network, which is what the same weights with dropout p = 0 give (no mask is
    # drawn then, so noise draws line up); true: dropout masks on the hidden layer
    state = torch.load(trained[0], weights_only=True)
    assert state["model"]["dropout"] == 0.1
    state["model"]["dropout"] = 0.0
    save_checkpoint(tmp_path / "p0.pt", state)

    def bank(generator, dropout):
        out = tmp_path / f"{generator.stem}_{dropout}.h5"
        write_gc_bank(generator, toy[0], np.eye(5, dtype=np.float32), 6, out, seed=0, dropout_at_generation=dropout)
        written = read_bank(out)
        assert written.attrs["dropout_at_generation"] == dropout
        return written.features.reshape(2, 6, D)  # u (graph nodes), v (isolated nodes)

    mean_network = bank(tmp_path / "p0.pt", True)
    np.testing.assert_array_equal(bank(trained[0], False), mean_network)
    assert (np.abs(bank(trained[0], True) - mean_network).max(axis=(1, 2)) > 1e-2).all()


def test_the_zs3gc_classifier_trains_on_seen_only_rows_and_the_bank(toy, trained, tmp_path, monkeypatch):
    write_gc_bank(trained[0], toy[0], np.eye(5, dtype=np.float32), 20, tmp_path / "gc.h5", seed=0)
    bank = read_bank(tmp_path / "gc.h5")
    cfg = {"epochs": 2, "batch_size": 32, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "poly_power": 0.9,
           "unseen_weight": 1.0, "calibration": {"rule": "rate", "max_unseen_rate": 0.05, "gammas": [0, 1]}}
    fitted = {}

    def spy(features, labels, *args, **kwargs):  # what reaches the classifier's fit
        fitted["features"], fitted["labels"] = np.asarray(features).copy(), np.asarray(labels).copy()
        return fit_classifier(features, labels, *args, **kwargs)

    monkeypatch.setattr("zs3core.retrain.fit_classifier", spy)
    state = retrain("zs3gc", toy[0], CLASSES, UNSEEN, cfg, holdout=frozenset(image_table(toy[0])["image_id"][:3]), out_path=tmp_path / "zs3gc.pt", seed=0,
                    extra=[(bank.features, bank.class_id)])
    assert state["method"] == "zs3gc" and torch.isfinite(state["weight"]).all()
    features, labels = fitted["features"], fitted["labels"]
    real = len(labels) - len(bank.class_id)
    assert real > 0 and np.abs(features[:real]).max() < POISON / 2  # no row of an image with unseen pixels
    assert not np.isin(labels[:real], [3, 4]).any()  # no real unseen row
    np.testing.assert_array_equal(features[real:], bank.features)  # the unseen rows are the GC bank's
    np.testing.assert_array_equal(labels[real:], bank.class_id)


def test_config_takes_the_whole_section_and_names_a_missing_key():
    section = config_section("gc")
    assert resolve_gc_config(section) == section
    with pytest.raises(KeyError, match=r"\['weight'\]"):
        resolve_gc_config({k: v for k, v in section.items() if k != "weight"})
    with pytest.raises(KeyError, match=r"\['noise'\]"):
        resolve_gc_config({k: v for k, v in section.items() if k != "noise"})
    with pytest.raises(ValueError, match="gc.node_term"):
        resolve_gc_config({**section, "node_term": "per_image"})


@pytest.mark.parametrize("adjacency", ["authors", "kipf"])
def test_one_region_masks_are_skipped_under_the_authors_adjacency_only(adjacency, tmp_path):
    """As the authors' code (no graph without an edge): a one-region mask's node is neither drawn
    for the node term nor generated in the bank; under kipf it is an isolated node, used."""
    rng = np.random.default_rng(0)
    two = np.zeros((4, 4), dtype=np.uint8)
    two[:2] = 1
    masks = [two, np.where(two, 2, 0).astype(np.uint8), np.full((4, 4), 1, np.uint8),  # seen; the last: one region
             np.where(two, 3, 0).astype(np.uint8), np.full((4, 4), 3, np.uint8)]  # u beside background; u alone
    with FeatureWriter(tmp_path / "f.h5", D, CLASSES, UNSEEN, max_per_class=20) as writer:
        for i, label in enumerate(masks):
            writer.add(f"img{i}", rng.normal(size=(D, 4, 4)).astype(np.float32), label, rng)
    cfg = {**TINY, "iterations": 2, "adjacency": adjacency}
    train_gc(tmp_path / "f.h5", np.eye(5, dtype=np.float32), cfg, tmp_path / "gc.pt", seed=0,
             loss_csv=tmp_path / "gc.csv")
    found = write_gc_bank(tmp_path / "gc.pt", tmp_path / "f.h5", np.eye(5, dtype=np.float32), 4,
                          tmp_path / "bank.h5", seed=0)
    assert found == {"u": 1 if adjacency == "authors" else 2, "v": 0}
    with FeatureFile(tmp_path / "f.h5") as ff:
        graphs, _ = seen_graphs(ff, adjacency)
    usable = context_graphs(graphs, adjacency)[graphs.node_graph]
    drawn = NodeSampler(graphs.node_class, np.array([0, 1, 2]), usable).sample(
        np.array([0, 1, 2]), 200, torch.Generator().manual_seed(0))
    alone = int(np.flatnonzero(graphs.node_count == 1)[0])
    assert (graphs.node_start[alone] in drawn) == (adjacency == "kipf")


def test_a_class_without_a_node_trains_through_the_pixel_term_alone():
    # nodes of classes 0 (ids 0, 1) and 1 (id 2); class 2 only in single-region masks (id 3, unusable)
    node_class = np.array([0, 0, 1, 2])
    sampler = NodeSampler(node_class, np.array([0, 1, 2]), np.array([True, True, True, False]))
    assert sampler.without.tolist() == [2]
    drawn = sampler.sample(np.array([2, 0, 1]), 50, torch.Generator().manual_seed(0))
    assert drawn.shape == (2, 50)  # class 2 drawn no node: the step's node term has classes 0 and 1
    assert set(drawn[0]) == {0, 1} and set(drawn[1]) == {2}
    empty = sampler.sample(np.array([2]), 5, torch.Generator().manual_seed(0))
    assert empty.shape == (0, 5)
    loss = node_loss(None, None, None, torch.zeros(4, 3), empty, "per_graph", torch.ones(1), None)
    assert loss.item() == 0.0
    with pytest.raises(ValueError, match="not all classes with pixel rows"):
        NodeSampler(node_class, np.array([0, 1]), np.ones(4, bool))  # nodes of a class without pixel rows
