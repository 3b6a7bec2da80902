"""Figures and predictions through Snakemake on a tiny synthetic world (ZS3 standing in for ZS5)."""
import re

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REPO, run_snakemake, small_synthetic
from zs3core.config import stage_config
from zs3core.data.index import read_index
from zs3core.data.labels import read_png_label
from zs3core.predict import load_predictor, normalise, read_rgb

SIZES = {"street": (64, 64), "wide": (50, 70)}  # (H, W) of the user's images
TARGETS = ["results/figures/synthvoc_k2.png", "results/synthvoc_k2_zs3_confusion.png", "predictions/synthvoc_k2_zs3"]


def tiny_config(images):
    overrides = small_synthetic(n_val=30)  # enough test images that some contain cow or motorbike
    overrides["datasets"]["synthvoc"].update(ks=[2, 4], segmenter={"train": {"epochs": 2, "batch_size": 8}},
                                             generator={"iterations": 30})
    overrides["classifier"] = {"epochs": 2}
    overrides["default_datasets"] = ["synthvoc"]
    overrides["figures"] = {"n_images": 2, "methods": ["seenonly", "zs3"]}
    overrides["predict"] = {"images": str(images)}
    return overrides


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    images = root / "my_images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name, size in SIZES.items():
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(images / f"{name}.png")
    (images / "cut.jpg").write_bytes((images / "street.png").read_bytes()[:100])  # an unreadable image
    (images / "notes.txt").write_text("not an image: ignored")
    workdir = root / "work"
    workdir.mkdir()
    overrides = tiny_config(images)
    run_snakemake(workdir, TARGETS, overrides)
    return workdir, images, overrides


def test_qualitative_figure_draws_test_images_with_unseen_classes(built):
    workdir, _, _ = built
    with Image.open(workdir / "results/figures/synthvoc_k2.png") as png:
        assert png.format == "PNG" and png.width > 400
    ids = re.search(r"drew test images \[(.*)\]", (workdir / "logs/figures/synthvoc_k2.log").read_text()).group(1)
    ids = [i.strip(" '") for i in ids.split(",")]
    rows = {r["image_id"]: r for r in read_index(workdir / "data/synthvoc/index.csv")}
    assert len(ids) == 2
    assert all(rows[i]["split"] == "val" and {"cow", "motorbike"} & set(rows[i]["classes"]) for i in ids)
    with Image.open(workdir / "results/synthvoc_k2_zs3_confusion.png") as png:
        assert png.format == "PNG"


def test_predictions_are_the_calibrated_zs3_models(built):
    workdir, images, _ = built
    out = workdir / "predictions/synthvoc_k2_zs3"
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    classes = config["datasets"]["synthvoc"]["classes"]
    predictor = load_predictor(workdir / "checkpoints/synthvoc/k2/seenonly.pt", workdir / "classifiers/synthvoc/k2/zs3.pt",
                               classes, ["cow", "motorbike"], stage_config(config, "segmenter", "synthvoc"))
    for name, size in SIZES.items():
        labels = read_png_label(out / "index" / f"{name}.png")
        assert labels.shape == size and labels.max() < len(classes)
        np.testing.assert_array_equal(labels, predictor(normalise(read_rgb(images / f"{name}.png"))))
        with Image.open(out / "colour" / f"{name}.png") as colour:
            assert colour.mode == "RGB" and colour.size == size[::-1]
    assert (out / "classes.csv").read_text().count("\n") == len(classes) + 1
    skipped = (out / "skipped.csv").read_text().splitlines()
    assert len(skipped) == 2 and skipped[1].startswith(f"{images / 'cut.jpg'},")
    log = (workdir / "logs/predict/synthvoc_k2_zs3.log").read_text()
    assert f"skipped {images / 'cut.jpg'}" in log and "1 unreadable image(s) skipped" in log


def test_default_target_draws_the_figures_and_predictions_need_a_folder(built):
    workdir, _, overrides = built
    listing = run_snakemake(workdir, [], overrides, "-n", "--forceall", "--quiet", "rules").stdout
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", listing, re.M)}
    # K=2 only (K=10 is not among this config's ks); heatmaps of both panel methods; Figure 5
    assert (jobs["qualitative_figure"], jobs["confusion_heatmap"], jobs["fig5"]) == (1, 2, 1)
    assert "predict" not in jobs
    failed = run_snakemake(workdir, ["predictions/synthvoc_k2_seenonly"], {**overrides, "predict": {"images": None}},
                           "-n", check=False)
    assert failed.returncode != 0 and "predict.images is null" in failed.stdout + failed.stderr
