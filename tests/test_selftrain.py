"""ZS5Net pseudo-labelling: top-p% selection, the unlabelled pool, and the quality diagnostic."""
import math
import os

import numpy as np
import pytest
import torch

from fixtures import VOC_CLASSES, make_voc_index
from zs3core.data.index import read_index
from zs3core.data.labels import read_label
from zs3core.features import FeatureWriter
from zs3core.retrain import pseudo_rows
from zs3core.selftrain import (pseudo_index, pseudo_label_pool, pseudo_label_quality, top_p_pseudo_labels,
                               unlabelled_pool)


def scores_for(pred: np.ndarray, conf: np.ndarray, C: int = 4) -> torch.Tensor:
    """Scores (C, H, W) whose argmax is `pred` and whose winning logit is `conf` (others 0)."""
    scores = np.zeros((C, *pred.shape), dtype=np.float32)
    for c in range(C):
        scores[c][pred == c] = conf[pred == c]
    return torch.from_numpy(scores)


# classes 0, 1 seen; 2, 3 unseen
PRED = np.array([[0, 2, 2, 3],
                 [1, 2, 3, 3]])
CONF = np.array([[5.0, 4.0, 1.0, 3.0],
                 [5.0, 2.0, 3.0, 0.5]])


def test_top_p_keeps_the_most_confident_unseen_pixels():
    out = top_p_pseudo_labels(scores_for(PRED, CONF), unseen=[2, 3], p=50)
    # 6 unseen-predicted pixels, ceil(50% x 6) = 3 kept: confidences 4, then the tie 3 / 3
    expected = np.full(PRED.shape, 255)
    expected[0, 1], expected[0, 3], expected[1, 2] = 2, 3, 3
    assert np.array_equal(out, expected)


def test_top_p_breaks_ties_by_raster_order():
    out = top_p_pseudo_labels(scores_for(PRED, CONF), unseen=[2, 3], p=100 * 2 / 6)
    # kept: the 4.0 pixel, then of the two 3.0 pixels the earlier one in raster order (0, 3)
    assert np.argwhere(out != 255).tolist() == [[0, 1], [0, 3]]


@pytest.mark.parametrize("p, kept", [(40, 3), (20, 2), (1, 1)])
def test_top_p_rounds_the_count_up(p, kept):
    # 6 unseen-predicted pixels: 40% is 2.4 -> 3, 20% is 1.2 -> 2, 1% is 0.06 -> 1 (floor or
    # rounding would keep 2, 1, 0)
    out = top_p_pseudo_labels(scores_for(PRED, CONF), unseen=[2, 3], p=p)
    assert (out != 255).sum() == kept
    by_confidence = [[0, 1], [0, 3], [1, 2]]  # 4.0, then the 3.0 tie in raster order
    assert sorted(np.argwhere(out != 255).tolist()) == sorted(by_confidence[:kept])


def test_gamma_reorders_confidence_before_the_top_p_cut():
    # pixel A: seen 3.9 vs unseen(2) 4.0 -> 0.52 at gamma 0, 0.94 at gamma 3 (its seen rival falls)
    # pixel B: unseen(3) 1.5 against zeros -> 0.60 at gamma 0, 0.80 at gamma 3
    scores = torch.zeros(4, 1, 2)
    scores[0, 0, 0], scores[2, 0, 0] = 3.9, 4.0
    scores[3, 0, 1] = 1.5
    assert top_p_pseudo_labels(scores, [2, 3], 50, gamma=0).tolist() == [[255, 3]]
    assert top_p_pseudo_labels(scores, [2, 3], 50, gamma=3).tolist() == [[2, 255]]


def test_top_p_bounds_and_no_unseen_prediction():
    scores = scores_for(PRED, CONF)
    assert (top_p_pseudo_labels(scores, [2, 3], 0) == 255).all()
    full = top_p_pseudo_labels(scores, [2, 3], 100)
    assert np.array_equal(full, np.where(np.isin(PRED, [2, 3]), PRED, 255))
    seen_only = scores_for(np.zeros_like(PRED), CONF)
    assert (top_p_pseudo_labels(seen_only, [2, 3], 100) == 255).all()
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        top_p_pseudo_labels(scores, [2, 3], 101)


def test_gamma_shifts_predictions_towards_unseen_classes():
    # a pixel whose seen logit (5) beats the unseen one (3) by less than gamma = 3 turns unseen
    scores = torch.zeros(4, 1, 2)
    scores[0, 0, 0], scores[2, 0, 0] = 5.0, 3.0
    scores[1, 0, 1], scores[3, 0, 1] = 9.0, 3.0
    assert (top_p_pseudo_labels(scores, [2, 3], 100, gamma=0) == 255).all()
    assert top_p_pseudo_labels(scores, [2, 3], 100, gamma=3).tolist() == [[2, 255]]


@pytest.fixture
def voc_index(tmp_path):
    ids = [f"2008_{i:06d}" for i in range(8)]
    return make_voc_index(tmp_path / "voc", ids[:6], ids[6:], size=(12, 16), rng=3)


def pool_ids(index, unseen):
    return sorted(r["image_id"] for r in read_index(index)
                  if r["split"] == "train" and set(unseen) & set(r["classes"]))


def test_pseudo_labelling_never_opens_a_pool_label(voc_index, tmp_path):
    index, labels = voc_index
    train_classes = {c for r in read_index(index) if r["split"] == "train" for c in r["classes"]}
    unseen = sorted(train_classes - {"background"})[:1]
    expected_pool = pool_ids(index, unseen)
    assert expected_pool and [r["image_id"] for r in unlabelled_pool(index, unseen)] == expected_pool
    assert all("label" not in r for r in unlabelled_pool(index, unseen))
    for row in read_index(index):  # the pool's labels are gone: any read would fail
        if row["image_id"] in expected_pool:
            os.remove(row["label"])
    u = VOC_CLASSES.index(unseen[0])

    def score(x):  # predicts the unseen class on the left half, more confidently further left
        s = torch.zeros(1, len(VOC_CLASSES), *x.shape[-2:])
        w = x.shape[-1]
        s[0, u, :, : w // 2] = torch.linspace(10, 5, w // 2)
        s[0, 0, :, w // 2:] = 1.0
        return s

    out = tmp_path / "pseudo" / "p50"
    assert pseudo_label_pool(score, index, VOC_CLASSES, unseen, 50, 0.0, out) == len(expected_pool)
    rows = read_index(pseudo_index(out))
    assert [r["image_id"] for r in rows] == expected_pool
    for r in rows:
        pseudo = read_label(r["label"])
        h, w = pseudo.shape
        expected = np.full((h, w), 255)
        expected[:, : math.ceil(w // 2 / 2)] = u  # half of the left half: its most confident columns
        assert np.array_equal(pseudo, expected) and r["classes"] == [unseen[0]]


def test_the_pool_leaves_the_calibration_hold_out_out(voc_index, tmp_path):
    """No classifier trains on a held-out image (`zs3core.holdout`), so ZS5Net's pool, which
    becomes training rows, leaves them out: no pseudo-label is written for them."""
    index, _ = voc_index
    unseen = ["background"]  # every training image holds it: all six are pool images
    train_ids = pool_ids(index, unseen)
    assert len(train_ids) == 6
    held = frozenset(train_ids[1:3]) | {"2008_000007"}  # two pool images and a validation image
    expected = [i for i in train_ids if i not in held]
    assert [r["image_id"] for r in unlabelled_pool(index, unseen, held)] == expected

    def score(x):  # background (the unseen class here) everywhere
        return torch.ones(1, len(VOC_CLASSES), *x.shape[-2:])

    out = tmp_path / "pseudo"
    assert pseudo_label_pool(score, index, VOC_CLASSES, unseen, 50, 0.0, out, holdout=held) == len(expected)
    assert [r["image_id"] for r in read_index(pseudo_index(out))] == expected
    assert sorted(p.stem for p in out.glob("*.png")) == expected


def test_quality_report_against_brute_force(voc_index, tmp_path):
    index, labels = voc_index
    unseen = ["background"]  # every train image contains it: all are in the pool

    def score(x):
        s = torch.zeros(1, len(VOC_CLASSES), *x.shape[-2:])
        s[0, 0] = torch.rand(x.shape[-2:], generator=torch.Generator().manual_seed(x.shape[-1]))
        return s

    out = tmp_path / "pseudo"
    pseudo_label_pool(score, index, VOC_CLASSES, unseen, 30, 0.0, out)
    (row,) = pseudo_label_quality(out, index, VOC_CLASSES, unseen)
    labelled = correct = gt = covered = 0
    for r in read_index(pseudo_index(out)):
        pseudo, truth = read_label(r["label"]), labels[r["image_id"]]
        labelled += (pseudo == 0).sum()
        correct += ((pseudo == 0) & (truth == 0)).sum()
        gt += (truth == 0).sum()
        covered += ((truth == 0) & (pseudo != 255)).sum()
    assert row["class"] == "background" and row["pseudo_pixels"] == labelled
    assert row["precision"] == pytest.approx(100 * correct / labelled)
    assert row["coverage"] == pytest.approx(100 * covered / gt)


def test_pseudo_rows_refuse_seen_classes(tmp_path):
    classes, unseen = ["background", "cat", "cow"], ["cow"]
    path = tmp_path / "pseudo.h5"
    label = np.full((4, 4), 255, dtype=np.uint8)
    label[:2] = 2
    with FeatureWriter(path, 3, classes, unseen, max_per_class=100) as w:
        w.add("a", np.ones((3, 4, 4), dtype=np.float32), label, np.random.default_rng(0))
    features, class_id = pseudo_rows(path, unseen)
    assert features.shape == (8, 3) and (class_id == 2).all()
    label[2:] = 1
    with FeatureWriter(path, 3, classes, unseen, max_per_class=100) as w:
        w.add("a", np.ones((3, 4, 4), dtype=np.float32), label, np.random.default_rng(0))
    with pytest.raises(ValueError, match="pseudo.h5.*unseen"):
        pseudo_rows(path, unseen)
