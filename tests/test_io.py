"""Atomic writes: a failure midway leaves neither a partial target nor temporary litter."""
import numpy as np
import pytest

from zs3core.io import atomic_dir, atomic_path, write_npy


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.npy"
    write_npy(target, np.arange(3))
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            np.save(tmp, np.arange(10))
            raise RuntimeError("killed")
    np.testing.assert_array_equal(np.load(target), np.arange(3))  # old content intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]


def test_atomic_path_keeps_suffix_for_format_sniffing(tmp_path):
    with atomic_path(tmp_path / "a" / "t.npy") as tmp:
        assert tmp.suffix == ".npy" and tmp.parent == tmp_path / "a"
        np.save(tmp, np.ones(2))
    assert np.load(tmp_path / "a" / "t.npy").sum() == 2


def test_atomic_dir(tmp_path):
    target = tmp_path / "labels"
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(target) as tmp:
            (tmp / "a.png").write_bytes(b"x")
            raise KeyboardInterrupt
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as tmp:
        (tmp / "a.png").write_bytes(b"x")
    assert [p.name for p in target.iterdir()] == ["a.png"]


def test_outputs_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        write_npy(tmp_path / "a.npy", np.arange(2))
        with atomic_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(mask)
    assert (tmp_path / "a.npy").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
