"""Charts from results files: confusion heatmaps and Figure 5's p sweep."""
import numpy as np
import pandas as pd
import pytest

from zs3core import charts
from zs3core.evaluate import write_evaluation

CLASSES = ["background", "cat", "dog", "cow", "sofa"]
UNSEEN = ["cow", "sofa"]


def test_heatmap_rows_are_normalised_per_ground_truth_class():
    cm = np.array([[6, 2, 0, 0, 0],
                   [0, 0, 0, 0, 0],   # cat: absent from the test set
                   [0, 1, 3, 0, 0],
                   [1, 1, 0, 2, 0],   # cow (unseen): half right, a quarter to background, a quarter to cat
                   [0, 0, 0, 0, 5]])
    expected = np.array([[.75, .25, 0, 0, 0], [np.nan] * 5, [0, .25, .75, 0, 0], [.25, .25, 0, .5, 0], [0, 0, 0, 0, 1]])
    np.testing.assert_allclose(charts.row_normalised(cm), expected)
    fig = charts.confusion_heatmap(cm, CLASSES, UNSEEN, "toy")
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown.filled(np.nan), expected)
    assert shown.mask[1].all() and not shown.mask[[0, 2, 3, 4]].any()
    red = [t.get_text() for t in ax.get_yticklabels() if t.get_color() == charts.UNSEEN_COLOUR]
    assert red == ["cow *", "sofa *"]
    # the unseen rows' cells are written out: cow 25 / 25 / 50, sofa 100
    assert sorted((int(t.get_position()[1]), t.get_text()) for t in ax.texts) == \
        [(3, "25"), (3, "25"), (3, "50"), (4, "100")]


def test_heatmap_shows_the_calibrated_matrix_of_a_run(tmp_path):
    raw, calibrated = np.eye(3, dtype=np.int64) * 4, np.full((3, 3), 2, dtype=np.int64)
    write_evaluation([raw, calibrated], raw, ["background", "cat", "cow"], [2], {"dataset": "toy", "K": 1},
                     {"raw": 0.0, "calibrated": 1.5}, metrics_csv=tmp_path / "m.csv",
                     per_class_csv=tmp_path / "pc.csv", confusion_npy=tmp_path / "cm.npy")
    cm, name, gamma = charts.run_confusion(tmp_path / "cm.npy", tmp_path / "m.csv")
    np.testing.assert_array_equal(cm, calibrated)
    assert (name, gamma) == ("calibrated", 1.5)

    write_evaluation([raw], raw, ["background", "cat", "cow"], [2], {"dataset": "toy", "K": 1}, {"raw": 0.0},
                     metrics_csv=tmp_path / "m1.csv", per_class_csv=tmp_path / "pc1.csv",
                     confusion_npy=tmp_path / "cm1.npy")
    cm, name, gamma = charts.run_confusion(tmp_path / "cm1.npy", tmp_path / "m1.csv")
    np.testing.assert_array_equal(cm, raw)
    assert (name, gamma) == ("raw", 0.0)
    with pytest.raises(ValueError, match="holds 2 matrices but .* has 1 rows"):
        charts.run_confusion(tmp_path / "cm.npy", tmp_path / "m1.csv")


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
    table = charts.p_sweep_table(sweep_rows())
    assert list(table["calibration"]) == ["raw"] * 3 + ["calibrated"] * 3
    assert list(table["p"]) == [5, 25, 50] * 2
    assert list(table["unseen_miou"]) == [10, 30, 40, 14, 34, 44]
    assert list(table["n_seeds"]) == [1, 2, 1, 1, 2, 1]
    assert list(table["gamma"]) == [0, 0, 0, 2, 2, 2]
    charts.write_p_sweep(table, tmp_path / "fig5.csv")
    written = pd.read_csv(tmp_path / "fig5.csv")
    assert list(written.columns[:7]) == ["dataset", "K", "method", "calibration", "p", "gamma", "n_seeds"]
    pd.testing.assert_frame_equal(written[["p", "unseen_miou"]], table[["p", "unseen_miou"]].astype(float))

    fig = charts.p_sweep_figure(table, "Figure 5")
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
        charts.p_sweep_table(rows)
    rows = sweep_rows()
    rows[5] = pd.DataFrame([zs5_row(5, "raw", 10.0, K=4)])
    with pytest.raises(ValueError, match="one dataset, K and method"):
        charts.p_sweep_table(rows)


def test_figures_are_saved_atomically_as_png(tmp_path):
    fig = charts.p_sweep_figure(charts.p_sweep_table(sweep_rows()), "Figure 5")
    charts.save_figure(fig, tmp_path / "out" / "fig5.png")
    assert (tmp_path / "out" / "fig5.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["fig5.png"]
