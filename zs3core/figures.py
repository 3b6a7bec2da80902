"""The paper's qualitative figures, measured (Figures 4 and 6): test images, their ground truth and
each model's prediction side by side. Charts drawn from results files alone (confusion heatmaps,
Figure 5) are in `zs3core.charts`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from zs3core.charts import save_figure
from zs3core.data.dataset import SegmentationDataset
from zs3core.data.labels import VOID
from zs3core.data.transforms import IMAGENET_MEAN, IMAGENET_STD, EvalTransform
from zs3core.palette import VOID_COLOUR, class_colours, colourise
from zs3core.predict import Predictor


# ----------------------------------------------------------------------------- qualitative panels
def classes_present(label_maps: Sequence[np.ndarray]) -> list[int]:
    """Class ids that occur in any of the maps, ascending, void excluded."""
    present = np.unique(np.concatenate([np.unique(m) for m in label_maps]))
    return [int(c) for c in present if c != VOID]


def _legend(fig: Figure, entries: list[tuple[str, tuple]], title: str, where: str) -> None:
    if not entries:
        return
    handles = [Patch(facecolor=np.asarray(colour) / 255, edgecolor="0.5", label=name) for name, colour in entries]
    fig.legend(handles=handles, title=title, loc=f"outside lower {where}", ncol=max(1, min(4, len(handles))),
               fontsize=8, title_fontsize=9, frameon=False)


def qualitative_panel(images: Sequence[np.ndarray], label_maps: Sequence[Sequence[np.ndarray]],
                      column_titles: Sequence[str], class_names: Sequence[str], unseen: Sequence[str],
                      title: str) -> Figure:
    """Rows: image | its label maps (ground truth, then each method's prediction).

    The legend names exactly the classes drawn anywhere in the panel, unseen and seen apart,
    so a seen class that swallowed an unseen object is named too.
    """
    colours = class_colours(len(class_names))
    rows, cols = len(images), 1 + len(column_titles)
    fig = Figure(figsize=(2.0 * cols, 2.0 * rows + 1.2), layout="compressed")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, (image, maps) in enumerate(zip(images, label_maps)):
        for c, picture in enumerate([image, *(colourise(m, colours) for m in maps)]):
            ax = axes[r, c]
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title((["image", *column_titles])[c], fontsize=9)
    fig.suptitle(title, fontsize=10)
    drawn = [m for maps in label_maps for m in maps]
    present = classes_present(drawn)
    unseen_ids = {class_names.index(n) for n in unseen}
    _legend(fig, [(class_names[c], colours[c]) for c in present if c in unseen_ids], "unseen classes", "left")
    _legend(fig, [(class_names[c], colours[c]) for c in present if c not in unseen_ids]
            + ([("void (not scored)", VOID_COLOUR)] if any((m == VOID).any() for m in drawn) else []),
            "seen classes", "right")
    return fig


def displayed(image: torch.Tensor) -> np.ndarray:
    """A normalised (3, H, W) test image back to (H, W, 3) uint8, at the resolution it was scored."""
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (255 * (image * std + mean)).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()


def qualitative_figure(index_csv, predictors: Mapping[str, Predictor], class_names: Sequence[str],
                       unseen: Sequence[str], n_images: int, out_path, title: str,
                       short_side: int | None = None) -> list[str]:
    """Draw the first `n_images` test images (index order, no selection by result) containing an
    unseen class, with each predictor's labels; return their ids.

    Images are read through the evaluation's dataset and transform (`short_side`: the
    evaluation's resize, if any), so each prediction is the one the metrics counted.
    Predictors with a classifier are drawn at their calibrated gamma.
    """
    wanted = set(unseen)
    test = SegmentationDataset(index_csv, "val", EvalTransform(short_side),
                               keep=lambda row: not wanted.isdisjoint(row["classes"]))
    if len(test) == 0:
        raise ValueError(f"{index_csv}: no test image contains an unseen class of {sorted(wanted)}")
    images, label_maps, ids = [], [], []
    for i in range(min(n_images, len(test))):
        image, mask, image_id = test[i]
        images.append(displayed(image))
        label_maps.append([mask.numpy().astype(np.uint8), *(predict(image) for predict in predictors.values())])
        ids.append(image_id)
    titles = ["ground truth", *(f"{name}\n(calibrated, γ={p.gamma:g})" if p.calibrated else name
                                for name, p in predictors.items())]
    save_figure(qualitative_panel(images, label_maps, titles, class_names, unseen, title), out_path)
    return ids
