"""Classifier retraining (step 2): learning, determinism, and what each protocol reads."""
import numpy as np
import pytest
import torch

from zs3core.features import FeatureWriter
from zs3core.classifiers import classifier_scorer, load_classifier
from zs3core.retrain import authors_rows, real_rows, retrain
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
    curve = []
    b = fit_classifier(x, y, 3, [2], cfg, seed=1, curve=curve)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)  # recording the curve changes no bit
    assert [epoch for epoch, _ in curve] == [1, 2, 3, 4, 5] and curve[-1][1] < curve[0][1]
    with torch.no_grad():
        acc = (a(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy() == y).mean()
    assert acc > 0.97


def training(**keys) -> ClassifierTraining:
    return ClassifierTraining(**{"epochs": 1, "batch_size": 2, "lr": 0.5, "momentum": 0.0, "weight_decay": 0.0,
                                 "poly_power": 0.9, "unseen_weight": 1.0, **keys})


@pytest.mark.parametrize("w", [1.0, 3.0])
def test_unseen_weight_weights_the_unseen_cross_entropy(w):
    # one row of seen class 0 and one of unseen class 1, both with feature 0: the logits are the
    # bias b for both rows, p = softmax(b), and the weighted mean cross-entropy
    # (l0 + w l1) / (1 + w) has gradient p - (1, w) / (1 + w) in b (none in the weight).
    # One plain SGD step: b1 = b0 - lr (p - (1, w) / (1 + w)).
    x, y = np.zeros((2, 1)), np.array([0, 1])
    start = fit_classifier(x, y, 2, [1], training(lr=0.0, unseen_weight=w), seed=3)  # lr 0: the initial weights
    step = fit_classifier(x, y, 2, [1], training(unseen_weight=w), seed=3)
    b0 = start.bias.detach().double()
    want = b0 - 0.5 * (b0.softmax(0) - torch.tensor([1.0, w], dtype=torch.float64) / (1 + w))
    torch.testing.assert_close(step.bias.detach().double(), want, rtol=1e-6, atol=1e-6)
    assert torch.equal(step.weight, start.weight)


def test_the_curve_is_each_epochs_mean_loss():
    # one full batch, lr 0: every epoch's loss is the initial model's weighted cross-entropy
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 2)), np.array([0, 1, 2, 2, 0, 1])
    curve = []
    model = fit_classifier(x, y, 3, [2], training(epochs=2, batch_size=6, lr=0.0, unseen_weight=2.0), seed=1, curve=curve)
    with torch.no_grad():
        logp = model(torch.as_tensor(x, dtype=torch.float32)).log_softmax(1).numpy()
    w = np.where(y == 2, 2.0, 1.0)
    want = -(w * logp[np.arange(6), y]).sum() / w.sum()
    assert [e for e, _ in curve] == [1, 2] and all(loss == pytest.approx(want, rel=1e-6) for _, loss in curve)


def test_sgd_with_momentum_weight_decay_and_poly_decay_by_hand():
    # three full-batch epochs against the update written out: g = weighted-CE gradient + decay x
    # parameter, v = momentum v + g (v = g at the first step), parameter -= lr (1 - t / 3)^power v
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 2)), np.array([0, 1, 2, 2, 0, 1])
    cfg = training(epochs=3, batch_size=6, lr=0.3, momentum=0.8, weight_decay=0.05, poly_power=0.5, unseen_weight=2.0)
    start = fit_classifier(x, y, 3, [2], training(epochs=3, batch_size=6, lr=0.0), seed=1)
    W, b = start.weight.detach().double().numpy(), start.bias.detach().double().numpy()
    row_weight = np.where(y == 2, 2.0, 1.0)
    vW = vb = None
    for t in range(3):
        logits = x @ W.T + b
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        err = row_weight[:, None] * (p - np.eye(3)[y]) / row_weight.sum()
        gW, gb = err.T @ x + 0.05 * W, err.sum(0) + 0.05 * b
        vW, vb = (gW, gb) if t == 0 else (0.8 * vW + gW, 0.8 * vb + gb)
        lr = 0.3 * (1 - t / 3) ** 0.5
        W, b = W - lr * vW, b - lr * vb
    trained = fit_classifier(x, y, 3, [2], cfg, seed=1)
    np.testing.assert_allclose(trained.weight.detach().numpy(), W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trained.bias.detach().numpy(), b, rtol=1e-5, atol=1e-6)


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
    # its loss curve lies beside it: one row per epoch
    curve = (tmp_path / "zs3_loss.csv").read_text().splitlines()
    assert curve[0] == "epoch,loss" and [row.split(",")[0] for row in curve[1:]] == ["1", "2", "3", "4", "5"]
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


# ----------------------------------------------------------------------------- which rows reach fit
BANK, POOL = -1.0, -2.0  # first feature of the synthetic bank's rows and of the pseudo-labelled pool's
SEEN_ONLY = {i for i in range(12) if i % 3}  # images without a cow (im0, im3, im6, im9 hold one)
HELD = {1, 2, 3}  # HOLDOUT as indices


def write_image_coded_features(path):
    """The toy images of `write_toy_features`, every feature = (100 + image index, class id): any
    row that reaches the classifier says which image and class it came from."""
    rng = np.random.default_rng(0)
    with FeatureWriter(path, 2, CLASSES, ["cow"], max_per_class=16) as w:
        for i in range(12):
            label = np.zeros((4, 4), dtype=np.uint8)
            label[:2] = 1
            if i % 3 == 0:
                label[3, :] = 2
            feats = np.stack([np.full((4, 4), 100.0 + i), label.astype(float)]).astype(np.float32)
            w.add(f"im{i}", feats, label, rng)


@pytest.fixture
def fit_spy(monkeypatch):
    """Records the rows `retrain` fits on and the rows it calibrates on."""
    seen = {}

    class Recording(torch.nn.Linear):
        def forward(self, x):
            seen["calibration"] = x.numpy().copy()
            return super().forward(x)

    def fit(features, labels, num_classes, unseen_ids, cfg, seed, log=None, curve=None):
        seen["features"], seen["labels"] = np.asarray(features).copy(), np.asarray(labels).copy()
        return Recording(features.shape[1], num_classes)

    monkeypatch.setattr("zs3core.retrain.fit_classifier", fit)
    return seen


def image_counts(features):
    images, counts = np.unique(features[:, 0].round().astype(int) - 100, return_counts=True)
    return dict(zip(images.tolist(), counts.tolist()))


@pytest.mark.parametrize("method", ["zs3", "zs3gc", "zs5", "ceiling"])
def test_each_method_fits_only_the_rows_it_documents(method, tmp_path, fit_spy):
    path = tmp_path / "train.h5"
    write_image_coded_features(path)
    bank = np.column_stack([np.full(10, BANK), np.full(10, 2.0)]).astype(np.float32), np.full(10, 2)
    pool = np.column_stack([np.full(6, POOL), np.full(6, 2.0)]).astype(np.float32), np.full(6, 2)
    extra = {"zs3": [bank], "zs3gc": [bank], "zs5": [bank, pool], "ceiling": []}[method]
    retrain(method, path, CLASSES, ["cow"], CFG, holdout=HOLDOUT, out_path=tmp_path / "c.pt", seed=0, extra=extra)
    features, labels = fit_spy["features"], fit_spy["labels"]
    real = features[:, 0] >= 100
    np.testing.assert_array_equal(features[real, 1], labels[real])  # each row keeps its own class
    # real rows: every image outside the hold-out, 16 rows each; the cow images only for the ceiling,
    # which reads real unseen features by design
    allowed = (set(range(12)) if method == "ceiling" else SEEN_ONLY) - HELD
    assert image_counts(features[real]) == {i: 16 for i in sorted(allowed)}
    assert (labels[real] == 2).sum() == (3 * 4 if method == "ceiling" else 0)
    # the added rows, unchanged: the bank (and ZS5Net's pseudo-labelled pool rows)
    added = np.concatenate([f for f, _ in extra]) if extra else np.empty((0, 2), dtype=np.float32)
    np.testing.assert_array_equal(features[~real], added)
    # calibration reads the held-out images without a cow, and nothing else
    assert image_counts(fit_spy["calibration"]) == {i: 16 for i in sorted(HELD & SEEN_ONLY)}


class MarkingGenerator:
    """Stands in for the GMMN: a generated feature is (-(class id) - 10, 0), never a real one."""
    feature_dim = 2

    def generate(self, table, n, generator, class_ids):
        (c,) = class_ids
        return torch.tensor([[-10.0 - c, 0.0]]).repeat(n, 1), torch.full((n,), c)


def test_authors_rows_generate_at_every_pixel_of_the_unseen_images(tmp_path, monkeypatch):
    path = tmp_path / "train.h5"
    write_image_coded_features(path)
    monkeypatch.setattr("zs3core.retrain.load_generator", lambda p: (MarkingGenerator(), {}))
    features, labels = authors_rows(path, "gmmn.pt", np.eye(3, dtype=np.float32), seed=0, holdout=HOLDOUT)
    # images with a cow and not held out: im0, im6, im9 (im3 is held out); 16 sampled pixels each:
    # 4 background, 8 cat, 4 cow, every one a generated feature of its ground-truth class
    assert np.bincount(labels, minlength=3).tolist() == [3 * 4, 3 * 8, 3 * 4]
    np.testing.assert_array_equal(features, np.column_stack([-10.0 - labels, np.zeros(len(labels))]))


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


def test_the_classifier_file_keeps_what_its_rows_record_beyond_the_config(tmp_path):
    # ZS5Net's cross-validated p: only the job knows it; the evaluation takes it from the file
    path = tmp_path / "train.h5"
    write_toy_features(path, np.random.default_rng(0))
    bank = ((np.array([-4.0, -4.0]) + 0.3 * np.random.default_rng(1).standard_normal((50, 2))).astype(np.float32),
            np.full(50, 2))
    retrain("zs5", path, CLASSES, ["cow"], CFG, holdout=HOLDOUT, out_path=tmp_path / "zs5.pt", seed=0, extra=[bank],
            provenance={"pseudo_p": 50.0, "pseudo_p_rule": "cv"})
    assert load_classifier(tmp_path / "zs5.pt")["provenance"] == {"pseudo_p": 50.0, "pseudo_p_rule": "cv"}
    retrain("zs3", path, CLASSES, ["cow"], CFG, holdout=HOLDOUT, out_path=tmp_path / "zs3.pt", seed=0, extra=[bank])
    assert "provenance" not in load_classifier(tmp_path / "zs3.pt")
