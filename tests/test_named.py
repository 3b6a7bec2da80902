"""Classes named at prediction time: merge and refusal, the cache tag, the extended embedding
table, the generated rows (the bank's first), and the named classifier against ZS3Net's."""
import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from fixtures import config_section
from zs3core import embeddings as emb
from zs3core.banks import read_bank
from zs3core.checkpoints import save_checkpoint
from zs3core.features import FeatureWriter
from zs3core.models.gmmn import build_gmmn
from zs3core.named import named_model, named_tag, new_names
from zs3core.retrain import named_rows, retrain
from zs3core.train.generator import write_bank

VOC = ("background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog "
       "horse motorbike person pottedplant sheep sofa train tvmonitor").split()

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- names: merge, refusal, tag


def test_new_names_are_appended_sorted_and_the_splits_unseen_merged():
    named = named_model(VOC, ["cow", "motorbike"], ["zebra", "Motorbike", "giraffe"])
    assert named.new == ["giraffe", "zebra"] and named.merged == ["motorbike"]
    assert named.classes == VOC + ["giraffe", "zebra"]
    assert named.unseen == ["cow", "motorbike", "giraffe", "zebra"]  # generation order: the bank's first


def test_naming_the_splits_own_unseen_classes_is_zs3nets_class_list():
    named = named_model(VOC, ["cow", "motorbike"], ["motorbike", "cow"])
    assert (named.classes, named.unseen, named.new) == (VOC, ["cow", "motorbike"], [])
    assert named.merged == ["cow", "motorbike"]  # the split's order: the given order changes no file


@pytest.mark.parametrize("names, refused", [(["giraffe", "dog"], "dog is a seen class"),
                                            (["Background"], "background is a seen class"),
                                            (["dog", "cat"], "dog, cat are seen classes")])
def test_a_seen_class_is_refused_by_name(names, refused):
    with pytest.raises(ValueError, match=refused) as err:
        named_model(VOC, ["cow", "motorbike"], names)
    assert "predict.classes" in str(err.value)


def test_empty_and_repeated_names_are_refused():
    with pytest.raises(ValueError, match="predict.classes is empty"):
        new_names(VOC, [])
    with pytest.raises(ValueError, match="more than once: Giraffe, giraffe"):
        new_names(VOC, ["giraffe", "Giraffe"])
    with pytest.raises(ValueError, match=r"'traffic light': a class name is one word .* embeddings.aliases"):
        new_names(VOC, ["giraffe", "traffic light"])


def test_the_tag_is_the_set_of_new_names():
    tag = named_model(VOC, ["cow", "motorbike"], ["zebra", "giraffe"]).tag
    assert tag == named_model(VOC, ["cow", "motorbike"], ["cow", "giraffe", "zebra"]).tag == named_tag(["giraffe", "zebra"])
    assert tag != named_tag(["giraffe"]) and len(tag) == 12 and int(tag, 16) >= 0


# ---------------------------------------------------------------- words


def test_spacy_md_vocabulary_is_checked_without_loading_vectors():
    assert emb.spacy_md_missing(["giraffe", "xqzzyplorp", "cow", "xqzzyplorp"]) == ["xqzzyplorp"]
    source = {"format": "spacy_md"}
    with pytest.raises(emb.MissingWordsError) as err:
        emb.check_vocabulary(["giraffe", "xqzzyplorp"], source, {}, where="predict.classes: ")
    message = str(err.value)
    assert message.startswith("predict.classes: ") and "xqzzyplorp" in message and "giraffe" not in message
    assert "embeddings.aliases.xqzzyplorp" in message
    # a multi-word name through the alias mechanism
    assert emb.check_vocabulary(["trafficlight"], source, {"trafficlight": ["traffic", "light"]}, where="")
    with pytest.raises(emb.MissingWordsError, match="trafficlight"):
        emb.check_vocabulary(["trafficlight"], source, {}, where="")
    assert emb.check_vocabulary(["xqzzyplorp"], {"format": "word2vec_binary", "path": "x"}, {}, where="") is False


TOY = {"cow": [3.0, 4.0, 0.0], "sheep": [0.0, 0.0, 0.5], "zebra": [0.0, 12.0, 5.0], "traffic": [1.0, 0.0, 0.0],
       "light": [0.0, 1.0, 0.0]}


def toy_kv():
    kv = KeyedVectors(3)
    kv.add_vectors(list(TOY), np.array(list(TOY.values()), dtype=np.float32))
    return kv


@pytest.mark.parametrize("normalisation", ["l2", "max_row_norm", "none"])
def test_extended_table_keeps_the_datasets_rows_and_normalises_new_ones_as_they_were(normalisation):
    kv = toy_kv()
    base, records = emb.class_embedding_table(["cow", "sheep"], kv, {}, normalisation)
    table, all_records = emb.extended_table(base, records, ["zebra", "trafficlight"], kv,
                                            {"trafficlight": ["traffic", "light"]}, normalisation)
    np.testing.assert_array_equal(table[:2], base)  # bit for bit: the generator was trained on them
    raw = np.array([[0.0, 12.0, 5.0], [0.5, 0.5, 0.0]])  # hand-computed; zebra's norm 13 > cow's 5
    expected = {"l2": raw / np.linalg.norm(raw, axis=1, keepdims=True), "max_row_norm": raw / 5.0, "none": raw}
    np.testing.assert_allclose(table[2:], expected[normalisation], rtol=1e-6)
    assert [r["class"] for r in all_records] == ["cow", "sheep", "zebra", "trafficlight"]
    same, same_records = emb.extended_table(base, records, [], kv, {}, normalisation)
    np.testing.assert_array_equal(same, base)
    assert same_records == records
    if normalisation == "l2":  # per-row: a new row is the row the whole table would have given it
        whole, _ = emb.class_embedding_table(["cow", "sheep", "zebra"], kv, {}, "l2")
        np.testing.assert_array_equal(table[2], whole[2])


def test_extended_table_names_an_unknown_word_and_the_alias():
    kv = toy_kv()
    base, records = emb.class_embedding_table(["cow"], kv, {}, "l2")
    with pytest.raises(emb.MissingWordsError, match=r"(?s)predict.classes: .*giraffe.*embeddings.aliases.giraffe"):
        emb.extended_table(base, records, ["giraffe"], kv, {}, "l2", where="predict.classes: ")


# ---------------------------------------------------------------- the named classifier

CLASSES = ["background", "a", "b", "u", "v"]
UNSEEN = ["v", "u"]  # config order, not index order: the bank follows it
D, E = 4, 6
MEANS = np.eye(5, D) * 3


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """A toy feature file (two unseen classes), a random GMMN trained on these classes, a table."""
    root = tmp_path_factory.mktemp("named")
    rng = np.random.default_rng(0)
    features = root / "train.h5"
    with FeatureWriter(features, D, CLASSES, UNSEEN, max_per_class=16) as writer:
        for i in range(24):
            pair = [(0, 1), (0, 2), (1, 2), (0, 3), (2, 4)][i % 5]
            label = np.zeros((6, 6), dtype=np.uint8)
            label[:, :3], label[:, 3:] = pair
            feats = (MEANS[label] + 0.3 * rng.normal(size=(6, 6, D))).transpose(2, 0, 1).astype(np.float32)
            writer.add(f"img{i:02d}", feats, label, rng)
    cfg = {**config_section("generator"), "noise_dim": 3, "hidden": 8, "dropout": 0.5}
    model = build_gmmn(cfg, E, D, init_generator=torch.Generator().manual_seed(0))
    generator = root / "gmmn.pt"
    save_checkpoint(generator, {"kind": "gmmn", "model": model.config(), "state_dict": model.state_dict(),
                                "class_names": CLASSES})
    table = np.random.default_rng(1).normal(size=(len(CLASSES) + 1, E)).astype(np.float32)  # + "zebra"
    return features, generator, table


def test_generated_rows_of_the_splits_unseen_classes_are_the_banks(split, tmp_path):
    features, generator, table = split
    write_bank(generator, table[:5], [CLASSES.index(c) for c in UNSEEN], 7, tmp_path / "bank.h5", seed=3,
               class_names=CLASSES, dropout_at_generation=True, device="cpu")
    bank = read_bank(tmp_path / "bank.h5")
    rows, ids = named_rows(generator, table, CLASSES + ["zebra"], UNSEEN + ["zebra"], 7, seed=3,
                           dropout_at_generation=True)
    np.testing.assert_array_equal(rows[:14], bank.features)
    np.testing.assert_array_equal(ids, [4] * 7 + [3] * 7 + [5] * 7)
    assert np.abs(rows[14:] - rows[:7]).max() > 0  # zebra's own rows
    with pytest.raises(ValueError, match="must start with them"):
        named_rows(generator, table, ["zebra"] + CLASSES, UNSEEN, 7, seed=3, dropout_at_generation=True)


def test_a_named_model_without_new_names_is_zs3nets_classifier_and_with_one_has_its_row(split, tmp_path):
    features, generator, table = split
    cfg = config_section("classifier") | {"epochs": 3, "batch_size": 16}
    write_bank(generator, table[:5], [3, 4][::-1], 20, tmp_path / "bank.h5", seed=0, class_names=CLASSES,
               dropout_at_generation=True, device="cpu")
    bank = read_bank(tmp_path / "bank.h5")
    common = dict(holdout=frozenset({"img00", "img05", "img10"}), seed=0, cv_gamma=1.5)
    zs3 = retrain("zs3", features, CLASSES, UNSEEN, cfg, out_path=tmp_path / "zs3.pt",
                  extra=[(bank.features, bank.class_id)], **common)
    same = named_model(CLASSES, UNSEEN, ["u", "v"])
    rows = named_rows(generator, table[:5], same.classes, same.unseen, 20, seed=0, dropout_at_generation=True)
    named = retrain("named", features, same.classes, same.unseen, cfg, out_path=tmp_path / "named.pt",
                    extra=[rows], **common)
    for key in ("weight", "bias"):
        assert torch.equal(named[key], zs3[key])
    assert named["gammas"] == zs3["gammas"] and named["gamma"] == zs3["gamma"]

    zebra = named_model(CLASSES, UNSEEN, ["zebra"])
    rows = named_rows(generator, table, zebra.classes, zebra.unseen, 20, seed=0, dropout_at_generation=True)
    state = retrain("named", features, zebra.classes, zebra.unseen, cfg, out_path=tmp_path / "zebra.pt",
                    extra=[rows], **common)
    assert state["weight"].shape == (6, D) and state["class_names"][-1] == "zebra"
    assert state["unseen"] == ["v", "u", "zebra"] and state["method"] == "named"
