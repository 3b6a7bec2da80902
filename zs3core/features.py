"""Pixel-feature files: what the frozen segmenter saw, sampled per class, for the later stages.

The GMMN generator, classifier retraining, the graph-context generator and self-training all
read real pixel features from `features/{dataset}/k{K}/{split}.h5`, written once per segmenter
and data split by streaming one image at a time through `FeatureWriter` (peak memory does not
grow with the number of images), and read back through `FeatureFile`.

Sampling (`zs3core.regions`). Labels are downsampled to the feature grid (`downsample_labels`),
then for every class present (void 255 excluded) at most `max_per_class` pixels are drawn
uniformly without replacement (`sample_pixels`). Because small regions may get no sampled pixel,
the exact mean feature of every connected region (computed from the full feature map) is stored
as well: the graph-context generator's node feature.

HDF5 layout (version `LAYOUT_VERSION`; N sampled rows, n images, R regions, L label pixels):

    per row (rows of one image are contiguous, in image order)
      features        (N, D) float16   feature vector of the pixel
      image           (N,)   int32     index into the per-image datasets
      class_id        (N,)   int16     label of the pixel (index into attrs class_names)
      position        (N, 2) int16     (y, x) on the feature grid
      region          (N,)   int32     connected-region id within the image
    per image
      image_id        (n,)   utf-8 str
      has_unseen      (n,)   bool      the image's label contains an unseen class
      shape           (n, 2) int32     (h, w) of the feature grid
      row_count       (n,)   int64     rows of the image (they start at the cumsum of the earlier)
      region_count    (n,)   int64     regions of the image, ids 0 .. region_count - 1
      labels          (L,)   uint8     downsampled label maps, row-major, concatenated in image
                                       order; image i starts at sum(h*w) over images < i
    per region (regions of one image are contiguous, ordered by their id)
      region_features (R, D) float16   mean feature over all pixels of the region
      region_class    (R,)   int16
      region_size     (R,)   int32     pixels in the region
    attrs
      layout_version, feature_dim, max_per_class, n_images, n_rows, n_regions,
      class_names / unseen_classes / class_counts (JSON), the caller's attrs (e.g. checkpoint,
      seed), and `complete` = True, written last: a file without it was never finished.

Region ids, positions and label maps are consistent: `connected_regions(label_map(i))` gives back
every row's `region`, and `region_adjacency` of it gives the graph-context edges.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np

from zs3core.hdf5 import CorruptHDF5, check_finished
from zs3core.io import atomic_path
from zs3core.regions import VOID, connected_regions, region_means, sample_pixels

LAYOUT_VERSION = 1
CHUNK_ROWS = 4096  # rows per HDF5 chunk of the per-row datasets
IMAGE_CHUNK = 1024  # entries per chunk of the per-image and per-region datasets
LABEL_CHUNK = 1 << 16  # bytes per chunk of the concatenated label maps
READ_BLOCK = 16 * CHUNK_ROWS  # rows read at once when selecting features
CACHE_BYTES = 32 << 20  # HDF5 chunk cache: keeps each dataset's partly filled chunk between flushes

ROW_DATASETS = ("features", "image", "class_id", "position", "region")
IMAGE_DATASETS = ("image_id", "has_unseen", "shape", "row_count", "region_count")
REGION_DATASETS = ("region_features", "region_class", "region_size")
RESERVED_ATTRS = ("layout_version", "feature_dim", "max_per_class", "n_images", "n_rows",
                  "n_regions", "class_names", "unseen_classes", "class_counts", "complete")


class CorruptFeatureFile(CorruptHDF5):
    """A feature file that is missing, unreadable, inconsistent or was never finished."""


# ---------------------------------------------------------------- writing


class FeatureWriter:
    """Stream images into a feature file; it appears at `path` only when the block succeeds.

    with FeatureWriter(path, feature_dim, class_names, unseen_classes, max_per_class=100,
                       attrs={"checkpoint": ckpt, "seed": seed}) as writer:
        for image_id, feats, label_small in ...:
            writer.add(image_id, feats, label_small, rng)

    Each `add` appends to resizable chunked datasets through buffers of about one chunk, so
    memory does not grow with the number of images. On an exception the temporary file is
    deleted and `path` is left as it was.
    """

    def __init__(self, path: str | os.PathLike, feature_dim: int, class_names: Sequence[str],
                 unseen_classes: Iterable[str], *, max_per_class: int, attrs: dict | None = None):
        self.path = Path(path)
        self.feature_dim = int(feature_dim)
        self.class_names = list(class_names)
        self.unseen_classes = list(unseen_classes)
        self.max_per_class = int(max_per_class)
        self.attrs = {k: str(v) if isinstance(v, os.PathLike) else v
                      for k, v in (attrs or {}).items()}
        self._check_arguments()
        self._unseen_ids = np.array([self.class_names.index(c) for c in self.unseen_classes],
                                    dtype=np.int64)
        self._stack: contextlib.ExitStack | None = None

    def _check_arguments(self) -> None:
        if self.feature_dim < 1 or self.max_per_class < 1:
            raise ValueError("feature_dim and max_per_class must be positive")
        if not 0 < len(self.class_names) <= VOID:
            raise ValueError(f"need 1..{VOID} classes (255 is void), got {len(self.class_names)}")
        unknown = sorted(set(self.unseen_classes) - set(self.class_names))
        if unknown:
            raise ValueError(f"unseen classes {unknown} are not in class_names")
        clash = sorted(set(self.attrs) & set(RESERVED_ATTRS))
        if clash:
            raise ValueError(f"attrs {clash} are reserved by the feature-file layout")

    def __enter__(self) -> "FeatureWriter":
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path))
            self._h5 = stack.enter_context(h5py.File(tmp, "w", rdcc_nbytes=CACHE_BYTES))
            self._create_datasets()
            self._stack = stack.pop_all()
        self._n_images = 0
        self._class_counts = np.zeros(len(self.class_names), dtype=np.int64)
        return self

    def _create_datasets(self) -> None:
        d = self.feature_dim
        specs = {
            "features": (np.float16, (d,), CHUNK_ROWS), "image": (np.int32, (), CHUNK_ROWS),
            "class_id": (np.int16, (), CHUNK_ROWS), "position": (np.int16, (2,), CHUNK_ROWS),
            "region": (np.int32, (), CHUNK_ROWS),
            "image_id": (h5py.string_dtype(), (), IMAGE_CHUNK),
            "has_unseen": (bool, (), IMAGE_CHUNK), "shape": (np.int32, (2,), IMAGE_CHUNK),
            "row_count": (np.int64, (), IMAGE_CHUNK), "region_count": (np.int64, (), IMAGE_CHUNK),
            "region_features": (np.float16, (d,), IMAGE_CHUNK),
            "region_class": (np.int16, (), IMAGE_CHUNK), "region_size": (np.int32, (), IMAGE_CHUNK),
        }
        datasets = [self._h5.create_dataset(name, shape=(0, *tail), maxshape=(None, *tail),
                                            chunks=(chunk, *tail), dtype=dtype)
                    for name, (dtype, tail, chunk) in specs.items()]
        datasets.append(self._h5.create_dataset(
            "labels", shape=(0,), maxshape=(None,), chunks=(LABEL_CHUNK,), dtype=np.uint8,
            compression="gzip", compression_opts=1))
        self._appenders = {Path(d.name).name: _Appender(d) for d in datasets}
        self._h5.attrs.update({
            "layout_version": LAYOUT_VERSION, "feature_dim": d, "max_per_class": self.max_per_class,
            "class_names": json.dumps(self.class_names),
            "unseen_classes": json.dumps(self.unseen_classes), "complete": False, **self.attrs})

    def add(self, image_id: str, features: np.ndarray, label_small: np.ndarray,
            rng: np.random.Generator, *, has_unseen: bool | None = None) -> None:
        """Append one image: sampled pixel rows, its region means and its label map.

        `has_unseen` defaults to "an unseen class survives in `label_small`"; pass the answer
        from the full-resolution label when a tiny unseen region may vanish in downsampling.
        """
        features = np.asarray(features, dtype=np.float32)
        label_small = np.asarray(label_small)
        self._check_image(image_id, features, label_small)
        regions = connected_regions(label_small)
        pixels = sample_pixels(label_small, self.max_per_class, rng)
        means, sizes = region_means(features, regions)
        self.append(image_id, features.reshape(self.feature_dim, -1)[:, pixels].T, pixels, label_small,
                     regions, means, sizes, has_unseen=has_unseen)

    def append(self, image_id: str, rows: np.ndarray, pixels: np.ndarray, label_small: np.ndarray,
               regions: np.ndarray, means: np.ndarray, sizes: np.ndarray, *,
               has_unseen: bool | None = None) -> None:
        """Append one image whose sampled rows and region means were computed by the caller.

        `add` computes them with numpy; the extraction loop computes them where the features
        live (on the GPU) and moves only these small arrays. `pixels` are the flat indices of
        `rows` on the (h, w) grid, as `sample_pixels` returns them; `regions` as
        `connected_regions` returns them; `means`, `sizes` as `region_means` returns them.
        """
        if self._stack is None:
            raise RuntimeError("FeatureWriter.add outside its `with` block")
        self._check_label(image_id, label_small)
        if rows.shape != (pixels.size, self.feature_dim):
            raise ValueError(f"{image_id}: rows {rows.shape} do not match ({pixels.size}, {self.feature_dim})")
        class_id = label_small.ravel()[pixels].astype(np.int16)
        if has_unseen is None:
            has_unseen = bool(np.isin(label_small, self._unseen_ids).any())

        h, w = label_small.shape
        appended = {
            "features": _to_float16(np.asarray(rows, dtype=np.float32), image_id),
            "image": np.full(pixels.size, self._n_images, dtype=np.int32),
            "class_id": class_id,
            "position": np.stack(np.divmod(pixels, w), axis=1).astype(np.int16),
            "region": regions.ravel()[pixels],
            "region_features": _to_float16(means, image_id),
            "region_class": _region_classes(label_small, regions, len(sizes)),
            "region_size": sizes,
            "image_id": np.array([image_id], dtype=object),
            "has_unseen": np.array([has_unseen]),
            "shape": np.array([[h, w]], dtype=np.int32),
            "row_count": np.array([pixels.size], dtype=np.int64),
            "region_count": np.array([sizes.size], dtype=np.int64),
            "labels": label_small.astype(np.uint8).ravel(),
        }
        for name, values in appended.items():
            self._appenders[name].append(values)
        self._class_counts += np.bincount(class_id, minlength=len(self.class_names))
        self._n_images += 1

    def _check_image(self, image_id: str, features: np.ndarray, label_small: np.ndarray) -> None:
        self._check_label(image_id, label_small)
        if features.shape != (self.feature_dim, *label_small.shape):
            raise ValueError(f"{image_id}: features {features.shape} do not match "
                             f"(feature_dim, h, w) = ({self.feature_dim}, *{label_small.shape})")

    def _check_label(self, image_id: str, label_small: np.ndarray) -> None:
        if not isinstance(image_id, str) or not image_id:
            raise ValueError(f"image_id must be a non-empty string, got {image_id!r}")
        if label_small.ndim != 2 or not np.issubdtype(label_small.dtype, np.integer):
            raise ValueError(f"{image_id}: label_small must be a 2-D integer map")
        if max(label_small.shape) > np.iinfo(np.int16).max:
            raise ValueError(f"{image_id}: feature grid {label_small.shape} too large for int16")
        bad = ((label_small < 0) | (label_small >= len(self.class_names))) & (label_small != VOID)
        if bad.any():
            raise ValueError(f"{image_id}: label values {np.unique(label_small[bad]).tolist()} "
                             f"are neither classes (< {len(self.class_names)}) nor void")

    def __exit__(self, exc_type, exc, tb) -> bool:
        stack, self._stack = self._stack, None
        try:
            if exc_type is None:
                self._finish()
        except BaseException as error:
            stack.__exit__(type(error), error, error.__traceback__)
            raise
        return stack.__exit__(exc_type, exc, tb)

    def _finish(self) -> None:
        """Flush, refuse duplicate ids (reads the id column once), write counts, then `complete`."""
        for appender in self._appenders.values():
            appender.flush()
        ids = self._h5["image_id"].asstr()[()]
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"{self.path}: duplicate image ids were added")
        self._h5.attrs.update({
            "n_images": self._n_images, "n_rows": self._h5["features"].shape[0],
            "n_regions": self._h5["region_features"].shape[0],
            "class_counts": json.dumps(self._class_counts.tolist())})
        self._h5.attrs["complete"] = True


class _Appender:
    """Buffers appended arrays and writes them to a resizable dataset about a chunk at a time.

    Holds at most one chunk plus one image's values: memory stays flat, and HDF5 sees a few
    large writes instead of a dozen small ones per image.
    """

    def __init__(self, dataset: h5py.Dataset):
        self.dataset = dataset
        self.pending: list[np.ndarray] = []
        self.n_pending = 0

    def append(self, values: np.ndarray) -> None:
        self.pending.append(values)
        self.n_pending += len(values)
        if self.n_pending >= self.dataset.chunks[0]:
            self.flush()

    def flush(self) -> None:
        if self.n_pending:
            start = self.dataset.shape[0]
            self.dataset.resize(start + self.n_pending, axis=0)
            self.dataset[start:] = np.concatenate(self.pending)
        self.pending, self.n_pending = [], 0


def _to_float16(values: np.ndarray, image_id: str) -> np.ndarray:
    """float16 copy; refuses values that overflow it rather than storing inf silently."""
    with np.errstate(over="ignore"):
        half = values.astype(np.float16)
    if not np.isfinite(half).all():
        raise ValueError(f"{image_id}: features are non-finite or exceed the float16 range")
    return half


def _region_classes(label_small: np.ndarray, regions: np.ndarray, n_regions: int) -> np.ndarray:
    classes = np.zeros(n_regions, dtype=np.int16)
    inside = regions >= 0
    classes[regions[inside]] = label_small[inside]
    return classes


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class FeatureRows:
    """Selected rows of a feature file, features widened to float32."""
    features: np.ndarray  # (n, D) float32
    image: np.ndarray  # (n,) int32
    class_id: np.ndarray  # (n,) int16
    position: np.ndarray  # (n, 2) int16, (y, x)
    region: np.ndarray  # (n,) int32

    def __len__(self) -> int:
        return len(self.class_id)


class FeatureFile:
    """Validated read access to a feature file; raises CorruptFeatureFile on open if it is bad.

    Columns are read whole or as contiguous slices and filtered in numpy: h5py's fancy and
    boolean selections are far slower than a slice.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._h5 = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise CorruptFeatureFile(self.path, "file is missing") from None
        except OSError as error:
            raise CorruptFeatureFile(self.path, f"not a readable HDF5 file ({error})") from None
        try:
            self._validate()
        except BaseException:
            self._h5.close()
            raise

    def __enter__(self) -> "FeatureFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._h5.close()

    def _validate(self) -> None:
        check_finished(self._h5, self.path, LAYOUT_VERSION,
                       (*ROW_DATASETS, *IMAGE_DATASETS, *REGION_DATASETS, "labels"), CorruptFeatureFile)
        with self._reading():
            self._check_lengths()

    def _check_lengths(self) -> None:
        attrs, f = self._h5.attrs, self._h5
        expected = {**{n: attrs["n_rows"] for n in ROW_DATASETS},
                    **{n: attrs["n_images"] for n in IMAGE_DATASETS},
                    **{n: attrs["n_regions"] for n in REGION_DATASETS}}
        wrong = [f"{n} has {f[n].shape[0]}" for n, length in expected.items()
                 if f[n].shape[0] != length]
        if f["features"].shape[1:] != (attrs["feature_dim"],):
            wrong.append(f"features are {f['features'].shape[1:]} wide")
        if not wrong:  # the per-image counts locate every image's rows, regions and label map
            totals = {"row_count": (f["row_count"][()].sum(), attrs["n_rows"]),
                      "region_count": (f["region_count"][()].sum(), attrs["n_regions"]),
                      "shape": (np.prod(f["shape"][()], axis=1).sum(), f["labels"].shape[0])}
            wrong = [f"{name} totals {got}, expected {want}"
                     for name, (got, want) in totals.items() if got != want]
        if wrong:
            raise CorruptFeatureFile(self.path, "datasets disagree: " + ", ".join(wrong) +
                                     f" (attrs: {attrs['n_rows']} rows, {attrs['n_images']} "
                                     f"images, {attrs['n_regions']} regions)")

    @contextlib.contextmanager
    def _reading(self):
        """Turn HDF5 read errors (a damaged chunk) into CorruptFeatureFile."""
        try:
            yield
        except (OSError, KeyError) as error:
            if isinstance(error, CorruptFeatureFile):
                raise
            raise CorruptFeatureFile(self.path, f"read failed ({error})") from None

    # -- metadata

    @property
    def feature_dim(self) -> int:
        return int(self._h5.attrs["feature_dim"])

    @property
    def class_names(self) -> list[str]:
        return json.loads(self._h5.attrs["class_names"])

    @property
    def unseen_classes(self) -> list[str]:
        return json.loads(self._h5.attrs["unseen_classes"])

    @property
    def n_images(self) -> int:
        return int(self._h5.attrs["n_images"])

    @property
    def attrs(self) -> dict:
        """All file attrs, JSON fields decoded, numpy scalars as Python values."""
        json_fields = ("class_names", "unseen_classes", "class_counts")
        return {k: json.loads(v) if k in json_fields else
                v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v
                for k, v in self._h5.attrs.items()}

    def class_counts(self, exclude_unseen_images: bool = False) -> np.ndarray:
        """(C,) number of sampled rows per class (of images without unseen pixels only, if asked:
        read from the class column, features untouched)."""
        if not exclude_unseen_images:
            return np.array(json.loads(self._h5.attrs["class_counts"]), dtype=np.int64)
        with self._reading():
            class_id = self._h5["class_id"][()]
            image = self._h5["image"][()]
        keep = self._image_mask(None, exclude_unseen_images)[image]
        return np.bincount(class_id[keep].astype(np.int64), minlength=len(self.class_names))

    def seen_class_ids(self) -> list[int]:
        """Ids of every class not in `unseen_classes`, ascending."""
        unseen = set(self.class_ids(self.unseen_classes).tolist())
        return [c for c in range(len(self.class_names)) if c not in unseen]

    def image_table(self) -> dict[str, np.ndarray]:
        """Per-image columns plus the start offsets of each image's rows, regions, label map."""
        return {name: column.copy() for name, column in self._table.items()}

    @functools.cached_property
    def _table(self) -> dict[str, np.ndarray]:
        with self._reading():
            table = {name: self._h5[name][()] for name in IMAGE_DATASETS}
            table["image_id"] = self._h5["image_id"].asstr()[()].astype(str)
        table["row_start"] = _starts(table["row_count"])
        table["region_start"] = _starts(table["region_count"])
        table["label_start"] = _starts(np.prod(table["shape"], axis=1))
        return table

    # -- data

    def read(self, classes: Iterable[str | int] | None = None,
             images: np.ndarray | Sequence[int] | None = None,
             exclude_unseen_images: bool = False) -> FeatureRows:
        """Rows of the given classes (names or ids) and images (indices or a boolean mask).

        `exclude_unseen_images` drops every image whose label contains an unseen class, as the
        generator's training does.
        """
        with self._reading():
            class_id = self._h5["class_id"][()]
            image = self._h5["image"][()]
            keep = self._image_mask(images, exclude_unseen_images)[image]
            if classes is not None:
                keep &= np.isin(class_id, self.class_ids(classes))
            return FeatureRows(features=self._read_features(keep), image=image[keep],
                               class_id=class_id[keep], position=self._h5["position"][()][keep],
                               region=self._h5["region"][()][keep])

    def image_rows(self, index: int) -> FeatureRows:
        """All rows of one image: a single contiguous slice."""
        start, count = self._table["row_start"][index], self._table["row_count"][index]
        rows = slice(int(start), int(start + count))
        with self._reading():
            return FeatureRows(
                features=self._h5["features"][rows].astype(np.float32),
                **{n: self._h5[n][rows] for n in ("image", "class_id", "position", "region")})

    def label_map(self, index: int) -> np.ndarray:
        """The (h, w) downsampled label map of one image."""
        start = int(self._table["label_start"][index])
        h, w = (int(v) for v in self._table["shape"][index])
        with self._reading():
            return self._h5["labels"][start:start + h * w].reshape(h, w)

    def read_regions(self, images: np.ndarray | Sequence[int] | None = None,
                     exclude_unseen_images: bool = False) -> dict[str, np.ndarray]:
        """Every region's mean feature (float32), class, size, image and id within its image, of the
        given images (indices or a boolean mask; all by default)."""
        counts = self._table["region_count"]
        image = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        region = np.arange(len(image)) - np.repeat(self._table["region_start"], counts)
        with self._reading():
            keep = self._image_mask(images, exclude_unseen_images)[image]
            return {"features": self._h5["region_features"][()][keep].astype(np.float32),
                    "class_id": self._h5["region_class"][()][keep],
                    "size": self._h5["region_size"][()][keep],
                    "image": image[keep], "region": region[keep].astype(np.int32)}

    def class_ids(self, classes: Iterable[str | int]) -> np.ndarray:
        """Class ids from names or ids; names are resolved against the file's class_names."""
        names, classes = self.class_names, list(classes)
        unknown = [c for c in classes if isinstance(c, str) and c not in names]
        if unknown:
            raise ValueError(f"{self.path}: unknown classes {unknown}; it has {names}")
        return np.array([names.index(c) if isinstance(c, str) else int(c) for c in classes],
                        dtype=np.int64)

    def _image_mask(self, images, exclude_unseen_images: bool) -> np.ndarray:
        keep = np.ones(self.n_images, dtype=bool)
        if images is not None:
            images = np.asarray(images)
            if images.dtype == bool and images.shape != keep.shape:
                raise ValueError(f"image mask has {images.size} entries, file has {keep.size}")
            keep = images.copy() if images.dtype == bool else np.isin(np.arange(keep.size), images)
        if exclude_unseen_images:
            keep &= ~self._table["has_unseen"]
        return keep

    def _read_features(self, keep: np.ndarray) -> np.ndarray:
        """Selected feature rows, read in contiguous blocks; blocks with no selected row skipped."""
        dataset = self._h5["features"]
        out = np.empty((int(keep.sum()), self.feature_dim), dtype=np.float32)
        filled = 0
        for start in range(0, len(keep), READ_BLOCK):
            block_keep = keep[start:start + READ_BLOCK]
            n = int(block_keep.sum())
            if n:
                out[filled:filled + n] = dataset[start:start + len(block_keep)][block_keep]
                filled += n
        return out


def _starts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    return np.cumsum(counts) - counts


# ---------------------------------------------------------------- one-call readers


def read_features(path: str | os.PathLike, classes: Iterable[str | int] | None = None,
                  images: np.ndarray | Sequence[int] | None = None,
                  exclude_unseen_images: bool = False) -> FeatureRows:
    with FeatureFile(path) as f:
        return f.read(classes, images, exclude_unseen_images)


def class_counts(path: str | os.PathLike) -> np.ndarray:
    with FeatureFile(path) as f:
        return f.class_counts()


def image_table(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with FeatureFile(path) as f:
        return f.image_table()
