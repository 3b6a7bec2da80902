"""Pixel-feature files: the HDF5 round trip, streaming memory, and that every damaged or
unfinished file is refused with a rebuild hint."""
import gc
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from zs3core import features as ft
from zs3core import regions as rg
from zs3core.features import CorruptFeatureFile, FeatureFile, FeatureWriter

CLASSES = ["background", "cat", "cow", "dog"]
UNSEEN = ["cow"]
V = rg.VOID


# ---------------------------------------------------------------- round trip


def _images(seed=0, d=6):
    """(id, features, label) for four images: void, several regions, unseen cow, empty."""
    rng = np.random.default_rng(seed)
    labels = [
        np.array([[0, 0, 1, 1, 0, 0, 0],
                  [0, 0, 1, 1, 0, 3, 3],
                  [V, V, 0, 0, 0, 3, 3],
                  [1, 0, 0, 0, 0, 0, 0],
                  [1, 1, 0, 0, 0, 0, 1],
                  [0, 0, 0, 0, 0, 0, 0]], dtype=np.uint8),
        np.array([[2, 2, 0, 0, 0],
                  [2, 2, 0, 0, V],
                  [0, 0, 0, 1, 1],
                  [0, 0, 0, 1, 1],
                  [2, 0, 0, 0, 0]], dtype=np.uint8),
        np.full((8, 4), 1, dtype=np.uint8),
        np.full((2, 3), V, dtype=np.uint8),  # all void: no rows, no regions
    ]
    return [(f"img{i}", (rng.normal(size=(d, *lab.shape)) * 3).astype(np.float32), lab)
            for i, lab in enumerate(labels)]


def _write(path, images, max_per_class=4, seed=0, attrs=None):
    rng = np.random.default_rng(seed)
    with FeatureWriter(path, images[0][1].shape[0], CLASSES, UNSEEN, max_per_class=max_per_class,
                       attrs=attrs) as writer:
        for image_id, feats, label in images:
            writer.add(image_id, feats, label, rng)


def test_round_trip_every_row_matches_its_source_pixel(tmp_path):
    images = _images()
    path = tmp_path / "train.h5"
    _write(path, images, attrs={"checkpoint": Path("ckpt/seg.pt"), "seed": 3})
    with FeatureFile(path) as f:
        rows = f.read()
        table = f.image_table()
        assert f.attrs["checkpoint"] == "ckpt/seg.pt" and f.attrs["seed"] == 3
        assert f.class_names == CLASSES and f.unseen_classes == UNSEEN and f.feature_dim == 6
        assert table["image_id"].tolist() == ["img0", "img1", "img2", "img3"]
        assert table["has_unseen"].tolist() == [False, True, False, False]
        assert table["shape"].tolist() == [[6, 7], [5, 5], [8, 4], [2, 3]]
        for i, (_, _, label) in enumerate(images):
            np.testing.assert_array_equal(f.label_map(i), label)
        for i, (_, feats, label) in enumerate(images):
            mine = rows.image == i
            y, x = rows.position[mine].T
            half = feats.astype(np.float16).astype(np.float32)
            np.testing.assert_array_equal(rows.features[mine], half[:, y, x].T)
            np.testing.assert_array_equal(rows.class_id[mine], label[y, x])
            np.testing.assert_array_equal(rows.region[mine], rg.connected_regions(label)[y, x])
            present, counts = np.unique(label[label != V], return_counts=True)
            per_class = np.bincount(rows.class_id[mine], minlength=len(CLASSES))
            np.testing.assert_array_equal(per_class[present], np.minimum(counts, 4))
            assert len(np.unique(rows.position[mine], axis=0)) == mine.sum()  # no repeats
        np.testing.assert_array_equal(f.class_counts(), np.bincount(rows.class_id, minlength=4))


def test_region_means_are_exact_over_all_region_pixels(tmp_path):
    images = _images()
    _write(tmp_path / "f.h5", images, max_per_class=1)
    with FeatureFile(tmp_path / "f.h5") as f:
        regions = f.read_regions()
        table = f.image_table()
    for i, (_, feats, label) in enumerate(images):
        region_map = rg.connected_regions(label)
        mine = regions["image"] == i
        assert table["region_count"][i] == region_map.max() + 1 == mine.sum()
        for r, feature, cls, size in zip(regions["region"][mine], regions["features"][mine],
                                         regions["class_id"][mine], regions["size"][mine]):
            inside = region_map == r
            assert size == inside.sum() and cls == label[inside][0]
            np.testing.assert_allclose(feature, feats[:, inside].mean(axis=1), rtol=1e-3, atol=2e-3)


def test_selection_by_class_image_and_unseen(tmp_path):
    _write(tmp_path / "f.h5", _images())
    with FeatureFile(tmp_path / "f.h5") as f:
        every = f.read()
        cows = f.read(classes=["cow"])
        assert len(cows) == (every.class_id == 2).sum() > 0 and (cows.class_id == 2).all()
        np.testing.assert_array_equal(f.read(classes=[2]).features, cows.features)
        seen_images = f.read(exclude_unseen_images=True)
        assert set(seen_images.image) == {0, 2}
        one = f.read(images=[1])
        np.testing.assert_array_equal(one.features, every.features[every.image == 1])
        for field in ("features", "image", "class_id", "position", "region"):
            np.testing.assert_array_equal(getattr(f.image_rows(1), field), getattr(one, field))
        assert len(f.image_rows(3)) == 0
        assert set(f.read_regions(exclude_unseen_images=True)["image"]) == {0, 2}
    np.testing.assert_array_equal(ft.read_features(tmp_path / "f.h5", classes=["cow"]).features,
                                  cows.features)


def test_has_unseen_can_come_from_the_full_resolution_label(tmp_path):
    image_id, feats, label = _images()[0]  # no cow on the feature grid
    with FeatureWriter(tmp_path / "f.h5", 6, CLASSES, UNSEEN, max_per_class=4) as writer:
        writer.add(image_id, feats, label, np.random.default_rng(0), has_unseen=True)
    assert ft.image_table(tmp_path / "f.h5")["has_unseen"].tolist() == [True]


def test_writing_is_deterministic_under_a_seed(tmp_path):
    _write(tmp_path / "a.h5", _images(), seed=5)
    _write(tmp_path / "b.h5", _images(), seed=5)
    a, b = ft.read_features(tmp_path / "a.h5"), ft.read_features(tmp_path / "b.h5")
    np.testing.assert_array_equal(a.position, b.position)
    np.testing.assert_array_equal(a.features, b.features)


def _small_chunks(monkeypatch, rows=16, images=2, label_bytes=64):
    """Small chunks, so that a few images already cross several buffer flushes and chunks."""
    for name, value in {"CHUNK_ROWS": rows, "IMAGE_CHUNK": images,
                        "LABEL_CHUNK": label_bytes}.items():
        monkeypatch.setattr(ft, name, value)


def test_rows_span_several_chunks_and_read_blocks(tmp_path, monkeypatch):
    _small_chunks(monkeypatch)
    monkeypatch.setattr(ft, "READ_BLOCK", 7)  # odd block size: blocks straddle images
    images = _images(d=3) * 2
    images = [(f"{i}", feats, label) for i, (_, feats, label) in enumerate(images)]
    _write(tmp_path / "f.h5", images, max_per_class=50)
    with FeatureFile(tmp_path / "f.h5") as f:
        rows = f.read(classes=["cat"])
        assert f.image_table()["image_id"].tolist() == [str(i) for i in range(8)]
        for i, (_, feats, label) in enumerate(images):
            np.testing.assert_array_equal(f.label_map(i), label)
            mine = rows.image == i
            y, x = rows.position[mine].T
            np.testing.assert_array_equal(rows.features[mine],
                                          feats.astype(np.float16).astype(np.float32)[:, y, x].T)
            assert mine.sum() == (label == 1).sum()


# ---------------------------------------------------------------- streaming memory


def test_writer_memory_does_not_grow_with_images(tmp_path, monkeypatch):
    """Images 30..300 must neither retain more memory than images 0..30 nor peak higher."""
    _small_chunks(monkeypatch, rows=64, images=4, label_bytes=512)  # buffers flush every ~3 images
    rng = np.random.default_rng(0)
    retained, peak = [], []
    tracemalloc.start()
    try:
        with FeatureWriter(tmp_path / "f.h5", 32, CLASSES, UNSEEN, max_per_class=5) as writer:
            for i in range(300):
                label = rng.integers(0, 4, size=(24, 24), dtype=np.uint8)
                writer.add(f"im{i}", rng.normal(size=(32, 24, 24)).astype(np.float32), label, rng)
                if i % 25 == 0:  # h5py frees its per-write handles only in a full collection:
                    gc.collect()  # collect on a fixed schedule so peaks compare the writer
                if i + 1 in (30, 300):
                    gc.collect()
                    retained.append(tracemalloc.get_traced_memory()[0])
                    peak.append(tracemalloc.get_traced_memory()[1])
                    tracemalloc.reset_peak()
    finally:
        tracemalloc.stop()
    # keeping even ~60 bytes per image (an id string) would retain 270 * 60 > 16 kB more
    assert retained[1] - retained[0] < 16_000, retained
    assert peak[1] < 1.5 * peak[0], peak
    assert ft.image_table(tmp_path / "f.h5")["image_id"].size == 300


# ---------------------------------------------------------------- failures and corruption


def test_failed_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with FeatureWriter(tmp_path / "f.h5", 6, CLASSES, UNSEEN, max_per_class=4) as writer:
            writer.add(*_images()[0], np.random.default_rng(0))
            raise RuntimeError("killed mid-extraction")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["features", "label", "duplicate", "float16 overflow"])
def test_bad_input_fails_the_writer(tmp_path, bad):
    image_id, feats, label = _images()[0]
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        with FeatureWriter(tmp_path / "f.h5", 6, CLASSES, UNSEEN, max_per_class=4) as writer:
            writer.add(image_id, feats, label, rng)
            if bad == "features":
                writer.add("x", feats[:, :-1], label, rng)
            elif bad == "label":
                writer.add("x", feats, np.where(label == 3, 9, label).astype(np.uint8), rng)
            elif bad == "float16 overflow":
                writer.add("x", feats * 1e5, label, rng)
            else:
                writer.add(image_id, feats, label, rng)
    assert list(tmp_path.iterdir()) == []


def _assert_corrupt(path, words):
    with pytest.raises(CorruptFeatureFile) as info:
        FeatureFile(path)
    message = str(info.value)
    assert str(path) in message and f"snakemake --forcerun {path}" in message
    assert words in message, message


def test_missing_and_non_hdf5_files(tmp_path):
    _assert_corrupt(tmp_path / "none.h5", "missing")
    (tmp_path / "text.h5").write_text("not hdf5")
    _assert_corrupt(tmp_path / "text.h5", "not a readable HDF5 file")


def test_truncated_file(tmp_path):
    path = tmp_path / "f.h5"
    _write(path, _images())
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    _assert_corrupt(path, "not a readable HDF5 file")


@pytest.mark.parametrize("damage, words", [
    (lambda f: f.attrs.__setitem__("complete", False), "incomplete"),
    (lambda f: f.attrs.__delitem__("complete"), "incomplete"),
    (lambda f: f.__delitem__("region"), "missing datasets ['region']"),
    (lambda f: f["region"].resize(f["region"].shape[0] - 1, axis=0), "datasets disagree"),
    (lambda f: f["row_count"].__setitem__(0, 0), "row_count totals"),
    (lambda f: f["labels"].resize(3, axis=0), "shape totals 105, expected 3"),
])
def test_damaged_file(tmp_path, damage, words):
    path = tmp_path / "f.h5"
    _write(path, _images())
    with h5py.File(path, "r+") as f:
        damage(f)
    _assert_corrupt(path, words)


def test_killed_writer_leaves_no_target_and_an_unreadable_temp(tmp_path):
    target = tmp_path / "train.h5"
    child = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from zs3core.features import FeatureWriter
        rng = np.random.default_rng(0)
        with FeatureWriter({str(target)!r}, 4, ["a", "b"], [], max_per_class=5) as writer:
            for i in range(50):
                writer.add(str(i), np.ones((4, 8, 8), np.float32), np.zeros((8, 8), np.uint8), rng)
            print("ready", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        proc.kill()
        proc.wait()
    _assert_corrupt(target, "missing")
    (temp,) = tmp_path.glob(".train.*.h5")  # what atomic_path leaves behind on SIGKILL
    with pytest.raises(CorruptFeatureFile):
        FeatureFile(temp)
