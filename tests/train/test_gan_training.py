"""GAN (f-CLSWGAN) training on a toy two-seen-class feature file, its resume state and its bank."""
import csv
import math

import numpy as np
import pytest
import torch

import zs3core.train.gan as gan_mod
import zs3core.train.generator_kit as kit
from zs3core.banks import read_bank
from zs3core.checkpoints import CheckpointMismatch, load_checkpoint
from zs3core.features import FeatureWriter
from zs3core.models.gmmn import build_gmmn
from zs3core.train.gan import (CURVE_COLUMNS, GAN_DEFAULTS, GAN_KEYS, default_resume_path, resolve_gan_config,
                               train_gan)
from zs3core.train.generator import default_loss_csv, load_generator, write_bank

CLASSES = ["background", "a", "u"]
UNSEEN = ["u"]
D = 4
MEANS = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
SD = 0.3
POISON = 5000.0  # every feature of the image with unseen pixels: any such row would wreck training
CLEAN_IMAGES = 12  # (background | a) halves of an 8x8 grid, 20 rows per class and image
TINY = {**GAN_DEFAULTS, "noise_dim": 4, "hidden": 32, "critic_hidden": 32, "lr": 3e-3, "iterations": 400,
        "real_per_class": 32, "classifier_steps": 100, "classifier_lr": 1e-2, "log_every": 10,
        "checkpoint_every": None, "device": "cpu"}
SHORT = {**TINY, "iterations": 30, "checkpoint_every": 10}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    path = tmp_path_factory.mktemp("features") / "train.h5"
    rng = np.random.default_rng(0)
    with FeatureWriter(path, D, CLASSES, UNSEEN, max_per_class=20) as writer:
        for i, unseen in enumerate([False] * CLEAN_IMAGES + [True]):
            label = np.zeros((8, 8), dtype=np.uint8)
            label[:, 4:] = 2 if unseen else 1
            feats = (np.full((D, 8, 8), POISON, dtype=np.float32) if unseen
                     else (MEANS[label] + SD * rng.normal(size=(8, 8, D))).transpose(2, 0, 1))
            writer.add(f"img{i:02d}", feats, label, rng)
    return path


@pytest.fixture(scope="module")
def embeddings():
    return np.eye(3, dtype=np.float32)


@pytest.fixture(scope="module")
def trained(toy, embeddings, tmp_path_factory):
    out = tmp_path_factory.mktemp("gan") / "gan.pt"
    return out, train_gan(toy, embeddings, TINY, out, seed=0)


def generated_means(model, embeddings, n=2000):
    feats, _ = model.generate(torch.from_numpy(embeddings), n, torch.Generator().manual_seed(0), class_ids=[0, 1])
    return feats.reshape(2, n, D).mean(1).numpy()


def test_generated_means_move_to_the_real_means(trained, embeddings):
    out, _ = trained
    untrained = build_gmmn(TINY, 3, D, init_generator=torch.Generator().manual_seed(0)).eval()
    model, _ = load_generator(out)
    before = np.linalg.norm(generated_means(untrained, embeddings) - MEANS[:2], axis=1)
    after = np.linalg.norm(generated_means(model, embeddings) - MEANS[:2], axis=1)
    assert (after < 0.3 * before).all(), (before, after)
    assert (after < 0.6).all(), after  # class means 4.2 apart


def test_checkpoint_contents_and_loss_csv(trained):
    out, summary = trained
    state = load_checkpoint(out)
    assert state["kind"] == "gan"
    assert state["model"] == {"embed_dim": 3, "feature_dim": D, "noise_dim": 4, "noise": "gaussian",
                              "hidden": 32, "dropout": 0.0, "output_relu": True}
    assert state["critic"]["model"] == {"feature_dim": D, "embed_dim": 3, "hidden": 32}
    assert state["config"] == resolve_gan_config(TINY)
    assert state["class_names"] == CLASSES and state["unseen_classes"] == UNSEEN
    assert state["trained_class_ids"] == [0, 1]
    assert state["rows_per_class"] == {0: 20 * CLEAN_IMAGES, 1: 20 * CLEAN_IMAGES}
    assert state["classifier_loss"] < 0.2  # far below chance (ln 2): the frozen classifier separates the two
    assert not default_resume_path(out).exists()
    with open(default_loss_csv(out)) as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == ("iteration", *CURVE_COLUMNS)
    assert [int(r["iteration"]) for r in table] == [1] + list(range(10, 401, 10))
    assert float(table[-1]["loss"]) == pytest.approx(summary["final_loss"])
    assert float(table[-1]["generator_loss"]) == pytest.approx(summary["final_generator_loss"])


def test_real_batches_never_contain_unseen_image_rows(toy, embeddings, tmp_path, monkeypatch):
    batches = []
    sample = kit.RealSampler.sample

    def spy(self, which, n, generator):
        batch = sample(self, which, n, generator)
        batches.append((self.classes[which].tolist(), batch.abs().max().item()))
        return batch

    monkeypatch.setattr(kit.RealSampler, "sample", spy)
    train_gan(toy, embeddings, {**TINY, "iterations": 4, "classifier_steps": 3}, tmp_path / "g.pt", seed=1)
    assert len(batches) == 3 + 4 * TINY["n_critic"]  # classifier steps, then the critic's
    assert all(classes == [0, 1] for classes, _ in batches)
    assert max(peak for _, peak in batches) < 10


def weights(path):
    """The generator's and the critic's weights of a GAN checkpoint."""
    state = load_checkpoint(path)
    return state["state_dict"] | {f"critic.{k}": v for k, v in state["critic"]["state_dict"].items()}


def test_same_seed_same_weights_other_seed_others(toy, embeddings, tmp_path):
    cfg = {**SHORT, "checkpoint_every": None}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_gan(toy, embeddings, cfg, tmp_path / f"{name}.pt", seed=seed)
    a, b, c = (weights(tmp_path / f"{n}.pt") for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])


def interrupt_at_critic_step(monkeypatch, n):
    """Make the n-th critic loss raise, as if the job were killed then."""
    calls, real = [0], gan_mod.critic_loss

    def dying(*args):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(gan_mod, "critic_loss", dying)


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(toy, embeddings, tmp_path, monkeypatch):
    train_gan(toy, embeddings, SHORT, tmp_path / "whole.pt", seed=0)
    out = tmp_path / "resumed.pt"
    with monkeypatch.context() as m:
        interrupt_at_critic_step(m, 25 * SHORT["n_critic"])  # during generator step 25
        with pytest.raises(KeyboardInterrupt):
            train_gan(toy, embeddings, SHORT, out, seed=0)
    assert not out.exists()
    assert load_checkpoint(default_resume_path(out))["iteration"] == 20
    summary = train_gan(toy, embeddings, SHORT, out, seed=0)
    whole, resumed = weights(tmp_path / "whole.pt"), weights(out)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert [p[0] for p in summary["curve"]] == [1, 10, 20, 30]
    assert not default_resume_path(out).exists()


def test_a_resume_state_of_another_config_is_refused(toy, embeddings, tmp_path, monkeypatch):
    out = tmp_path / "g.pt"
    with monkeypatch.context() as m:
        interrupt_at_critic_step(m, 15 * SHORT["n_critic"])
        with pytest.raises(KeyboardInterrupt):
            train_gan(toy, embeddings, SHORT, out, seed=0)
    with pytest.raises(CheckpointMismatch, match="config"):
        train_gan(toy, embeddings, {**SHORT, "lr": 1e-3}, out, seed=0)
    with pytest.raises(CheckpointMismatch, match="seed"):
        train_gan(toy, embeddings, SHORT, out, seed=1)


def test_epochs_are_passes_over_the_image_class_pairs(toy, embeddings, tmp_path):
    cfg = {**TINY, "iterations": None, "epochs": 1.5, "classes_per_step": 1, "n_critic": 1, "classifier_steps": 1}
    summary = train_gan(toy, embeddings, cfg, tmp_path / "g.pt", seed=0)
    assert summary["iterations"] == math.ceil(1.5 * 2 * CLEAN_IMAGES / 1)  # 2 pairs per clean image


def test_config_takes_the_whole_section_and_one_budget():
    assert GAN_KEYS == tuple(GAN_DEFAULTS)
    assert GAN_DEFAULTS["lr"] == 1e-4 and GAN_DEFAULTS["betas"] == [0.5, 0.999]  # f-CLSWGAN's
    assert (GAN_DEFAULTS["gp_weight"], GAN_DEFAULTS["n_critic"], GAN_DEFAULTS["cls_weight"]) == (10.0, 5, 0.01)
    with pytest.raises(KeyError, match="n_critic"):
        resolve_gan_config({k: v for k, v in GAN_DEFAULTS.items() if k != "n_critic"})
    with pytest.raises(ValueError, match="exactly one"):
        resolve_gan_config({**GAN_DEFAULTS, "epochs": 3})


def test_bank_from_a_gan_checkpoint_reads_back(trained, embeddings, tmp_path):
    gen_path, _ = trained
    out = tmp_path / "gan.h5"
    write_bank(gen_path, embeddings, [2, 1], 30, out, seed=7, class_names=CLASSES, device="cpu")
    bank = read_bank(out)
    assert bank.features.shape == (60, D) and bank.class_id.tolist() == [2] * 30 + [1] * 30
    assert bank.unseen_classes == ["u", "a"] and bank.class_names == CLASSES and bank.n_per_class == 30
    assert bank.attrs["generator"] == str(gen_path) and bank.attrs["seed"] == 7
    model, _ = load_generator(gen_path)
    want, _ = model.generate(torch.from_numpy(embeddings), 30, torch.Generator().manual_seed(7), class_ids=[2, 1])
    np.testing.assert_array_equal(bank.features, want.numpy())
    assert (bank.features >= 0).all()  # output_relu
    assert np.linalg.norm(bank.features[30:].mean(0) - MEANS[1]) < 0.6  # the bank holds what was learnt
