"""Classifier retraining (step 2): learning, determinism, and what each protocol reads."""
import numpy as np
import pytest
import torch

from zs3core.features import FeatureWriter
from zs3core.retrain import classifier_scorer, load_classifier, real_rows, retrain
from zs3core.train.classifier import ClassifierTraining, fit_classifier

CLASSES = ["background", "cat", "cow"]  # cow unseen
CFG = {"epochs": 5, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "poly_power": 0.9,
       "unseen_weight": 1.0,
       "calibration": {"rule": "rate", "gammas": [0, 0.5, 1, 2, 4], "max_unseen_rate": 0.05}}
HOLDOUT = frozenset({"im1", "im2", "im3"})  # im3 holds a cow: held out, but never a calibration image


def blobs(n, rng):
    centres = np.array([[4.0, 0.0], [0.0, 4.0], [-4.0, -4.0]])
    y = rng.integers(0, 3, n)
    return centres[y] + rng.standard_normal((n, 2)), y


def test_fit_classifier_separates_blobs_and_is_deterministic():
    x, y = blobs(600, np.random.default_rng(0))
    cfg = ClassifierTraining(**{k: CFG[k] for k in ("epochs", "batch_size", "lr", "momentum", "weight_decay",
                                                    "poly_power", "unseen_weight")})
    a = fit_classifier(x, y, 3, [2], cfg, seed=1)
    b = fit_classifier(x, y, 3, [2], cfg, seed=1)
    assert torch.equal(a.weight, b.weight)
    with torch.no_grad():
        acc = (a(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy() == y).mean()
    assert acc > 0.97


def write_toy_features(path, rng):
    """12 images 4x4, feature dim 2: seen-only images hold background/cat, the rest also cow.
    Images with cow carry features offset by 1000, so any row read from them is recognisable."""
    with FeatureWriter(path, 2, CLASSES, ["cow"], max_per_class=16) as w:
        for i in range(12):
            label = np.zeros((4, 4), dtype=np.uint8)
            label[:2] = 1
            has_cow = i % 3 == 0
            if has_cow:
                label[3, :] = 2
            centres = np.array([[4.0, 0.0], [0.0, 4.0], [-4.0, -4.0]])
            feats = centres[label].transpose(2, 0, 1) + 0.3 * rng.standard_normal((2, 4, 4))
            if has_cow:
                feats += 1000.0
            w.add(f"im{i}", feats.astype(np.float32), label, rng)


def test_strict_rows_never_touch_unseen_images(tmp_path):
    path = tmp_path / "train.h5"
    write_toy_features(path, np.random.default_rng(0))
    rows = real_rows(path, include_unseen_images=False, holdout=HOLDOUT)
    assert not np.isin(rows.labels, [2]).any()
    assert np.abs(rows.features).max() < 100 and np.abs(rows.heldout).max() < 100
    # 8 seen-only images, 2 of them held out: 6 x (8 background + 8 cat) rows
    assert len(rows.labels) == 6 * 16 and len(rows.heldout) == 2 * 16
    ceiling = real_rows(path, include_unseen_images=True, holdout=HOLDOUT)
    assert np.isin(ceiling.labels, [2]).any() and np.abs(ceiling.features).max() > 100
    # the ceiling reads cow images, but not the held-out one: 3 of 4 cow images x (8 + 4 + 4) rows
    assert len(ceiling.labels) == 6 * 16 + 3 * 16 and (ceiling.labels == 2).sum() == 3 * 4


def test_zs3_retrain_uses_the_synthetic_bank_and_calibrates(tmp_path):
    path = tmp_path / "train.h5"
    write_toy_features(path, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    bank = (np.array([-4.0, -4.0]) + 0.3 * rng.standard_normal((50, 2))).astype(np.float32), np.full(50, 2)
    state = retrain("zs3", path, CLASSES, ["cow"], CFG, holdout=HOLDOUT, out_path=tmp_path / "zs3.pt", seed=0, extra=[bank])
    loaded = load_classifier(tmp_path / "zs3.pt")
    assert torch.equal(loaded["weight"], state["weight"]) and loaded["gamma"] in CFG["calibration"]["gammas"]
    # the classifier recognises a cow-like feature, and the scorer is a 1x1 convolution
    feats = torch.tensor([[-4.0, -4.0], [4.0, 0.0]]).T.reshape(1, 2, 1, 2)

    class Frozen(torch.nn.Module):
        def features(self, x):
            return feats

    logits = classifier_scorer(Frozen(), loaded)(torch.zeros(1, 3, 4, 8))
    assert logits.shape == (1, 3, 1, 2) and logits.argmax(1).tolist() == [[[2, 0]]]


def test_unknown_method_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown classifier method"):
        retrain("zs4", tmp_path / "x.h5", CLASSES, ["cow"], CFG, holdout=frozenset(), out_path=tmp_path / "o.pt", seed=0)


def test_retrain_stores_the_gamma_of_each_rule_and_applies_the_configured_one(tmp_path):
    path = tmp_path / "train.h5"
    write_toy_features(path, np.random.default_rng(0))
    bank = (np.array([-4.0, -4.0]) + 0.3 * np.random.default_rng(1).standard_normal((50, 2))).astype(np.float32), np.full(50, 2)
    cv_cfg = {**CFG, "calibration": {**CFG["calibration"], "rule": "cv"}}
    state = retrain("zs3", path, CLASSES, ["cow"], cv_cfg, holdout=HOLDOUT, out_path=tmp_path / "cv.pt", seed=0,
                    extra=[bank], cv_gamma=3.0)
    rate = retrain("zs3", path, CLASSES, ["cow"], CFG, holdout=HOLDOUT, out_path=tmp_path / "rate.pt", seed=0,
                   extra=[bank], cv_gamma=3.0)
    assert state["gamma"] == 3.0 and state["gamma_rule"] == "cv" and state["gammas"] == {"rate": rate["gamma"], "cv": 3.0}
    assert rate["gamma_rule"] == "rate" and rate["gammas"] == state["gammas"]
    with pytest.raises(ValueError, match="rule is 'cv'"):
        retrain("zs3", path, CLASSES, ["cow"], cv_cfg, holdout=HOLDOUT, out_path=tmp_path / "x.pt", seed=0, extra=[bank])
