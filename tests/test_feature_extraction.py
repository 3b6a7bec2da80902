"""Feature extraction: stored rows are the eval-mode segmenter's features at their positions."""
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures import VOC_CLASSES, make_voc
from zs3core.data.index import index_rows, read_index, write_index
from zs3core.data.transforms import normalise_image
from zs3core.data.voc import voc_records
from zs3core.feature_extraction import extract_features
from zs3core.features import FeatureFile
from zs3core.models.deeplab import DeepLabV3Plus



def voc_index(tmp_path, n_images, size):
    """index.csv over n VOC-format training images of one size (and one validation image)."""
    root, _ = make_voc(tmp_path, [f"t{i}" for i in range(n_images)], ["v0"], size=size)
    index = tmp_path / "index.csv"
    write_index(index, index_rows(voc_records(root), VOC_CLASSES))
    return index


def tiny_model():
    torch.manual_seed(0)
    return DeepLabV3Plus(21, backbone="resnet_tiny", aspp_channels=8, feature_dim=8,
                         low_level_channels=4, aspp_rates=(1, 2, 3))


def test_rows_equal_the_model_features_at_their_positions(tmp_path):
    index = voc_index(tmp_path, 5, (30, 37))
    rows = [r for r in read_index(index) if r["split"] == "train"]
    unseen = [c for c in rows[0]["classes"] if c != "background"][:1]
    model = tiny_model()
    out = tmp_path / "train.h5"
    n = extract_features(model, index, "train", VOC_CLASSES, unseen, out, max_per_class=5, seed=0, device="cpu")
    assert n == 5
    model.eval()
    with FeatureFile(out) as f:
        table = f.image_table()
        assert [i.decode() if isinstance(i, bytes) else i for i in table["image_id"]] == [r["image_id"] for r in rows]
        np.testing.assert_array_equal(table["has_unseen"], [not set(unseen).isdisjoint(r["classes"]) for r in rows])
        for i, row in enumerate(rows):
            image = torch.from_numpy(np.asarray(Image.open(row["image"]).convert("RGB")).copy()).permute(2, 0, 1)
            x = normalise_image(image)[None]
            with torch.no_grad():
                want = model.features(x)[0].numpy()
            got = f.image_rows(i)
            assert tuple(table["shape"][i]) == want.shape[1:] == (8, 10)  # ceil(30/4), ceil(37/4)
            y, xx = got.position[:, 0], got.position[:, 1]
            np.testing.assert_allclose(got.features, want[:, y, xx].T, rtol=1e-2, atol=1e-2)
            # at most 5 rows per class present on the feature grid
            assert np.bincount(got.class_id).max() <= 5


def test_device_side_rows_equal_the_numpy_reference():
    """The CUDA path's rows and region means (run here on CPU tensors) equal FeatureWriter.add's."""
    from zs3core.feature_extraction import feature_grid, image_rows, plan_image
    from zs3core.regions import connected_regions, downsample_labels, region_means, sample_pixels

    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, (35, 43)).astype(np.uint8)
    mask[:4, :] = 255
    grid = feature_grid(35, 43)
    assert grid == (9, 11)
    feats = rng.standard_normal((5, *grid)).astype(np.float32)
    plan = plan_image(mask, grid, 4, np.random.default_rng(1))
    label = downsample_labels(mask, grid)
    np.testing.assert_array_equal(plan["label_small"], label)
    pixels = sample_pixels(label, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(plan["pixels"], pixels)
    rows, means = image_rows(torch.from_numpy(feats), plan)
    np.testing.assert_allclose(rows.numpy(), feats.reshape(5, -1)[:, pixels].T)
    want, sizes = region_means(feats, connected_regions(label))
    np.testing.assert_array_equal(plan["sizes"], sizes)
    np.testing.assert_allclose(means.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_writes_what_the_cpu_path_writes(tmp_path):
    index = voc_index(tmp_path, 6, (50, 61))
    model = tiny_model()
    for device in ("cpu", "cuda"):
        extract_features(model, index, "train", VOC_CLASSES, ["cow"], tmp_path / f"{device}.h5",
                         max_per_class=5, seed=0, device=device)
    with FeatureFile(tmp_path / "cpu.h5") as a, FeatureFile(tmp_path / "cuda.h5") as b:
        ra, rb = a.read(), b.read()
        np.testing.assert_array_equal(ra.position, rb.position)
        np.testing.assert_array_equal(ra.region, rb.region)
        np.testing.assert_allclose(ra.features, rb.features, rtol=1e-2, atol=1e-2)
        np.testing.assert_allclose(a.read_regions()["features"], b.read_regions()["features"], rtol=1e-2, atol=1e-2)


def test_equal_size_batches_keep_order_and_split_on_size_changes():
    from zs3core.feature_extraction import equal_size_batches

    sizes = [(4, 5), (4, 5), (4, 5), (5, 4), (4, 5), (4, 5)]
    items = [(torch.zeros(3, *hw), i) for i, hw in enumerate(sizes)]
    batches = [[i for _, i in batch] for batch in equal_size_batches(items, 2)]
    assert batches == [[0, 1], [2], [3], [4, 5]]
    assert [[i for _, i in b] for b in equal_size_batches(items, 8)] == [[0, 1, 2], [3], [4, 5]]


@pytest.mark.parametrize("variant, exact", [({"num_workers": 2}, True), ({"batch_size": 1}, False)])
def test_workers_and_batching_do_not_change_the_file(tmp_path, variant, exact):
    """Planning in DataLoader workers writes exactly what the main process writes; one image per
    forward pass writes the same as batches, up to the convolutions' float rounding."""
    index = voc_index(tmp_path, 5, (41, 53))
    model = tiny_model()
    for name, kwargs in (("default", {}), ("variant", variant)):
        extract_features(model, index, "train", VOC_CLASSES, ["cow"], tmp_path / f"{name}.h5",
                         max_per_class=5, seed=3, device="cpu", **kwargs)
    same = np.testing.assert_array_equal
    close = same if exact else partial(np.testing.assert_allclose, rtol=1e-3, atol=1e-3)
    with FeatureFile(tmp_path / "default.h5") as a, FeatureFile(tmp_path / "variant.h5") as b:
        assert a.n_images == b.n_images == 5
        ra, rb = a.read(), b.read()
        for field in ("image", "class_id", "position", "region"):
            same(getattr(ra, field), getattr(rb, field))
        close(ra.features, rb.features)
        ga, gb = a.read_regions(), b.read_regions()
        for field in ga:
            (close if field == "features" else same)(ga[field], gb[field])
        ta, tb = a.image_table(), b.image_table()
        for field in ta:
            same(ta[field], tb[field])
        for i in range(a.n_images):
            same(a.label_map(i), b.label_map(i))
