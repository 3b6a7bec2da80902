"""Classes named at prediction time through Snakemake on a tiny synthetic world: naming K = 2's own
unseen classes reproduces ZS3Net's classifier; a new name trains only its table and classifier;
an unknown word or a seen class stops the run before any job (the documented command is dry-run by
test_docs_commands.py)."""
import csv
import re

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_snakemake, small_synthetic
from zs3core.named import named_tag

SIZES = {"street": (64, 64), "wide": (50, 70)}


def tiny_config(images, classes):
    overrides = small_synthetic(n_val=20)
    overrides["datasets"]["synthvoc"].update(ks=[2], segmenter={"train": {"epochs": 2, "batch_size": 8}},
                                             generator={"iterations": 30})
    overrides["classifier"] = {"epochs": 2}
    overrides["predict"] = {"images": str(images), "classes": classes}
    return overrides


def planned(workdir, overrides, target="predictions/synthvoc_k2_named"):
    """{rule: jobs} a dry run of `target` plans."""
    listing = run_snakemake(workdir, [target], overrides, "--quiet", "rules", "-n").stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", listing, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """ZS3Net's classifier at K = 2 and the named model of [cow, motorbike], K = 2's own unseen classes."""
    root = tmp_path_factory.mktemp("named")
    images = root / "my_images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name, size in SIZES.items():
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(images / f"{name}.png")
    (images / "notes.jpg").write_text("a text file named .jpg")
    workdir = root / "work"
    workdir.mkdir()
    overrides = tiny_config(images, ["motorbike", "cow"])
    run_snakemake(workdir, ["classifiers/synthvoc/k2/zs3.pt", "predictions/synthvoc_k2_named"], overrides)
    return workdir, images


def test_naming_k2s_unseen_classes_reproduces_zs3nets_classifier(built):
    workdir, _ = built
    zs3 = torch.load(workdir / "classifiers/synthvoc/k2/zs3.pt", weights_only=True)
    named = torch.load(workdir / f"classifiers/synthvoc/k2/named_{named_tag([])}.pt", weights_only=True)
    assert named["class_names"] == zs3["class_names"] and named["unseen"] == zs3["unseen"] == ["cow", "motorbike"]
    for key in ("weight", "bias"):
        assert torch.equal(named[key], zs3[key])  # bit for bit: same rows, same order, same seed
    assert named["gammas"] == zs3["gammas"] and named["gamma_rule"] == zs3["gamma_rule"] == "cv"
    log = (workdir / f"logs/retrain/synthvoc_k2_named_{named_tag([])}.log").read_text()
    assert "cow, motorbike: unseen classes of this split already" in log and "merged" in log
    with open(workdir / "predictions/synthvoc_k2_named/classes.csv") as f:
        assert [r["split"] for r in csv.DictReader(f)].count("unseen") == 2


def test_a_new_name_trains_only_its_table_and_classifier_and_is_cached(built):
    workdir, images = built
    same = tiny_config(images, ["cow", "motorbike"])  # the same set, in another order
    assert planned(workdir, same) == {}
    untouched = {p: p.stat().st_mtime_ns for p in
                 [workdir / "classifiers/synthvoc/k2/zs3.pt", workdir / "banks/synthvoc/k2/gmmn.h5",
                  workdir / "generators/synthvoc/k2/gmmn.pt", workdir / "checkpoints/synthvoc/k2/seenonly.pt"]}

    giraffe = tiny_config(images, ["cow", "giraffe"])
    assert planned(workdir, giraffe) == {"named_embeddings": 1, "retrain_named": 1, "predict_named": 1}
    run_snakemake(workdir, ["predictions/synthvoc_k2_named"], giraffe)
    assert planned(workdir, giraffe) == {}
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched

    tag = named_tag(["giraffe"])
    table = np.load(workdir / f"embeddings/spacy_md/synthvoc_named_{tag}.npy")
    np.testing.assert_array_equal(table[:21], np.load(workdir / "embeddings/spacy_md/synthvoc.npy"))
    assert table.shape == (22, 300)
    state = torch.load(workdir / f"classifiers/synthvoc/k2/named_{tag}.pt", weights_only=True)
    assert state["class_names"][-1] == "giraffe" and state["unseen"] == ["cow", "motorbike", "giraffe"]

    out = workdir / "predictions/synthvoc_k2_named"
    with open(out / "classes.csv") as f:
        rows = list(csv.DictReader(f))
    assert (rows[-1]["index"], rows[-1]["class"], rows[-1]["split"]) == ("21", "giraffe", "named")
    page = (out / "index.html").read_text()
    assert re.search(r'<tr class="named"><td><span class="swatch" style="background:'
                     + rows[-1]["colour"] + r'"></span></td><td>giraffe</td><td>named</td>', page)
    for name, (h, w) in SIZES.items():
        with Image.open(out / "overlay" / f"{name}.jpg") as overlay:
            assert overlay.size == (w, h)
        assert f'src="overlay/{name}.jpg"' in page and f'src="image/{name}.jpg"' in page
    assert "notes.jpg" in (out / "skipped.csv").read_text() and "notes.jpg" in page

    # back to the first set: its classifier is still there, only the predictions are redone
    assert planned(workdir, same) == {"predict_named": 1}


@pytest.mark.parametrize("classes, message", [
    (["giraffe", "xqzzyplorp"], r"xqzzyplorp: no vector for 'xqzzyplorp' -> set embeddings.aliases.xqzzyplorp"),
    (["giraffe", "dog"], r"predict.classes: dog is a seen class of this split"),
])
def test_an_unknown_word_or_a_seen_class_stops_before_any_job(tmp_path, classes, message):
    images = tmp_path / "my_images"
    images.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / "a.png")
    workdir = tmp_path / "work"
    workdir.mkdir()
    failed = run_snakemake(workdir, ["predictions/synthvoc_k2_named"], tiny_config(images, classes), check=False)
    assert failed.returncode != 0 and re.search(message, failed.stdout + failed.stderr)
    assert sorted(p.name for p in workdir.iterdir() if not p.name.startswith(".")) == ["overrides.yaml"]
