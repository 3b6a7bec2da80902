"""The dataset index `data/{dataset}/index.csv`: one row per image, the single entry point of
every later stage.

Columns: image_id, split (train/val), image, label (paths), classes (names of the classes
present in the label, space-separated in class-index order, void excluded). Building it reads
every image and label once, so a corrupt file fails here, naming the file, and not hours into
training.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from zs3core.data.labels import VOID, check_label, naming_errors, read_label
from zs3core.io import atomic_path

COLUMNS = ("image_id", "split", "image", "label", "classes")
SPLITS = ("train", "val")


def require_layout(root: str | os.PathLike | None, key: str, required: Sequence[str], layout: str) -> Path:
    """Return `root` as a Path, or raise FileNotFoundError naming the config `key` and the layout.

    `required` lists paths relative to `root` that must exist.
    """
    if root is None or not Path(root).is_dir():
        raise FileNotFoundError(f"config {key}: folder {root} not found; expected {layout}")
    root = Path(root)
    for rel in required:
        if not (root / rel).exists():
            raise FileNotFoundError(f"config {key}: {root / rel} not found; expected {layout}")
    return root


def read_ids(path: str | os.PathLike) -> list[str]:
    """Image ids of a split file (one per line), blank lines skipped, duplicates dropped."""
    ids = (line.strip() for line in Path(path).read_text().splitlines())
    return list(dict.fromkeys(i for i in ids if i))


def first_of_each_split(records: Iterable[dict], n: int | None) -> list[dict]:
    """The first `n` records of each split, in listing order (all with `n` None): a rehearsal
    of the real configuration on a few images (`datasets.<name>.first_images`)."""
    taken: dict[str, int] = {}
    kept = []
    for record in records:
        taken[record["split"]] = taken.get(record["split"], 0) + 1
        if n is None or taken[record["split"]] <= n:
            kept.append(record)
    return kept


def verify_image(path: str | os.PathLike) -> tuple[int, int]:
    """Decode the image cheaply and return its (width, height).

    `Image.verify()` does not notice a truncated JPEG, so the image is really decoded; JPEG's
    draft mode decodes at 1/8 scale, which still reads every byte but costs a fraction.
    """
    with naming_errors(path, "image file"):
        with Image.open(path) as img:
            size = img.size
            img.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            img.load()
    return size


def index_rows(records: Iterable[dict], class_names: Sequence[str]) -> Iterator[dict]:
    """Add `classes` to each record by reading its label; check the image alongside.

    Streams one record at a time. Raises ValueError naming the file for an unreadable image or
    label, out-of-range label values, or image and label of different sizes.
    """
    if any(not name or name.split() != [name] for name in class_names):
        raise ValueError(f"class names must be non-empty and contain no whitespace: {list(class_names)}")
    for record in records:
        if record["split"] not in SPLITS:
            raise ValueError(f"{record['image_id']}: split {record['split']!r} is not one of {SPLITS}")
        label = read_label(record["label"])
        counts = check_label(label, len(class_names), record["label"])
        width, height = verify_image(record["image"])
        if label.shape != (height, width):
            raise ValueError(
                f"{record['label']}: label is {label.shape[1]}x{label.shape[0]} but image "
                f"{record['image']} is {width}x{height}"
            )
        present = [class_names[v] for v in np.flatnonzero(counts) if v != VOID]
        yield {**record, "classes": present}


def write_index(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Write rows (from `index_rows`) to `path` atomically; return the number of rows.

    Raises ValueError on a repeated image_id: ids key per-image outputs downstream.
    """
    seen: set[str] = set()
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                if row["image_id"] in seen:
                    raise ValueError(f"{path}: image_id {row['image_id']} appears twice")
                seen.add(row["image_id"])
                writer.writerow({**row, "image": str(row["image"]), "label": str(row["label"]),
                                 "classes": " ".join(row["classes"])})
    return len(seen)


def read_index(path: str | os.PathLike) -> list[dict]:
    """Rows of an index CSV; `classes` comes back as a list of names."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: index is missing columns {missing} (has {reader.fieldnames})")
        rows = []
        for line, row in enumerate(reader, start=2):
            if row["split"] not in SPLITS:
                raise ValueError(f"{path}:{line}: split {row['split']!r} is not one of {SPLITS}")
            rows.append({**row, "classes": row["classes"].split()})
    return rows
