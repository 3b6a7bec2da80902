"""Pascal-Context (59 classes + background) from the full 459-class release.

The 459-class LabelMaps are mapped to the configured 60-class list by NAME (index conventions
differ between public repos); every pixel of a class outside the list becomes background 0.
Converted labels are palette PNGs, so the index and all later stages treat Context like VOC.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import scipy.io

from zs3core.data.index import read_ids, require_layout
from zs3core.data.labels import naming_errors, write_palette_png

IMAGES_LAYOUT = "the VOC2010 folder (VOCdevkit/VOC2010) with JPEGImages/<id>.jpg"
LABELS_LAYOUT = ("the extracted trainval.tar.gz's trainval/ folder of <id>.mat LabelMaps, with the "
                 "459-class labels.txt (lines 'index: name') inside it or beside it")
SPLITS_LAYOUT = "a folder with train.txt and val.txt (one image id per line)"


def read_context_names(path: str | os.PathLike) -> dict[int, str]:
    """Parse labels.txt of the 459-class release ('1: accordion' per line) into {index: name}."""
    names = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        index, sep, name = line.partition(":")
        if not sep or not index.strip().isdigit() or not name.strip():
            raise ValueError(f"{path}:{number}: expected 'index: name', got {line!r}")
        names[int(index)] = name.strip()
    return names


def context_lut(names: Mapping[int, str], class_names: Sequence[str],
                renames: Mapping[str, str] | None = None) -> np.ndarray:
    """Lookup table from 459-class index to index in `class_names` (uint8).

    `class_names[0]` is the background that absorbs unlabelled (0) and unlisted classes.
    `renames` maps a 459-class name to the name it should match. Raises ValueError naming any
    class-list name that no 459-class name matches (a typo would silently empty a class).
    """
    if len(class_names) > 255:
        raise ValueError(f"{len(class_names)} classes do not fit a uint8 label map with void 255")
    renames = renames or {}
    position = {name: i for i, name in enumerate(class_names)}
    lut = np.zeros(max(names, default=0) + 1, dtype=np.uint8)
    matched = set()
    for index, name in names.items():
        name = renames.get(name, name)
        if name in position and position[name] != 0:
            lut[index] = position[name]
            matched.add(name)
    missing = [n for n in class_names[1:] if n not in matched]
    if missing:
        raise ValueError(f"Context class names {missing} match no name in labels.txt "
                         f"(after renames {dict(renames)})")
    return lut


def read_label_map(path: str | os.PathLike) -> np.ndarray:
    """The 459-class `LabelMap` (uint16, 0 = unlabelled) of one Context `.mat` file."""
    with naming_errors(path, "Context LabelMap"):
        mat = scipy.io.loadmat(path)
        if "LabelMap" not in mat:
            raise ValueError("no variable 'LabelMap'")
        label_map = np.asarray(mat["LabelMap"])
        if label_map.ndim != 2 or label_map.dtype.kind != "u":
            raise ValueError(f"LabelMap must be a 2-D unsigned integer map, "
                             f"got {label_map.dtype} {label_map.shape}")
        return label_map


def context_ids(splits: str | os.PathLike) -> dict[str, list[str]]:
    """{'train': ids, 'val': ids} from the splits folder; raises if a root is missing or they overlap."""
    splits = require_layout(splits, "datasets.context.splits", ["train.txt", "val.txt"], SPLITS_LAYOUT)
    ids = {split: read_ids(splits / f"{split}.txt") for split in ("train", "val")}
    overlap = set(ids["train"]) & set(ids["val"])
    if overlap:
        raise ValueError(f"{splits}: {len(overlap)} ids in both train.txt and val.txt, "
                         f"e.g. {sorted(overlap)[:5]}")
    return ids


def convert_context_labels(labels_dir: str | os.PathLike, class_names: Sequence[str],
                           renames: Mapping[str, str] | None, ids: Iterable[str],
                           out_dir: str | os.PathLike) -> None:
    """Write `out_dir/<id>.png` (values 0..len(class_names)-1) for each id, one file at a time.

    `labels_dir` holds the `<id>.mat` files; labels.txt may sit in it or in its parent (the
    archive's top level).
    """
    labels_dir = require_layout(labels_dir, "datasets.context.labels", [], LABELS_LAYOUT)
    candidates = (labels_dir / "labels.txt", labels_dir.parent / "labels.txt")
    names_txt = next((p for p in candidates if p.is_file()), None)
    if names_txt is None:
        raise FileNotFoundError(f"config datasets.context.labels: no labels.txt in {labels_dir} or its "
                                f"parent; expected {LABELS_LAYOUT}")
    lut = context_lut(read_context_names(names_txt), class_names, renames)
    for image_id in ids:
        path = labels_dir / f"{image_id}.mat"
        label_map = read_label_map(path)
        if label_map.size and label_map.max() >= len(lut):
            raise ValueError(f"{path}: LabelMap value {label_map.max()} is not in labels.txt "
                             f"(max {len(lut) - 1})")
        write_palette_png(Path(out_dir) / f"{image_id}.png", lut[label_map])


def context_records(root: str | os.PathLike, splits: str | os.PathLike,
                    label_dir: str | os.PathLike) -> list[dict]:
    """Index records (image_id, split, image, label) over the converted PNGs in `label_dir`."""
    root = require_layout(root, "datasets.context.root", ["JPEGImages"], IMAGES_LAYOUT)
    return [{"image_id": i, "split": split, "image": str(root / "JPEGImages" / f"{i}.jpg"),
             "label": str(Path(label_dir) / f"{i}.png")}
            for split, split_ids in context_ids(splits).items() for i in split_ids]
