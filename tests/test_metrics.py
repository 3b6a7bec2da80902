"""Metrics against brute-force references computed pixel by pixel."""
import math

import numpy as np
import pytest

from zs3core import metrics


def brute_confusion(target, pred, num_classes):
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(target.ravel(), pred.ravel()):
        if t != 255:
            cm[t, p] += 1
    return cm


def brute_summary(target, pred, num_classes, unseen, absent_as_zero=False):
    """The paper's definitions, written as plainly as possible over pixel lists."""
    t, p = target.ravel(), pred.ravel()
    valid = t != 255
    t, p = t[valid], p[valid]
    seen = [c for c in range(num_classes) if c not in unseen]

    def iou(c):  # standard: undefined only when neither present nor predicted
        inter = np.sum((t == c) & (p == c))
        union = np.sum((t == c) | (p == c))
        if absent_as_zero and not np.sum(t == c):
            return 0.0
        return inter / union if union else None

    def recall(c):
        n = np.sum(t == c)
        if absent_as_zero and not n:
            return 0.0
        return np.sum((t == c) & (p == c)) / n if n else None

    def mean(values):
        vals = [v for v in values if v is not None]
        return sum(vals) / len(vals) if vals else float("nan")

    out = {}
    for name, group in (("seen", seen), ("unseen", unseen), ("all", list(range(num_classes)))):
        in_group = np.isin(t, group)
        out[f"{name}_pa"] = np.sum((t == p) & in_group) / np.sum(in_group)
        out[f"{name}_ma"] = mean([recall(c) for c in group])
        out[f"{name}_miou"] = mean([iou(c) for c in group])
    s, u = out["seen_miou"], out["unseen_miou"]
    out["hiou"] = 2 * s * u / (s + u)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matrix_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    c = 7
    target = rng.integers(0, c, size=(13, 17))
    target[rng.random(target.shape) < 0.1] = 255
    pred = rng.integers(0, c, size=(13, 17))
    np.testing.assert_array_equal(metrics.confusion_matrix(target, pred, c), brute_confusion(target, pred, c))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("absent_as_zero", [False, True])
def test_summary_matches_brute_force(seed, absent_as_zero):
    rng = np.random.default_rng(seed)
    c, unseen = 8, [2, 5, 6]
    target = rng.integers(0, c, size=(20, 30))
    target[target == 6] = 3  # class 6 absent from the ground truth but predicted
    target[rng.random(target.shape) < 0.05] = 255
    # a biased predictor: mostly right, sometimes a random class
    pred = np.where(rng.random(target.shape) < 0.6, target, rng.integers(0, c, size=target.shape))
    pred[pred == 255] = 0
    cm = metrics.confusion_matrix(target, pred, c)
    got = metrics.summarize(cm, unseen, absent_as_zero=absent_as_zero)
    want = brute_summary(target, pred, c, unseen, absent_as_zero)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key]), key


def test_hand_made_prediction():
    # 2x3 image, classes 0 (seen), 1 (seen), 2 (unseen); one void pixel
    target = np.array([[0, 0, 1], [2, 2, 255]])
    pred = np.array([[0, 1, 1], [2, 0, 1]])
    cm = metrics.confusion_matrix(target, pred, 3)
    # rows gt, cols pred: gt0 -> {0:1, 1:1}; gt1 -> {1:1}; gt2 -> {2:1, 0:1}
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    s = metrics.summarize(cm, unseen=[2])
    # IoU0 = 1/(2+2-1)=1/3, IoU1 = 1/(1+2-1)=1/2, IoU2 = 1/(2+1-1)=1/2
    assert s["seen_miou"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert s["unseen_miou"] == pytest.approx(0.5)
    assert s["all_pa"] == pytest.approx(3 / 5)
    assert s["seen_pa"] == pytest.approx(2 / 3)
    assert s["unseen_pa"] == pytest.approx(1 / 2)
    assert s["seen_ma"] == pytest.approx((1 / 2 + 1) / 2)
    h = 2 * s["seen_miou"] * 0.5 / (s["seen_miou"] + 0.5)
    assert s["hiou"] == pytest.approx(h)


def test_absent_class_excluded_or_zero():
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 1, 1])
    cm = metrics.confusion_matrix(target, pred, 3)  # class 2 never appears
    assert metrics.summarize(cm, unseen=[1])["all_miou"] == pytest.approx(1.0)
    assert metrics.summarize(cm, unseen=[1], absent_as_zero=True)["all_miou"] == pytest.approx(2 / 3)


def test_predicted_but_absent_class_counts_zero_by_default():
    # 4 classes; 0, 1 seen, 2, 3 unseen. Class 2 is predicted once but absent from the ground
    # truth; class 3 is neither present nor predicted. Rows gt, cols pred:
    cm = np.array([[3, 0, 1, 0],    # gt 0: 3 right, 1 called class 2
                   [0, 2, 0, 0],    # gt 1: 2 right
                   [0, 0, 0, 0],    # class 2: no ground truth
                   [0, 0, 0, 0]])   # class 3: no ground truth, never predicted
    iou = metrics.class_iou(cm)
    # IoU0 = 3 / (4 + 3 - 3) = 3/4, IoU1 = 1, IoU2 = 0 / (0 + 1 - 0) = 0, IoU3 undefined
    np.testing.assert_allclose(iou[:3], [0.75, 1.0, 0.0])
    assert math.isnan(iou[3])
    standard = metrics.summarize(cm, unseen=[2, 3])
    assert standard["seen_miou"] == pytest.approx(0.875)
    assert standard["unseen_miou"] == 0.0                      # class 2 counts 0, class 3 is left out
    assert standard["all_miou"] == pytest.approx((0.75 + 1 + 0) / 3)
    assert math.isnan(standard["unseen_ma"])                   # recall needs ground truth
    assert standard["all_ma"] == pytest.approx((0.75 + 1) / 2)
    authors = metrics.summarize(cm, unseen=[2, 3], absent_as_zero=True)
    assert authors["all_miou"] == pytest.approx((0.75 + 1 + 0 + 0) / 4)  # class 3 counts 0 too
    assert authors["all_ma"] == pytest.approx((0.75 + 1 + 0 + 0) / 4)
    assert authors["unseen_miou"] == 0.0 and authors["hiou"] == 0.0


def test_supervised_has_no_unseen_numbers():
    cm = metrics.confusion_matrix(np.array([0, 1]), np.array([0, 1]), 2)
    s = metrics.summarize(cm, unseen=[])
    assert s["all_miou"] == 1.0 and math.isnan(s["unseen_miou"]) and math.isnan(s["hiou"])


def test_vanilla_ignores_seen_scores_and_seen_pixels():
    # 3 classes, class 0 seen, 1 and 2 unseen; seen scores dominate everywhere
    target = np.array([[0, 1, 2, 2]])
    scores = np.zeros((3, 1, 4))
    scores[0] = 10.0                     # generalized argmax would always say class 0
    scores[1] = [[0, 2, 1, 0]]
    scores[2] = [[0, 1, 2, 3]]
    generalized = metrics.confusion_matrix(target, scores.argmax(0), 3)
    assert metrics.summarize(generalized, [1, 2])["unseen_miou"] == 0.0
    cm = metrics.vanilla_confusion_matrix(target, scores, unseen=[1, 2])
    np.testing.assert_array_equal(cm, [[0, 0, 0], [0, 1, 0], [0, 0, 2]])
    assert metrics.summarize(cm, [1, 2])["unseen_miou"] == 1.0


def test_out_of_range_labels_are_rejected():
    with pytest.raises(ValueError, match="outside 0..2"):
        metrics.confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
