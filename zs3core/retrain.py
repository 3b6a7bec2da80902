"""ZS3Net step 2 as jobs: which feature rows retrain the classifier; its gamma; its file
(`zs3core.classifiers`, the layout every classifier file shares).

Methods (each a `classifiers/{dataset}/k{K}/{method}.pt`):
- `zs3`: real features of seen classes + the generator's synthetic bank for unseen classes.
  Under the `strict` protocol (default) no unseen ground truth is read anywhere: real rows come
  only from seen-only images (`has_unseen` false), and the bank holds a fixed number of
  synthetic features per unseen class, generated from the class embedding alone. Under the
  `authors` protocol (their code), images containing unseen classes also contribute: every
  sampled pixel of theirs gets a generated feature of its ground-truth class, so unseen ground
  truth decides where and how many synthetic features appear.
- `zs3gc`: ZS3Net + GC: as `zs3`, the synthetic unseen rows coming from the graph-context
  generator's bank (`zs3core.train.graph_context`).
- `zs5`: ZS5Net's classifier: the rows of `zs3` plus real features of the unlabelled pool at its
  pseudo-labelled pixels (`zs3core.selftrain`; their classes come from the ZS3 model, never
  from ground truth).
- `ceiling`: a diagnostic oracle trained on REAL features of every class, unseen included
  (it reads unseen ground truth by design): how far generated features fall short of real ones.
- `named` (`classifiers/{dataset}/k{K}/named_{tag}.pt`): classes named at prediction time
  (`zs3core.named`): as `zs3` under the strict protocol, with the split's GMMN generating rows for
  the new names after the split's unseen classes (`named_rows`); these first rows are the bank's,
  so a named model with no new name is ZS3Net's classifier, bit for bit, on the CPU.

The hold-out images (`zs3core.holdout`) never train the classifier; those of them with no unseen
class choose the calibration offset gamma by the rate rule (`zs3core.calibration.calibration_gammas`).
The cross-validated gamma (`zs3core.cv`) is passed in. Every classifier stores the gamma of each rule
it knows (`gammas`), and applies (`gamma`) the one `classifier.calibration.rule` names (`gamma_rule`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from zs3core.calibration import calibration_gammas
from zs3core.classifiers import save_classifier
from zs3core.curves import classifier_loss_csv, write_classifier_curve
from zs3core.device import resolve_device
from zs3core.features import FeatureFile
from zs3core.holdout import image_mask
from zs3core.methods import METHODS as ALL_METHODS
from zs3core.train.classifier import ClassifierTraining, fit_classifier
from zs3core.train.generator import generated_blocks, load_generator

METHODS = tuple(m.name for m in ALL_METHODS if m.retrains_classifier)  # zs3core/methods.py
PROTOCOLS = ("strict", "authors")


@dataclass
class ClassifierRows:
    """Feature rows for the classifier, and the held-out seen pixels for calibration."""
    features: np.ndarray
    labels: np.ndarray
    heldout: np.ndarray


def real_rows(feature_file, *, include_unseen_images: bool, holdout: frozenset[str]) -> ClassifierRows:
    """Real feature rows of the images not in `holdout`; the held-out seen-only images' rows
    are returned apart, for calibration.

    With `include_unseen_images=False` the rows come from seen-only images alone, so no row of an
    unseen class and no pixel of an image containing one is ever read.
    """
    with FeatureFile(feature_file) as f:
        table = f.image_table()
        seen_only = ~table["has_unseen"]
        held_out = image_mask(table["image_id"], holdout)
        held = seen_only & held_out
        train_images = (seen_only | include_unseen_images) & ~held_out
        rows = f.read(images=train_images)
        heldout = f.read(images=held).features
        if not include_unseen_images:
            unseen_ids = [f.class_names.index(c) for c in f.unseen_classes]
            assert not np.isin(rows.class_id, unseen_ids).any(), "a seen-only image holds an unseen class"
    return ClassifierRows(rows.features, rows.class_id.astype(np.int64), heldout)


def authors_rows(feature_file, generator_path, embeddings: np.ndarray, *, seed: int,
                 holdout: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
    """The authors' protocol: every sampled pixel of the images that contain an unseen class gets
    a generated feature of its ground-truth class (seen classes too), so the unseen masks decide
    where and how many synthetic features appear. Reads unseen ground truth by design; the
    held-out images (`holdout`) stay out, as from every classifier."""
    with FeatureFile(feature_file) as f:
        table = f.image_table()
        rows = f.read(images=table["has_unseen"] & ~image_mask(table["image_id"], holdout))
    model, _ = load_generator(generator_path)
    table = torch.as_tensor(embeddings, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    features = np.empty((len(rows.class_id), model.feature_dim), dtype=np.float32)
    for c in np.unique(rows.class_id):
        where = np.flatnonzero(rows.class_id == c)
        generated, _ = model.generate(table, len(where), generator, class_ids=[int(c)])
        features[where] = generated.cpu().numpy()
    return features, rows.class_id.astype(np.int64)


def named_rows(generator_path, embeddings: np.ndarray, class_names: Sequence[str], generated: Sequence[str],
               n_per_class: int, *, seed: int, dropout_at_generation: bool) -> tuple[np.ndarray, np.ndarray]:
    """`n_per_class` generated rows for each class of `generated` (the split's unseen classes, then
    the named ones), as `zs3core.train.generator.write_bank` draws a bank's: the same seed and order
    give the bank's rows for the split's unseen classes. `embeddings` is the table of `class_names`,
    the generator's classes followed by the named ones."""
    model, state = load_generator(generator_path, resolve_device(None))
    trained = list(state["class_names"])
    class_names = list(class_names)
    if class_names[:len(trained)] != trained:
        raise ValueError(f"{generator_path} was trained with classes {trained}; a named model's classes "
                         f"must start with them, got {class_names}")
    table = np.asarray(embeddings, dtype=np.float32)
    if table.shape != (len(class_names), model.embed_dim):
        raise ValueError(f"embeddings {table.shape} must be ({len(class_names)}, {model.embed_dim})")
    ids = [class_names.index(c) for c in generated]
    blocks = generated_blocks(model, table, ids, int(n_per_class), seed=seed, dropout=bool(dropout_at_generation))
    return np.concatenate(list(blocks)), np.repeat(np.asarray(ids, dtype=np.int64), int(n_per_class))


def retrain(method: str, feature_file, class_names: Sequence[str], unseen: Sequence[str], cfg: dict, *,
            holdout: frozenset[str], out_path, seed: int, extra: Sequence[tuple[np.ndarray, np.ndarray]] = (),
            cv_gamma: float | None = None, provenance: dict | None = None,
            log: logging.Logger | None = None) -> dict:
    """Train the classifier of `method`, choose gamma, and write `out_path` atomically, with its
    loss curve beside it (`zs3core.curves.classifier_loss_csv`).

    `extra` = (features, class ids) pairs added to the real rows: the generator's bank for zs3;
    the bank and the pseudo-labelled rows for zs5.
    `cfg` is the `classifier` config section (training keys, `unseen_weight`, `calibration`);
    `holdout` the held-out image ids (`zs3core.holdout`); `cv_gamma` the cross-validated gamma
    (required when `calibration.rule` is `cv`); `provenance` what the results rows of the
    classifier are to record that the config does not say (`save_classifier`).
    """
    if method not in METHODS:
        raise ValueError(f"unknown classifier method {method!r}, expected one of {METHODS}")
    calib = cfg["calibration"]
    rows = real_rows(feature_file, include_unseen_images=method == "ceiling", holdout=holdout)
    features, labels = rows.features, rows.labels
    for added_features, added_labels in extra:
        features = np.concatenate([features, added_features])
        labels = np.concatenate([labels, added_labels.astype(np.int64)])
    unseen_ids = [class_names.index(c) for c in unseen]
    seen_ids = [c for c in range(len(class_names)) if c not in unseen_ids]
    train_cfg = ClassifierTraining.from_config(cfg)
    if log:
        counts = np.bincount(labels, minlength=len(class_names))
        log.info("%s: %d rows (%s unseen), %d held-out seen pixels", method, len(labels),
                 {class_names[c]: int(counts[c]) for c in unseen_ids}, len(rows.heldout))
    curve: list[tuple[int, float]] = []
    model = fit_classifier(features, labels, len(class_names), unseen_ids, train_cfg, seed=seed, log=log, curve=curve)
    write_classifier_curve(classifier_loss_csv(out_path), curve)
    with torch.no_grad():
        heldout_logits = model(torch.as_tensor(rows.heldout, dtype=torch.float32))
    gammas, sweep = calibration_gammas(heldout_logits, seen_ids, calib, cv_gamma)
    if log:
        log.info("gamma %s (rate: largest with <= %.1f%% of held-out seen pixels predicted unseen); applied: %s",
                 gammas, 100 * calib["max_unseen_rate"], calib["rule"])
    return save_classifier(out_path, model.weight, model.bias, gammas, calib["rule"], sweep, class_names, unseen,
                           method, provenance=provenance)


def pseudo_rows(feature_file, unseen: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every row of a pseudo-label feature file: real pool features at pseudo-labelled pixels,
    labelled with the ZS3 model's (unseen) prediction."""
    with FeatureFile(feature_file) as f:
        rows = f.read()
        unseen_ids = f.class_ids(unseen)
    if not np.isin(rows.class_id, unseen_ids).all():
        raise ValueError(f"{feature_file}: pseudo-labelled rows must all be of unseen classes")
    return rows.features, rows.class_id.astype(np.int64)
