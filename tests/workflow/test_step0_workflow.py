"""Step 0 through Snakemake: the reference rows and the feature files build from nothing."""
import csv

import numpy as np

from conftest import run_snakemake, small_synthetic
from fixtures import make_voc
from zs3core.features import FeatureFile

TINY_TRAINING = {"epochs": 1, "batch_size": 4}
STEP0_TARGETS = ["results/{ds}_supervised.csv", "results/{ds}_k2_seenonly.csv",
                 "results/{ds}_k2_baseline.csv", "features/{ds}/k2/train.h5"]


def metrics_row(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    return rows[0]


def test_synthetic_step0_targets(workdir):
    overrides = small_synthetic()
    overrides["datasets"]["synthvoc"]["segmenter"] = {"train": TINY_TRAINING}
    run_snakemake(workdir, [t.format(ds="synthvoc") for t in STEP0_TARGETS], overrides)

    supervised = metrics_row(workdir / "results/synthvoc_supervised.csv")
    assert supervised["method"] == "supervised" and supervised["unseen_miou"] == "nan"
    for method in ("seenonly", "baseline"):
        row = metrics_row(workdir / f"results/synthvoc_k2_{method}.csv")
        assert (row["dataset"], row["K"], row["method"], row["backbone"]) == ("synthvoc", "2", method, "resnet_tiny")
        assert 0 <= float(row["hiou"]) <= 100
        assert row["embedding_source"] == "spacy_md"  # the synthetic worlds' own table
        cm = np.load(workdir / f"results/synthvoc_k2_{method}_confusion.npy")
        assert cm.shape == (1, 21, 21) and cm.sum() > 0
    baseline = metrics_row(workdir / "results/synthvoc_k2_baseline.csv")  # the synthetic default's choice
    assert (baseline["baseline_loss"], baseline["baseline_margin"]) == ("rank", "0.1")
    assert (baseline["baseline_init"], baseline["baseline_epochs"]) == ("seenonly", "5")
    with FeatureFile(workdir / "features/synthvoc/k2/train.h5") as f:
        assert f.feature_dim == 64 and f.n_images == 40 and f.unseen_classes == ["cow", "motorbike"]
    # the seen-only model never saw an unseen class: its logs say how many images it kept
    log = (workdir / "logs/train_step0/synthvoc_k2_seenonly.log").read_text()
    assert "unseen ['cow', 'motorbike']" in log


def test_paper_configuration_on_real_formats(workdir, tmp_path):
    """ResNet-101, output stride 16, the real VOC layout, a few iterations: the paper's path never
    rots. About 50 updates, so that the batch-norm running statistics settle (with fewer, an
    untrained ResNet-101's eval-mode features overflow float16 and extraction rightly refuses)."""
    root, _ = make_voc(tmp_path / "raw", [f"t{i}" for i in range(12)], ["v0", "v1"], size=(40, 48))
    overrides = {
        "datasets": {"voc": {"root": str(root), "unseen": {2: ["cow", "motorbike"]},
                             "segmenter": {"init": "none"}}},  # voc's own init is the authors' backbone
        "segmenter": {"train": {"epochs": 8, "batch_size": 2, "base_size": 40,
                                                "scale": [1.0, 1.0], "crop_size": 33, "num_workers": 0}},
    }
    run_snakemake(workdir, ["results/voc_k2_seenonly.csv", "features/voc/k2/train.h5"], overrides)
    row = metrics_row(workdir / "results/voc_k2_seenonly.csv")
    assert row["backbone"] == "resnet101"
    assert row["embedding_source"] == "authors"  # the paper's tables, the real datasets' default
    with FeatureFile(workdir / "features/voc/k2/train.h5") as f:
        assert f.feature_dim == 256 and f.n_images == 12


def test_ale_plans_like_the_baseline(workdir):
    """ALE's step-0 job reads the class embeddings and, as the synthetic baseline does
    (`baseline.init: seenonly`), the seen-only checkpoint; its row is evaluated by evaluate_step0."""
    plan = run_snakemake(workdir, ["results/synthvoc_k2_ale.csv"], small_synthetic(), "-n").stdout
    jobs = plan.split("rule ")
    (train,) = [j for j in jobs if j.startswith("train_step0:") and "kind=ale" in j]
    assert "embeddings/spacy_md/synthvoc.npy" in train and "checkpoints/synthvoc/k2/seenonly.pt" in train
    (evaluate,) = [j for j in jobs if j.startswith("evaluate_step0:")]
    assert "checkpoints/synthvoc/k2/ale.pt" in evaluate and "embeddings/spacy_md/synthvoc.npy" in evaluate


def test_ale_row_builds_from_nothing(workdir):
    overrides = small_synthetic()
    overrides["datasets"]["synthvoc"]["segmenter"] = {"train": TINY_TRAINING}
    run_snakemake(workdir, ["results/synthvoc_k2_ale.csv"], overrides)
    row = metrics_row(workdir / "results/synthvoc_k2_ale.csv")
    assert (row["dataset"], row["K"], row["method"], row["protocol"]) == ("synthvoc", "2", "ale", "strict")
    assert 0 <= float(row["unseen_miou"]) <= 100 and 0 <= float(row["hiou"]) <= 100
    cm = np.load(workdir / "results/synthvoc_k2_ale_confusion.npy")
    assert cm.shape == (1, 21, 21) and cm.sum() > 0
    losses = (workdir / "checkpoints/synthvoc/k2/ale.work/loss.csv").read_text().splitlines()
    assert len(losses) == 1 + 5  # header, then the synthetic baseline's 5 epochs
