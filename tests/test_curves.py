"""Training curves: every stage's record read from where its job keeps it, the figure drawn from
hand-made records, and TensorBoard event files of the same scalars (only where tensorboard is installed)."""
import json

import numpy as np
import pytest
from PIL import Image

from zs3core import curves
from zs3core.charts import curves_figure, save_figure
from zs3core.curves import (Curve, panels_of, read_curves, stage_curves, unrecorded_by_panel, write_classifier_curve,
                            write_tensorboard)


def split_records(tmp_path):
    """A split's records as the training jobs leave them, with hand-made values; {stage: input file}."""
    run = tmp_path / "checkpoints/synthvoc/k2"
    (run / "seenonly.work").mkdir(parents=True)
    (run / "seenonly.work/loss.csv").write_text(
        "epoch,loss,lr_backbone,lr_head,seconds\n1,2.5,0.01,0.1,3.0\n2,1.5,0.005,0.05,3.1\n3,1.0,0.0,0.0,3.0\n")
    (run / "seenonly.pt").write_bytes(b"weights")
    (run / "baseline.pt").write_bytes(b"weights")  # trained before curves were kept: no baseline.work/loss.csv
    gen = tmp_path / "generators/synthvoc/k2"
    gen.mkdir(parents=True)
    (gen / "gmmn_loss.csv").write_text("iteration,loss\r\n1,0.8\r\n10,0.2\r\n20,0.01\r\n")  # csv.writer's line ends
    (gen / "gc_loss.csv").write_text("iteration,loss,pixel_mmd,node_mmd\n1,0.9,0.6,0.3\n20,0.3,0.2,0.1\n")
    cls = tmp_path / "classifiers/synthvoc/k2"
    cls.mkdir(parents=True)
    for name in ("zs3", "zs5_p25"):
        (cls / f"{name}.pt").write_bytes(b"weights")
    write_classifier_curve(cls / "zs3_loss.csv", [(1, 1.25), (2, 0.75)])
    (cls / "zs5_p25.work").mkdir()  # ZS5Net's fine-tune mode keeps a segmenter's record
    (cls / "zs5_p25.work/loss.csv").write_text("epoch,loss,lr_backbone,lr_head,seconds\n1,0.6,0,0.001,1\n")
    cv = tmp_path / "cv/synthvoc/k2"
    cv.mkdir(parents=True)
    (cv / "gamma_zs3.json").write_text(json.dumps({"gamma": 0.5, "curves": {"classifier": [[1, 1.1], [2, 0.9]],
                                                                             "gmmn": [[1, 0.7], [3, 0.4]]}}))
    (cv / "gamma_ceiling.json").write_text(json.dumps({"gamma": 0.0}))  # written before curves were kept
    return {"seenonly": run / "seenonly.pt", "baseline": run / "baseline.pt", "gmmn": gen / "gmmn_loss.csv",
            "gc": gen / "gc_loss.csv", "zs3": cls / "zs3.pt", "zs5_p25": cls / "zs5_p25.pt",
            "cv_zs3": cv / "gamma_zs3.json", "cv_ceiling": cv / "gamma_ceiling.json"}


def series(found):
    return {c.tag: (c.step_name, c.steps.tolist(), c.values.tolist()) for c in found}


def test_every_stage_is_read_from_where_its_job_keeps_it(tmp_path):
    found, unrecorded = read_curves(split_records(tmp_path))
    assert series(found) == {
        "seenonly/loss": ("epoch", [1, 2, 3], [2.5, 1.5, 1.0]),
        "gmmn/loss": ("iteration", [1, 10, 20], [0.8, 0.2, 0.01]),
        "gc/loss": ("iteration", [1, 20], [0.9, 0.3]),
        "gc/pixel MMD": ("iteration", [1, 20], [0.6, 0.2]),
        "gc/node MMD": ("iteration", [1, 20], [0.3, 0.1]),
        "classifiers/zs3": ("epoch", [1, 2], [1.25, 0.75]),
        "classifiers/zs5_p25 (fine-tuned)": ("epoch", [1], [0.6]),
        "cv_gmmn/zs3": ("iteration", [1, 3], [0.7, 0.4]),
        "cv_classifiers/zs3": ("epoch", [1, 2], [1.1, 0.9]),
    }
    assert unrecorded == ["baseline", "cv_ceiling"]
    assert unrecorded_by_panel(unrecorded) == {"baseline": ["baseline"], "cv_classifiers": ["cv_ceiling"]}


def test_bad_records_and_stages_are_named(tmp_path):
    bad = tmp_path / "gmmn_loss.csv"
    bad.write_text("step,value\n1,2\n")
    with pytest.raises(ValueError, match="gmmn_loss.csv.*epoch or iteration"):
        stage_curves("gmmn", bad)
    with pytest.raises(ValueError, match="unknown training stage 'zs4'"):
        stage_curves("zs4", bad)


def test_panels_follow_the_stages_in_a_fixed_order():
    assert panels_of(["cv_zs3", "zs3", "gmmn", "seenonly"]) == ["seenonly", "gmmn", "classifiers", "cv_gmmn",
                                                                "cv_classifiers"]
    assert panels_of(["supervised"]) == ["supervised"]


def test_the_figure_plots_each_record_in_its_panel(tmp_path):
    inputs = split_records(tmp_path)
    found, unrecorded = read_curves(inputs)
    panels = panels_of(list(inputs))
    fig = curves_figure(found, panels, "Training curves: synthvoc, K=2", unrecorded_by_panel(unrecorded))
    axes = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert list(axes) == [curves.PANELS[p][0] for p in panels]
    seen_only = axes["Step 0: seen-only segmenter"]
    assert seen_only.lines[0].get_ydata().tolist() == [2.5, 1.5, 1.0] and seen_only.get_xlabel() == "epoch"
    assert [line.get_label() for line in axes["Step 2: classifiers"].lines] == ["zs3", "zs5_p25 (fine-tuned)"]
    assert axes["Step 1: GMMN generator"].get_yscale() == "log"  # 0.8 / 0.01 > 20
    assert axes["Step 1: GC generator"].get_yscale() == "linear"
    texts = [t.get_text() for t in axes["Step 0: DeViSE baseline"].texts]
    assert texts == ["no curve recorded:\nbaseline"] and not axes["Step 0: DeViSE baseline"].lines
    path = tmp_path / "curves.png"
    save_figure(fig, path)
    assert Image.open(path).size[0] > 1000


def test_tensorboard_is_skipped_when_the_package_is_absent(tmp_path, monkeypatch):
    monkeypatch.setattr(curves.importlib.util, "find_spec", lambda name: None)
    curve = Curve("gmmn", "loss", "iteration", np.array([1, 2]), np.array([0.5, 0.25]))
    assert write_tensorboard([curve], tmp_path / "tb") is False
    assert not (tmp_path / "tb").exists()


def test_tensorboard_holds_the_same_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found, _ = read_curves(split_records(tmp_path))
    assert write_tensorboard(found, tmp_path / "tb") is True
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(c.tag for c in found)
    for c in found:
        scalars = events.Scalars(c.tag)
        assert [s.step for s in scalars] == c.steps.tolist()
        np.testing.assert_allclose([s.value for s in scalars], c.values, rtol=1e-6)  # stored as float32
