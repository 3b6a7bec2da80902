"""Pascal-Context (59 classes + background) from the full 459-class release or from
mmsegmentation's converted PNGs.

The 459-class LabelMaps are mapped to the configured 60-class list by NAME (index conventions
differ between public repos); every pixel of a class outside the list becomes background 0.
mmsegmentation's PNGs hold 0 = background and k = the k-th of the 59 classes in name order
(`MMSEG_CONTEXT_CLASSES`); they are mapped onto the configured list by name too. Either way the
converted labels are palette PNGs, so the index and all later stages treat Context like VOC.

What mmsegmentation writes, read in its source (github.com/open-mmlab/mmsegmentation):
- tools/dataset_converters/pascal_context.py: `_mapping` (lines 11-17) is the sorted list of the
  459-class indices kept, 0 first; `_key` (line 18) numbers them 0..59; `_class_to_index` (lines
  23-29) asserts every value of the mask is in `_mapping` and replaces it by its rank
  (`np.digitize(..., right=True)`). The PNGs (`Image.fromarray` of uint8, grey mode 'L', line
  31) thus hold 0..59 and no 255; they go to VOC2010/SegmentationClassContext/ (line 52), the
  id lists to VOC2010/ImageSets/SegmentationContext/{train,val}.txt (lines 66-80).
- The indices in `_mapping` are those of the 59 names in the 459-class labels.txt, which is in
  alphabetical order (2 aeroplane, 9 bag, 18 bed, ..., 458 wood), so rank k is the k-th class in
  name order.
- mmseg/datasets/pascal_context.py (v1.x): `PascalContextDataset` lists exactly this order
  (`METAINFO['classes']`, lines 22-31, 'background' first), with `reduce_zero_label=False`:
  0 is the background class, not ignored. (`PascalContextDataset59` reduces 0 to 255 instead.
  mmsegmentation 0.x listed the VOC classes first in `CLASSES`, an order that does not match its
  own converter's PNGs; the names here follow the converter.)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import scipy.io

from zs3core.data.index import read_ids, require_layout
from zs3core.data.labels import VOID, naming_errors, read_png_label, write_palette_png

IMAGES_LAYOUT = "the VOC2010 folder (VOCdevkit/VOC2010) with JPEGImages/<id>.jpg"
LABELS_LAYOUT = ("the extracted trainval.tar.gz's trainval/ folder of <id>.mat LabelMaps, with the "
                 "459-class labels.txt (lines 'index: name') inside it or beside it")
SPLITS_LAYOUT = "a folder with train.txt and val.txt (one image id per line)"
MMSEG_LAYOUT = ("the VOC2010 folder with SegmentationClassContext/<id>.png and "
                "ImageSets/SegmentationContext/{train,val}.txt (mmsegmentation's pascal_context.py)")
# The value k of mmsegmentation's Context PNGs is MMSEG_CONTEXT_CLASSES[k] (module docstring).
MMSEG_CONTEXT_CLASSES = (
    "background aeroplane bag bed bedclothes bench bicycle bird boat book bottle building bus cabinet "
    "car cat ceiling chair cloth computer cow cup curtain dog door fence floor flower food grass "
    "ground horse keyboard light motorbike mountain mouse person plate platform pottedplant road rock "
    "sheep shelves sidewalk sign sky snow sofa table track train tree truck tvmonitor wall water "
    "window wood").split()


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
                renames: Mapping[str, str] | None = None, source: str = "labels.txt") -> np.ndarray:
    """Lookup table from 459-class index to index in `class_names` (uint8).

    `class_names[0]` is the background that absorbs unlabelled (0) and unlisted classes.
    `renames` maps a 459-class name to the name it should match. Raises ValueError naming any
    class-list name that no 459-class name matches (a typo would silently empty a class);
    `source` names the table in that message.
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
        raise ValueError(f"Context class names {missing} match no name in {source} "
                         f"(after renames {dict(renames)})")
    return lut


def mmseg_names() -> dict[int, str]:
    """{PNG value: name} of mmsegmentation's Context PNGs, background (0) left out as in labels.txt."""
    return dict(enumerate(MMSEG_CONTEXT_CLASSES[1:], start=1))


def lut_outside(raw: np.ndarray, lut: np.ndarray, keep_void: bool) -> np.ndarray:
    """The values of `raw` that `lut` has no entry for (void 255 excepted where `keep_void`)."""
    outside = raw >= len(lut)
    if keep_void:
        outside &= raw != VOID
    return np.unique(raw[outside])


def apply_lut(raw: np.ndarray, lut: np.ndarray, keep_void: bool) -> np.ndarray:
    """`lut[raw]` (values beyond the table clipped to its last entry: check `lut_outside` first),
    void 255 kept where `keep_void` (a converted PNG's void stays void)."""
    label = lut[np.minimum(raw, len(lut) - 1)]
    if keep_void:
        label[raw == VOID] = VOID
    return label


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


def context_ids(splits: str | os.PathLike, key: str = "datasets.context.splits") -> dict[str, list[str]]:
    """{'train': ids, 'val': ids} from the splits folder; raises if a root is missing or they
    overlap (`key`: the config key the folder comes from)."""
    splits = require_layout(splits, key, ["train.txt", "val.txt"], SPLITS_LAYOUT)
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


def convert_mmseg_context_labels(png_dir: str | os.PathLike, class_names: Sequence[str],
                                 renames: Mapping[str, str] | None, ids: Iterable[str],
                                 out_dir: str | os.PathLike) -> None:
    """Write `out_dir/<id>.png` (values 0..len(class_names)-1, void 255 kept) for each id from
    mmsegmentation's `png_dir/<id>.png`, mapped by name through `MMSEG_CONTEXT_CLASSES`.

    Raises ValueError naming a class of `class_names` that is not among the 59 (after `renames`),
    or a file holding a value that is neither 0..59 nor 255.
    """
    png_dir = require_layout(png_dir, "datasets.context.root", [], MMSEG_LAYOUT)
    lut = context_lut(mmseg_names(), class_names, renames, "mmsegmentation's 59 Context classes")
    for image_id in ids:
        path = png_dir / f"{image_id}.png"
        raw = read_png_label(path)
        outside = lut_outside(raw, lut, keep_void=True)
        if outside.size:
            raise ValueError(f"{path}: values {outside.tolist()} are neither a class of "
                             f"mmsegmentation's Context PNGs (0..{len(lut) - 1}) nor void {VOID}")
        write_palette_png(Path(out_dir) / f"{image_id}.png", apply_lut(raw, lut, keep_void=True))


def context_records(root: str | os.PathLike, splits: str | os.PathLike,
                    label_dir: str | os.PathLike) -> list[dict]:
    """Index records (image_id, split, image, label) over the converted PNGs in `label_dir`."""
    root = require_layout(root, "datasets.context.root", ["JPEGImages"], IMAGES_LAYOUT)
    return [{"image_id": i, "split": split, "image": str(root / "JPEGImages" / f"{i}.jpg"),
             "label": str(Path(label_dir) / f"{i}.png")}
            for split, split_ids in context_ids(splits).items() for i in split_ids]
