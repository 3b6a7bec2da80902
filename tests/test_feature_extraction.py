"""Feature extraction: stored rows are the eval-mode segmenter's features at their positions."""
import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors

from fixtures import VOC_CLASSES, make_voc
from zs3core.data.index import index_rows, read_index, write_index
from zs3core.data.transforms import eval_transform
from zs3core.data.voc import voc_records
from zs3core.feature_extraction import extract_features
from zs3core.features import FeatureFile
from zs3core.models.deeplab import DeepLabV3Plus


def test_rows_equal_the_model_features_at_their_positions(tmp_path):
    root, labels = make_voc(tmp_path, [f"t{i}" for i in range(5)], ["v0"], size=(30, 37))
    index = tmp_path / "index.csv"
    write_index(index, index_rows(voc_records(root), VOC_CLASSES))
    rows = [r for r in read_index(index) if r["split"] == "train"]
    unseen = [c for c in rows[0]["classes"] if c != "background"][:1]
    torch.manual_seed(0)
    model = DeepLabV3Plus(21, backbone="resnet_tiny", aspp_channels=8, feature_dim=8,
                          low_level_channels=4, aspp_rates=(1, 2, 3))
    out = tmp_path / "train.h5"
    n = extract_features(model, index, "train", VOC_CLASSES, unseen, out, max_per_class=5, seed=0)
    assert n == 5
    model.eval()
    with FeatureFile(out) as f:
        table = f.image_table()
        assert [i.decode() if isinstance(i, bytes) else i for i in table["image_id"]] == [r["image_id"] for r in rows]
        np.testing.assert_array_equal(table["has_unseen"], [not set(unseen).isdisjoint(r["classes"]) for r in rows])
        for i, row in enumerate(rows):
            image = torch.from_numpy(np.asarray(Image.open(row["image"]).convert("RGB")).copy()).permute(2, 0, 1)
            x = eval_transform()(tv_tensors.Image(image))[None]
            with torch.no_grad():
                want = model.features(x)[0].numpy()
            got = f.image_rows(i)
            assert tuple(table["shape"][i]) == want.shape[1:] == (8, 10)  # ceil(30/4), ceil(37/4)
            y, xx = got.position[:, 0], got.position[:, 1]
            np.testing.assert_allclose(got.features, want[:, y, xx].T, rtol=1e-2, atol=1e-2)
            # at most 5 rows per class present on the feature grid
            assert np.bincount(got.class_id).max() <= 5
