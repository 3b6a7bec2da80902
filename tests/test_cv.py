"""Zero-shot cross-validation: the gamma it picks, and what it reads for which role."""
import numpy as np
import pytest
import torch

from fixtures import config_section
from zs3core import calibration, cv
from zs3core.features import FeatureFile, FeatureWriter
from zs3core.classifiers import calibration_rows

CLASSES = ["background", "cat", "dog", "sheep", "cow"]  # cow unseen
CENTRES = np.array([[6.0, 0.0], [0.0, 6.0], [-6.0, 0.0], [0.0, -6.0], [6.0, 6.0]])
HOLDOUT = frozenset({"im0", "im1", "im2", "im3", "im4", "im5", "im6", "im7"})
CV_CFG = {"n_pseudo": None, "max_pseudo_fraction": 0.5, "choice": "one_standard_error", "bootstrap": 50}
ONE_IMAGE = np.zeros(3, dtype=np.int64)
CLASSIFIER = {"epochs": 5, "batch_size": 16, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "poly_power": 0.9,
              "unseen_weight": 1.0, "calibration": {"rule": "cv", "gammas": [0, 0.5, 1, 2, 4], "max_unseen_rate": 0.05}}


def write_toy(path):
    """40 images 4x4; background + one of cat/dog/sheep (image i: class 1 + i % 3) on the top
    rows, cow on the bottom row of every fifth. Feature = class centre + noise, and the image's
    index in the third dimension, so every row read says where it came from."""
    rng = np.random.default_rng(0)
    with FeatureWriter(path, 3, CLASSES, ["cow"], max_per_class=4) as w:
        for i in range(40):
            label = np.zeros((4, 4), dtype=np.uint8)
            label[:2] = 1 + i % 3
            label[0, 0] = 255
            if i % 5 == 4:
                label[3] = 4
            feats = np.concatenate([CENTRES[np.minimum(label, 4)].transpose(2, 0, 1)
                                    + 0.3 * rng.standard_normal((2, 4, 4)), np.full((1, 4, 4), float(i))])
            w.add(f"im{i}", feats.astype(np.float32), label, rng)


def test_unbiased_logits_get_gamma_zero_and_seen_biased_ones_the_smallest_best_gamma():
    # classes 0, 1 seen, 2 pseudo-unseen; one row each
    labels = np.array([0, 1, 2])
    unbiased = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]])
    gamma, sweep = calibration.choose_gamma_by_hiou(unbiased, labels, np.ones(3), ONE_IMAGE, [0, 1], [2], [0, 0.5, 1, 1.5, 2, 4])
    assert gamma == 0 and sweep[0]["hiou"] == 1.0
    # the pseudo row loses to seen class 1 by 1: gamma 1.5 and 2 are perfect, 4 flips the seen rows
    biased = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 1.0, 0]])
    gamma, sweep = calibration.choose_gamma_by_hiou(biased, labels, np.ones(3), ONE_IMAGE, [0, 1], [2], [4, 2, 1.5, 1, 0.5, 0],
                                           choice="best")
    assert gamma == 1.5
    assert [s["gamma"] for s in sweep] == [0, 0.5, 1, 1.5, 2, 4]
    assert [s["hiou"] for s in sweep][:3] == [0, 0, 0] and sweep[4]["hiou"] == 1.0 and sweep[5]["hiou"] < 1


def test_weights_decide_between_gammas():
    # gamma 1 turns row 1 (seen class 1) into the pseudo class and row 2 (pseudo) right: the
    # weights (pixels per row) decide whether that pays. Hand-computed hIoU, weights (1, 10, 1, 1):
    # 0.656 at gamma 0, 0.25 at 1; weights (1, 1, 10, 1): 0.156 at gamma 0, 0.647 at 1
    labels = np.array([0, 1, 2, 2])
    logits = torch.tensor([[3.0, 0, 0], [0, 0.5, 0], [0, 0.5, 0], [0, 0, 3.0]])
    heavy_seen, sweep = calibration.choose_gamma_by_hiou(logits, labels, np.array([1.0, 10, 1, 1]), np.zeros(4), [0, 1], [2],
                                                [0, 1], choice="best")
    assert [round(s["hiou"], 3) for s in sweep] == [0.656, 0.25]
    heavy_pseudo, sweep = calibration.choose_gamma_by_hiou(logits, labels, np.array([1.0, 1, 10, 1]), np.zeros(4), [0, 1], [2],
                                                  [0, 1], choice="best")
    assert [round(s["hiou"], 3) for s in sweep] == [0.156, 0.647]
    assert heavy_seen == 0 and heavy_pseudo == 1


# Two kinds of image, classes 0, 1 seen and 2 pseudo-unseen, one row per (logits, label): gamma 1
# turns the weak rows (logit 0.5 for class 1) into class 2, which fixes A's pseudo row and breaks B's
# seen row.
IMAGE_A = [([3, 0, 0], 0), ([0, 3, 0], 1), ([0, 3, 0], 1), ([0, 0.5, 0], 2), ([0, 0, 3], 2)]
IMAGE_B = [([3, 0, 0], 0), ([0, 3, 0], 1), ([0, 0.5, 0], 1), ([0, 0, 3], 2), ([0, 0, 3], 2)]


def scored_rows(images):
    rows = [(logits, label, i) for i, image in enumerate(images) for logits, label in image]
    return (torch.tensor([r[0] for r in rows], dtype=torch.float32), np.array([r[1] for r in rows]),
            np.array([r[2] for r in rows]))


def test_one_standard_error_keeps_gamma_zero_when_the_gain_is_within_the_noise():
    # 5 images of each kind, pooled: at gamma 0 IoU 1, 20/25 and 15/20 (classes 0, 1, 2), hIoU 0.818;
    # at gamma 1 IoU 1, 15/20, 20/25, hIoU 0.836. Which is better hangs on which images are drawn.
    logits, labels, images = scored_rows([IMAGE_A] * 5 + [IMAGE_B] * 5)
    best, sweep = calibration.choose_gamma_by_hiou(logits, labels, np.ones(len(labels)), images, [0, 1], [2], [0, 1],
                                          choice="best")
    careful, _ = calibration.choose_gamma_by_hiou(logits, labels, np.ones(len(labels)), images, [0, 1], [2], [0, 1])
    assert best == 1 and careful == 0
    assert [round(s["hiou"], 3) for s in sweep] == [0.818, 0.836]
    assert 0 < sweep[1]["hiou"] - sweep[0]["hiou"] < sweep[1]["hiou_se"]
    # the same gain on every image is no noise: the standard error is 0 and the offset is taken
    logits, labels, images = scored_rows([IMAGE_A] * 4)
    careful, sweep = calibration.choose_gamma_by_hiou(logits, labels, np.ones(len(labels)), images, [0, 1], [2], [0, 1])
    assert careful == 1 and [s["hiou_se"] for s in sweep] == [0.0, 0.0]
    assert [round(s["hiou"], 3) for s in sweep] == [0.625, 1.0]


def test_the_bootstrap_is_fixed_by_the_seed():
    logits, labels, images = scored_rows([IMAGE_A] * 3 + [IMAGE_B] * 4)
    runs = [calibration.choose_gamma_by_hiou(logits, labels, np.ones(len(labels)), images, [0, 1], [2], [0, 1], seed=s)[1]
            for s in (0, 0, 1)]
    assert runs[0] == runs[1] and runs[0][1]["hiou_se"] != runs[2][1]["hiou_se"]
    with pytest.raises(ValueError, match="cv.choice"):
        calibration.choose_gamma_by_hiou(logits, labels, np.ones(len(labels)), images, [0, 1], [2], [0, 1], choice="median")


def test_pixel_weights_are_pixels_over_sampled_rows():
    label = np.array([[0, 0, 0], [0, 1, 255]], dtype=np.uint8)  # 4 background, 1 cat, void not counted
    weights = cv.pixel_weights(np.array([7, 7, 7]), np.array([0, 0, 1]), {7: label})
    assert weights.tolist() == [2.0, 2.0, 1.0]


def test_pseudo_draw_is_fixed_by_seed_and_capped():
    assert cv.draw_pseudo_unseen(range(1, 11), 3, seed=0, K=2) == cv.draw_pseudo_unseen(range(10, 0, -1), 3, 0, 2)
    draws = {tuple(cv.draw_pseudo_unseen(range(1, 11), 3, seed=s, K=2)) for s in range(5)}
    assert len(draws) > 1
    assert cv.n_pseudo(10, 10, CV_CFG) == 5 and cv.n_pseudo(2, 10, CV_CFG) == 2 and cv.n_pseudo(2, 3, CV_CFG) == 1
    assert cv.n_pseudo(10, 10, {"n_pseudo": 3, "max_pseudo_fraction": 0.5}) == 3
    with pytest.raises(cv.TooFewClasses, match="at least 2"):
        cv.n_pseudo(2, 1, CV_CFG)


def test_a_split_that_cannot_be_cross_validated_gets_gamma_zero_and_says_why():
    record, sweep = cv.skipped("zs3", "1 candidate pseudo-unseen class(es)")
    assert record["gamma"] == 0.0 and record["skipped"].startswith("1 candidate") and record["pseudo_unseen"] == []
    assert [row["gamma"] for row in sweep] == [0.0]


def test_cv_reads_only_seen_only_images_and_trains_on_no_held_out_or_pseudo_image(tmp_path, monkeypatch):
    path = tmp_path / "train.h5"
    write_toy(path)
    reads, maps = [], []
    original_read, original_map = FeatureFile.read, FeatureFile.label_map
    monkeypatch.setattr(FeatureFile, "read", lambda self, *a, **k: reads.append((a, k)) or original_read(self, *a, **k))
    monkeypatch.setattr(FeatureFile, "label_map", lambda self, i: maps.append(i) or original_map(self, i))
    data = cv.load_cv_data(path, HOLDOUT, CV_CFG, seed=0, K=2)

    with_cow = {i for i in range(40) if i % 5 == 4}
    held = set(range(8))
    assert len(reads) == 1 and not reads[0][0] and set(reads[0][1]) == {"images"}
    read_images = set(np.flatnonzero(reads[0][1]["images"]))
    assert read_images == set(range(40)) - with_cow  # the only rows read: seen-only images
    assert set(maps) == held - with_cow  # label maps of the scored images only
    # 3 candidates (cat, dog, sheep), at most half of them: 1 pseudo-unseen class
    assert len(data.pseudo) == 1 and data.pseudo[0] in (1, 2, 3) and 4 not in data.remaining
    holding_pseudo = {i for i in range(40) if 1 + i % 3 == data.pseudo[0]}
    train_images = set(data.train.features[:, 2].astype(int))
    assert train_images == set(range(40)) - with_cow - held - holding_pseudo
    assert set(data.pool_features[:, 2].astype(int)) == set(range(40)) - with_cow - held
    assert set(data.eval_features[:, 2].astype(int)) == held - with_cow
    assert not np.isin(data.train.class_id, data.pseudo + [4]).any() and not np.isin(data.pool_labels, [4]).any()
    # each scored image: 4 rows of its 8 background pixels, 4 of its 7 object pixels (void left out)
    assert np.allclose(data.eval_weights[data.eval_labels == 0], 8 / 4)
    assert np.allclose(data.eval_weights[data.eval_labels != 0], 7 / 4)


def test_cross_validation_end_to_end_on_separable_features(tmp_path):
    path = tmp_path / "train.h5"
    write_toy(path)
    data = cv.load_cv_data(path, HOLDOUT, CV_CFG, seed=0, K=2)
    # real pseudo-unseen rows, well apart from the rest: nothing to correct
    ceiling = cv.cross_validate("ceiling", data, CLASSIFIER, CV_CFG, seed=0)
    assert ceiling["gamma"] == 0 and ceiling["pseudo_unseen"] == [CLASSES[data.pseudo[0]]]
    assert max(s["hiou"] for s in ceiling["sweep"]) > 0.9
    embeddings = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    generator = {**config_section("generator"), "bandwidth_mode": "relative", "iterations": 3, "noise_dim": 4,
                 "hidden": 8, "device": "cpu"}
    bank = cv.pseudo_bank(data, embeddings, generator, 6, dropout_at_generation=True, seed=0)
    assert bank[0].shape == (6, 3) and set(bank[1].tolist()) == set(data.pseudo)
    again = cv.pseudo_bank(data, embeddings, generator, 6, dropout_at_generation=True, seed=0)
    assert np.array_equal(bank[0], again[0])
    # bank.dropout_at_generation reaches the pseudo bank: the same GMMN without dropout writes other rows
    mean_network = cv.pseudo_bank(data, embeddings, generator, 6, dropout_at_generation=False, seed=0)
    assert np.abs(mean_network[0] - bank[0]).max() > 1e-3
    # bank.n_per_class null: the mean number of training rows per class the GMMN trained on
    per_class = np.bincount(data.train.class_id)[data.remaining]
    default = cv.pseudo_bank(data, embeddings, generator, None, dropout_at_generation=True, seed=0)
    assert len(default[1]) == len(data.pseudo) * round(per_class.mean()) != len(data.pseudo) * 6
    zs3 = cv.cross_validate("zs3", data, CLASSIFIER, CV_CFG, seed=0, bank=bank)
    # the loss curves of the CV's GMMN (every log_every iterations, the first and last) and classifier
    assert [it for it, _ in zs3["curves"]["gmmn"]] == [1, 3] and bank.curve == zs3["curves"]["gmmn"]
    assert [epoch for epoch, _ in zs3["curves"]["classifier"]] == list(range(1, CLASSIFIER["epochs"] + 1))
    assert "gmmn" not in ceiling["curves"] and len(ceiling["curves"]["classifier"]) == CLASSIFIER["epochs"]
    assert zs3["gamma"] in CLASSIFIER["calibration"]["gammas"] and zs3["training_rows"] == len(data.train.class_id) + 6


def test_classifier_rows_name_the_rule_of_their_gamma():
    calibrations, meta = calibration_rows({"gamma": 2.0, "gamma_rule": "cv", "gammas": {"rate": 4.0, "cv": 2.0}})
    assert calibrations == {"raw": 0.0, "calibrated": 2.0, "calibrated_rate": 4.0}
    assert meta == {"raw": {"gamma_rule": "none"}, "calibrated": {"gamma_rule": "cv"},
                    "calibrated_rate": {"gamma_rule": "rate"}}
    assert calibration_rows({"gamma": 1.0})[0] == {"raw": 0.0, "calibrated": 1.0}  # rate only (fine-tuned ZS5Net)
