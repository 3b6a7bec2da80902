"""The torch Dataset over index.csv and the joint transforms."""
from pathlib import Path

import numpy as np
import torch

from fixtures import VOC_CLASSES as CLASSES, make_voc_index
from zs3core.data.dataset import SegmentationDataset, without_classes
from zs3core.data.augment import train_transform
from zs3core.data.transforms import EvalTransform



def build_index(tmp_path):
    return make_voc_index(tmp_path, [f"t{i}" for i in range(6)], ["v0", "v1"], size=(24, 32))


def test_eval_items_keep_full_resolution_labels(tmp_path):
    index, labels = build_index(tmp_path)
    ds = SegmentationDataset(index, "val", transform=EvalTransform())
    assert len(ds) == 2
    image, mask, image_id = ds[0]
    assert image.dtype == torch.float32 and image.shape == (3, 24, 32)
    np.testing.assert_array_equal(mask.numpy(), labels[image_id])


def test_cached_items_equal_fresh_reads_and_skip_the_disk(tmp_path):
    index, _ = build_index(tmp_path)
    lut = np.arange(256, dtype=np.uint8)
    lut[CLASSES.index("background")] = 255
    fresh = SegmentationDataset(index, "train", lut=lut)
    want = [fresh[i] for i in range(len(fresh))]
    cached = SegmentationDataset(index, "train", lut=lut, cache=True)
    for i in range(len(cached)):
        cached[i]
    for row in cached.rows:  # a second read must not need the files
        Path(row["image"]).unlink()
        Path(row["label"]).unlink()
    for i, (image, mask, image_id) in enumerate(want):
        got = cached[i]
        assert got[2] == image_id
        torch.testing.assert_close(got[0], image)
        torch.testing.assert_close(got[1], mask)
        assert got[1].dtype == torch.int64
        assert not (got[1] == CLASSES.index("background")).any()  # the lut applies to cached labels


def test_seen_only_filter_drops_every_image_with_an_unseen_class(tmp_path):
    index, labels = build_index(tmp_path)
    present = {i: {CLASSES[v] for v in np.unique(l) if v != 255} for i, l in labels.items()}
    unseen = sorted({c for i in present if i.startswith("t") for c in present[i]} - {"background"})[:3]
    ds = SegmentationDataset(index, "train", keep=without_classes(unseen))
    kept = {row["image_id"] for row in ds.rows}
    assert kept == {i for i in present if i.startswith("t") and not present[i] & set(unseen)}
    for _, mask, _ in ds:
        assert not np.isin(mask.numpy(), [CLASSES.index(c) for c in unseen]).any()


def test_train_transform_moves_image_and_mask_together():
    torch.manual_seed(0)
    # channel 0 of the image encodes the label: image and mask must agree after any geometry.
    # The object sits on the left, so a flip applied to only one of them could not agree.
    label = np.zeros((40, 40), dtype=np.int64)
    label[5:20, 2:14] = 7
    image = torch.from_numpy(np.repeat((label * 30).astype(np.uint8)[None], 3, axis=0))
    t = train_transform(base_size=40, crop_size=32, mean=(0, 0, 0), std=(1, 1, 1))
    for _ in range(20):
        img, mask = t(image, torch.from_numpy(label))
        assert img.shape == (3, 32, 32) and mask.shape == (32, 32) and mask.dtype == torch.int64
        assert set(mask.unique().tolist()) <= {0, 7, 255}
        # away from object borders (where bilinear and nearest differ), bright <=> object
        m = torch.nn.functional.pad(mask[None, None].float(), (1, 1, 1, 1), mode="replicate")
        flat = (torch.nn.functional.max_pool2d(m, 3, 1) == -torch.nn.functional.max_pool2d(-m, 3, 1))[0, 0]
        inside = flat & (mask != 255)
        np.testing.assert_array_equal((img[0][inside] > 0.5).numpy(), (mask[inside] == 7).numpy())
        # padding is void in the mask and black in the image
        assert (img[0][mask == 255] == 0).all()
