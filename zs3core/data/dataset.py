"""A torch Dataset over `data/{dataset}/index.csv`: what every training and evaluation loop reads."""
from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from zs3core.data.index import read_index
from zs3core.data.labels import read_label


class SegmentationDataset(torch.utils.data.Dataset):
    """(image, mask, image_id) triples of one split, optionally filtered by the classes present.

    `keep(row) -> bool` selects rows, e.g. the seen-only training set (no unseen class present),
    using the index's `classes` column so no label has to be opened to filter. `lut` (256 entries)
    relabels masks as they are read, e.g. unseen classes -> void. `transform` maps the (uint8
    image, int64 mask) pair jointly (`zs3core.data.transforms`, `zs3core.data.augment`). `cache`:
    keep every decoded image and label in memory after its first read (small datasets read for
    many epochs in the main process: decoding is about half the cost of an item; each DataLoader
    worker would hold a copy).
    """

    def __init__(self, index_csv: str | os.PathLike, split: str, transform: Callable | None = None,
                 keep: Callable[[dict], bool] | None = None, lut: np.ndarray | None = None,
                 cache: bool = False):
        rows = [r for r in read_index(index_csv) if r["split"] == split]
        self.rows: Sequence[dict] = [r for r in rows if keep is None or keep(r)]
        self.transform = transform
        self.lut = lut
        self._decoded: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.rows)

    def read(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(uint8 (3, H, W) image, uint8 (H, W) relabelled mask) of row i, untransformed."""
        if self._decoded is not None and i in self._decoded:
            return self._decoded[i]
        row = self.rows[i]
        with Image.open(row["image"]) as img:
            image = torch.from_numpy(np.asarray(img.convert("RGB")).copy()).permute(2, 0, 1)
        label = read_label(row["label"])
        if self.lut is not None:
            label = self.lut[label]
        item = image, torch.from_numpy(np.ascontiguousarray(label, dtype=np.uint8))
        if self._decoded is not None:
            self._decoded[i] = item
        return item

    def __getitem__(self, i: int):
        image, mask = self.read(i)
        mask = mask.long()
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask, self.rows[i]["image_id"]


def void_lut(void_ids: Sequence[int]) -> np.ndarray:
    """Identity relabelling of 0..255 except `void_ids`, which become void (255)."""
    lut = np.arange(256, dtype=np.uint8)
    lut[np.asarray(void_ids, dtype=np.int64)] = 255
    return lut


def without_classes(classes: Sequence[str]) -> Callable[[dict], bool]:
    """Row filter keeping images in which none of `classes` is present (the authors' seen-only set)."""
    excluded = set(classes)
    return lambda row: excluded.isdisjoint(row["classes"])
