"""Qualitative figures on hand-made images and label maps."""
import numpy as np
import pytest
from PIL import Image

from zs3core import charts, figures
from zs3core.palette import VOID_COLOUR, class_colours, colourise
from zs3core.predict import normalise

CLASSES = ["background", "cat", "dog", "cow", "sofa"]
UNSEEN = ["cow", "sofa"]


def legend_entries(fig):
    """{legend title: [entry labels]} of a figure's legends."""
    return {leg.get_title().get_text(): [t.get_text() for t in leg.get_texts()] for leg in fig.legends}


def test_class_colours_are_distinct_and_keep_black_and_white_apart():
    colours = class_colours(60).astype(float)
    assert tuple(colours[0]) == (0, 0, 0)
    distances = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 60
    assert np.linalg.norm(colours - VOID_COLOUR, axis=1).min() > 60
    np.testing.assert_array_equal(class_colours(21), class_colours(60)[:21])  # a class keeps its colour
    labels = np.array([[0, 255], [2, 59]], dtype=np.uint8)
    np.testing.assert_array_equal(colourise(labels, class_colours(60)),
                                  [[colours[0], VOID_COLOUR], [colours[2], colours[59]]])


def test_legend_names_exactly_the_classes_present():
    gt = np.array([[0, 0, 3], [255, 2, 3]], dtype=np.uint8)  # background, dog, cow (unseen), void
    seen_only = np.array([[0, 0, 1], [0, 2, 1]], dtype=np.uint8)  # the cow taken for a cat
    zs3 = np.array([[0, 0, 3], [0, 2, 3]], dtype=np.uint8)
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    fig = figures.qualitative_panel([image, image], [[gt, seen_only, zs3], [zs3, zs3, zs3]],
                                    ["ground truth", "Seen-only", "ZS3Net"], CLASSES, UNSEEN, "toy")
    # sofa (unseen) appears nowhere, so it is not named; cat is, since a prediction draws it
    assert legend_entries(fig) == {"unseen classes": ["cow"],
                                   "seen classes": ["background", "cat", "dog", "void (not scored)"]}
    colours = class_colours(len(CLASSES))
    patches = {t.get_text(): h for leg in fig.legends for t, h in zip(leg.get_texts(), leg.legend_handles)}
    np.testing.assert_allclose(patches["cow"].get_facecolor()[:3], colours[3] / 255)
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:4]] == ["image", "ground truth", "Seen-only", "ZS3Net"]
    np.testing.assert_array_equal(axes[2].images[0].get_array(), colourise(seen_only, colours))


def test_no_void_entry_when_no_void_is_drawn():
    maps = [np.array([[0, 4]], dtype=np.uint8)]
    fig = figures.qualitative_panel([np.zeros((1, 2, 3), np.uint8)], [maps], ["ground truth"], CLASSES, UNSEEN, "t")
    assert legend_entries(fig) == {"unseen classes": ["sofa"], "seen classes": ["background"]}


def test_panels_show_the_image_the_model_scored():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(figures.displayed(normalise(rgb)), rgb)


@pytest.mark.parametrize("n_images", [1, 3])
def test_panel_png_has_the_size_of_its_rows_and_columns(tmp_path, n_images):
    maps = [np.array([[0, 3], [1, 255]], dtype=np.uint8)] * 3
    images = [np.zeros((2, 2, 3), np.uint8)] * n_images
    fig = figures.qualitative_panel(images, [maps] * n_images, ["ground truth", "Seen-only", "ZS3Net"],
                                    CLASSES, UNSEEN, "toy")
    charts.save_figure(fig, tmp_path / "panel.png", dpi=100)
    with Image.open(tmp_path / "panel.png") as png:
        png.verify()
    with Image.open(tmp_path / "panel.png") as png:
        width, height = png.size
    # 4 columns (image + 3 maps) of 2 inches, 2 inches a row plus the legend band; the tight bounding
    # box trims only the margins
    assert 0.75 * 800 <= width <= 1.05 * 800
    assert 0.75 * (200 * n_images + 120) <= height <= 1.05 * (200 * n_images + 120)
