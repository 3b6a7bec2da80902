"""ZS5Net's p by zero-shot cross-validation: the rows it pseudo-labels, the p it picks, what it reads."""
import json

import numpy as np
import pytest
import torch

from fixtures import config_section
from test_cv import CLASSIFIER, CV_CFG, HOLDOUT, write_toy
from zs3core import calibration, cv, cv_selftrain
from zs3core.features import FeatureFile
from zs3core.selftrain import top_p_pseudo_labels
from zs3core.train.generator_kit import GeneratorRows


def test_top_p_rows_keeps_the_most_confident_rows_carrying_p_percent_of_the_pixels():
    # image 7: rows predicted unseen (class 1) are 0, 1, 3; by confidence 0 (0.9), 3 (0.7), 1 (0.5),
    # carrying 1, 1, 2 pixels of 4: 25% -> row 0; 50% -> 0, 3; 60% (2.4 pixels) -> 0, 3, 1.
    # Image 8: one row, kept at any p > 0. Row 2 is predicted seen: never kept.
    confidence = np.array([0.9, 0.5, 0.99, 0.7, 0.6])
    predicted = np.array([1, 1, 0, 1, 1])
    weights = np.array([1.0, 2.0, 1.0, 1.0, 3.0])
    images = np.array([7, 7, 7, 7, 8])
    kept = {p: np.flatnonzero(cv_selftrain.top_p_rows(confidence, predicted, [1], weights, images, p)).tolist()
            for p in (0, 25, 50, 60, 100)}
    assert kept == {0: [], 25: [0, 4], 50: [0, 3, 4], 60: [0, 1, 3, 4], 100: [0, 1, 3, 4]}
    with pytest.raises(ValueError, match="percentage"):
        cv_selftrain.top_p_rows(confidence, predicted, [1], weights, images, 120)


@pytest.mark.parametrize("p", [1, 10, 25, 33.3, 50, 75, 100])
def test_with_unit_weights_rows_are_kept_as_selftrain_keeps_pixels(p):
    # one image, 40 pixels as rows: the same set as ZS5Net's own top-p cut of a score map (ties included)
    rng = np.random.default_rng(3)
    scores = torch.from_numpy(rng.integers(0, 4, size=(4, 1, 40)).astype(np.float32))
    reference = top_p_pseudo_labels(scores, unseen=[2, 3], p=p)[0] != 255
    confidence, predicted = scores[None].softmax(1)[0].max(0)  # as top_p_pseudo_labels computes them
    kept = cv_selftrain.top_p_rows(confidence.flatten().numpy(), predicted.flatten().numpy(), [2, 3], np.ones(40),
                                   np.zeros(40), p)
    assert np.array_equal(kept, reference)


class NearestMean:
    """A stand-in for the retrained classifier whose answers can be worked out by hand: per output,
    the mean of its training rows; logits -(x - mean)^2 (1-D features)."""

    def __init__(self, data, features, labels, classifier_cfg, *, seed):
        compact = data.compact(labels)
        self.means = torch.tensor([features[compact == c, 0].mean() for c in range(len(data.outputs))])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return -(x[:, :1] - self.means[None]) ** 2


def toy_split(pool_labels=(1, 1, 0, 0)):
    """Class 0 seen, class 1 pseudo-unseen, 1-D features. Training rows: class 0 at x = 0; the bank puts
    class 1 at 4, too close to class 0. Pool (one image): two rows at 10, two at 3 (both predicted 1, the
    rows at 3 less confidently; their true classes, `pool_labels`, must not matter but for precision).
    Scored: one image per row, class 0 at 0 and 2.7, class 1 at 3.5 and 10."""
    names = ["background", "sheep"]
    column = lambda *x: np.array(x, dtype=np.float32)[:, None]  # noqa: E731
    data = cv.CVData(names, pseudo=[1], remaining=[0],
                     train=GeneratorRows(column(0, 0, 0, 0), np.zeros(4, int), [0], np.arange(4)),
                     pool_features=column(10, 10, 3, 3), pool_labels=np.array(pool_labels),
                     pool_images=np.full(4, 5), eval_features=column(0, 2.7, 3.5, 10),
                     eval_labels=np.array([0, 0, 1, 1]), eval_weights=np.ones(4), eval_images=np.arange(4))
    pool = cv_selftrain.PoolRows(data.pool_features, data.pool_labels, np.ones(4), data.pool_images)
    bank = (column(4, 4, 4, 4), np.ones(4, dtype=np.int64))
    return data, pool, bank


@pytest.mark.parametrize("choice", ["one_standard_error", "best"])
def test_p_is_the_one_whose_pseudo_labels_move_the_boundary_right(monkeypatch, choice):
    # Class 1's mean after adding the kept pool rows, and the boundary (halfway to class 0's mean 0):
    #   p = 25: 1 row at 10 -> (16 + 10) / 5 = 5.2, boundary 2.6: the scored 2.7 turns class 1
    #   p = 50: 2 rows at 10 -> 36 / 6 = 6, boundary 3: every scored row right
    #   p = 100: + 2 rows at 3 -> 42 / 8 = 5.25, boundary 2.625: 2.7 wrong again
    # One wrong row: confusion [[1, 1], [0, 2]], IoU 1/2 and 2/3, hIoU 4/7; ZS3Net (boundary 2) the same.
    # Every scored image is right at p = 50, so every resample is too: standard error 0, both rules pick 50.
    monkeypatch.setattr(cv_selftrain, "fit_cv_classifier", NearestMean)
    data, pool, bank = toy_split()
    classifier = {**CLASSIFIER, "calibration": {**CLASSIFIER["calibration"], "gammas": [0]}}
    result = cv_selftrain.cross_validate_p(data, pool, bank, classifier, {**CV_CFG, "choice": choice},
                                           [100, 25, 50], calibrated=True, seed=0)
    assert result["p"] == 50 and result["gamma"] == 0 and result["rule"] == "cv"
    sweep = {s["p"]: s for s in result["sweep"]}
    assert list(sweep) == [25, 50, 100]
    assert [sweep[p]["hiou"] for p in (25, 50, 100)] == pytest.approx([4 / 7, 1, 4 / 7])
    assert sweep[50]["hiou_se"] == 0 and result["zs3_pseudo_hiou"] == pytest.approx(4 / 7)
    assert [sweep[p]["pseudo_rows"] for p in (25, 50, 100)] == [1, 2, 4]
    assert [sweep[p]["pseudo_precision"] for p in (25, 50, 100)] == [1, 1, 0.5]
    # the pool's true classes choose nothing: relabelled, only the precision changes
    data, pool, bank = toy_split(pool_labels=(0, 0, 1, 1))
    again = cv_selftrain.cross_validate_p(data, pool, bank, classifier, {**CV_CFG, "choice": choice},
                                          [100, 25, 50], calibrated=True, seed=0)
    assert again["p"] == 50 and [s["hiou"] for s in again["sweep"]] == [s["hiou"] for s in result["sweep"]]
    assert [s["pseudo_precision"] for s in again["sweep"]] == [0, 0, 0.5]


def test_the_smallest_p_within_one_standard_error_of_the_best():
    sweep = [{"p": p, "hiou": h, "hiou_se": 0.07} for p, h in ((5, 0.50), (10, 0.55), (25, 0.60), (50, 0.58))]
    assert calibration.choose_by_hiou(sweep, "p", "one_standard_error") == 10  # 0.55 >= 0.60 - 0.07; 0.50 is not
    assert calibration.choose_by_hiou(sweep, "p", "best") == 25


def test_p_cv_reads_no_unseen_image_and_trains_on_no_held_out_image(tmp_path, monkeypatch):
    # the toy of test_cv: cow (unseen) in every fifth image, im0-im7 held out; feature 3 = image index
    path = tmp_path / "train.h5"
    write_toy(path)
    with FeatureFile(path) as f:
        has_cow = set(np.flatnonzero(f.image_table()["has_unseen"]).tolist())
    held = set(range(8))
    reads, maps, trained, scored = [], [], [], []
    original_read, original_map = FeatureFile.read, FeatureFile.label_map
    monkeypatch.setattr(FeatureFile, "read", lambda self, *a, **k: reads.append(k.get("images")) or
                        original_read(self, *a, **k))
    monkeypatch.setattr(FeatureFile, "label_map", lambda self, i: maps.append(i) or original_map(self, i))
    fit, logits = cv_selftrain.fit_cv_classifier, cv_selftrain.cv_logits
    n_bank = 6

    def spy_fit(data, features, labels, cfg, *, seed):
        n = len(data.train.class_id)  # training rows, the bank's rows (no image), then the pool's
        real = np.concatenate([features[:n], features[n + n_bank:]])
        trained.append(set(real[:, 2].astype(int).tolist()))
        return fit(data, features, labels, cfg, seed=seed)

    monkeypatch.setattr(cv_selftrain, "fit_cv_classifier", spy_fit)
    monkeypatch.setattr(cv_selftrain, "cv_logits", lambda model, features:
                        scored.append(set(features[:, 2].astype(int).tolist())) or logits(model, features))

    data = cv.load_cv_data(path, HOLDOUT, CV_CFG, seed=0, K=2)
    pool = cv_selftrain.unlabelled_pool(path, data)
    embeddings = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    generator = {**config_section("generator"), "bandwidth_mode": "relative", "iterations": 3, "noise_dim": 4,
                 "hidden": 8, "device": "cpu"}
    bank = cv.pseudo_bank(data, embeddings, generator, n_bank, dropout_at_generation=True, seed=0)
    result = cv_selftrain.cross_validate_p(data, pool, bank, CLASSIFIER, CV_CFG, [10, 50, 100], calibrated=True,
                                           seed=0)

    # rows: one read, of the seen-only images; label maps: the scored images and the pool's, never a cow image
    assert len(reads) == 1 and set(np.flatnonzero(reads[0]).tolist()) == set(range(40)) - has_cow
    pseudo = data.pseudo[0]
    pool_images = {i for i in range(40) if 1 + i % 3 == pseudo} - has_cow - held
    assert set(pool.images.tolist()) == pool_images and set(maps) == (held - has_cow) | pool_images
    # the pool: the images the pseudo split's step 0 drops, not held out
    assert set(pool.features[:, 2].astype(int).tolist()) == pool_images
    # training: ZS3Net on the pseudo split's training images, then one classifier per p with pool rows
    train_images = set(range(40)) - has_cow - held - pool_images
    assert len(trained) == 4 and trained[0] == train_images
    assert all(train_images <= images <= train_images | pool_images for images in trained[1:])
    # held-out rows go through a classifier only to be scored
    assert all(s == held - has_cow or s <= pool_images for s in scored)
    assert (held - has_cow) in scored and result["p"] in (10, 50, 100)
    assert result["pool_images"] == len(pool_images) and result["pseudo_unseen"] == [data.class_names[pseudo]]


def test_a_split_too_small_to_cross_validate_takes_the_smallest_p():
    record, sweep = cv_selftrain.skipped("1 candidate pseudo-unseen class(es)", [50, 10, 25])
    assert record["p"] == 10 and record["skipped"].startswith("1 candidate") and [s["p"] for s in sweep] == [10]


def test_the_p_file_is_read_and_checked(tmp_path):
    path = tmp_path / "p_zs5.json"
    path.write_text(json.dumps({"p": 50, "rule": "cv"}))
    assert cv_selftrain.read_cv_p(path) == 50.0
    assert cv_selftrain.resolve_p("cv", str(path)) == (50.0, "cv")
    assert cv_selftrain.resolve_p("25", []) == (25.0, "fixed")
    with pytest.raises(ValueError, match="needs its cross-validation file"):
        cv_selftrain.resolve_p("cv", [])
    path.write_text(json.dumps({"p": 0}))
    with pytest.raises(ValueError, match="forcerun"):
        cv_selftrain.read_cv_p(path)
