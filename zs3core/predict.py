"""A trained model applied to images: the label maps the evaluation scores, saved as PNGs.

Predictions take the evaluation's own path (`normalise_image` normalisation at the original
resolution, scores upsampled by `zs3core.evaluate.full_size_scores`, the seen-logit offset of
`zs3core.calibration`), so a saved prediction is what the metrics counted for that image.
A retrained classifier (ZS3, ZS5, ceiling, a named model's) predicts at its calibrated gamma;
the seen-only segmenter at 0. Beside the label maps, a folder holds what a person looks at: the
image, the colours over it, and one HTML page of both with the legend (`zs3core.gallery`).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from zs3core.calibration import apply_gamma
from zs3core.data.labels import write_palette_png
from zs3core.data.transforms import normalise_image
from zs3core.evaluate import Scorer, full_size_scores
from zs3core.gallery import LegendRow, gallery_html
from zs3core.io import atomic_dir
from zs3core.palette import class_colours, colourise
from zs3core.classifiers import classifier_scorer, load_classifier
from zs3core.train.step0 import load_step0, scorer

OVERLAY_ALPHA = 0.5  # weight of the class colour over the image
JPEG_QUALITY = 90  # the gallery's image and overlay copies (viewing only; the label maps are PNGs)


@dataclass
class Predictor:
    """A scorer and the seen-logit offset its arg-max is taken at."""
    scorer: Scorer
    seen: list[int]
    gamma: float
    calibrated: bool
    device: torch.device = torch.device("cpu")

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> np.ndarray:
        """(3, H, W) normalised image -> (H, W) uint8 class indices at the image's resolution."""
        scores = full_size_scores(self.scorer, image[None].to(self.device), image.shape[-2:])
        return apply_gamma(scores, self.seen, self.gamma).argmax(1)[0].cpu().numpy().astype(np.uint8)


def load_predictor(checkpoint, classifier, class_names: Sequence[str], unseen: Sequence[str],
                   seg_cfg: dict, segmenter_classes: int | None = None) -> Predictor:
    """The seen-only segmenter (`classifier` None), or it with a retrained classifier at its gamma.
    `segmenter_classes`: the dataset's class count the segmenter was built with, where the
    classifier has more (a named model's); default len(class_names)."""
    segmenter = load_step0("seenonly", checkpoint, segmenter_classes or len(class_names), seg_cfg)
    device = next(segmenter.parameters()).device
    seen = [c for c, name in enumerate(class_names) if name not in set(unseen)]
    if classifier is None:
        return Predictor(scorer(segmenter), seen, 0.0, calibrated=False, device=device)
    state = load_classifier(classifier)
    return Predictor(classifier_scorer(segmenter, state), seen, float(state["gamma"]), calibrated=True,
                     device=device)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8, decoded as `SegmentationDataset` decodes test images."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).copy()


def read_or_skip(path: str | os.PathLike) -> tuple[np.ndarray | None, str | None]:
    """(rgb, None), or (None, reason) for a file that does not decode: a user's folder may hold
    truncated or mislabelled files, which should not cost the predictions of the others."""
    try:
        return read_rgb(path), None
    except (OSError, ValueError, Image.DecompressionBombError) as err:  # PIL's decoding errors
        return None, f"{type(err).__name__}: {err}"


def normalise(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float, as the evaluation's transform prepares an image."""
    return normalise_image(torch.from_numpy(rgb).permute(2, 0, 1))


def overlay(rgb: np.ndarray, colour: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """(H, W, 3) uint8: the class colours (`colour`, as `colourise` gives them) blended over the image."""
    return (rgb * (1 - alpha) + colour * alpha).round().astype(np.uint8)


def predict_folder(predictor: Predictor, images: Sequence[str | os.PathLike], class_names: Sequence[str],
                   unseen: Sequence[str], out_dir, *, named: Sequence[str] = (),
                   title: str | None = None) -> list[tuple[str, str]]:
    """Write, atomically as one folder: `index/<name>.png` (class indices, VOC-palette PNG as the
    dataset labels), `colour/<name>.png` (RGB, the figures' colours), `image/<name>.jpg` (the
    image as decoded), `overlay/<name>.jpg` (the colours over it), `index.html` (both, with the
    legend; `title`, default the folder's name), `classes.csv` (index, class, split: seen, unseen
    or, for `named`, named; colour) and `skipped.csv` (path, reason) listing the images that could
    not be read. Returns those; raises ValueError naming the folder if no image could be read."""
    colours = class_colours(len(class_names))
    splits = ["named" if name in set(named) else "unseen" if name in set(unseen) else "seen" for name in class_names]
    hex_colours = ["#{:02x}{:02x}{:02x}".format(*c) for c in colours]
    pixels = np.zeros(len(class_names), dtype=np.int64)
    shown: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    with atomic_dir(out_dir) as tmp:
        for sub in ("colour", "image", "overlay"):
            (tmp / sub).mkdir()
        for path in images:
            rgb, reason = read_or_skip(path)
            if reason is not None:
                skipped.append((os.fspath(path), reason))
                continue
            stem = Path(path).stem
            labels = predictor(normalise(rgb))
            colour = colourise(labels, colours)
            write_palette_png(tmp / "index" / f"{stem}.png", labels)
            Image.fromarray(colour).save(tmp / "colour" / f"{stem}.png")
            Image.fromarray(rgb).save(tmp / "image" / f"{stem}.jpg", quality=JPEG_QUALITY)
            Image.fromarray(overlay(rgb, colour)).save(tmp / "overlay" / f"{stem}.jpg", quality=JPEG_QUALITY)
            pixels += np.bincount(labels.ravel(), minlength=len(class_names))[:len(class_names)]
            shown.append((Path(path).name, f"{stem}.jpg"))
        if images and len(skipped) == len(images):
            raise ValueError(f"no readable image in {Path(images[0]).parent}: "
                             + "; ".join(f"{Path(p).name} ({r})" for p, r in skipped))
        with open(tmp / "skipped.csv", "w", newline="") as f:
            csv.writer(f).writerows([("path", "reason"), *skipped])
        with open(tmp / "classes.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["index", "class", "split", "colour"])
            writer.writerows([c, name, splits[c], hex_colours[c]] for c, name in enumerate(class_names))
        share = pixels / max(int(pixels.sum()), 1)
        legend = [LegendRow(name, splits[c], hex_colours[c], float(share[c])) for c, name in enumerate(class_names)]
        (tmp / "index.html").write_text(
            gallery_html(title or Path(out_dir).name, legend, shown, [f"{Path(p).name}: {r}" for p, r in skipped]),
            encoding="utf-8")
    return skipped
