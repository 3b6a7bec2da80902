"""Predictions on a folder of images: the label maps the evaluation scores, written atomically."""
import csv

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from zs3core.checkpoints import save_checkpoint
from zs3core.data.dataset import SegmentationDataset
from zs3core.data.images import image_files
from zs3core.data.labels import read_png_label, write_palette_png
from zs3core.data.transforms import IMAGENET_MEAN, IMAGENET_STD, EvalTransform
from zs3core.evaluate import confusion_matrices
from zs3core.metrics import confusion_matrix
from zs3core.palette import class_colours, colourise
from zs3core.predict import load_predictor, normalise, predict_folder, read_rgb
from zs3core.train.step0 import build_model

CLASSES = ["background", "cat", "dog", "cow", "sofa"]
UNSEEN = ["cow", "sofa"]
SEEN_IDS = [0, 1, 2]
TINY = {"backbone": "resnet_tiny", "tiny_widths": [8, 8, 16, 16], "tiny_blocks": [1, 1, 1, 1], "aspp_rates": [1, 2, 3],
        "aspp_channels": 8, "low_level_channels": 8, "feature_dim": 8, "init": "none"}
SIZES = {"first": (37, 45), "second": (30, 52)}  # odd (H, W): the scores' stride-4 map must be upsampled
GAMMA = 1.0


@pytest.fixture
def model_files(tmp_path):
    """A randomly initialised tiny seen-only segmenter and a retrained classifier with a gamma."""
    torch.manual_seed(0)
    segmenter = tmp_path / "seenonly.pt"
    save_checkpoint(segmenter, {"model": build_model("seenonly", len(CLASSES), TINY).state_dict(), "meta": {}})
    classifier = tmp_path / "zs3.pt"
    save_checkpoint(classifier, {"weight": torch.randn(len(CLASSES), 8), "bias": torch.zeros(len(CLASSES)),
                                 "gamma": GAMMA})
    return segmenter, classifier


@pytest.fixture
def test_split(tmp_path):
    """Two images (odd sizes) with random labels, as a one-split index the evaluation reads."""
    rng = np.random.default_rng(0)
    folder, rows = tmp_path / "images", []
    folder.mkdir()
    for name, size in SIZES.items():
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{name}.png")
        label = rng.integers(0, len(CLASSES), size).astype(np.uint8)
        label[0] = 255
        write_palette_png(tmp_path / "labels" / f"{name}.png", label)
        rows.append({"image_id": name, "split": "val", "image": folder / f"{name}.png",
                     "label": tmp_path / "labels" / f"{name}.png", "classes": " ".join(CLASSES)})
    (folder / "notes.txt").write_text("not an image")
    index = tmp_path / "index.csv"
    with open(index, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder, index


def reference_prediction(scorer, path, gamma):
    """The evaluation protocol written out by hand: ImageNet normalisation, bilinear upsampling of
    the scores to the image size, gamma off the seen logits, arg-max."""
    rgb = np.array(Image.open(path).convert("RGB"))
    x = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    x = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        scores = F.interpolate(scorer(x[None]), size=rgb.shape[:2], mode="bilinear", align_corners=False)
    scores[:, SEEN_IDS] -= gamma
    return scores.argmax(1)[0].numpy()


def test_index_pngs_are_the_evaluations_arg_max(model_files, test_split, tmp_path):
    folder, index = test_split
    predictor = load_predictor(*model_files, CLASSES, UNSEEN, TINY)
    assert predictor.gamma == GAMMA and predictor.calibrated
    out = tmp_path / "predictions" / "toy_k2_zs3"
    predict_folder(predictor, image_files(folder), CLASSES, UNSEEN, out)

    predicted = {name: read_png_label(out / "index" / f"{name}.png") for name in SIZES}
    for name, size in SIZES.items():
        expected = reference_prediction(predictor.scorer, folder / f"{name}.png", GAMMA)
        assert predicted[name].shape == size
        np.testing.assert_array_equal(predicted[name], expected)
        # gamma is applied: at gamma 0 some pixels would be predicted otherwise
        assert (reference_prediction(predictor.scorer, folder / f"{name}.png", 0.0) != expected).any()
        assert len(np.unique(expected)) > 1

    # the evaluation's own path on the same images counts exactly these predictions
    dataset = SegmentationDataset(index, "val", EvalTransform())
    loader = torch.utils.data.DataLoader(dataset, batch_size=1)
    (cm,), _ = confusion_matrices(predictor.scorer, loader, len(CLASSES), [3, 4], gammas=[predictor.gamma])
    counted = sum(confusion_matrix(read_png_label(tmp_path / "labels" / f"{n}.png"), predicted[n], len(CLASSES))
                  for n in SIZES)
    np.testing.assert_array_equal(cm, counted)


def test_colour_pngs_and_class_table(model_files, test_split, tmp_path):
    folder, _ = test_split
    out = tmp_path / "out"
    predict_folder(load_predictor(*model_files, CLASSES, UNSEEN, TINY), image_files(folder), CLASSES, UNSEEN, out)
    assert sorted(p.name for p in (out / "index").iterdir()) == ["first.png", "second.png"]
    for name in SIZES:
        labels = read_png_label(out / "index" / f"{name}.png")
        colour = np.asarray(Image.open(out / "colour" / f"{name}.png"))
        np.testing.assert_array_equal(colour, colourise(labels, class_colours(len(CLASSES))))
    with open(out / "classes.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["class"] for r in table] == CLASSES
    assert [r["split"] for r in table] == ["seen", "seen", "seen", "unseen", "unseen"]
    assert table[0]["colour"] == "#000000"


def test_seen_only_predicts_at_gamma_zero(model_files, test_split):
    segmenter, _ = model_files
    folder, _ = test_split
    predictor = load_predictor(segmenter, None, CLASSES, UNSEEN, TINY)
    assert predictor.gamma == 0 and not predictor.calibrated
    image = folder / "first.png"
    np.testing.assert_array_equal(predictor(normalise(read_rgb(image))),
                                  reference_prediction(predictor.scorer, image, 0.0))


def truncated_jpeg(path):
    """A JPEG cut in half, as an interrupted copy leaves it."""
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def test_unreadable_images_are_skipped_and_listed(model_files, test_split, tmp_path):
    folder, _ = test_split
    truncated_jpeg(folder / "cut.jpg")
    (folder / "fake.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("not an image, not listed")
    out = tmp_path / "out"
    skipped = predict_folder(load_predictor(*model_files, CLASSES, UNSEEN, TINY), image_files(folder),
                             CLASSES, UNSEEN, out)
    assert sorted(p.name for p in (out / "index").iterdir()) == ["first.png", "second.png"]
    with open(out / "skipped.csv") as f:
        listed = list(csv.DictReader(f))
    assert [(r["path"], r["reason"]) for r in listed] == skipped
    assert [r["path"] for r in listed] == [str(folder / "cut.jpg"), str(folder / "fake.png")]
    assert listed[0]["reason"].startswith("OSError: ") and "truncated" in listed[0]["reason"].lower()
    assert listed[1]["reason"].startswith("UnidentifiedImageError: ")


def test_every_image_readable_gives_an_empty_skip_list(model_files, test_split, tmp_path):
    folder, _ = test_split
    out = tmp_path / "out"
    assert predict_folder(load_predictor(*model_files, CLASSES, UNSEEN, TINY), image_files(folder),
                          CLASSES, UNSEEN, out) == []
    assert (out / "skipped.csv").read_text().splitlines() == ["path,reason"]


def test_no_readable_image_names_the_folder_and_leaves_no_output(model_files, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    truncated_jpeg(folder / "cut.jpg")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=rf"no readable image in {folder}: cut.jpg \(OSError"):
        predict_folder(load_predictor(*model_files, CLASSES, UNSEEN, TINY), image_files(folder), CLASSES, UNSEEN, out)
    assert not out.exists() and not any(p.name.startswith(".out.") for p in tmp_path.iterdir())


def test_image_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        image_files(tmp_path / "missing")
    (tmp_path / "b.JPG").write_bytes(b"")
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "readme.md").write_text("")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in image_files(tmp_path)] == ["a.png", "b.JPG"]
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"share the name\(s\) \['a'\]"):
        image_files(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no image"):
        image_files(empty)


def test_named_class_in_classes_csv_the_legend_and_the_overlays(model_files, test_split, tmp_path):
    """A named model: the seen-only segmenter (5 classes) with a classifier of 6, the last one named."""
    segmenter, _ = model_files
    folder, _ = test_split
    truncated_jpeg(folder / "a&b #1.jpg")  # skipped, listed on the page, escaped
    torch.manual_seed(1)
    classifier = tmp_path / "named.pt"
    weight = torch.randn(len(CLASSES) + 1, 8)
    weight[-1] *= 4  # the named class wins somewhere
    save_checkpoint(classifier, {"weight": weight, "bias": torch.zeros(len(CLASSES) + 1), "gamma": GAMMA})
    classes = CLASSES + ["giraffe<x>"]
    predictor = load_predictor(segmenter, classifier, classes, UNSEEN + ["giraffe<x>"], TINY,
                               segmenter_classes=len(CLASSES))
    out = tmp_path / "named"
    predict_folder(predictor, image_files(folder), classes, UNSEEN + ["giraffe<x>"], out, named=["giraffe<x>"])

    with open(out / "classes.csv") as f:
        table = list(csv.DictReader(f))
    colours = class_colours(len(classes))
    assert [(r["class"], r["split"]) for r in table][-2:] == [("sofa", "unseen"), ("giraffe<x>", "named")]
    assert table[-1]["colour"] == "#{:02x}{:02x}{:02x}".format(*colours[-1])
    np.testing.assert_array_equal(colours[:len(CLASSES)], class_colours(len(CLASSES)))  # old colours kept

    pixels = np.zeros(len(classes))
    for name in SIZES:
        labels = read_png_label(out / "index" / f"{name}.png")
        pixels += np.bincount(labels.ravel(), minlength=len(classes))
        rgb = read_rgb(folder / f"{name}.png")
        blend = (rgb * 0.5 + colourise(labels, colours) * 0.5).round().astype(np.uint8)  # by hand
        for sub, expected in (("image", rgb), ("overlay", blend)):
            Image.fromarray(expected).save(tmp_path / "expected.jpg", quality=90)
            with Image.open(out / sub / f"{name}.jpg") as jpg, Image.open(tmp_path / "expected.jpg") as ref:
                assert jpg.format == "JPEG" and jpg.size == rgb.shape[1::-1]
                np.testing.assert_array_equal(np.asarray(jpg), np.asarray(ref))
    assert pixels[-1] > 0

    page = (out / "index.html").read_text()
    share = 100 * pixels[-1] / pixels.sum()
    assert (f'<tr class="named"><td><span class="swatch" style="background:{table[-1]["colour"]}"></span></td>'
            f"<td>giraffe&lt;x&gt;</td><td>named</td><td>{share:.1f}%</td></tr>") in page
    assert page.count('<tr class="') == len(classes)
    for name in SIZES:
        assert f'src="image/{name}.jpg"' in page and f'src="overlay/{name}.jpg"' in page
    assert "a&amp;b #1.jpg: OSError" in page
    # self-contained: relative links into the folder only, nothing fetched
    assert "http" not in page and str(tmp_path) not in page and "<script" not in page
