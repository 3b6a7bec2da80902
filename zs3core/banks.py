"""Banks of synthetic unseen-class features: the HDF5 files that a generator writes and step 2 reads.

The GMMN (`zs3core.train.generator.write_bank`) and the graph-context generator
(`zs3core.train.graph_context`) write them with `save_bank`; classifier retraining reads them
with `read_bank` (`zs3core.retrain`). `default_bank_size` is the default number of rows per
unseen class: as many as a seen class has real training rows, on average.

HDF5 layout (`BANK_LAYOUT_VERSION`): datasets `features` (N_total, D) float32 and `class_id`
(N_total,) int16, grouped by unseen class in the order given, n_per_class rows each, plus the
writer's own datasets; attrs layout_version, feature_dim, class_names (JSON), unseen_classes
(JSON names), unseen_class_ids (JSON), n_per_class, the writer's attrs (the GMMN's: generator
(path), seed, dropout_at_generation), and `complete` = True written last. The file appears at its
path only once complete (atomic rename; `zs3core.hdf5`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np

from zs3core.features import FeatureFile
from zs3core.hdf5 import CorruptHDF5, check_finished
from zs3core.io import atomic_path

BANK_LAYOUT_VERSION = 1


class CorruptBank(CorruptHDF5):
    """A bank file that is missing, unreadable, inconsistent or was never finished."""


@dataclass(frozen=True)
class Bank:
    features: np.ndarray  # (N_total, D) float32
    class_id: np.ndarray  # (N_total,) int16
    class_names: list[str]
    unseen_classes: list[str]
    unseen_class_ids: list[int]
    n_per_class: int
    attrs: dict


def save_bank(out_h5: str | os.PathLike, blocks: Iterable[np.ndarray], ids: Sequence[int], n: int,
              class_names: Sequence[str], feature_dim: int, attrs: dict,
              datasets: dict[str, np.ndarray] | None = None) -> None:
    """Write `n` rows per class of `ids` (one block each, in order) as a bank, atomically.

    `attrs` and `datasets` record where the rows came from (read back in `Bank.attrs`).
    """
    ids = [int(c) for c in ids]
    with atomic_path(out_h5) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["complete"] = False
            feats = h5.create_dataset("features", shape=(n * len(ids), feature_dim), dtype=np.float32,
                                      chunks=(min(4096, max(n * len(ids), 1)), feature_dim))
            h5.create_dataset("class_id", data=np.repeat(np.array(ids, dtype=np.int16), n))
            for i, block in enumerate(blocks):
                feats[i * n:(i + 1) * n] = block
            for name, values in (datasets or {}).items():
                h5.create_dataset(name, data=values)
            h5.attrs.update({
                "layout_version": BANK_LAYOUT_VERSION, "feature_dim": int(feature_dim),
                "class_names": json.dumps(list(class_names)),
                "unseen_classes": json.dumps([class_names[c] for c in ids]),
                "unseen_class_ids": json.dumps(ids), "n_per_class": int(n), **attrs})
            h5.attrs["complete"] = True


def read_bank(path: str | os.PathLike) -> Bank:
    """A bank written by `save_bank`; CorruptBank (naming the file and how to rebuild it) if bad."""
    path = Path(path)
    if not path.is_file():
        raise CorruptBank(path, "file is missing")
    try:
        with h5py.File(path, "r") as h5:
            check_finished(h5, path, BANK_LAYOUT_VERSION, ("features", "class_id"), CorruptBank)
            attrs = dict(h5.attrs)
            features = h5["features"][()].astype(np.float32, copy=False)
            class_id = h5["class_id"][()]
    except CorruptBank:
        raise
    except (OSError, KeyError, ValueError) as error:
        raise CorruptBank(path, f"not a readable bank ({error})") from None
    try:
        class_names = json.loads(attrs["class_names"])
        unseen_classes = json.loads(attrs["unseen_classes"])
        ids = [int(c) for c in json.loads(attrs["unseen_class_ids"])]
        n = int(attrs["n_per_class"])
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptBank(path, f"bad attrs ({error})") from None
    expected = np.repeat(np.array(ids, dtype=np.int64), n)
    if (features.ndim != 2 or features.shape != (len(expected), int(attrs["feature_dim"]))
            or class_id.shape != expected.shape or not np.array_equal(class_id, expected)):
        raise CorruptBank(path, f"datasets disagree with attrs: features {features.shape}, "
                                f"class_id {class_id.shape}, {len(ids)} classes x {n} rows expected")
    if not np.isfinite(features).all():
        raise CorruptBank(path, "non-finite features")
    plain = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attrs.items()}
    return Bank(features, class_id, class_names, unseen_classes, ids, n, plain)


def default_bank_size(feature_file: str | os.PathLike) -> int:
    """Mean number of real rows per seen class in the generator's training data, rounded.

    Counts rows of seen classes from images without unseen pixels (what the GMMN trains on),
    averaged over the seen classes that have at least one such row.
    """
    with FeatureFile(feature_file) as ff:
        counts = ff.class_counts(exclude_unseen_images=True)[ff.seen_class_ids()]
    counts = counts[counts > 0]
    if counts.size == 0:
        raise ValueError(f"{feature_file}: no seen-class row in any image without unseen classes")
    return int(round(float(counts.mean())))
