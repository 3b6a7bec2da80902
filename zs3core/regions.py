"""Label maps on the feature grid: downsampling, connected regions, their adjacency, pixel sampling.

Pure numpy over a (h, w) label map (void = 255), with no file behind it: the feature files
(`zs3core.features`) store what these give for every image, feature extraction computes them
(`zs3core.feature_extraction`), and the region graphs of the graph-context generator
(`zs3core.graph`) recompute them from the stored label maps, so their region ids agree.
"""
from __future__ import annotations

import numpy as np

from zs3core.data.labels import VOID

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def downsample_labels(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour label map on the (h, w) feature grid; void (255) stays void.

    Output cell i takes source pixel floor((i + 0.5) * H / h), the pixel under the cell's centre:
    the grid on which bilinear upsampling with align_corners=False (the model's convention)
    places feature i, so every label sits where its feature is read (torch's 'nearest-exact').
    """
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"label must be 2-D (H, W), got shape {label.shape}")
    rows = _centre_indices(label.shape[0], size[0])
    cols = _centre_indices(label.shape[1], size[1])
    return label[np.ix_(rows, cols)]


def _centre_indices(src: int, dst: int) -> np.ndarray:
    """floor((i + 0.5) * src / dst) in integer arithmetic: no float rounding picks a neighbour."""
    if dst < 1:
        raise ValueError(f"target size must be positive, got {dst}")
    i = np.arange(dst)
    return np.minimum((2 * i + 1) * src // (2 * dst), src - 1)


def connected_regions(label_small: np.ndarray) -> np.ndarray:
    """Id of the 8-connected same-label region of every pixel; void pixels get -1.

    Ids run 0 .. R-1, by class then in scan order of the region's first pixel, so the same map
    always gives the same ids (readers recompute them from the stored label map).
    """
    import scipy.ndimage  # here: jobs that import this module for its readers do not pay for it

    label_small = np.asarray(label_small)
    regions = np.full(label_small.shape, -1, dtype=np.int32)
    next_id = 0
    for c in np.unique(label_small):
        if c == VOID:
            continue
        components, count = scipy.ndimage.label(label_small == c, structure=_EIGHT_CONNECTED)
        inside = components > 0
        regions[inside] = components[inside] - 1 + next_id
        next_id += count
    return regions


def region_adjacency(regions: np.ndarray) -> np.ndarray:
    """(E, 2) sorted unique pairs a < b of regions that touch (8-neighbourhood).

    Void pixels (-1) join nothing, so objects framed by a void border (as in VOC masks) are not
    adjacent to their surroundings unless the caller fills the void first.
    """
    regions = np.asarray(regions)
    pairs = [np.stack([a.ravel(), b.ravel()], axis=1) for a, b in (
        (regions[:, :-1], regions[:, 1:]),  # right
        (regions[:-1, :], regions[1:, :]),  # down
        (regions[:-1, :-1], regions[1:, 1:]),  # down-right
        (regions[:-1, 1:], regions[1:, :-1]),  # down-left
    )]
    pairs = np.concatenate(pairs)
    pairs = pairs[(pairs >= 0).all(axis=1) & (pairs[:, 0] != pairs[:, 1])]
    return np.unique(np.sort(pairs, axis=1), axis=0).reshape(-1, 2)


def sample_pixels(label_small: np.ndarray, max_per_class: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Flat (row-major) indices of at most `max_per_class` pixels of each class present.

    Uniform without replacement within a class, all of a class's pixels when it has fewer; void
    is never sampled. Grouped by class (ascending), sorted within a class; deterministic for a
    given rng state.
    """
    if max_per_class < 1:
        raise ValueError(f"max_per_class must be >= 1, got {max_per_class}")
    flat = np.asarray(label_small).ravel()
    order = np.argsort(flat, kind="stable")
    classes, starts, counts = np.unique(flat[order], return_index=True, return_counts=True)
    picked = []
    for c, start, count in zip(classes, starts, counts):
        if c == VOID:
            continue
        members = order[start:start + count]
        if count > max_per_class:
            members = np.sort(members[rng.choice(count, size=max_per_class, replace=False)])
        picked.append(members)
    return np.concatenate(picked) if picked else np.zeros(0, dtype=np.intp)


def region_means(features: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, D) mean feature and (R,) pixel count of every region of a (D, h, w) feature map.

    Pixels are grouped by region id and summed with `np.add.reduceat`: linear in the map size
    whatever the number of regions, and free of BLAS threads (which stall when they compete with
    the segmenter's own threads on a busy machine).
    """
    flat = regions.ravel()
    order = np.argsort(flat, kind="stable")
    order = order[np.searchsorted(flat[order], 0):]  # drop void (-1), which sorts first
    ids = flat[order]
    starts = np.flatnonzero(np.diff(ids, prepend=-1))  # ids are 0 .. R-1, each present
    sizes = np.diff(np.r_[starts, ids.size]).astype(np.int32)
    sums = np.add.reduceat(features.reshape(features.shape[0], -1)[:, order], starts, axis=1)
    return (sums.T / sizes[:, None]).astype(np.float32), sizes
