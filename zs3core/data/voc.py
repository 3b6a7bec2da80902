"""Pascal-VOC 2012 with the SBD-augmented training set (the protocol of the paper's VOC runs).

train = VOC train + SBD train + SBD val, minus every VOC val id; an id in VOC train keeps its
VOC PNG (finer, with void borders), the others take their SBD `.mat`. val = VOC val. The
synthetic datasets share VOC's layout and are indexed here without SBD.
"""
from __future__ import annotations

import os

from zs3core.data.index import read_ids, require_layout

VOC_LAYOUT = ("VOCdevkit/VOC2012 with JPEGImages/<id>.jpg, SegmentationClass/<id>.png and "
              "ImageSets/Segmentation/{train,val}.txt")
SBD_LAYOUT = "benchmark_RELEASE/dataset with img/<id>.jpg, cls/<id>.mat, train.txt and val.txt"


def voc_records(root: str | os.PathLike, sbd_root: str | os.PathLike | None = None) -> list[dict]:
    """Index records (image_id, split, image, label) of VOC, augmented with SBD when given.

    Raises FileNotFoundError naming `datasets.voc.root` / `datasets.voc.sbd_root` when a root
    lacks its layout.
    """
    root = require_layout(root, "datasets.voc.root",
                          ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation/train.txt",
                           "ImageSets/Segmentation/val.txt"], VOC_LAYOUT)
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
    val_ids = set(voc_val)
    return [r for i, r in train.items() if i not in val_ids] + [voc(i, "val") for i in voc_val]
