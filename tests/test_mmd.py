"""Multi-kernel MMD against a brute-force double sum of the paper's formula."""
import math

import numpy as np
import pytest
import torch

from zs3core.bandwidths import CODE_BANDWIDTHS, PAPER_BANDWIDTHS, RELATIVE_BANDWIDTHS, resolve_bandwidths
from zs3core.mmd import median_sq_distance, mmd2, mmd_loss, pairwise_sq_dists, ragged_mmd_loss


def kernel(a, b, s):
    return math.exp(-sum((float(p) - float(q)) ** 2 for p, q in zip(a, b)) / (2.0 * s))


def brute_mmd2(x, y, bandwidths, unbiased=False):
    """Explicit loops over kernels and pairs: sum_s [mean k(x,x') + mean k(y,y') - 2 mean k(x,y)]."""
    x, y = x.tolist(), y.tolist()
    n, m = len(x), len(y)
    total = 0.0
    for s in bandwidths:
        xx = sum(kernel(x[i], x[j], s) for i in range(n) for j in range(n) if not (unbiased and i == j))
        yy = sum(kernel(y[i], y[j], s) for i in range(m) for j in range(m) if not (unbiased and i == j))
        xy = sum(kernel(x[i], y[j], s) for i in range(n) for j in range(m))
        if unbiased:
            total += xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2 * xy / (n * m)
        else:
            total += xx / n ** 2 + yy / m ** 2 - 2 * xy / (n * m)
    return total


@pytest.mark.parametrize("bandwidths", [[1.0], [2, 5, 10, 20, 40, 60], [0.3, 7.0, 80.0]])
@pytest.mark.parametrize("unbiased", [False, True])
def test_unbatched_matches_brute_force(bandwidths, unbiased):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64) * 2
    y = torch.randn(4, 5, generator=g, dtype=torch.float64) * 2 + 1
    got = mmd2(x, y, bandwidths, unbiased=unbiased)
    assert got.shape == ()
    assert got.item() == pytest.approx(brute_mmd2(x, y, bandwidths, unbiased), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("unbiased", [False, True])
def test_batched_matches_brute_force_per_entry(unbiased):
    g = torch.Generator().manual_seed(2)
    bandwidths = [2, 5, 10, 20, 40, 80]
    x = torch.randn(3, 6, 4, generator=g, dtype=torch.float64) * 3
    y = torch.randn(3, 5, 4, generator=g, dtype=torch.float64) * 3 + torch.tensor([0.0, 2.0, 5.0])[:, None, None]
    got = mmd2(x, y, bandwidths, unbiased=unbiased)
    assert got.shape == (3,)
    want = [brute_mmd2(x[b], y[b], bandwidths, unbiased) for b in range(3)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    per_kernel = mmd2(x, y, bandwidths, unbiased=unbiased, per_kernel=True)
    assert per_kernel.shape == (3, 6)
    for k, s in enumerate(bandwidths):
        np.testing.assert_allclose(per_kernel[:, k].numpy(),
                                   [brute_mmd2(x[b], y[b], [s], unbiased) for b in range(3)], rtol=1e-10, atol=1e-12)


def test_float32_close_to_float64():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 32, 64, generator=g) * 3  # post-ReLU-like, large norms
    y = torch.rand(4, 32, 64, generator=g) * 3 + 0.2
    np.testing.assert_allclose(mmd2(x, y, CODE_BANDWIDTHS).numpy(),
                               mmd2(x.double(), y.double(), CODE_BANDWIDTHS).numpy(), rtol=1e-3, atol=1e-5)


def test_loss_is_sqrt_of_biased_sum_and_reductions():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(5, 8, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 9, 3, generator=g, dtype=torch.float64) + 1
    per_class = torch.tensor([math.sqrt(brute_mmd2(x[b], y[b], PAPER_BANDWIDTHS)) for b in range(5)],
                             dtype=torch.float64)
    torch.testing.assert_close(mmd_loss(x, y, PAPER_BANDWIDTHS, "none"), per_class)
    torch.testing.assert_close(mmd_loss(x, y, PAPER_BANDWIDTHS), per_class.mean())
    torch.testing.assert_close(mmd_loss(x, y, PAPER_BANDWIDTHS, "sum"), per_class.sum())
    assert mmd_loss(x[0], y[0], PAPER_BANDWIDTHS).shape == ()
    with pytest.raises(ValueError):
        mmd_loss(x, y, PAPER_BANDWIDTHS, "max")


def test_identical_sets_give_zero_and_a_finite_gradient():
    x = torch.randn(2, 10, 6, dtype=torch.float64, requires_grad=True)
    assert mmd2(x, x.detach(), [1.0, 4.0]).abs().max().item() < 1e-12  # biased: exactly the same set -> 0
    loss = mmd_loss(x, x.detach().clone(), [1.0, 4.0])
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_same_distribution_biased_positive_unbiased_centred():
    """Independent samples of ONE distribution: the biased MMD^2 is > 0, the unbiased one ~ 0."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(400, 16, 3, generator=g, dtype=torch.float64)  # 400 independent pairs of samples
    y = torch.randn(400, 16, 3, generator=g, dtype=torch.float64)
    biased, unbiased = mmd2(x, y, [1.0, 3.0]), mmd2(x, y, [1.0, 3.0], unbiased=True)
    assert (biased > 0).all()
    assert (unbiased < 0).any()
    assert abs(unbiased.mean().item()) < 4 * unbiased.std().item() / math.sqrt(400)
    shifted = mmd2(x, y + 2.0, [1.0, 3.0], unbiased=True)
    assert shifted.mean() > 20 * abs(unbiased.mean())


def naive_mmd2(x, y, bandwidths):
    """Differentiable reference from explicit differences (no matmul expansion, no in-place ops)."""
    def mean_kernel(a, b):
        d2 = ((a.unsqueeze(-2) - b.unsqueeze(-3)) ** 2).sum(-1)
        return sum(torch.exp(-d2 / (2 * s)).mean((-2, -1)) for s in bandwidths)
    return mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y)


def test_gradients_match_a_naive_implementation():
    g = torch.Generator().manual_seed(8)
    x = (torch.randn(3, 9, 5, generator=g, dtype=torch.float64) * 2).requires_grad_()
    y = (torch.randn(3, 7, 5, generator=g, dtype=torch.float64) * 2 + 1).requires_grad_()
    bandwidths = [1.0, 5.0, 20.0]
    fast = torch.autograd.grad(mmd_loss(x, y, bandwidths), (x, y))
    slow = torch.autograd.grad(naive_mmd2(x, y, bandwidths).clamp_min(0).sqrt().mean(), (x, y))
    for f, s in zip(fast, slow):
        torch.testing.assert_close(f, s)
    for unbiased in (False, True):
        assert torch.autograd.gradcheck(lambda a, b: mmd2(a, b, bandwidths, unbiased=unbiased),
                                        (x[:1, :4], y[:1, :3]))
        assert torch.autograd.gradcheck(lambda a, b: mmd2(a, b, bandwidths, unbiased=unbiased, per_kernel=True),
                                        (x[0, :4], y[0, :3]))


def test_ragged_loss_is_the_mean_over_groups_of_each_groups_loss():
    """Groups of 1, 3 and 2 rows (paired x and y) against a loop over groups: the brute-force double
    sum per group, then sqrt and mean; gradients against the loop of `mmd_loss`."""
    g = torch.Generator().manual_seed(3)
    counts = [1, 3, 2]
    x = (torch.randn(6, 4, generator=g, dtype=torch.float64) * 2).requires_grad_()
    y = (torch.randn(6, 4, generator=g, dtype=torch.float64) * 2 + 1).requires_grad_()
    bandwidths = [1.0, 5.0, 20.0]
    bounds = np.cumsum([0] + counts)
    groups = list(zip(bounds[:-1], bounds[1:]))
    by_hand = np.mean([math.sqrt(max(0.0, brute_mmd2(x[a:b].detach(), y[a:b].detach(), bandwidths)))
                       for a, b in groups])
    ragged = ragged_mmd_loss(x, y, counts, bandwidths)
    assert ragged.item() == pytest.approx(by_hand, rel=1e-10)
    looped = torch.stack([mmd_loss(x[a:b], y[a:b], bandwidths) for a, b in groups]).mean()
    for f, s in zip(torch.autograd.grad(ragged, (x, y)), torch.autograd.grad(looped, (x, y))):
        torch.testing.assert_close(f, s)
    assert ragged_mmd_loss(x.detach(), y.detach(), [6], bandwidths).item() == pytest.approx(
        mmd_loss(x.detach(), y.detach(), bandwidths).item(), rel=1e-10)
    with pytest.raises(ValueError, match="counts"):
        ragged_mmd_loss(x, y, [2, 3], bandwidths)
    with pytest.raises(ValueError, match="counts"):
        ragged_mmd_loss(x, y, [0, 6], bandwidths)


def test_pairwise_sq_dists():
    g = torch.Generator().manual_seed(6)
    a = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    b = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(pairwise_sq_dists(a, b), torch.cdist(a, b) ** 2)
    within = pairwise_sq_dists(a)
    assert (torch.diagonal(within, dim1=-2, dim2=-1) == 0).all()
    torch.testing.assert_close(within, torch.cdist(a, a) ** 2)


def test_bad_inputs():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError):
        mmd2(x, torch.zeros(3, 4), [1.0])
    with pytest.raises(ValueError):
        mmd2(x, x, [])
    with pytest.raises(ValueError):
        mmd2(x, x, [1.0, -2.0])
    with pytest.raises(ValueError):
        mmd2(x[:1], x, [1.0], unbiased=True)


def test_median_sq_distance_by_hand():
    f = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    # pairs: 1, 4, 9, (1-0)^2+4=5, 4, 9+4=13 -> sorted 1 4 4 5 9 13 -> median (4 + 5) / 2
    assert median_sq_distance(f) == pytest.approx(4.5)
    assert median_sq_distance(torch.tensor(f[:3], dtype=torch.float32)) == pytest.approx(4.0)


def test_relative_bandwidths_are_the_list_times_the_median():
    rng = np.random.default_rng(7)
    f = rng.normal(size=(50, 8)) * 3
    median = median_sq_distance(f)
    d2 = [((f[i] - f[j]) ** 2).sum() for i in range(50) for j in range(i + 1, 50)]
    assert median == pytest.approx(float(np.median(d2)))
    assert resolve_bandwidths("relative", None, median) == pytest.approx([r * median for r in RELATIVE_BANDWIDTHS])
    assert resolve_bandwidths("relative", [0.5, 2], median) == pytest.approx([0.5 * median, 2 * median])
    assert resolve_bandwidths("authors", None) == list(CODE_BANDWIDTHS)
    assert resolve_bandwidths("authors", [2, 5], 123.0) == [2.0, 5.0]
    assert resolve_bandwidths("paper", None) == [4.0, 25.0, 100.0, 400.0, 1600.0, 3600.0]
    assert resolve_bandwidths("paper", [3]) == [9.0]


def test_the_paper_mode_is_the_printed_kernel():
    """exp(-d^2 / (2 sigma^2)) at sigma = 5 for one pair at distance 5: exp(-1/2)."""
    x, y = torch.zeros(1, 3), torch.tensor([[3.0, 4.0, 0.0]])
    s = resolve_bandwidths("paper", [5.0])
    expected = 2 - 2 * math.exp(-0.5)  # biased MMD^2 of two single points
    assert float(mmd2(x, y, s)) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError):
        resolve_bandwidths("relative", None, None)
    with pytest.raises(ValueError):
        resolve_bandwidths("relative", None, 0.0)
    with pytest.raises(ValueError):
        resolve_bandwidths("scaled", None, 1.0)
