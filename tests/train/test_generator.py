"""GMMN training on a toy feature file, unseen-class banks and their default size."""
import csv

import h5py
import numpy as np
import pytest
import torch

import zs3core.train.generator_kit as kit
from fixtures import config_section
from zs3core.banks import CorruptBank, default_bank_size, read_bank
from zs3core.checkpoints import load_checkpoint
from zs3core.features import FeatureFile, FeatureWriter
from zs3core.bandwidths import RELATIVE_BANDWIDTHS
from zs3core.mmd import median_sq_distance
from zs3core.models.gmmn import build_gmmn
from zs3core.train.generator import GMMN_KEYS, load_generator, resolve_config, train_gmmn, write_bank
from zs3core.train.generator_kit import bandwidth_sample, default_loss_csv, seen_training_rows

CLASSES = ["background", "a", "b", "u"]
UNSEEN = ["u"]
D = 4
MEANS = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 3.0]])
SD = 0.3
POISON = 5000.0  # every feature of an image with unseen pixels: any such row would wreck training
MAX_PER_CLASS = 20  # each half of an 8x8 grid has 32 pixels, so 20 rows per class and image
# (left, right) classes of the clean images: background in 18, a in 14, b in 12
CLEAN = [(0, 1)] * 10 + [(0, 2)] * 8 + [(1, 2)] * 4
EXPECTED_ROWS = {0: 18 * 20, 1: 14 * 20, 2: 12 * 20}
TINY = {**config_section("generator"), "bandwidth_mode": "relative", "noise_dim": 4, "hidden": 32, "dropout": 0.1,
        "lr": 5e-3, "iterations": 150,
        "real_per_class": 32, "fake_per_class": 32, "log_every": 5, "device": "cpu",
        "median_sample": 300}


pytestmark = pytest.mark.usefixtures("one_thread")


def write_toy(path):
    rng = np.random.default_rng(0)
    with FeatureWriter(path, D, CLASSES, UNSEEN, max_per_class=MAX_PER_CLASS) as writer:
        images = [(left, right, False) for left, right in CLEAN]
        images += [(0, 3, True), (1, 3, True), (3, 2, True), (0, 3, True)]  # unseen pixels present
        images += [(0, 1, True)]  # flagged by the caller (e.g. unseen lost in downsampling)
        for i, (left, right, unseen) in enumerate(images):
            label = np.zeros((8, 8), dtype=np.uint8)
            label[:, :4], label[:, 4:] = left, right
            if unseen:
                feats = np.full((D, 8, 8), POISON, dtype=np.float32)
            else:
                feats = (MEANS[label] + SD * rng.normal(size=(8, 8, D))).transpose(2, 0, 1)
            writer.add(f"img{i:02d}", feats, label, rng, has_unseen=True if unseen else None)
    return path


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy(tmp_path_factory.mktemp("features") / "train.h5")


@pytest.fixture(scope="module")
def embeddings():
    return np.eye(4, dtype=np.float32)


@pytest.fixture(scope="module")
def trained(toy, embeddings, tmp_path_factory):
    out = tmp_path_factory.mktemp("gmmn") / "gmmn.pt"
    summary = train_gmmn(toy, embeddings, TINY, out, seed=0)
    return out, summary


def generated_means(model, embeddings, n=2000):
    feats, ids = model.generate(torch.from_numpy(embeddings), n, torch.Generator().manual_seed(0),
                                class_ids=[0, 1, 2])
    return feats.reshape(3, n, D).mean(1).numpy()


def test_fixture_really_contains_poisoned_unseen_images(toy):
    with FeatureFile(toy) as ff:
        everything = ff.read()
        assert ff.image_table()["has_unseen"].sum() == 5
    assert (everything.features == POISON).any()
    assert (everything.class_id == 3).any()


def test_training_rows_are_seen_classes_of_clean_images_only(toy):
    with FeatureFile(toy) as ff:
        rows = seen_training_rows(ff)
    assert np.abs(rows.features).max() < 10  # no poisoned row
    assert not np.isin(rows.class_id, [3]).any()
    assert dict(zip(*np.unique(rows.class_id, return_counts=True))) == EXPECTED_ROWS


def test_held_out_images_never_reach_the_generator(toy):
    with FeatureFile(toy) as ff:
        ids = ff.image_table()["image_id"]
        held = frozenset(ids[:2])  # two clean images
        rows = seen_training_rows(ff, held)
        everything = seen_training_rows(ff)
        read = ff.read()
    held_rows = np.isin(read.image, [0, 1]) & ~np.isin(read.class_id, [3])
    assert len(rows.class_id) == len(everything.class_id) - held_rows.sum() > 0
    assert not any(np.isclose(rows.features, f).all(1).any() for f in read.features[held_rows])


def test_a_leak_would_be_caught(toy, monkeypatch):
    """If the reader ignored `exclude_unseen_images`, the run must stop, not train on the leak."""
    read = FeatureFile.read
    monkeypatch.setattr(FeatureFile, "read", lambda self, classes=None, images=None, exclude_unseen_images=False:
                        read(self, classes, images, False))
    with FeatureFile(toy) as ff, pytest.raises(AssertionError, match="unseen"):
        seen_training_rows(ff)


def test_loss_decreases_and_generated_means_approach_real_means(trained, embeddings):
    out, summary = trained
    curve = summary["curve"]
    assert curve[0][0] == 1 and curve[-1][0] == TINY["iterations"]
    first = np.mean([v for _, v in curve[:3]])
    last = np.mean([v for _, v in curve[-3:]])
    assert last < 0.5 * first, curve
    untrained = build_gmmn(resolve_config(TINY), 4, D, init_generator=torch.Generator().manual_seed(0)).eval()
    model, _ = load_generator(out)
    before = np.linalg.norm(generated_means(untrained, embeddings) - MEANS[:3], axis=1)
    after = np.linalg.norm(generated_means(model, embeddings) - MEANS[:3], axis=1)
    assert (after < 0.3 * before).all(), (before, after)
    assert (after < 0.5).all(), after  # class means 4.2 apart


def test_sampled_real_batches_never_contain_unseen_image_rows(toy, embeddings, tmp_path, monkeypatch):
    seen_batches = []
    sample = kit.RealSampler.sample

    def spy(self, which, n, generator):
        batch = sample(self, which, n, generator)
        seen_batches.append((self.classes[which].tolist(), batch.abs().max().item()))
        return batch

    monkeypatch.setattr(kit.RealSampler, "sample", spy)
    train_gmmn(toy, embeddings, {**TINY, "iterations": 20, "classes_per_step": 2}, tmp_path / "g.pt", seed=1)
    assert len(seen_batches) == 20
    assert all(len(classes) == 2 and set(classes) <= {0, 1, 2} for classes, _ in seen_batches)
    assert max(peak for _, peak in seen_batches) < 10
    assert {c for classes, _ in seen_batches for c in classes} == {0, 1, 2}


def test_checkpoint_contents_and_loss_csv(trained, toy):
    out, summary = trained
    state = load_checkpoint(out)
    assert state["kind"] == "gmmn"
    assert state["model"] == {"embed_dim": 4, "feature_dim": D, "noise_dim": 4, "noise": "gaussian",
                              "hidden": 32, "dropout": 0.1, "output_relu": False}
    assert state["config"] == resolve_config(TINY)
    assert state["class_names"] == CLASSES and state["unseen_classes"] == UNSEEN
    assert state["trained_class_ids"] == [0, 1, 2]
    assert state["rows_per_class"] == EXPECTED_ROWS
    # relative mode: the list times the median of the seeded class-balanced sample
    with FeatureFile(toy) as ff:
        rows = seen_training_rows(ff)
    median = median_sq_distance(bandwidth_sample(rows.features, rows.class_id, TINY["median_sample"], 0))
    assert state["bandwidth_reference"] == pytest.approx(median)
    assert state["bandwidths"] == pytest.approx([r * median for r in RELATIVE_BANDWIDTHS])
    assert 10 < median < 25  # mostly between-class pairs: 2 * 3^2 = 18
    with open(default_loss_csv(out)) as f:
        table = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in table] == [1] + list(range(5, 151, 5))
    assert float(table[-1]["loss"]) == pytest.approx(summary["final_loss"])


def test_bandwidth_sample_is_class_balanced():
    class_id = np.array([0] * 100 + [1] * 10 + [2] * 50)
    features = np.arange(160, dtype=np.float32)[:, None]
    sample = bandwidth_sample(features, class_id, 60, seed=0)
    picked = class_id[sample[:, 0].astype(int)]
    assert np.bincount(picked).tolist() == [20, 10, 20]
    assert len(np.unique(sample)) == len(sample)  # without replacement
    np.testing.assert_array_equal(sample, bandwidth_sample(features, class_id, 60, seed=0))


def test_fixed_bandwidths_and_same_seed_same_weights(toy, embeddings, tmp_path):
    cfg = {**TINY, "iterations": 25, "bandwidth_mode": "authors", "bandwidths": [0.5, 2, 8],
           "noise": "uniform"}
    train_gmmn(toy, embeddings, cfg, tmp_path / "a.pt", seed=3, loss_csv=tmp_path / "curve.csv")
    train_gmmn(toy, embeddings, cfg, tmp_path / "b.pt", seed=3, loss_csv=tmp_path / "curve_b.csv")
    train_gmmn(toy, embeddings, cfg, tmp_path / "c.pt", seed=4, loss_csv=tmp_path / "curve_c.csv")
    a, b, c = (load_checkpoint(tmp_path / f"{x}.pt") for x in "abc")
    assert a["bandwidths"] == [0.5, 2.0, 8.0] and a["bandwidth_reference"] is None
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key])
    assert any(not torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])
    assert (tmp_path / "curve.csv").read_text() == (tmp_path / "curve_b.csv").read_text()
    assert not default_loss_csv(tmp_path / "a.pt").exists()


def test_config_takes_the_whole_section_and_names_a_missing_key():
    section = config_section("generator")
    assert resolve_config(section) == {k: section[k] for k in GMMN_KEYS} and set(GMMN_KEYS) == set(section)
    with pytest.raises(KeyError, match=r"\['iterations'\]"):
        resolve_config({k: v for k, v in section.items() if k != "iterations"})
    with pytest.raises(ValueError, match="sets \\['iterations', 'epochs'\\]"):
        resolve_config({**section, "epochs": 30})
    with pytest.raises(ValueError, match="neither"):
        resolve_config({**section, "iterations": None})
    assert resolve_config({**section, "iterations": None, "epochs": 30})["epochs"] == 30


def test_training_rows_count_their_image_class_pairs(toy):
    with FeatureFile(toy) as ff:
        rows = seen_training_rows(ff)
        table = ff.image_table()
    clean = np.flatnonzero(~table["has_unseen"])
    assert sorted(set(rows.image.tolist())) == clean.tolist()
    by_hand = sum(len({left, right}) for left, right in CLEAN)  # two classes in each clean image
    assert rows.pairs() == by_hand == 44


@pytest.mark.parametrize("classes_per_step, steps", [(None, 44), (2, 66), (1, 132)])
def test_epochs_are_passes_over_the_image_class_pairs(toy, embeddings, tmp_path, classes_per_step, steps):
    """3 epochs of the toy's 44 (image, seen class) pairs: 132 class terms, in steps of all 3 classes,
    of 2, or of 1 (the authors' one step per pair)."""
    cfg = {**TINY, "iterations": None, "epochs": 3, "classes_per_step": classes_per_step, "log_every": 1000}
    summary = train_gmmn(toy, embeddings, cfg, tmp_path / "g.pt", seed=0)
    assert summary["iterations"] == steps == load_checkpoint(tmp_path / "g.pt")["iterations"]
    assert summary["curve"][-1][0] == steps
    assert load_checkpoint(tmp_path / "g.pt")["config"]["epochs"] == 3


def test_bad_embeddings_leave_no_output(toy, tmp_path):
    with pytest.raises(ValueError, match="one row per class"):
        train_gmmn(toy, np.eye(3, dtype=np.float32), TINY, tmp_path / "g.pt", seed=0)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- banks


def test_bank_has_n_rows_per_unseen_class_and_round_trips(trained, embeddings, tmp_path):
    gen_path, _ = trained
    out = tmp_path / "banks" / "gmmn.h5"
    write_bank(gen_path, embeddings, [3, 1], 25, out, seed=7, class_names=CLASSES, device="cpu")
    bank = read_bank(out)
    assert bank.features.shape == (50, D) and bank.features.dtype == np.float32
    assert bank.class_id.dtype == np.int16 and bank.class_id.tolist() == [3] * 25 + [1] * 25
    assert bank.unseen_classes == ["u", "a"] and bank.unseen_class_ids == [3, 1]
    assert bank.class_names == CLASSES and bank.n_per_class == 25
    assert bank.attrs["generator"] == str(gen_path) and bank.attrs["seed"] == 7
    assert bank.attrs["complete"]
    model, _ = load_generator(gen_path)
    want, _ = model.generate(torch.from_numpy(embeddings), 25, torch.Generator().manual_seed(7), class_ids=[3, 1])
    np.testing.assert_array_equal(bank.features, want.numpy())
    # generated "a" features sit near the real "a" mean: the bank holds what the generator learnt
    assert np.linalg.norm(bank.features[25:].mean(0) - MEANS[1]) < 0.5
    again = tmp_path / "again.h5"
    write_bank(gen_path, embeddings, [3, 1], 25, again, seed=7, class_names=CLASSES, device="cpu")
    np.testing.assert_array_equal(read_bank(again).features, bank.features)
    assert [p.name for p in out.parent.iterdir()] == ["gmmn.h5"]  # no temporary left behind


def by_hand(model, embeddings, class_ids, n, seed, dropout):
    """The bank's rows written out: per class, its noise then (with dropout) its hidden-layer
    keep mask, both drawn from one CPU generator seeded with `seed`."""
    gen, blocks = torch.Generator().manual_seed(seed), []
    with torch.no_grad():
        for c in class_ids:
            a = torch.from_numpy(embeddings[c]).expand(n, -1)
            noise = torch.randn(n, model.noise_dim, generator=gen)
            h = torch.nn.functional.leaky_relu(model.fc1(torch.cat([a, noise], 1)), 0.2)
            if dropout:
                h = h * (torch.rand(h.shape, generator=gen) >= model.dropout) / (1 - model.dropout)
            blocks.append(model.fc2(h))
    return torch.cat(blocks).numpy()


@pytest.mark.parametrize("dropout", [True, False])
def test_bank_honours_dropout_at_generation(trained, embeddings, tmp_path, dropout):
    # true: dropout stays active while generating (the distribution the MMD matched); false: the mean network
    gen_path, _ = trained
    out = tmp_path / "bank.h5"
    write_bank(gen_path, embeddings, [3, 1], 25, out, seed=7, class_names=CLASSES, dropout_at_generation=dropout,
               device="cpu")
    bank = read_bank(out)
    model, _ = load_generator(gen_path)
    assert model.dropout == 0.1
    np.testing.assert_allclose(bank.features, by_hand(model, embeddings, [3, 1], 25, 7, dropout), rtol=1e-5, atol=1e-6)
    assert bank.attrs["dropout_at_generation"] == dropout
    other = by_hand(model, embeddings, [3, 1], 25, 7, not dropout)
    assert np.abs(bank.features - other).max() > 1e-2  # the two settings give different banks


def test_bank_rejects_mismatched_classes(trained, embeddings, tmp_path):
    gen_path, _ = trained
    with pytest.raises(ValueError):
        write_bank(gen_path, embeddings, [3], 5, tmp_path / "x.h5", seed=0, class_names=CLASSES[::-1])
    with pytest.raises(ValueError):
        write_bank(gen_path, embeddings, [4], 5, tmp_path / "x.h5", seed=0, class_names=CLASSES)
    with pytest.raises(ValueError):
        write_bank(gen_path, embeddings[:, :3], [3], 5, tmp_path / "x.h5", seed=0, class_names=CLASSES)
    assert not (tmp_path / "x.h5").exists()


def test_corrupt_banks_name_the_file_and_the_rebuild(trained, embeddings, tmp_path):
    gen_path, _ = trained
    good = tmp_path / "good.h5"
    write_bank(gen_path, embeddings, [3], 10, good, seed=0, class_names=CLASSES, device="cpu")

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:1000])
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5 at all")
    unfinished = tmp_path / "unfinished.h5"
    unfinished.write_bytes(good.read_bytes())
    with h5py.File(unfinished, "a") as h5:
        h5.attrs["complete"] = False
    shortened = tmp_path / "shortened.h5"
    shortened.write_bytes(good.read_bytes())
    with h5py.File(shortened, "a") as h5:
        h5.attrs["n_per_class"] = 11
    for path, problem in [(truncated, "not a readable|incomplete|disagree"), (garbage, "not a readable"), (unfinished, "incomplete"),
                          (shortened, "disagree"), (tmp_path / "missing.h5", "missing")]:
        with pytest.raises(CorruptBank, match=problem) as error:
            read_bank(path)
        assert str(path) in str(error.value) and "snakemake --forcerun" in str(error.value)


def test_default_bank_size_by_hand(toy):
    # seen classes over clean images only: 360, 280, 240 rows -> mean 293.3
    assert default_bank_size(toy) == 293
