"""The authors' class embedding tables, shipped with the project: the embedding source `authors`.

The word2vec tables the paper's numbers were made with (valeoai/ZS3 at commit 6031f4a, Apache-2.0;
origin, md5s and license in `embedding_tables/authors/`): VOC's 21 rows in VOC order (the whole
table divided by its largest row norm), Context's 60 raw rows in the authors' class order
(`zs3core.authors.CLASSES["context"]`, not config.yaml's name order). A dataset of format `voc`
or `context` takes the rows of its format's table by class name, in its own class order, with
the published values exactly: no normalisation (the authors' code fed these rows to the GMMN as
they are). The files are plain `.npy`, read with `allow_pickle=False` after their md5 is checked.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from zs3core.authors import CLASSES

FORMAT = "authors"  # the `format` of an embedding source that reads these tables
COMMIT = "valeoai/ZS3@6031f4a"
TABLE_DIR = Path(__file__).resolve().parent / "embedding_tables" / "authors"
# Dataset format -> (file, md5) of its table; row r of a table is class CLASSES[format][r].
FILES = {"voc": ("voc_norm_embed_arr_300.npy", "f7740014188b368ac89e08c9d33a49ad"),
         "context": ("context_class_w2c.npy", "774206533f6cf53b94fee01064520265")}
DIMENSION = 300
# One class, two spellings: VOC's (and this project's VOC) `diningtable` is the authors' Context `table`.
SYNONYMS = {"diningtable": "table", "table": "diningtable"}


def table_path(table: str) -> Path:
    """The shipped file of a dataset format's table (`voc` or `context`)."""
    return TABLE_DIR / FILES[table][0]


def load_table(table: str) -> np.ndarray:
    """A table as published ((21, 300) float32 or (60, 300) float64), its md5 checked first."""
    path = table_path(table)
    data = path.read_bytes()
    if hashlib.md5(data).hexdigest() != FILES[table][1]:
        raise ValueError(f"{path} is not the authors' {table} table (md5 {hashlib.md5(data).hexdigest()}, "
                         f"expected {FILES[table][1]}): restore it from the project's repository")
    values = np.load(io.BytesIO(data), allow_pickle=False)
    if values.shape != (len(CLASSES[table]), DIMENSION):
        raise ValueError(f"{path} has shape {values.shape}, expected {(len(CLASSES[table]), DIMENSION)}")
    return values


def row_name(table: str, class_name: str) -> str | None:
    """The authors' name of `class_name`'s row in `table` (its synonym where they spell it so), or None."""
    names = CLASSES[table]
    if class_name in names:
        return class_name
    return SYNONYMS[class_name] if SYNONYMS.get(class_name) in names else None


def coverage_problems(dataset: str, fmt: str, class_names: Sequence[str], source_name: str) -> list[str]:
    """Why dataset `dataset` (format `fmt`) cannot take its embeddings from the authors' tables
    (`source_name`): a format they published no table for, or classes their table lacks."""
    fix = f"set datasets.{dataset}.embeddings.source to a word-vector source (e.g. spacy_md, word2vec)"
    if fmt not in FILES:
        return [f"datasets.{dataset}: embedding source '{source_name}' holds the authors' tables of the "
                f"{' and '.join(FILES)} formats, not of format '{fmt}'; {fix}"]
    missing = [c for c in class_names if row_name(fmt, c) is None]
    if missing:
        return [f"datasets.{dataset}.classes: {', '.join(map(repr, missing))} ha{'s' if len(missing) == 1 else 've'} "
                f"no row in the authors' {fmt} table (embedding source '{source_name}'); {fix}, "
                f"or name the class as the authors do ({' '.join(CLASSES[fmt])})"]
    return []


def authors_table(table: str, class_names: Sequence[str], dataset: str = "<name>", source_name: str = FORMAT
                  ) -> tuple[np.ndarray, list[dict]]:
    """The rows of `table` for `class_names`, in that order, exactly as published, and a record
    per class (its row and the authors' name); an uncovered class raises ValueError naming it."""
    problems = coverage_problems(dataset, table, class_names, source_name)
    if problems:
        raise ValueError(problems[0])
    names = [row_name(table, c) for c in class_names]
    rows = [CLASSES[table].index(n) for n in names]
    records = [{"class": c, "authors_name": n, "authors_row": r} for c, n, r in zip(class_names, names, rows)]
    return load_table(table)[rows], records
