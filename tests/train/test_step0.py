"""Step 0: seen-only training sets never expose unseen pixels; a tiny end-to-end run."""
import numpy as np
import pytest
import torch

from fixtures import VOC_CLASSES, make_voc_index
from zs3core.train.step0 import load_step0, scorer, train_step0, training_set

TINY = {"backbone": "resnet_tiny", "aspp_channels": 8, "feature_dim": 8, "low_level_channels": 4,
        "aspp_rates": [1, 2, 3], "init": "none", "unseen_pixels": "drop",
        "train": {"epochs": 2, "batch_size": 2, "lr": 0.01, "head_lr_mult": 10, "momentum": 0.9,
                  "weight_decay": 5e-4, "poly_power": 0.9, "base_size": 32, "scale": [0.75, 1.25],
                  "crop_size": 32, "num_workers": 0, "amp": False}}


@pytest.fixture
def voc_index(tmp_path):
    return make_voc_index(tmp_path, [f"t{i:02d}" for i in range(12)], ["v0", "v1"], size=(32, 40))


def unseen_pair(labels):
    """Two classes present in the training labels, as the unseen split."""
    present = sorted({v for i, l in labels.items() if i.startswith("t") for v in np.unique(l)} - {0, 255})
    return [VOC_CLASSES[present[0]], VOC_CLASSES[present[1]]]


@pytest.mark.parametrize("mode", ["drop", "ignore"])
def test_no_unseen_pixel_reaches_the_loss(voc_index, mode):
    index, labels = voc_index
    unseen = unseen_pair(labels)
    unseen_ids = [VOC_CLASSES.index(c) for c in unseen]
    with_unseen = {i for i, l in labels.items() if i.startswith("t") and np.isin(l, unseen_ids).any()}
    assert with_unseen, "the fixture must contain unseen classes for this test to mean anything"
    ds = training_set(index, VOC_CLASSES, unseen, {**TINY, "unseen_pixels": mode})
    kept = {row["image_id"] for row in ds.rows}
    if mode == "drop":
        assert kept.isdisjoint(with_unseen) and len(kept) == 12 - len(with_unseen)
    else:
        assert kept == {f"t{i:02d}" for i in range(12)}
        for i, row in enumerate(ds.rows):  # unseen pixels become void (255), not background or another class
            label = labels[row["image_id"]]
            want = np.where(np.isin(label, unseen_ids), 255, label)
            np.testing.assert_array_equal(ds.read(i)[1].numpy(), want)
    torch.manual_seed(0)
    for _, mask, image_id in ds:
        assert not np.isin(mask.numpy(), unseen_ids).any(), image_id


@pytest.mark.parametrize("mode", ["drop", "ignore"])
def test_held_out_images_never_reach_step0(voc_index, mode):
    index, labels = voc_index
    unseen = unseen_pair(labels)
    everything = {row["image_id"] for row in training_set(index, VOC_CLASSES, unseen, {**TINY, "unseen_pixels": mode}).rows}
    held = frozenset(sorted(everything)[:3])
    kept = {row["image_id"] for row in training_set(index, VOC_CLASSES, unseen, {**TINY, "unseen_pixels": mode},
                                                     holdout=held).rows}
    assert kept == everything - held


def test_unknown_unseen_mode_is_named(voc_index):
    with pytest.raises(ValueError, match="segmenter.unseen_pixels"):
        training_set(voc_index[0], VOC_CLASSES, [], {**TINY, "unseen_pixels": "mask"})


@pytest.mark.parametrize("kind", ["seenonly", "baseline", "ale"])
def test_tiny_step0_run_trains_loads_and_scores(voc_index, tmp_path, kind):
    index, labels = voc_index
    torch.set_num_threads(1)
    emb = np.random.default_rng(0).standard_normal((21, 5)).astype(np.float32)
    out = tmp_path / f"{kind}.pt"
    unseen = unseen_pair(labels)
    train_step0(kind, index, VOC_CLASSES, unseen, TINY, out_path=out, work_dir=tmp_path / "work",
                seed=0, embeddings=emb)
    model = load_step0(kind, out, 21, TINY, emb)
    assert not model.training
    scores = scorer(model)(torch.zeros(1, 3, 32, 40))
    assert scores.shape[:2] == (1, 21)


def test_baseline_can_start_from_the_seen_only_trunk(voc_index, tmp_path):
    from zs3core.train.step0 import build_model, init_from_seen_only
    from zs3core.train.segmenter import load_trained

    index, labels = voc_index
    torch.set_num_threads(1)
    seen_only = tmp_path / "seenonly.pt"
    train_step0("seenonly", index, VOC_CLASSES, unseen_pair(labels), TINY, out_path=seen_only,
                work_dir=tmp_path / "w1", seed=0)
    emb = np.random.default_rng(0).standard_normal((21, 5)).astype(np.float32)
    baseline = build_model("baseline", 21, TINY, emb)
    init_from_seen_only(baseline, seen_only)
    state, _ = load_trained(seen_only)
    for key, value in baseline.segmenter.state_dict().items():
        if key.startswith("classifier."):
            assert value.shape[0] == 5  # the projection, not the 21-class classifier
        else:
            assert torch.equal(value, state[key]), key


def test_the_baseline_loss_is_the_configured_one_over_the_seen_classes():
    from zs3core.models.devise import CosineLoss, RankLoss
    from zs3core.train.step0 import loss_function

    emb = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    rank = loss_function("baseline", emb, seen_ids=[0, 1, 3], devise={"loss": "rank", "margin": 0.2})
    assert isinstance(rank, RankLoss) and rank.margin == 0.2
    torch.testing.assert_close(rank.seen_embeddings,
                               torch.nn.functional.normalize(torch.from_numpy(emb), dim=1)[[0, 1, 3]])
    assert isinstance(loss_function("baseline", emb, [0, 1, 3], {"loss": "cosine", "margin": 0.1}), CosineLoss)
    assert isinstance(loss_function("seenonly"), torch.nn.CrossEntropyLoss)
    with pytest.raises(ValueError, match="baseline.loss"):
        loss_function("baseline", emb, [0, 1, 3], {"loss": "hinge", "margin": 0.1})


def test_ale_is_the_baseline_network_scored_bilinearly_and_trained_by_its_ranking_loss():
    from zs3core.models.ale import ALELoss, ALESegmenter
    from zs3core.train.step0 import build_model, loss_function

    emb = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    ale = loss_function("ale", emb, seen_ids=[0, 1, 3], ale={"margin": 0.5})
    assert isinstance(ale, ALELoss) and ale.margin == 0.5 and len(ale.weights) == 3  # r = 0, 1, 2
    torch.testing.assert_close(ale.seen_embeddings,
                               torch.nn.functional.normalize(torch.from_numpy(emb), dim=1)[[0, 1, 3]])
    model = build_model("ale", 5, TINY, emb)
    assert isinstance(model, ALESegmenter)
    assert model.state_dict().keys() == build_model("baseline", 5, TINY, emb).state_dict().keys()
    with pytest.raises(ValueError, match="ale network needs the class embedding table"):
        build_model("ale", 5, TINY)
