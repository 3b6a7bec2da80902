"""ZS3Net + GC: train the graph-context generator on seen-only masks; write unseen-node banks.

The generator (`zs3core.models.gcn.GCNGenerator`) replaces the GMMN: the same network with
graph convolutions, conditioned on a mask's region graph (`zs3core.graph`). The paper gives no
loss beyond "no change in other hyper-parameters"; this implementation trains one network on

    loss = MMD_pixel + weight * MMD_node

- MMD_pixel: the GMMN's loss (`zs3core.train.generator`), pixels as isolated nodes (A_hat = I,
  where the network IS the GMMN): `classes_per_step` seen classes, `real_per_class` real pixel
  rows against `fake_per_class` generated ones per class. It keeps the features pixel-like.
- MMD_node: for each of the same classes, `nodes_per_class` nodes of that class drawn with
  replacement from the graphs of seen-only training images; each brings its whole graph (a
  separate copy with fresh noise, all of a step's graphs one block-diagonal batch). A node's
  real feature is the exact mean feature of its region (the authors' code takes the feature at
  the region's first pixel unless its GCN_avg_feat is set). `gc.node_term` says what is matched:
  - `per_graph` (default; the authors' code, whose `g_GCN_loss` is one MMD per training image):
    per drawn graph, the MMD between the generated features of ALL its nodes and their real
    ones (pairs within the graph only, classes mixed; `zs3core.mmd.ragged_mmd_loss`), averaged
    over the step's graphs. It sees which graph a real region comes from, so a region whose
    features depend on its neighbours is pulled towards its own graph's value.
  - `per_class`: per class, the MMD between the drawn nodes' generated features and their real
    ones, pooled over all images and averaged over classes: blind to which graph a real region
    came from (docs/method.md, "What GC can use of a region's context").
  The graphs are drawn through class-balanced nodes under both (the authors draw images), so a
  rare class's graphs are used as often as a common one's.
  Its bandwidths are relative to the median squared distance of region means (or fixed, as the
  GMMN's `bandwidth_mode`).
- `weight`: the authors' `GCN_weight`, there the weight of a node-level loss
  beside the pixel-level one.
Both terms read only seen-only images (asserted on what is loaded): no real feature of an
unseen class, nor of any image that contains one, reaches the generator.

Bank (`write_gc_bank`). The trained generator runs on the region graphs of the training images
whose masks contain an unseen class (the paper: their true masks, never their pixels; only
their downsampled label maps are read, no feature of theirs), held-out images left out like in
every other stage (`zs3core.holdout`). The i-th of `n_per_class` features
of unseen class c is generated at the (i mod m)-th of its m nodes in those graphs, each draw on
its own copy of the graph with fresh noise, so every unseen region is used equally often. An
unseen class with no node in any mask (lost to downsampling) is generated as an isolated node:
from its embedding alone, as the GMMN would (recorded in the bank's `isolated_classes`). The
bank has the GMMN bank's layout (`zs3core.banks`), plus the image ids of the graphs used.

Single-region masks: under `gc.adjacency: authors` a node without a neighbour would get the
bias alone, and the authors' code gives such a mask no graph (its GC skips it); here too, its
node is never drawn for the node term nor generated in a bank (`context_graphs`). Under `kipf`
and the `self_and_*` adjacencies such a node is an isolated node, generated from its embedding alone.

Config (`gc:` in config.yaml): every GMMN key (`zs3core.train.generator.GMMN_KEYS`) plus
  nodes_per_class   seen nodes (graphs) per class and step of the node term
  node_term         per_graph | per_class: the node MMD's groups (`NODE_TERMS`, `node_loss`)
  weight            weight of the node term
  adjacency         the matrix of the graph convolutions (`zs3core.graph.ADJACENCIES`)
"""
from __future__ import annotations

import json
import logging
import math
import os
import time

import h5py
import numpy as np
import torch

from zs3core.banks import save_bank
from zs3core.checkpoints import load_checkpoint, save_checkpoint
from zs3core.device import resolve_device
from zs3core.features import FeatureFile
from zs3core.graph import SEPARATE_SELF, GraphSet, mask_graph
from zs3core.holdout import image_mask
from zs3core.mmd import mmd_loss, ragged_mmd_loss
from zs3core.models.gcn import GCNGenerator, gcn_from_state
from zs3core.models.gmmn import MODEL_KEYS
from zs3core.train.generator import resolve_config
from zs3core.train.generator_kit import (RealSampler, checkpoint_state, classes_per_step, config_bandwidths, logged,
                                         training_data, training_steps, write_curve)

GC_KEYS = ("nodes_per_class", "node_term", "weight", "adjacency")  # beside the GMMN's keys, in the `gc:` section
NODE_TERMS = ("per_graph", "per_class")  # `gc.node_term` (`node_loss`)
CHECKPOINT_KIND = "gc"
GRAPHS = "true_masks"  # what the bank's graphs are: the training masks that contain unseen classes
BANK_CHUNK = 4096  # graphs generated per forward pass when writing a bank


def resolve_gc_config(cfg: dict) -> dict:
    """The GMMN's keys (`resolve_config`) plus the GC keys of a full `gc:` section; a missing key
    raises KeyError naming it (ranges: schemas/config.schema.yaml)."""
    missing = [k for k in GC_KEYS if k not in cfg]
    if missing:
        raise KeyError(f"gc config lacks {missing}: pass the whole section (config.yaml `gc:`)")
    if cfg["node_term"] not in NODE_TERMS:
        raise ValueError(f"gc.node_term must be one of {NODE_TERMS}, got {cfg['node_term']!r}")
    return {**resolve_config(cfg), **{k: cfg[k] for k in GC_KEYS}}


def graphs_of(ff: FeatureFile, images: np.ndarray, adjacency: str) -> GraphSet:
    """Region graphs of the given images, from their stored label maps alone."""
    return GraphSet([mask_graph(ff.label_map(int(i))) for i in images], images, adjacency)


def context_graphs(graphs: GraphSet, adjacency: str) -> np.ndarray:
    """Which graphs GC uses: under `authors` only those with an edge (as the authors' code), else all."""
    return graphs.edge_count > 0 if adjacency == "authors" else np.ones(len(graphs), dtype=bool)


def seen_graphs(ff: FeatureFile, adjacency: str,
                holdout: frozenset[str] = frozenset()) -> tuple[GraphSet, np.ndarray]:
    """Graphs of the seen-only images not held out (`zs3core.holdout`) and the real mean feature
    of every node (their regions).

    Checked, not just requested: no node of an unseen class or of an image with unseen pixels
    or held out, and the graphs' nodes are the file's regions (same count and class, image by image).
    """
    table = ff.image_table()
    has_unseen = table["has_unseen"] | image_mask(table["image_id"], holdout)
    graphs = graphs_of(ff, np.flatnonzero(~has_unseen), adjacency)
    regions = ff.read_regions(images=~has_unseen)
    if (len(regions["class_id"]) != len(graphs.node_class)
            or not np.array_equal(regions["class_id"], graphs.node_class)
            or not np.array_equal(regions["image"], graphs.image[graphs.node_graph])):
        raise ValueError(f"{ff.path}: the stored region tables disagree with the regions of the label maps")
    if has_unseen[regions["image"]].any() or np.isin(graphs.node_class, ff.class_ids(ff.unseen_classes)).any():
        raise AssertionError(f"{ff.path}: an unseen-class, unseen-image or held-out node reached the generator's data")
    return graphs, regions["features"]


class NodeSampler:
    """The usable nodes of the seen-only graphs grouped by class; draws (B, n) global node ids for
    the B classes of a step that have nodes. Under `gc.adjacency: authors` a class seen only in
    single-region masks has none (those masks have no graph, as in the authors' code): it trains
    through the pixel term alone (`without`)."""

    def __init__(self, node_class: np.ndarray, classes: np.ndarray, usable: np.ndarray):
        nodes = np.flatnonzero(usable)
        order = nodes[np.argsort(node_class[nodes], kind="stable")]
        found, starts, counts = np.unique(node_class[order], return_index=True, return_counts=True)
        if not np.isin(found, classes).all():
            raise ValueError(f"classes with nodes {found.tolist()} are not all classes with pixel rows "
                             f"{np.asarray(classes).tolist()}")
        self.has_nodes = np.isin(classes, found)
        self.without = np.asarray(classes)[~self.has_nodes]
        self.order = order
        self.starts, self.counts = np.zeros(len(classes), np.int64), np.zeros(len(classes), np.int64)
        self.starts[self.has_nodes], self.counts[self.has_nodes] = starts, counts

    def sample(self, which: np.ndarray, n: int, generator: torch.Generator) -> np.ndarray:
        which = which[self.has_nodes[which]]
        u = torch.rand((len(which), n), generator=generator, device=generator.device).cpu().numpy()
        counts = self.counts[which][:, None]
        return self.order[self.starts[which][:, None] + np.minimum((u * counts).astype(np.int64), counts - 1)]


def graph_features(model: GCNGenerator, graphs: GraphSet, table: torch.Tensor, which: np.ndarray,
                   generator: torch.Generator,
                   dropout: bool | None = None) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Generated features of every node of the given graphs (repeats are separate copies), as one
    block-diagonal batch; also the global node of each row and each graph's first row."""
    batch_nodes, adjacency, first = graphs.batch(which)
    out = model(table[torch.from_numpy(graphs.node_class[batch_nodes])], adjacency=adjacency,
                generator=generator, dropout=dropout)
    return out, batch_nodes, first


def node_features(model: GCNGenerator, graphs: GraphSet, table: torch.Tensor, nodes: np.ndarray,
                  generator: torch.Generator, dropout: bool | None = None) -> torch.Tensor:
    """Generated features of the given global nodes, each on its own copy of its graph."""
    owner = graphs.node_graph[nodes]
    out, _, first = graph_features(model, graphs, table, owner, generator, dropout)
    rows = torch.from_numpy(first + nodes - graphs.node_start[owner])
    return out[rows.to(out.device)]


def node_loss(model: GCNGenerator, graphs: GraphSet, table: torch.Tensor, real_nodes: torch.Tensor,
              drawn: np.ndarray, term: str, bandwidths: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The node term of one step for the (B, k) drawn nodes of B classes (`gc.node_term`).

    per_class: per class, the MMD between the k drawn nodes' generated features and their real
    ones, averaged over the B classes. per_graph: per drawn node's graph, the MMD between all the
    graph's generated nodes and their real features, averaged over the B k graphs. 0 when none of
    the step's classes has a node.
    """
    if drawn.size == 0:
        return real_nodes.new_zeros(())
    if term == "per_class":
        fake = node_features(model, graphs, table, drawn.ravel(), generator).view(*drawn.shape, -1)
        return mmd_loss(fake, real_nodes[torch.from_numpy(drawn).to(real_nodes.device)], bandwidths)
    owner = graphs.node_graph[drawn.ravel()]
    fake, batch_nodes, _ = graph_features(model, graphs, table, owner, generator)
    return ragged_mmd_loss(fake, real_nodes[torch.from_numpy(batch_nodes).to(real_nodes.device)],
                           graphs.node_count[owner], bandwidths)


def train_gc(feature_file: str | os.PathLike, embeddings: np.ndarray, cfg: dict,
             out_path: str | os.PathLike, *, seed: int, loss_csv: str | os.PathLike,
             holdout: frozenset[str] = frozenset(), log: logging.Logger | None = None) -> dict:
    """Train the GC generator on the seen-only images of `feature_file`; write weights and loss curve.

    `embeddings` is the (C, E) class table in the file's class order. Deterministic under `seed`
    on the CPU (weights, class and node draws, noise and dropout as `train_gmmn`). The images of
    `holdout` are left out (`zs3core.holdout`).
    """
    cfg = resolve_gc_config(cfg)
    device = resolve_device(cfg["device"], "gc.device")
    data, (graphs, real_nodes) = training_data(feature_file, embeddings, holdout, lambda ff: seen_graphs(ff, cfg["adjacency"], holdout))
    rows, table, feature_dim = data.rows, data.table, data.feature_dim
    bandwidths = {"pixel": config_bandwidths(cfg, rows.features, rows.class_id, seed)[0],
                  "node": config_bandwidths(cfg, real_nodes, graphs.node_class, seed)[0]}
    pixels = RealSampler(rows.features, rows.class_id, device)
    n_pixel_rows = len(rows.class_id)
    classes = pixels.classes.cpu().numpy()
    nodes = NodeSampler(graphs.node_class, classes, context_graphs(graphs, cfg["adjacency"])[graphs.node_graph])
    real_nodes = torch.from_numpy(real_nodes).to(device)
    n_classes = len(classes)
    per_step = classes_per_step(cfg, n_classes)
    n_iter = training_steps(cfg, rows, per_step)
    del rows
    if log and len(nodes.without):
        log.warning("GC: seen classes without a node (only in single-region masks, gc.adjacency: %s): %s; they "
                    "train through the pixel term alone", cfg["adjacency"], [data.class_names[c] for c in nodes.without])
    if log:
        log.info("GC: %d seen classes (%d per step), %d steps, %d pixel rows, %d graphs with %d nodes (%d edges), "
                 "bandwidths %s, device %s", n_classes, per_step, n_iter, n_pixel_rows, len(graphs),
                 len(graphs.node_class), graphs.edge_count.sum(),
                 {k: [round(b, 4) for b in v] for k, v in bandwidths.items()}, device)

    model = GCNGenerator(table.shape[1], feature_dim, **{k: cfg[k] for k in MODEL_KEYS},
                         separate_self=cfg["adjacency"] in SEPARATE_SELF,
                         init_generator=torch.Generator().manual_seed(seed)).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    gen = torch.Generator(device=device).manual_seed(seed)
    table = table.to(device)
    bw = {k: torch.tensor(v, dtype=torch.float32, device=device) for k, v in bandwidths.items()}
    m, k = cfg["fake_per_class"], cfg["nodes_per_class"]
    curve = []
    started = time.perf_counter()
    for it in range(1, n_iter + 1):
        which = (torch.arange(n_classes) if per_step == n_classes
                 else torch.randperm(n_classes, generator=gen, device=gen.device)[:per_step].cpu())
        real = pixels.sample(which.to(device), cfg["real_per_class"], gen)
        fake = model(table[pixels.classes[which.to(device)]].repeat_interleave(m, dim=0), generator=gen)
        pixel_loss = mmd_loss(fake.view(len(which), m, feature_dim), real, bw["pixel"])
        node_mmd = node_loss(model, graphs, table, real_nodes, nodes.sample(which.numpy(), k, gen),
                             cfg["node_term"], bw["node"], gen)
        loss = pixel_loss + cfg["weight"] * node_mmd
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if logged(it, n_iter, cfg["log_every"]):
            values = (loss.item(), pixel_loss.item(), node_mmd.item())
            if not all(math.isfinite(v) for v in values):
                raise FloatingPointError(f"GC loss is {values} at iteration {it} ({feature_file})")
            curve.append((it, *values))
            if log and (it == 1 or it == n_iter or it % max(cfg["log_every"], n_iter // 10) == 0):
                log.info("GC iteration %d/%d: loss %.5f (pixel %.5f, node %.5f)", it, n_iter, *values)
    seconds = time.perf_counter() - started

    state = checkpoint_state(CHECKPOINT_KIND, model, cfg, data, trained_class_ids=classes.tolist(),
                             feature_file=feature_file, seed=seed, iterations=n_iter, curve=curve,
                             bandwidths=bandwidths, n_graphs=len(graphs))
    write_curve(loss_csv, curve, ("loss", "pixel_mmd", "node_mmd"))
    save_checkpoint(out_path, state)
    if log:
        log.info("GC: %d iterations in %.1f s, final loss %.5f -> %s", n_iter, seconds, curve[-1][1], out_path)
    return {"iterations": n_iter, "final_loss": curve[-1][1], "bandwidths": bandwidths, "seconds": seconds}


def load_gc(path: str | os.PathLike) -> tuple[GCNGenerator, dict]:
    """The trained GC generator (eval mode, CPU) and its checkpoint dict."""
    state = load_checkpoint(path, rebuild_hint=str(path))
    if state.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is not a GC generator checkpoint (kind {state.get('kind')!r}); "
                         f"delete it and rerun `snakemake {path}`")
    return gcn_from_state(state), state


@torch.no_grad()
def write_gc_bank(generator_path: str | os.PathLike, feature_file: str | os.PathLike, embeddings: np.ndarray,
                  n_per_class: int, out_h5: str | os.PathLike, *, seed: int, dropout_at_generation: bool = False,
                  holdout: frozenset[str] = frozenset(), log: logging.Logger | None = None) -> dict[str, int]:
    """`n_per_class` generated features per unseen class at the unseen nodes of the training masks.

    Reads the file's image table and the label maps of its images with unseen classes that are
    not in `holdout`, never a feature. Returns the number of unseen nodes found per class.
    Deterministic under `seed`.
    """
    model, state = load_gc(generator_path)
    adjacency = state["config"]["adjacency"]
    dropout = bool(dropout_at_generation)
    with FeatureFile(feature_file) as ff:
        class_names, unseen_ids = ff.class_names, ff.class_ids(ff.unseen_classes)
        table = ff.image_table()
        graphs = graphs_of(ff, np.flatnonzero(table["has_unseen"] & ~image_mask(table["image_id"], holdout)),
                           adjacency)
    used = context_graphs(graphs, adjacency)
    if state["class_names"] != class_names:
        raise ValueError(f"{generator_path} was trained with classes {state['class_names']}, not {class_names}")
    n = int(n_per_class)
    if n < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n}")
    embed = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    found, blocks = {}, []
    for c in unseen_ids.tolist():
        where = np.flatnonzero((graphs.node_class == c) & used[graphs.node_graph])
        found[class_names[c]] = len(where)
        if len(where) == 0:
            blocks.append(model.generate(embed, n, gen, class_ids=[c], dropout=dropout)[0].numpy())
            continue
        drawn = where[np.arange(n) % len(where)]
        blocks.append(torch.cat([node_features(model, graphs, embed, drawn[s:s + BANK_CHUNK], gen, dropout)
                                 for s in range(0, n, BANK_CHUNK)]).numpy())
    isolated = [name for name, count in found.items() if count == 0]
    if log:
        log.info("GC bank: %d graphs of training masks with unseen classes; unseen nodes per class %s%s",
                 used.sum(), found, f"; no node (generated as isolated nodes): {isolated}" if isolated else "")
    image_ids = np.array(table["image_id"][graphs.image[used]], dtype=h5py.string_dtype())
    save_bank(out_h5, blocks, unseen_ids, n, class_names, model.feature_dim,
              {"generator": str(generator_path), "seed": int(seed), "dropout_at_generation": dropout,
               "graphs": GRAPHS, "unseen_nodes": json.dumps(found), "isolated_classes": json.dumps(isolated)},
              datasets={"graph_image_id": image_ids})
    return found
