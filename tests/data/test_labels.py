"""Label maps: palette PNG, SBD .mat, dispatch and range validation."""
import numpy as np
import pytest
from PIL import Image

from fixtures import write_sbd_mat, write_voc_png
from zs3core.data.labels import (check_label, read_label, read_png_label, read_sbd_mat, voc_palette,
                                 write_palette_png)


def test_voc_palette_matches_the_devkit_colours():
    palette = voc_palette()
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    known = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 8: (64, 0, 0),
             15: (192, 128, 128), 20: (0, 64, 128), 255: (224, 224, 192)}
    for index, rgb in known.items():
        assert tuple(palette[index]) == rgb, index


def test_palette_png_round_trip_keeps_indices_and_void(tmp_path):
    label = np.array([[0, 1, 255], [20, 15, 255], [7, 0, 3]], dtype=np.uint8)
    path = tmp_path / "sub" / "x.png"
    write_palette_png(path, label)
    read = read_png_label(path)
    assert read.dtype == np.uint8 and np.array_equal(read, label)
    with Image.open(path) as img:  # a real palette PNG, coloured like VOC's
        assert img.mode == "P"
        rgb = np.asarray(img.convert("RGB"))
    assert tuple(rgb[0, 2]) == (224, 224, 192) and tuple(rgb[1, 1]) == (192, 128, 128)
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]  # no temporary left behind


def test_write_palette_png_rejects_bad_arrays_without_writing(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        write_palette_png(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="0..255"):
        write_palette_png(tmp_path / "b.png", np.array([[0, 300]]))
    assert list(tmp_path.iterdir()) == []


def test_reads_png_written_by_pil(tmp_path):
    label = np.random.default_rng(0).integers(0, 21, (7, 9)).astype(np.uint8)
    label[0] = 255
    write_voc_png(tmp_path / "v.png", label)
    assert np.array_equal(read_label(tmp_path / "v.png"), label)


def test_rgb_png_is_refused_naming_the_file(tmp_path):
    Image.new("RGB", (4, 3)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"rgb\.png.*mode 'RGB'"):
        read_png_label(tmp_path / "rgb.png")


def test_truncated_png_names_the_file(tmp_path):
    write_palette_png(tmp_path / "t.png", np.random.default_rng(1).integers(0, 21, (64, 64)))
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t\.png"):
        read_label(tmp_path / "t.png")


@pytest.mark.parametrize("shape", [(5, 7), (1, 6)])  # one row: must not be squeezed to 1-D
def test_sbd_mat_reads_back_the_written_segmentation(tmp_path, shape):
    label = np.random.default_rng(2).integers(0, 21, shape).astype(np.uint8)
    write_sbd_mat(tmp_path / "s.mat", label)
    for read in (read_sbd_mat(tmp_path / "s.mat"), read_label(tmp_path / "s.mat")):
        assert read.dtype == np.uint8 and np.array_equal(read, label)


def test_mat_without_gtcls_names_the_file(tmp_path):
    import scipy.io

    scipy.io.savemat(tmp_path / "o.mat", {"LabelMap": np.zeros((2, 2), np.uint16)})
    with pytest.raises(ValueError, match=r"o\.mat.*GTcls"):
        read_label(tmp_path / "o.mat")


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"\.jpg"):
        read_label(tmp_path / "x.jpg")
    with pytest.raises(FileNotFoundError):
        read_label(tmp_path / "missing.png")


def test_check_label_accepts_classes_and_void_and_counts():
    label = np.array([[0, 20, 255], [255, 3, 3]], dtype=np.uint8)
    counts = check_label(label, 21, "x.png")
    assert counts[0] == 1 and counts[3] == 2 and counts[20] == 1 and counts[255] == 2 and counts.sum() == 6


def test_check_label_out_of_range_names_file_values_and_range():
    label = np.array([[0, 21, 254], [255, 21, 1]], dtype=np.uint8)
    with pytest.raises(ValueError) as err:
        check_label(label, 21, "/data/x/2007_000032.png")
    message = str(err.value)
    assert "2007_000032.png" in message and "[21, 254]" in message and "0..20" in message
