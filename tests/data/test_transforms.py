"""The evaluation transforms: torchvision v2's normalisation bit for bit; the authors' resize
(their FixScale: PIL, short side to 513, long side truncated)."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from zs3core.data.transforms import EvalTransform, ShortSideResize, normalise_image


@pytest.mark.parametrize("mean, std", [((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
                                       ((0.3, 0.1, 0.9), (0.7, 0.05, 2.0))])
def test_normalise_image_is_torchvision_v2s_to_dtype_and_normalize_bit_for_bit(mean, std):
    reference = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])
    g = torch.Generator().manual_seed(0)
    for h, w in [(1, 1), (7, 13), (64, 48), (333, 500)]:
        image = torch.randint(0, 256, (h, w, 3), dtype=torch.uint8, generator=g).permute(2, 0, 1)
        want = reference(tv_tensors.Image(image)).as_subclass(torch.Tensor)
        got = normalise_image(image, mean, std)
        assert got.dtype == torch.float32 and torch.equal(got, want)
    # every uint8 value in every channel
    image = torch.arange(256, dtype=torch.uint8).expand(3, 1, 256)
    assert torch.equal(normalise_image(image, mean, std), reference(tv_tensors.Image(image)).as_subclass(torch.Tensor))


def test_normalise_image_refuses_a_float_image():
    with pytest.raises(TypeError, match="uint8"):
        normalise_image(torch.zeros(3, 4, 4))


@pytest.mark.parametrize("size, expected", [((375, 500), (513, 684)), ((500, 333), (770, 513)),
                                            ((281, 500), (513, 912)), ((40, 40), (513, 513))])
def test_short_side_resize_is_theirs(size, expected):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    label = rng.choice(np.array([0, 3, 255], dtype=np.uint8), size)
    image, mask = ShortSideResize(513)(torch.from_numpy(rgb).permute(2, 0, 1),
                                       torch.from_numpy(label.astype(np.int64)))
    h, w = size  # their code: if w > h: oh = 513, ow = int(1.0 * w * oh / h), else the other way round
    oh, ow = (513, int(1.0 * w * 513 / h)) if w > h else (int(1.0 * h * 513 / w), 513)
    assert (oh, ow) == expected and image.shape == (3, oh, ow) and mask.shape == (oh, ow)
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(),
                                  np.asarray(Image.fromarray(rgb).resize((ow, oh), Image.BILINEAR)))
    np.testing.assert_array_equal(mask.numpy(), np.asarray(Image.fromarray(label).resize((ow, oh), Image.NEAREST)))
    assert mask.dtype == torch.int64


def test_eval_transform_keeps_the_original_resolution_by_default():
    image = torch.zeros(3, 20, 30, dtype=torch.uint8)
    mask = torch.zeros(20, 30, dtype=torch.int64)
    assert EvalTransform()(image, mask)[1].shape == (20, 30)
    out, out_mask = EvalTransform(513)(image, mask)
    assert out.shape == (3, 513, 769) and out.dtype == torch.float32 and out_mask.shape == (513, 769)
