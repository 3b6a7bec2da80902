"""Evaluation on hand-made predictions with known metrics."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures import make_voc_index
from zs3core import metrics
from zs3core.evaluate import confusion_matrices, evaluate_on_split, full_size_scores, write_evaluation


def one_hot_scorer(pred_by_id, num_classes):
    """A scorer that 'predicts' a fixed label map given at HALF resolution for each image."""

    def scorer(images):
        ids = images[:, 0, 0, 0].long().tolist()  # the image id is encoded in pixel (0, 0)
        maps = torch.stack([torch.from_numpy(pred_by_id[i]) for i in ids])
        return torch.nn.functional.one_hot(maps, num_classes).permute(0, 3, 1, 2).float()

    return scorer


def test_scores_are_upsampled_to_the_label_resolution():
    # an 8x8 label; the prediction at 4x4 is nearest-equivalent when upsampled from one-hot scores
    target = np.zeros((8, 8), dtype=np.int64)
    target[:4, :4] = 1
    target[4:, 4:] = 2
    target[0, 7] = 255
    pred_small = np.zeros((4, 4), dtype=np.int64)
    pred_small[:2, :2] = 1
    pred_small[2:, 2:] = 1  # class 2 (unseen) predicted as class 1
    image = torch.zeros(1, 3, 8, 8)
    batches = [(image, torch.from_numpy(target)[None], ["a"])]
    (cm,), cm_v = confusion_matrices(one_hot_scorer({0: pred_small}, 3), batches, 3, unseen=[2])
    upsampled = np.kron(pred_small, np.ones((2, 2), dtype=np.int64))
    np.testing.assert_array_equal(cm, metrics.confusion_matrix(target, upsampled, 3))
    # vanilla: unseen pixels classified among unseen classes only -> all correct
    np.testing.assert_array_equal(cm_v[2], [0, 0, 16])
    assert cm_v[:2].sum() == 0


def bilinear_reference(scores: np.ndarray, size) -> np.ndarray:
    """(C, h, w) -> (C, H, W) by hand: half-pixel centres, sources clamped at the border."""
    def taps(n_out, n_in):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    (y0, y1, wy), (x0, x1, wx) = taps(size[0], scores.shape[1]), taps(size[1], scores.shape[2])
    rows = scores[:, y0] * (1 - wy)[:, None] + scores[:, y1] * wy[:, None]
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx


def test_upsampling_is_bilinear_not_nearest():
    # one row of 2 score pixels -> 4 label pixels. Classes A = 0, B = 1 each win one source pixel
    # (4 against 0), C = 2 scores 3.5 on both. Bilinear weights the output pixels 1 and 2 by
    # 0.75 / 0.25: A or B blends to 3 there and C wins; nearest copies the source pixels: A A B B
    scores = torch.tensor([[[[4.0, 0.0]], [[0.0, 4.0]], [[3.5, 3.5]]]])
    target = torch.tensor([[[0, 2, 2, 1]]])
    batches = [(torch.zeros(1, 3, 1, 4), target, ["a"])]
    (cm,), _ = confusion_matrices(lambda x: scores, batches, 3, unseen=[2])
    np.testing.assert_array_equal(cm, np.diag([1, 1, 2]))  # nearest: [[1, 0, 0], [0, 1, 0], [1, 1, 0]]
    # and the values themselves: a 3x5 map to 7x11 against the hand-written interpolation
    small = torch.randn(1, 4, 3, 5, generator=torch.Generator().manual_seed(0))
    full = full_size_scores(lambda x: small, torch.zeros(1, 3, 7, 11), (7, 11))
    np.testing.assert_allclose(full[0].numpy(), bilinear_reference(small[0].numpy(), (7, 11)), rtol=1e-5, atol=1e-6)


def test_write_evaluation_files(tmp_path):
    cm = np.array([[5, 1, 0], [0, 3, 1], [2, 0, 2]])
    names = ["background", "cat", "cow"]
    (row,) = write_evaluation([cm], cm, names, [2], {"dataset": "toy", "K": 1, "method": "zs3"}, {"raw": 0.0},
                              metrics_csv=tmp_path / "m.csv", per_class_csv=tmp_path / "pc.csv",
                              confusion_npy=tmp_path / "cm.npy")
    with open(tmp_path / "m.csv") as f:
        written = list(csv.DictReader(f))
    assert len(written) == 1 and written[0]["method"] == "zs3"
    # IoU cow = 2 / (4 + 3 - 2) = 40 %
    assert float(written[0]["unseen_miou"]) == pytest.approx(40.0)
    assert row["seen_miou"] == pytest.approx(100 * (5 / 8 + 3 / 5) / 2)
    with open(tmp_path / "pc.csv") as f:
        per_class = {r["class"]: r for r in csv.DictReader(f)}
    assert per_class["cow"]["split"] == "unseen" and int(per_class["cow"]["pixels"]) == 4
    assert float(per_class["cat"]["accuracy"]) == pytest.approx(75.0)
    np.testing.assert_array_equal(np.load(tmp_path / "cm.npy"), cm[None])


def test_absent_as_zero_reaches_the_results_row(tmp_path):
    # unseen cat never in the ground truth, never predicted: the standard rule leaves its IoU out,
    # the authors' rule (evaluation.absent_as_zero) counts it 0
    cm = np.array([[5, 0, 1], [0, 0, 0], [2, 0, 2]])  # IoU background 5/8, cow 2/5
    cm_vanilla = np.diag([0, 0, 4])                    # every cow pixel right among the unseen classes
    names, unseen = ["background", "cat", "cow"], [1, 2]
    rows = {}
    for rule in (False, True):
        out = tmp_path / str(rule)
        (rows[rule],) = write_evaluation([cm], cm_vanilla, names, unseen, {"method": "zs3"}, {"raw": 0.0},
                                         metrics_csv=out / "m.csv", per_class_csv=out / "p.csv",
                                         confusion_npy=out / "c.npy", absent_as_zero=rule)
        with open(out / "m.csv") as f:
            assert next(csv.DictReader(f))["absent_as_zero"] == str(rule)
    standard, authors = rows[False], rows[True]
    assert standard["seen_miou"] == authors["seen_miou"] == pytest.approx(62.5)
    assert standard["unseen_miou"] == pytest.approx(40.0) and authors["unseen_miou"] == pytest.approx(20.0)
    assert standard["all_miou"] == pytest.approx((62.5 + 40) / 2)
    assert authors["all_miou"] == pytest.approx((62.5 + 0 + 40) / 3)
    assert authors["hiou"] == pytest.approx(2 * 62.5 * 20 / (62.5 + 20))
    assert standard["vanilla_unseen_miou"] == pytest.approx(100.0)
    assert authors["vanilla_unseen_miou"] == pytest.approx(50.0)  # (0 + 100) / 2


def test_seen_offset_moves_pixels_to_unseen_classes():
    # 1 image, 2 pixels of unseen class 1; seen class 0 wins by 1.0 raw, loses with gamma 2
    scores = torch.tensor([[[[3.0, 3.0]], [[2.0, 2.0]]]])
    batches = [(torch.zeros(1, 3, 1, 2), torch.tensor([[[1, 1]]]), ["a"])]
    (raw, calibrated), _ = confusion_matrices(lambda x: scores, batches, 2, unseen=[1], gammas=[0.0, 2.0])
    assert raw[1, 0] == 2 and calibrated[1, 1] == 2


def test_eval_short_side_scores_at_the_resized_ground_truth(tmp_path):
    """`eval_short_side` in a row's meta evaluates at that resolution (the authors' 513 protocol)."""
    index, labels = make_voc_index(tmp_path, ["t0"], ["v0", "v1"], size=(24, 32))

    def constant(images):
        return torch.ones(images.shape[0], 21, *images.shape[-2:])

    counts = {}
    for short_side in (0, 48):
        out = tmp_path / f"s{short_side}"
        evaluate_on_split(constant, index, [f"c{i}" for i in range(21)], ["c10"],
                          {"method": "x", "eval_short_side": short_side}, metrics_csv=out / "m.csv",
                          per_class_csv=out / "p.csv", confusion_npy=out / "c.npy")
        counts[short_side] = np.load(out / "c.npy").sum()
    resized = [np.asarray(Image.fromarray(labels[i]).resize((64, 48), Image.NEAREST)) for i in ("v0", "v1")]
    assert counts[0] == sum((labels[i] != 255).sum() for i in ("v0", "v1"))
    assert counts[48] == sum((r != 255).sum() for r in resized) > 3 * counts[0]


def test_evaluation_jobs_do_not_import_torchvision():
    # torchvision's import costs seconds of CPU in each of the many evaluation-side jobs
    code = """
import sys
import torch
from zs3core.data.transforms import EvalTransform
from zs3core.evaluate import evaluate_on_split
from zs3core.feature_extraction import extract_features
from zs3core.figures import qualitative_figure
from zs3core.predict import load_predictor
from zs3core.classifiers import classifier_scorer
from zs3core.selftrain import pseudo_label_pool
from zs3core.train.step0 import load_step0
from zs3core.models.deeplab import build_segmenter
model = build_segmenter(3, {"backbone": "resnet_tiny", "aspp_channels": 8, "feature_dim": 8, "low_level_channels": 4})
image, mask = EvalTransform()(torch.zeros(3, 16, 16, dtype=torch.uint8), torch.zeros(16, 16, dtype=torch.int64))
model.eval()(image[None])
assert "torchvision" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torchvision"))
"""
    # run from the repository root, so that `-c` imports this checkout's zs3core
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
