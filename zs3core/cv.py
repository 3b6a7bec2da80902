"""Zero-shot cross-validation on seen classes: the calibration offset gamma chosen by pseudo hIoU.

The paper chose its generator's settings by "the zero-shot cross-validation procedure" of its
reference [7], and calibrated stacking (its reference [9]) picks gamma the same way: hide some
SEEN classes as pseudo-unseen, run the method on the rest, and score the hidden ones. No unseen
class and no test image is touched.

Per split (one feature file `features/{dataset}/k{K}/train.h5`):

- pseudo-unseen classes: `n` seen classes other than background (class 0) that occur both in
  the held-out and in the other seen-only images; `n` = `cv.n_pseudo` (null: K), capped at
  `cv.max_pseudo_fraction` of those candidates (at least 1), drawn by a generator seeded with
  (seed, K): the same draw on every rerun;
- every row read comes from a seen-only image (`has_unseen` false): one `FeatureFile.read` of
  those images, and the label maps of the held-out ones. Rows of images holding a real unseen
  class are never read;
- training images: seen-only, not held out (`zs3core.holdout`), holding no pseudo-unseen class
  (presence from the sampled rows, i.e. the downsampled label map). A GMMN is trained on their
  rows as in step 1 (`fit_gmmn`, the split's generator config), generates a bank for the
  pseudo-unseen classes (`bank.n_per_class`, null: the mean rows per remaining seen class), and a
  classifier is retrained on their rows + the bank as in step 2 (`zs3`);
- the ceiling's CV (`ceiling`): the classifier retrained on the REAL rows of every non-held-out
  seen-only image, pseudo-unseen classes included;
- scoring: the rows of the held-out seen-only images, each weighted by the pixels of its class in
  its image over the rows sampled of them (sampling keeps at most `features.max_per_class` rows
  per class and image, so unweighted rows over-represent small classes), so the confusion matrix
  estimates pixel counts on the feature grid. Generalized metrics among the remaining seen and
  pseudo-unseen classes (the real unseen classes are not outputs of the CV classifiers);
- gamma (`cv.choice`): `one_standard_error` (default), the smallest grid value
  (`classifier.calibration.gammas`) whose pseudo hIoU is within one standard error of the highest;
  `best`, the grid value of the highest (ties: the smallest). The standard error is the spread of
  the best gamma's pseudo hIoU over `cv.bootstrap` resamples of the held-out images (seeded).
  Which classes are hidden and which images are held out make the pseudo hIoU noisy; an offset
  that pays less than that noise is not evidence of a bias, and on a classifier that is not
  seen-biased (the real-feature ceiling) it only costs.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import torch

from zs3core.calibration import choose_gamma_by_hiou
from zs3core.device import resolve_device
from zs3core.features import FeatureFile
from zs3core.holdout import image_mask
from zs3core.methods import cv_kinds
from zs3core.regions import VOID
from zs3core.train.classifier import ClassifierTraining, fit_classifier
from zs3core.train.gan import fit_gan, resolve_gan_config
from zs3core.train.generator import fit_gmmn, resolve_config
from zs3core.train.generator_kit import GeneratorRows

KINDS = cv_kinds()  # the methods with a gamma cross-validation of their own (zs3core/methods.py)
BACKGROUND = 0


class TooFewClasses(ValueError):
    """The hold-out and the training images share too few seen classes to cross-validate."""


def n_pseudo(K: int, n_candidates: int, cfg: dict) -> int:
    """How many seen classes turn pseudo-unseen: `cv.n_pseudo` (null: K), capped at
    `cv.max_pseudo_fraction` of the candidates so that enough seen classes remain, at least 1."""
    if n_candidates < 2:
        raise TooFewClasses(f"{n_candidates} candidate pseudo-unseen class(es): cross-validation needs "
                         "at least 2 seen classes besides background in held-out and training images")
    wanted = cfg["n_pseudo"] or K
    return max(1, min(wanted, int(cfg["max_pseudo_fraction"] * n_candidates)))


def draw_pseudo_unseen(candidates: Sequence[int], n: int, seed: int, K: int) -> list[int]:
    """`n` of `candidates`, sorted; fixed by (seed, K) and the candidate set."""
    candidates = sorted(int(c) for c in candidates)
    picked = np.random.default_rng([seed, K, 0xC5]).permutation(len(candidates))[:n]
    return sorted(candidates[i] for i in picked)


def pixel_weights(rows_image: np.ndarray, rows_class: np.ndarray, label_maps: dict[int, np.ndarray]) -> np.ndarray:
    """Per row: the pixels of its class in its image's label map over the rows sampled of them."""
    weights = np.empty(len(rows_class), dtype=np.float64)
    for i, label in label_maps.items():
        where = np.flatnonzero(rows_image == i)
        classes = rows_class[where].astype(np.int64)
        pixels = np.bincount(label[label != VOID].ravel().astype(np.int64), minlength=classes.max() + 1)
        sampled = np.bincount(classes, minlength=pixels.size)
        weights[where] = pixels[classes] / sampled[classes]
    return weights


@dataclass
class CVData:
    """What the cross-validation of one split reads, split by role."""
    class_names: list[str]
    pseudo: list[int]  # class ids
    remaining: list[int]  # seen class ids that stay seen
    train: GeneratorRows  # generator and zs3 classifier rows (no pseudo-unseen image)
    pool_features: np.ndarray  # ceiling rows: every non-held-out seen-only image
    pool_labels: np.ndarray
    pool_images: np.ndarray  # the image index of each ceiling row
    eval_features: np.ndarray  # held-out seen-only images
    eval_labels: np.ndarray
    eval_weights: np.ndarray
    eval_images: np.ndarray  # the image index of each scored row (the bootstrap's unit)

    @property
    def outputs(self) -> list[int]:
        """The class ids of a CV classifier's outputs, in order: remaining seen, then pseudo-unseen."""
        return self.remaining + self.pseudo

    @property
    def pseudo_outputs(self) -> list[int]:
        """The output indices of the pseudo-unseen classes."""
        return list(range(len(self.remaining), len(self.outputs)))

    def compact(self, class_id: np.ndarray) -> np.ndarray:
        """Class ids -> output indices (-1 for a class that is no output)."""
        index = np.full(len(self.class_names), -1, dtype=np.int64)
        index[self.outputs] = np.arange(len(self.outputs))
        return index[class_id]


def load_cv_data(feature_file, holdout: frozenset[str], cv_cfg: dict, *, seed: int, K: int) -> CVData:
    """Rows of the seen-only images of `feature_file`, the pseudo-unseen draw, and their roles."""
    with FeatureFile(feature_file) as f:
        table, names = f.image_table(), f.class_names
        seen_only = ~table["has_unseen"]
        rows = f.read(images=seen_only)
        held = image_mask(table["image_id"], holdout)
        scored = np.flatnonzero(seen_only & held)
        if scored.size == 0:
            raise ValueError(f"{feature_file}: no held-out seen-only image to cross-validate on; "
                             "raise holdout.fraction")
        label_maps = {int(i): f.label_map(int(i)) for i in scored}
        unseen = set(f.class_ids(f.unseen_classes).tolist())
    seen = [c for c in range(len(names)) if c not in unseen]
    row_held = held[rows.image]
    in_held = set(np.unique(rows.class_id[row_held]).tolist())
    in_train = set(np.unique(rows.class_id[~row_held]).tolist())
    candidates = [c for c in seen if c != BACKGROUND and c in in_held and c in in_train]
    pseudo = draw_pseudo_unseen(candidates, n_pseudo(K, len(candidates), cv_cfg), seed, K)
    has_pseudo = np.zeros(len(seen_only), dtype=bool)
    has_pseudo[rows.image[np.isin(rows.class_id, pseudo)]] = True
    train = ~row_held & ~has_pseudo[rows.image]
    labels = rows.class_id.astype(np.int64)
    remaining = [c for c in seen if c not in pseudo]
    return CVData(names, pseudo, remaining,
                  GeneratorRows(rows.features[train], labels[train], remaining, rows.image[train]),
                  rows.features[~row_held], labels[~row_held], rows.image[~row_held],
                  rows.features[row_held], labels[row_held],
                  pixel_weights(rows.image[row_held], labels[row_held], label_maps), rows.image[row_held])


class PseudoBank(NamedTuple):
    """The synthetic pseudo-unseen rows (features, class ids) and the loss curve of their GMMN."""
    features: np.ndarray
    class_id: np.ndarray
    curve: list[tuple[int, float]]


def _fit_gmmn(data: CVData, table: torch.Tensor, cfg: dict, seed: int, log) -> tuple[torch.nn.Module, dict, list]:
    fit = fit_gmmn(data.train, table, data.train.features.shape[1], cfg, seed=seed,
                   device=resolve_device(cfg["device"], "generator.device"), class_names=data.class_names, log=log,
                   source="cross-validation rows")
    return fit.model, fit.rows_per_class, fit.curve


def _fit_gan(data: CVData, table: torch.Tensor, cfg: dict, seed: int, log) -> tuple[torch.nn.Module, dict, list]:
    fit = fit_gan(data.train, table, data.train.features.shape[1], cfg, seed=seed,
                  device=resolve_device(cfg["device"], "gan.device"), class_names=data.class_names, log=log,
                  source="cross-validation rows")
    return fit.nets.generator, fit.rows_per_class, [(it, w) for it, w, *_ in fit.curve]


# The generator sections a pseudo split can train: their config resolution and training loop.
GENERATORS = {"generator": (resolve_config, _fit_gmmn), "gan": (resolve_gan_config, _fit_gan)}


def pseudo_bank(data: CVData, embeddings: np.ndarray, generator_cfg: dict, n_per_class: int | None, *,
                dropout_at_generation: bool, seed: int, log: logging.Logger | None = None,
                section: str = "generator") -> PseudoBank:
    """The generator of `section` (`GENERATORS`: the GMMN or the GAN) trained on the training rows
    (remaining seen classes), and its synthetic rows for the pseudo-unseen classes: `n_per_class`
    each (None: the mean rows per trained class), generated as the split's banks are
    (`bank.dropout_at_generation`)."""
    resolve, fit = GENERATORS[section]
    table = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    model, rows_per_class, curve = fit(data, table, resolve(generator_cfg), seed, log)
    n = n_per_class or int(round(float(np.mean(list(rows_per_class.values())))))
    features, class_id = model.generate(table, n, torch.Generator().manual_seed(seed), class_ids=data.pseudo,
                                        dropout=dropout_at_generation)
    return PseudoBank(features.cpu().numpy(), class_id.numpy(), curve)


def zs3_rows(data: CVData, bank: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The pseudo split's ZS3Net training rows: the training rows + the bank (class ids)."""
    return (np.concatenate([data.train.features, bank[0]]),
            np.concatenate([data.train.class_id, bank[1].astype(np.int64)]))


def fit_cv_classifier(data: CVData, features: np.ndarray, labels: np.ndarray, classifier_cfg: dict, *,
                      seed: int, curve: list | None = None) -> torch.nn.Linear:
    """A classifier retrained as in step 2 on rows of class ids `labels`, over `data.outputs`
    (its loss per epoch appended to `curve`, when given)."""
    return fit_classifier(features, data.compact(labels), len(data.outputs), data.pseudo_outputs,
                          ClassifierTraining.from_config(classifier_cfg), seed=seed, curve=curve)


@torch.no_grad()
def cv_logits(model: torch.nn.Linear, features: np.ndarray) -> torch.Tensor:
    return model(torch.as_tensor(features, dtype=torch.float32))


def cross_validate(kind: str, data: CVData, classifier_cfg: dict, cv_cfg: dict, *, seed: int,
                   bank: PseudoBank | None = None, log: logging.Logger | None = None) -> dict:
    """Retrain the classifier of `kind` on the CV rows and choose gamma by pseudo hIoU.

    `zs3`, `zs3gan`: training rows + `bank` (their generator's synthetic pseudo-unseen rows);
    `ceiling`: the real pool rows.
    `cv_cfg`: the `cv` config section (`choice`, `bootstrap`). Returns {gamma, sweep, pseudo_unseen,
    rows, curves}: `curves` holds the loss curves, (epoch, loss) of the classifier and (iteration,
    loss) of the bank's GMMN (`zs3core.curves` reads them)."""
    if kind not in KINDS:
        raise ValueError(f"unknown cross-validation kind {kind!r}, expected one of {KINDS}")
    if (bank is None) != (kind == "ceiling"):
        raise ValueError(f"cross-validation kind {kind!r} {'takes no' if kind == 'ceiling' else 'needs a'} pseudo bank")
    features, labels = (data.pool_features, data.pool_labels) if bank is None else zs3_rows(data, bank)
    curve: list[tuple[int, float]] = []
    model = fit_cv_classifier(data, features, labels, classifier_cfg, seed=seed, curve=curve)
    gamma, sweep = choose_gamma_by_hiou(cv_logits(model, data.eval_features), data.compact(data.eval_labels),
                                        data.eval_weights, data.eval_images, list(range(len(data.remaining))),
                                        data.pseudo_outputs, classifier_cfg["calibration"]["gammas"],
                                        choice=cv_cfg["choice"], n_bootstrap=cv_cfg["bootstrap"], seed=seed)
    if log:
        best = max(sweep, key=lambda s: s["hiou"])
        log.info("%s CV: %d training rows, gamma %g by %s (pseudo hIoU %.3f; best %.3f +- %.3f at gamma %g)", kind,
                 len(labels), gamma, cv_cfg["choice"], next(s["hiou"] for s in sweep if s["gamma"] == gamma),
                 best["hiou"], best["hiou_se"], best["gamma"])
    return {"kind": kind, "gamma": gamma, "rule": "cv", "choice": cv_cfg["choice"], "sweep": sweep,
            "pseudo_unseen": [data.class_names[c] for c in data.pseudo], "training_rows": int(len(labels)),
            "scored_rows": int(len(data.eval_labels)), "scored_pixels": float(data.eval_weights.sum()),
            "curves": {"classifier": curve} | ({"gmmn": bank.curve} if bank is not None else {})}


def skipped(kind: str, reason: str) -> tuple[dict, list[dict]]:
    """The record and sweep of a split that cannot be cross-validated (`TooFewClasses`, e.g. a
    rehearsal on a handful of images): no evidence for an offset, so gamma 0, with the reason."""
    nan = float("nan")
    return ({"kind": kind, "gamma": 0.0, "rule": "cv", "skipped": reason, "pseudo_unseen": []},
            [{"gamma": 0.0, "seen_miou": nan, "unseen_miou": nan, "hiou": nan, "hiou_se": nan}])


def read_cv_gamma(path) -> float:
    """The cross-validated gamma of a `cv/.../gamma_{zs3,ceiling}.json`."""
    with open(path) as f:
        record = json.load(f)
    if not isinstance(record.get("gamma"), (int, float)) or record["gamma"] < 0:
        raise ValueError(f"{path}: expected a non-negative 'gamma'; rebuild it with `snakemake --forcerun {path}`")
    return float(record["gamma"])
