"""Bilinear resizing by matrix products: the values of F.interpolate, and their gradients."""
import pytest
import torch
import torch.nn.functional as F

from zs3core.models.resize import resize_bilinear


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size_in,size_out", [((16, 16), (64, 64)), ((4, 4), (16, 16)), ((5, 7), (33, 47)),
                                              ((33, 47), (9, 5)), ((12, 12), (12, 12)), ((1, 3), (4, 1))])
def test_matches_interpolate(size_in, size_out, align_corners):
    x = torch.randn(2, 3, *size_in, dtype=torch.float64, requires_grad=True)
    ours = resize_bilinear(x, size_out, align_corners)
    theirs = F.interpolate(x, size=size_out, mode="bilinear", align_corners=align_corners)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    grad = torch.randn_like(ours)
    (g_ours,) = torch.autograd.grad(ours, x, grad)
    (g_theirs,) = torch.autograd.grad(theirs, x, grad)
    torch.testing.assert_close(g_ours, g_theirs, rtol=0, atol=1e-12)


def test_hand_computed_doubling():
    """[0, 4] doubled with pixel-edge alignment: source positions -0.25 (clamped), 0.25, 0.75, 1.25."""
    x = torch.tensor([[0.0, 4.0]])
    assert resize_bilinear(x, (1, 4)).tolist() == [[0.0, 1.0, 3.0, 4.0]]
    assert resize_bilinear(x, (1, 3), align_corners=True).tolist() == [[0.0, 2.0, 4.0]]


def test_same_size_is_exact_identity():
    x = torch.randn(1, 60, 16, 16)
    assert torch.equal(resize_bilinear(x, (16, 16)), x)


def test_keeps_dtype_under_autocast():
    x = torch.randn(1, 2, 4, 4, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = resize_bilinear(x.float(), (8, 8))
    assert y.dtype == torch.float32
    assert resize_bilinear(x, (8, 8)).dtype == torch.bfloat16
