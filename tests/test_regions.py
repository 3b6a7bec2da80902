"""Label maps on the feature grid: downsampling, connected regions, adjacency, pixel sampling."""
import numpy as np
import pytest

from zs3core import regions as rg

V = rg.VOID


# ---------------------------------------------------------------- downsampling


def test_downsample_takes_the_pixel_under_each_cell_centre():
    label = np.arange(64, dtype=np.uint8).reshape(8, 8)  # value = 8 * row + col
    # 8 -> 2: centres at source 2 and 6; 8 -> 4: at 1, 3, 5, 7.
    np.testing.assert_array_equal(rg.downsample_labels(label, (2, 2)), [[18, 22], [50, 54]])
    np.testing.assert_array_equal(rg.downsample_labels(label, (4, 4)),
                                  [[9, 11, 13, 15], [25, 27, 29, 31],
                                   [41, 43, 45, 47], [57, 59, 61, 63]])
    # non-integer ratio, 5 -> 2 rows: floor(1.25) = 1, floor(3.75) = 3; 8 -> 3 cols: 1, 4, 6
    np.testing.assert_array_equal(rg.downsample_labels(label[:5], (2, 3)),
                                  [[9, 12, 14], [25, 28, 30]])


def test_downsample_keeps_void():
    label = np.zeros((8, 8), dtype=np.uint8)
    label[2, 6] = V
    np.testing.assert_array_equal(rg.downsample_labels(label, (2, 2)), [[0, V], [0, 0]])


def test_downsample_matches_torch_nearest_exact():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for (H, W), (h, w) in [((513, 500), (129, 125)), ((37, 23), (10, 6)), ((9, 9), (9, 9))]:
        label = rng.integers(0, 256, size=(H, W), dtype=np.uint8)
        ref = torch.nn.functional.interpolate(torch.from_numpy(label)[None, None].float(),
                                              size=(h, w), mode="nearest-exact")
        np.testing.assert_array_equal(rg.downsample_labels(label, (h, w)),
                                      ref[0, 0].numpy().astype(np.uint8))


# ---------------------------------------------------------------- regions


def test_connected_regions_separates_blobs_and_marks_void():
    mask = np.array([[1, 1, 0, 0],
                     [1, 1, 0, 1],
                     [0, 0, 0, 1],
                     [V, 0, 0, 0]], dtype=np.uint8)
    # class 0 first (one region), then class 1's two blobs in scan order
    np.testing.assert_array_equal(rg.connected_regions(mask), [[1, 1, 0, 0],
                                                               [1, 1, 0, 2],
                                                               [0, 0, 0, 2],
                                                               [-1, 0, 0, 0]])
    np.testing.assert_array_equal(rg.region_adjacency(rg.connected_regions(mask)),
                                  [[0, 1], [0, 2]])


def test_connected_regions_joins_diagonal_touch():
    mask = np.array([[1, 0, 0],
                     [0, 1, 0],
                     [0, 0, 1]], dtype=np.uint8)  # 4-connectivity would split both classes
    regions = rg.connected_regions(mask)
    np.testing.assert_array_equal(regions, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(rg.region_adjacency(regions), [[0, 1]])


def test_region_adjacency_void_separates():
    regions = rg.connected_regions(np.array([[1, V, 2]], dtype=np.uint8))
    assert rg.region_adjacency(regions).shape == (0, 2)


# ---------------------------------------------------------------- sampling


def _sampling_label():
    label = np.zeros((8, 8), dtype=np.uint8)  # class 0: 51 pixels
    label[0, :3] = 1  # class 1: 3 pixels
    label[7, :] = V  # 8 void pixels
    label[6, 0:2] = 3  # class 3: 2 pixels
    return label


def test_sampling_caps_each_class_and_skips_void():
    label = _sampling_label()
    picked = rg.sample_pixels(label, 5, np.random.default_rng(0))
    classes = label.ravel()[picked]
    assert len(np.unique(picked)) == len(picked)
    assert {c: int((classes == c).sum()) for c in np.unique(classes)} == {0: 5, 1: 3, 3: 2}
    np.testing.assert_array_equal(np.sort(picked[classes == 1]), [0, 1, 2])  # all of them
    assert not (classes == V).any()


def test_sampling_is_deterministic_under_a_seed_and_uniform():
    label = _sampling_label()
    first = rg.sample_pixels(label, 5, np.random.default_rng(7))
    np.testing.assert_array_equal(first, rg.sample_pixels(label, 5, np.random.default_rng(7)))
    rng = np.random.default_rng(1)
    hits = np.bincount(np.concatenate([rg.sample_pixels(label, 5, rng) for _ in range(2040)]),
                       minlength=64)
    background = hits[label.ravel() == 0]  # each of 51 pixels expected 2040 * 5 / 51 = 200 times
    assert background.min() > 150 and background.max() < 250
