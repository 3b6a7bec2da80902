"""Label maps on disk: VOC palette PNGs, SBD `.mat` files, and their validation.

Labels are uint8 class-index arrays; 255 marks void pixels (VOC object borders) and is kept
as is so that losses and metrics can ignore it.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from zs3core.io import atomic_path

VOID = 255


def voc_palette() -> np.ndarray:
    """The standard 256-entry VOC colour map (bitwise interleaving of the index), shape (256, 3)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        c, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette[index] = (r, g, b)
    return palette


_PALETTE_BYTES = voc_palette().tobytes()


@contextlib.contextmanager
def naming_errors(path: str | os.PathLike, what: str):
    """Re-raise any failure while decoding `path` as a ValueError that names the file.

    Decoders (PIL, scipy) often report corruption without the path, which is useless among
    10k files. A missing file stays a FileNotFoundError (it already names the path).
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: unreadable {what}: {exc}") from exc


def read_png_label(path: str | os.PathLike) -> np.ndarray:
    """Class indices of a palette (or greyscale) PNG.

    The indices are read directly: converting to RGB and back would depend on the palette.
    """
    with naming_errors(path, "label file"):
        with Image.open(path) as img:
            if img.mode not in ("P", "L"):
                raise ValueError(f"label PNG must be palette ('P') or greyscale ('L'), got mode {img.mode!r}")
            return np.asarray(img, dtype=np.uint8).copy()


def write_palette_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 index map as a VOC-palette PNG, atomically."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{path}: label array must be 2-D, got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(f"{path}: label values must fit in 0..255, got {array.min()}..{array.max()}")
    array = np.ascontiguousarray(array, dtype=np.uint8)
    img = Image.frombytes("P", (array.shape[1], array.shape[0]), array.tobytes())
    img.putpalette(_PALETTE_BYTES)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def read_sbd_mat(path: str | os.PathLike) -> np.ndarray:
    """Class indices of an SBD `cls/*.mat` file (MATLAB v5 struct `GTcls`, field `Segmentation`)."""
    import scipy.io  # here: the many jobs that read PNG labels only do not pay for its import

    with naming_errors(path, "label file"):
        # Not squeeze_me: it would turn a one-row map into a 1-D array.
        gtcls = scipy.io.loadmat(path, struct_as_record=False).get("GTcls")
        if gtcls is None or gtcls.size != 1 or not hasattr(gtcls.flat[0], "Segmentation"):
            raise ValueError("no GTcls.Segmentation in the file (not an SBD cls .mat)")
        seg = np.asarray(gtcls.flat[0].Segmentation)
        if seg.ndim != 2 or seg.min(initial=0) < 0 or seg.max(initial=0) > 255:
            raise ValueError(f"GTcls.Segmentation is not a 2-D 0..255 map (shape {seg.shape})")
        return seg.astype(np.uint8)


def read_label(path: str | os.PathLike) -> np.ndarray:
    """Read a label map, choosing the reader from the extension (.png or .mat)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return read_png_label(path)
    if suffix == ".mat":
        return read_sbd_mat(path)
    raise ValueError(f"{path}: unknown label format {suffix!r} (expected .png or .mat)")


def check_label(label: np.ndarray, num_classes: int, path: str | os.PathLike) -> np.ndarray:
    """Raise unless every value is a class index (< num_classes) or void (255).

    Returns the pixel count per value (length 256), which callers use to list present classes.
    """
    counts = np.bincount(label.ravel(), minlength=256)
    bad = [int(v) for v in np.flatnonzero(counts) if v >= num_classes and v != VOID]
    if bad:
        raise ValueError(
            f"{path}: label values {bad} out of range; allowed 0..{num_classes - 1} or {VOID} (void)"
        )
    return counts
