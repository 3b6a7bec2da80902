"""The authors' evaluation resize: their FixScale (PIL, short side to 513, long side truncated)."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from zs3core.data.transforms import ShortSideResize, eval_transform


@pytest.mark.parametrize("size, expected", [((375, 500), (513, 684)), ((500, 333), (770, 513)),
                                            ((281, 500), (513, 912)), ((40, 40), (513, 513))])
def test_short_side_resize_is_theirs(size, expected):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    label = rng.choice(np.array([0, 3, 255], dtype=np.uint8), size)
    image, mask = ShortSideResize(513)(tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1)),
                                       tv_tensors.Mask(torch.from_numpy(label.astype(np.int64))))
    h, w = size  # their code: if w > h: oh = 513, ow = int(1.0 * w * oh / h), else the other way round
    oh, ow = (513, int(1.0 * w * 513 / h)) if w > h else (int(1.0 * h * 513 / w), 513)
    assert (oh, ow) == expected and image.shape == (3, oh, ow) and mask.shape == (oh, ow)
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(),
                                  np.asarray(Image.fromarray(rgb).resize((ow, oh), Image.BILINEAR)))
    np.testing.assert_array_equal(mask.numpy(), np.asarray(Image.fromarray(label).resize((ow, oh), Image.NEAREST)))
    assert mask.dtype == torch.int64


def test_eval_transform_keeps_the_original_resolution_by_default():
    image = tv_tensors.Image(torch.zeros(3, 20, 30, dtype=torch.uint8))
    mask = tv_tensors.Mask(torch.zeros(20, 30, dtype=torch.int64))
    assert eval_transform()(image, mask)[1].shape == (20, 30)
    out, out_mask = eval_transform(513)(image, mask)
    assert out.shape == (3, 513, 769) and out.dtype == torch.float32 and out_mask.shape == (513, 769)
