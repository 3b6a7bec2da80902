"""The authors' class tables as the embedding source `authors`: shipped files, rows by name, values
as published, clear errors (zs3core/authors_embeddings.py)."""
import hashlib
import json
import pickle
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO
from zs3core import authors_embeddings as ae
from zs3core import embeddings as emb
from zs3core.config import ConfigError, check_config, embedding_source, source_normalisation

SHARED = Path("/work/shared/authors_embeddings")
if not SHARED.exists():  # a checkout with shared/ inside the repository
    SHARED = REPO / "shared" / "authors_embeddings"
# The row order of each published table, as their README states it (independent of zs3core.authors).
VOC_ROWS = ("background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike "
            "person pottedplant sheep sofa train tvmonitor").split()
CONTEXT_ROWS = ["table" if c == "diningtable" else c for c in VOC_ROWS] + (
    "bag bed bench book building cabinet ceiling cloth computer cup door fence floor flower food grass ground "
    "keyboard light mountain mouse curtain platform sign plate road rock shelves sidewalk sky snow bedclothes "
    "track tree truck wall water window wood").split()
PUBLISHED = {"voc": ("voc_norm_embed_arr_300.npy", VOC_ROWS), "context": ("context_class_w2c.npy", CONTEXT_ROWS)}


def config_classes(name):
    with open(REPO / "config.yaml") as f:
        return yaml.safe_load(f)["datasets"][name]["classes"]


def published_row(table, class_name):
    """Brute force: scan the published file's rows for the one its README names `class_name`
    (Context spells VOC's diningtable `table`)."""
    file, order = PUBLISHED[table]
    values = np.load(ae.TABLE_DIR / file, allow_pickle=False)
    for i, name in enumerate(order):
        if name == class_name or {name, class_name} == {"table", "diningtable"}:
            return values[i]
    raise AssertionError(f"{class_name} is not in the {table} README order")


def test_the_shipped_files_are_the_authors_with_their_license():
    for name in ("voc_norm_embed_arr_300.npy", "context_class_w2c.npy", "LICENSE"):
        shipped = (ae.TABLE_DIR / name).read_bytes()
        if SHARED.exists():
            assert shipped == (SHARED / name).read_bytes(), name
    for table, (file, md5) in ae.FILES.items():
        assert hashlib.md5((ae.TABLE_DIR / file).read_bytes()).hexdigest() == md5
        assert file in (ae.TABLE_DIR / "README.md").read_text() and md5 in (ae.TABLE_DIR / "README.md").read_text()
    assert "Apache License" in (ae.TABLE_DIR / "LICENSE").read_text()
    assert "6031f4a" in (ae.TABLE_DIR / "README.md").read_text()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"embedding_tables/authors/*.npy", "embedding_tables/authors/LICENSE",
            "embedding_tables/authors/README.md"} <= set(package_data["zs3core"])


@pytest.mark.parametrize("table", ["voc", "context"])
def test_each_dataset_gets_the_published_rows_by_name_in_its_own_order(table):
    classes = config_classes(table)
    values, records = ae.authors_table(table, classes, table)
    assert values.dtype == np.load(ae.TABLE_DIR / PUBLISHED[table][0]).dtype  # not even recast
    for i, cls in enumerate(classes):
        np.testing.assert_array_equal(values[i], published_row(table, cls))
    assert [r["class"] for r in records] == classes
    if table == "context":  # config.yaml's name order is not theirs: the rows really move
        assert classes != CONTEXT_ROWS and sorted(classes) == sorted(CONTEXT_ROWS)


def test_diningtable_and_table_are_one_class_in_either_table():
    voc, _ = ae.authors_table("voc", ["background", "table"])
    context, _ = ae.authors_table("context", ["background", "diningtable"])
    np.testing.assert_array_equal(voc[1], published_row("voc", "diningtable"))
    np.testing.assert_array_equal(context[1], published_row("context", "table"))


def test_the_values_are_as_published_never_normalised(tmp_path, monkeypatch):
    loads = []
    real_load = np.load

    def spy_load(*args, **kwargs):
        loads.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    def no_pickle(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(ae.np, "load", spy_load)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    classes = config_classes("context")
    source = {"format": "authors", "normalisation": "none", "table": "context"}
    emb.build_embeddings(classes, "authors", source, {"tvmonitor": ["tv", "monitor"]}, "none",
                         tmp_path / "context.npy", tmp_path / "context.json", dataset="context")
    assert loads and all(flag is False for flag in loads)
    table = real_load(tmp_path / "context.npy", allow_pickle=False)
    norms = np.linalg.norm(table, axis=1)
    assert norms.min() > 2.1 and norms.max() < 3.7  # raw word2vec rows, not unit ones
    np.testing.assert_array_equal(table, [published_row("context", c) for c in classes])
    prov = json.loads((tmp_path / "context.json").read_text())
    assert prov["format"] == "authors" and prov["normalisation"] == "none"
    assert prov["package"] == "valeoai/ZS3@6031f4a context_class_w2c.npy (md5 774206533f6cf53b94fee01064520265)"
    assert prov["classes"][classes.index("cow")] == {"class": "cow", "authors_name": "cow", "authors_row": 10}
    with pytest.raises(ValueError, match=r"embeddings\.sources\.authors\.normalisation is 'l2'"):
        emb.build_embeddings(classes, "authors", source, {}, "l2", tmp_path / "x.npy", tmp_path / "x.json")


def test_a_class_outside_their_table_is_named_with_the_key_to_change():
    with pytest.raises(ValueError, match=r"datasets\.myvoc\.classes: 'unicorn' has no row in the authors' voc table"
                                         r".*set datasets\.myvoc\.embeddings\.source"):
        ae.authors_table("voc", ["background", "cow", "unicorn"], "myvoc")
    with pytest.raises(ValueError, match=r"not of format 'synthetic'"):
        ae.authors_table("synthetic", ["background", "cow"], "synthvoc")


def test_a_damaged_table_is_refused(tmp_path, monkeypatch):
    (tmp_path / "voc_norm_embed_arr_300.npy").write_bytes(b"not the table")
    monkeypatch.setattr(ae, "TABLE_DIR", tmp_path)
    with pytest.raises(ValueError, match="is not the authors' voc table"):
        ae.load_table("voc")


def test_config_sources_per_dataset_and_their_normalisation(base_config):
    check_config(base_config)
    assert {ds: embedding_source(base_config, ds) for ds in base_config["datasets"]} == \
        {"voc": "authors", "context": "authors", "synthvoc": "spacy_md", "synthcontext": "spacy_md"}
    assert source_normalisation(base_config, "authors") == "none"  # whatever embeddings.normalisation says
    assert source_normalisation(base_config, "spacy_md") == base_config["embeddings"]["normalisation"] == "l2"
    del base_config["embeddings"]["sources"]["authors"]["normalisation"]
    assert source_normalisation(base_config, "authors") == "none"
    base_config["datasets"]["voc"]["classes"] = base_config["datasets"]["voc"]["classes"] + ["unicorn"]
    base_config["datasets"]["synthvoc"]["embeddings"] = {"source": "authors"}
    base_config["embeddings"]["sources"]["authors"]["normalisation"] = "l2"
    with pytest.raises(ConfigError) as err:
        check_config(base_config)
    message = str(err.value)
    assert "datasets.voc.classes: 'unicorn' has no row in the authors' voc table" in message
    assert "datasets.synthvoc: embedding source 'authors'" in message and "not of format 'synthetic'" in message
    assert "embeddings.sources.authors.normalisation is 'l2'" in message
