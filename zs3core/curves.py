"""Training curves: where each training stage keeps its loss record, reading them into one shape,
and (when the optional `tensorboard` package is installed) TensorBoard event files of the same
scalars.

Every training stage writes its curve when it trains, beside what it trains:

| stage | the record |
| --- | --- |
| step 0 (`seenonly`, `baseline`, `supervised`) | `checkpoints/.../{kind}.work/loss.csv`: epoch, loss (+ lr, seconds) |
| generators (`gmmn`, `gc`, `gan`) | `generators/.../{gmmn,gc,gan}_loss.csv`: iteration, loss (GC: + pixel_mmd, node_mmd; GAN: the Wasserstein estimate + critic, generator, classification losses) |
| classifiers (`zs3`, `ceiling`, `zs3gc`, `zs5_p{p}`) | `classifiers/.../{method}_loss.csv`: epoch, loss; ZS5Net's `finetune` mode: `zs5_p{p}.work/loss.csv` |
| cross-validation (`cv_zs3`, `cv_ceiling`) | the `curves` entry of `cv/.../gamma_{kind}.json`: its GMMN's and classifier's |

A stage is named by its key in `STAGES`; `read_curves` takes {stage: the file the rule depends
on} (the trained file itself where the record lies beside it, so that the record is never a
declared output of the training job) and returns the curves found and the stages that have none
(trained before curves were recorded, or a converted checkpoint of the authors). Torch-free and
matplotlib-free: `zs3core.charts.curves_figure` draws them.
"""
from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from zs3core.io import atomic_dir, write_text
from zs3core.methods import BY_NAME, classifier_methods, cv_kinds

SEGMENTER_STAGES = ("seenonly", "baseline", "ale", "supervised")
GENERATOR_STAGES = {"gmmn": {"loss": "loss"}, "gc": {"loss": "loss", "pixel_mmd": "pixel MMD", "node_mmd": "node MMD"},
                    "gan": {"loss": "E[D(real)] - E[D(fake)]", "critic_loss": "critic loss"}}  # stage -> curve columns
# The classifiers of the method table (zs3core/methods.py); a per-p method's as `{name}_p{p}`.
CLASSIFIER_STAGES = tuple(m for m in classifier_methods() if not BY_NAME[m].per_p)
PER_P_STAGES = tuple(f"{m}_p" for m in classifier_methods() if BY_NAME[m].per_p)  # + the p: zs5_p25
CV_STAGES = tuple(f"cv_{kind}" for kind in cv_kinds())

# panel (TensorBoard tag prefix) -> its title and y-axis; the order the figure follows
PANELS = {
    "seenonly": ("Step 0: seen-only segmenter", "cross-entropy"),
    "baseline": ("Step 0: DeViSE baseline", "DeViSE loss"),
    "ale": ("Step 0: ALE baseline", "ALE ranking loss"),
    "supervised": ("Step 0: supervised oracle", "cross-entropy"),
    "gmmn": ("Step 1: GMMN generator", "MMD"),
    "gc": ("Step 1: GC generator", "MMD"),
    "gan": ("Step 1: GAN generator", "WGAN-GP"),
    "classifiers": ("Step 2: classifiers", "cross-entropy"),
    "cv_gmmn": ("Cross-validation: GMMN", "MMD"),
    "cv_gan": ("Cross-validation: GAN", "E[D(real)] - E[D(fake)]"),
    "cv_classifiers": ("Cross-validation: classifiers", "cross-entropy"),
}


@dataclass(frozen=True)
class Curve:
    """One series: `panel` (a key of `PANELS`), `name` in its legend, values per step."""
    panel: str
    name: str
    step_name: str  # "epoch" or "iteration"
    steps: np.ndarray
    values: np.ndarray

    @property
    def tag(self) -> str:
        """Its TensorBoard tag."""
        return f"{self.panel}/{self.name}"


def classifier_loss_csv(classifier_path: str | os.PathLike) -> Path:
    """Where a retrained classifier's curve lies: `{method}_loss.csv` beside `{method}.pt`."""
    path = Path(classifier_path)
    return path.with_name(f"{path.stem}_loss.csv")


def work_loss_csv(checkpoint_path: str | os.PathLike) -> Path:
    """Where a segmenter training (step 0, ZS5Net's fine-tuning) keeps its curve: `{name}.work/loss.csv`."""
    path = Path(checkpoint_path)
    return path.with_name(f"{path.stem}.work") / "loss.csv"


def write_classifier_curve(path: str | os.PathLike, curve: Sequence[tuple[int, float]]) -> None:
    """The classifier's (epoch, mean loss) record, written atomically."""
    write_text(path, "epoch,loss\n" + "".join(f"{epoch},{loss!r}\n" for epoch, loss in curve))


def _csv_curves(path: Path, panel: str, names: Mapping[str, str]) -> list[Curve]:
    """Curves of a CSV record: its first column is the step, `names` maps a column to its series name."""
    df = pd.read_csv(path)
    step = df.columns[0]
    missing = [c for c in names if c not in df.columns]
    if step not in ("epoch", "iteration") or missing:
        raise ValueError(f"{path}: expected a loss record (epoch or iteration, then {list(names)}), "
                         f"got columns {list(df.columns)}")
    return [Curve(panel, name, step, df[step].to_numpy(), df[column].to_numpy(dtype=float))
            for column, name in names.items()]


def _cv_generator_panel(kind: str) -> str:
    """The panel of a gamma cross-validation's generator curve (the GAN's, the GMMN's)."""
    return "cv_gan" if BY_NAME[kind].generator == "gan" else "cv_gmmn"


def _cv_curves(path: Path, kind: str) -> list[Curve]:
    with open(path) as f:
        record = json.load(f).get("curves", {})
    curves = []
    if "gmmn" in record:  # the pseudo bank's generator, whichever it is
        steps, values = np.array(record["gmmn"], dtype=float).reshape(-1, 2).T
        curves.append(Curve(_cv_generator_panel(kind), kind, "iteration", steps.astype(int), values))
    if "classifier" in record:
        steps, values = np.array(record["classifier"], dtype=float).reshape(-1, 2).T
        curves.append(Curve("cv_classifiers", kind, "epoch", steps.astype(int), values))
    return curves


def stage_curves(stage: str, path: str | os.PathLike) -> list[Curve]:
    """The curves of one stage from the file its rule depends on (empty when none was recorded)."""
    path = Path(path)
    if stage in SEGMENTER_STAGES:
        record = work_loss_csv(path)
        return _csv_curves(record, stage, {"loss": "loss"}) if record.is_file() else []
    if stage in GENERATOR_STAGES:
        return _csv_curves(path, stage, GENERATOR_STAGES[stage])
    if stage in CLASSIFIER_STAGES or stage.startswith(PER_P_STAGES):
        for record, name in ((classifier_loss_csv(path), stage), (work_loss_csv(path), f"{stage} (fine-tuned)")):
            if record.is_file():
                return _csv_curves(record, "classifiers", {"loss": name})
        return []
    if stage in CV_STAGES:
        return _cv_curves(path, stage.removeprefix("cv_"))
    raise ValueError(f"unknown training stage {stage!r}: expected one of {SEGMENTER_STAGES + tuple(GENERATOR_STAGES)}, "
                     f"{CLASSIFIER_STAGES}, {' '.join(p + '<p>' for p in PER_P_STAGES)} or {CV_STAGES}")


def stage_panels(stage: str) -> tuple[str, ...]:
    """The panels (keys of `PANELS`) a stage's curves go to."""
    if stage in SEGMENTER_STAGES or stage in GENERATOR_STAGES:
        return (stage,)
    if stage in CLASSIFIER_STAGES or stage.startswith(PER_P_STAGES):
        return ("classifiers",)
    if stage in CV_STAGES:
        kind = stage.removeprefix("cv_")
        return ((_cv_generator_panel(kind),) if BY_NAME[kind].generator else ()) + ("cv_classifiers",)
    raise ValueError(f"unknown training stage {stage!r}")


def panels_of(stages: Sequence[str]) -> list[str]:
    """The panels of these stages, in `PANELS` order."""
    wanted = {panel for stage in stages for panel in stage_panels(stage)}
    return [panel for panel in PANELS if panel in wanted]


def unrecorded_by_panel(stages: Sequence[str]) -> dict[str, list[str]]:
    """{panel: the stages of `stages` (those without a curve) that belong to it}."""
    out: dict[str, list[str]] = {}
    for stage in stages:
        for panel in stage_panels(stage):
            out.setdefault(panel, []).append(stage)
    return out


def read_curves(inputs: Mapping[str, str | os.PathLike]) -> tuple[list[Curve], list[str]]:
    """(every curve of the stages in `inputs`, the stages without a recorded curve)."""
    curves, unrecorded = [], []
    for stage, path in inputs.items():
        found = stage_curves(stage, path)
        curves += found
        if not found:
            unrecorded.append(stage)
    return curves, unrecorded


def tensorboard_available() -> bool:
    """Whether the optional `tensorboard` package is installed (found, not imported)."""
    return importlib.util.find_spec("tensorboard") is not None


def write_tensorboard(curves: Sequence[Curve], logdir: str | os.PathLike) -> bool:
    """TensorBoard event files of `curves` in the folder `logdir` (written atomically: a killed job
    leaves no half folder), one scalar tag per curve (`Curve.tag`) at its steps. Returns False, and
    writes nothing, when `tensorboard` is not installed; it is imported here only. Local files only."""
    if not tensorboard_available():
        return False
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    with atomic_dir(logdir) as tmp:
        writer = EventFileWriter(str(tmp))
        for curve in curves:
            for step, value in zip(curve.steps, curve.values):
                summary = Summary(value=[Summary.Value(tag=curve.tag, simple_value=float(value))])
                writer.add_event(Event(wall_time=0.0, step=int(step), summary=summary))
        writer.close()
    return True
