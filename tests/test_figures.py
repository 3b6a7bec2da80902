"""Figures on hand-made label maps, confusion matrices and results rows."""
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from zs3core import figures
from zs3core.evaluate import write_evaluation
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


def test_heatmap_rows_are_normalised_per_ground_truth_class():
    cm = np.array([[6, 2, 0, 0, 0],
                   [0, 0, 0, 0, 0],   # cat: absent from the test set
                   [0, 1, 3, 0, 0],
                   [1, 1, 0, 2, 0],   # cow (unseen): half right, a quarter to background, a quarter to cat
                   [0, 0, 0, 0, 5]])
    expected = np.array([[.75, .25, 0, 0, 0], [np.nan] * 5, [0, .25, .75, 0, 0], [.25, .25, 0, .5, 0], [0, 0, 0, 0, 1]])
    np.testing.assert_allclose(figures.row_normalised(cm), expected)
    fig = figures.confusion_heatmap(cm, CLASSES, UNSEEN, "toy")
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown.filled(np.nan), expected)
    assert shown.mask[1].all() and not shown.mask[[0, 2, 3, 4]].any()
    red = [t.get_text() for t in ax.get_yticklabels() if t.get_color() == figures.UNSEEN_COLOUR]
    assert red == ["cow *", "sofa *"]
    # the unseen rows' cells are written out: cow 25 / 25 / 50, sofa 100
    assert sorted((int(t.get_position()[1]), t.get_text()) for t in ax.texts) == \
        [(3, "25"), (3, "25"), (3, "50"), (4, "100")]


def test_heatmap_shows_the_calibrated_matrix_of_a_run(tmp_path):
    raw, calibrated = np.eye(3, dtype=np.int64) * 4, np.full((3, 3), 2, dtype=np.int64)
    write_evaluation([raw, calibrated], raw, ["background", "cat", "cow"], [2], {"dataset": "toy", "K": 1},
                     {"raw": 0.0, "calibrated": 1.5}, metrics_csv=tmp_path / "m.csv",
                     per_class_csv=tmp_path / "pc.csv", confusion_npy=tmp_path / "cm.npy")
    cm, name, gamma = figures.run_confusion(tmp_path / "cm.npy", tmp_path / "m.csv")
    np.testing.assert_array_equal(cm, calibrated)
    assert (name, gamma) == ("calibrated", 1.5)

    write_evaluation([raw], raw, ["background", "cat", "cow"], [2], {"dataset": "toy", "K": 1}, {"raw": 0.0},
                     metrics_csv=tmp_path / "m1.csv", per_class_csv=tmp_path / "pc1.csv",
                     confusion_npy=tmp_path / "cm1.npy")
    cm, name, gamma = figures.run_confusion(tmp_path / "cm1.npy", tmp_path / "m1.csv")
    np.testing.assert_array_equal(cm, raw)
    assert (name, gamma) == ("raw", 0.0)
    with pytest.raises(ValueError, match="holds 2 matrices but .* has 1 rows"):
        figures.run_confusion(tmp_path / "cm.npy", tmp_path / "m1.csv")


def zs5_row(p, calibration, unseen_miou, seed=0, K=2, **extra):
    metrics = {m: 50.0 for m in ("seen_pa", "seen_ma", "seen_miou", "unseen_pa", "unseen_ma", "all_pa", "all_ma",
                                 "all_miou", "hiou", "vanilla_unseen_miou")}
    return {"dataset": "synthvoc", "K": K, "method": "zs5", "seed": seed, "calibration": calibration,
            "gamma": 0.0 if calibration == "raw" else 2.0, "pseudo_p": float(p), **metrics,
            "unseen_miou": unseen_miou, **extra}


def sweep_rows():
    """p = 50, 5, 25 (unordered); p = 25 has two seeds whose unseen mIoU averages to 30."""
    return {50: pd.DataFrame([zs5_row(50, "raw", 40.0), zs5_row(50, "calibrated", 44.0)]),
            5: pd.DataFrame([zs5_row(5, "raw", 10.0), zs5_row(5, "calibrated", 14.0)]),
            25: pd.DataFrame([zs5_row(25, "raw", 20.0), zs5_row(25, "raw", 40.0, seed=1),
                              zs5_row(25, "calibrated", 34.0), zs5_row(25, "calibrated", 34.0, seed=1)])}


def test_p_sweep_table_from_hand_made_rows(tmp_path):
    table = figures.p_sweep_table(sweep_rows())
    assert list(table["calibration"]) == ["raw"] * 3 + ["calibrated"] * 3
    assert list(table["p"]) == [5, 25, 50] * 2
    assert list(table["unseen_miou"]) == [10, 30, 40, 14, 34, 44]
    assert list(table["n_seeds"]) == [1, 2, 1, 1, 2, 1]
    assert list(table["gamma"]) == [0, 0, 0, 2, 2, 2]
    figures.write_p_sweep(table, tmp_path / "fig5.csv")
    written = pd.read_csv(tmp_path / "fig5.csv")
    assert list(written.columns[:7]) == ["dataset", "K", "method", "calibration", "p", "gamma", "n_seeds"]
    pd.testing.assert_frame_equal(written[["p", "unseen_miou"]], table[["p", "unseen_miou"]].astype(float))

    fig = figures.p_sweep_figure(table, "Figure 5")
    raw_axis, calibrated_axis = fig.axes
    assert raw_axis.get_title() == "raw" and calibrated_axis.get_title() == "calibrated"
    lines = {line.get_label(): line for line in raw_axis.lines}
    np.testing.assert_array_equal(lines["unseen mIoU"].get_xdata(), [5, 25, 50])
    np.testing.assert_array_equal(lines["unseen mIoU"].get_ydata(), [10, 30, 40])
    assert set(lines) == {"seen mIoU", "unseen mIoU", "overall mIoU", "hIoU"}


def test_p_sweep_rejects_rows_of_another_p_or_run():
    rows = sweep_rows()
    rows[5] = pd.DataFrame([zs5_row(10, "raw", 10.0)])  # a file trained at p = 10 given as p = 5
    with pytest.raises(ValueError, match="p=5 were trained with pseudo_p"):
        figures.p_sweep_table(rows)
    rows = sweep_rows()
    rows[5] = pd.DataFrame([zs5_row(5, "raw", 10.0, K=4)])
    with pytest.raises(ValueError, match="one dataset, K and method"):
        figures.p_sweep_table(rows)


def test_figures_are_saved_atomically_as_png(tmp_path):
    fig = figures.p_sweep_figure(figures.p_sweep_table(sweep_rows()), "Figure 5")
    figures.save_figure(fig, tmp_path / "out" / "fig5.png")
    assert (tmp_path / "out" / "fig5.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["fig5.png"]


@pytest.mark.parametrize("n_images", [1, 3])
def test_panel_png_has_the_size_of_its_rows_and_columns(tmp_path, n_images):
    maps = [np.array([[0, 3], [1, 255]], dtype=np.uint8)] * 3
    images = [np.zeros((2, 2, 3), np.uint8)] * n_images
    fig = figures.qualitative_panel(images, [maps] * n_images, ["ground truth", "Seen-only", "ZS3Net"],
                                    CLASSES, UNSEEN, "toy")
    figures.save_figure(fig, tmp_path / "panel.png", dpi=100)
    with Image.open(tmp_path / "panel.png") as png:
        png.verify()
    with Image.open(tmp_path / "panel.png") as png:
        width, height = png.size
    # 4 columns (image + 3 maps) of 2 inches, 2 inches a row plus the legend band; the tight bounding
    # box trims only the margins
    assert 0.75 * 800 <= width <= 1.05 * 800
    assert 0.75 * (200 * n_images + 120) <= height <= 1.05 * (200 * n_images + 120)
