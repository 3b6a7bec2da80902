"""Pascal-VOC 2012 with the augmented training set (the protocol of the paper's VOC runs).

train = VOC train + the augmented set (SBD train + SBD val), minus every VOC val id; an id in VOC
train keeps its VOC PNG (finer, with void borders), the others take the augmented label. val =
VOC val. The augmented set comes as SBD's `.mat` files (`sbd_root`) or as the grey PNGs of
`SegmentationClassAug/` with a list of ids (`aug_list`: mmsegmentation's `aug.txt` /
`trainaug.txt`, or DeepLab's `train_aug.txt` of `/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png`
lines); `zs3core.data.layouts` says which a tree holds. The synthetic datasets share VOC's layout
and are indexed here without either.
"""
from __future__ import annotations

import os
from pathlib import Path

from zs3core.data.index import read_ids, require_layout

VOC_LAYOUT = ("VOCdevkit/VOC2012 with JPEGImages/<id>.jpg, SegmentationClass/<id>.png and "
              "ImageSets/Segmentation/{train,val}.txt")
VOC_REQUIRED = ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation/train.txt",
                "ImageSets/Segmentation/val.txt"]
SBD_LAYOUT = "benchmark_RELEASE/dataset with img/<id>.jpg, cls/<id>.mat, train.txt and val.txt"
AUG_LIST_LAYOUT = ("one image per line: an id (mmsegmentation's aug.txt), or "
                   "'/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png' (DeepLab's train_aug.txt)")


def read_aug_list(path: str | os.PathLike) -> dict[str, tuple[str, str]]:
    """{id: (image, label)} of an augmented-set list, paths relative to the VOC2012 root, in
    listing order (a repeated id keeps its first line).

    A line is an id (images in JPEGImages/, labels in SegmentationClassAug/) or an image and a
    label path (DeepLab's style; the leading '/' is the root). Raises ValueError naming the line
    of any other shape.
    """
    entries: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        fields = line.split()
        if len(fields) == 1:
            image_id = fields[0]
            entry = (f"JPEGImages/{image_id}.jpg", f"SegmentationClassAug/{image_id}.png")
        elif len(fields) == 2:
            image_id = Path(fields[0]).stem
            entry = (fields[0].lstrip("/"), fields[1].lstrip("/"))
        elif not fields:
            continue
        else:
            raise ValueError(f"{path}:{number}: expected {AUG_LIST_LAYOUT}, got {line!r}")
        entries.setdefault(image_id, entry)
    return entries


def voc_records(root: str | os.PathLike, sbd_root: str | os.PathLike | None = None,
                aug_list: str | os.PathLike | None = None) -> list[dict]:
    """Index records (image_id, split, image, label) of VOC, augmented with SBD's `.mat` files
    (`sbd_root`) or with the `SegmentationClassAug/` PNGs that `aug_list` lists (not both).

    Raises FileNotFoundError naming `datasets.voc.root` / `datasets.voc.sbd_root` when a root
    lacks its layout.
    """
    if sbd_root is not None and aug_list is not None:
        raise ValueError("voc_records: the augmented set comes from sbd_root or aug_list, not both")
    root = require_layout(root, "datasets.voc.root", VOC_REQUIRED, VOC_LAYOUT)
    sets = root / "ImageSets" / "Segmentation"
    voc_train, voc_val = read_ids(sets / "train.txt"), read_ids(sets / "val.txt")

    def voc(image_id: str, split: str) -> dict:
        return {"image_id": image_id, "split": split,
                "image": str(root / "JPEGImages" / f"{image_id}.jpg"),
                "label": str(root / "SegmentationClass" / f"{image_id}.png")}

    train = {i: voc(i, "train") for i in voc_train}
    if sbd_root is not None:
        sbd = require_layout(sbd_root, "datasets.voc.sbd_root",
                             ["img", "cls", "train.txt", "val.txt"], SBD_LAYOUT)
        for image_id in read_ids(sbd / "train.txt") + read_ids(sbd / "val.txt"):
            train.setdefault(image_id, {"image_id": image_id, "split": "train",
                                        "image": str(sbd / "img" / f"{image_id}.jpg"),
                                        "label": str(sbd / "cls" / f"{image_id}.mat")})
    if aug_list is not None:
        for image_id, (image, label) in read_aug_list(aug_list).items():
            train.setdefault(image_id, {"image_id": image_id, "split": "train",
                                        "image": str(root / image), "label": str(root / label)})
    val_ids = set(voc_val)
    return [r for i, r in train.items() if i not in val_ids] + [voc(i, "val") for i in voc_val]
