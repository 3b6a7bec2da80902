"""Bank files: the layout round trip, refusal of unfinished files, the default size."""
import h5py
import numpy as np
import pytest

from zs3core.banks import CorruptBank, default_bank_size, read_bank, save_bank
from zs3core.features import CorruptFeatureFile, FeatureFile, FeatureWriter
from zs3core.hdf5 import CorruptHDF5

CLASSES = ["background", "a", "b", "u"]


def test_saved_blocks_read_back_in_order_with_their_attrs_and_datasets(tmp_path):
    path = tmp_path / "bank.h5"
    blocks = [np.full((3, 2), 1.5, np.float32), np.arange(6, dtype=np.float32).reshape(3, 2)]
    save_bank(path, iter(blocks), [3, 1], 3, CLASSES, 2, {"seed": 4}, {"graph_image_id": np.array([7, 8])})
    bank = read_bank(path)
    np.testing.assert_array_equal(bank.features, np.concatenate(blocks))
    assert bank.class_id.tolist() == [3, 3, 3, 1, 1, 1] and bank.class_id.dtype == np.int16
    assert bank.unseen_classes == ["u", "a"] and bank.unseen_class_ids == [3, 1] and bank.n_per_class == 3
    assert bank.attrs["seed"] == 4 and bank.attrs["complete"] is True
    with h5py.File(path) as h5:
        assert h5["graph_image_id"][()].tolist() == [7, 8]


def test_banks_and_feature_files_fail_as_one_family(tmp_path):
    path = tmp_path / "bank.h5"
    save_bank(path, [np.zeros((2, 2), np.float32)], [3], 2, CLASSES, 2, {})
    with h5py.File(path, "a") as h5:
        h5.attrs["layout_version"] = 9
    with pytest.raises(CorruptBank, match="layout version 9, this code reads 1"):
        read_bank(path)
    for reader, error in ((read_bank, CorruptBank), (FeatureFile, CorruptFeatureFile)):
        with pytest.raises(CorruptHDF5) as info:
            reader(tmp_path / "absent.h5")
        assert type(info.value) is error and "snakemake --forcerun" in str(info.value)


def test_default_bank_size_counts_seen_rows_of_clean_images(tmp_path):
    path = tmp_path / "train.h5"
    rng = np.random.default_rng(0)
    # 8x8 maps, halves of 32 pixels, at most 5 rows per class and image
    halves = [(0, 1), (0, 1), (2, 2), (1, 3), (0, 0)]  # image 3 holds the unseen class u
    with FeatureWriter(path, 2, CLASSES, ["u"], max_per_class=5) as writer:
        for i, (left, right) in enumerate(halves):
            label = np.zeros((8, 8), np.uint8)
            label[:, :4], label[:, 4:] = left, right
            writer.add(f"i{i}", np.zeros((2, 8, 8), np.float32), label, rng)
    # clean images: background 5 + 5 + 5, a 5 + 5, b 5; mean over seen classes (15 + 10 + 5) / 3
    assert default_bank_size(path) == 10
