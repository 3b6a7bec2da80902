"""The ALE baseline: its ranking weights and loss against a brute-force reference, its bilinear
scores, and a tiny training run that separates two classes."""
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from zs3core.models.ale import ALELoss, ALESegmenter, rank_weights
from zs3core.models.deeplab import DeepLabV3Plus
from zs3core.models.devise import DeviseSegmenter

TINY = dict(backbone="resnet_tiny", aspp_channels=8, feature_dim=8, low_level_channels=4, aspp_rates=(1, 2, 3))


def test_rank_weights_are_harmonic_numbers_over_the_rank():
    # beta_r / r with beta_r = 1 + 1/2 + ... + 1/r, by exact fractions
    want = [0.0] + [float(sum(Fraction(1, k) for k in range(1, r + 1)) / r) for r in range(1, 8)]
    torch.testing.assert_close(rank_weights(7), torch.tensor(want))
    assert rank_weights(3).tolist()[:3] == [0.0, 1.0, 0.75]


def brute_force_loss(out, labels, emb, seen, margin):
    """Per pixel: enumerate the other seen classes one by one, count the violators r, weight the
    sum of hinges by (1 + ... + 1/r) / r; mean over pixels. Also the gradient of that loss with
    respect to `out`, by hand: weight * sum over violators of (e_j - e_y), over the pixel count."""
    unit = [[float(v) for v in F.normalize(e, dim=0)] for e in emb]

    def dot(v, e):
        return sum(a * b for a, b in zip(v, e))

    total, grads = 0.0, []
    for v, y in zip(out.tolist(), labels.tolist()):
        hinges = {j: max(0.0, margin + dot(v, unit[j]) - dot(v, unit[y])) for j in seen if j != y}
        violators = [j for j, h in hinges.items() if h > 0]
        r = len(violators)
        weight = sum(1 / k for k in range(1, r + 1)) / r if r else 0.0
        total += weight * sum(hinges.values())
        grads.append([weight * sum(unit[j][d] - unit[y][d] for j in violators) for d in range(len(v))])
    n = len(labels)
    return total / n, torch.tensor(grads) / n


@pytest.mark.parametrize("seed", range(5))
def test_loss_and_gradient_match_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(6, 4, generator=g) * 3  # not unit norm: the loss normalises the embeddings
    seen = [0, 1, 2, 4]  # 3 and 5 unseen: never targets nor negatives
    out = torch.randn(1, 4, 3, 3, generator=g) * 2
    masks = torch.tensor(seen)[torch.randint(0, 4, (1, 3, 3), generator=g)]
    masks[0, 1, 1] = 255  # void: no term
    out.requires_grad_(True)
    loss = ALELoss(emb, seen, margin=1.0)(out, masks)
    loss.backward()

    valid = masks[0] != 255
    pixels = out.detach()[0].permute(1, 2, 0)[valid]
    want, want_grad = brute_force_loss(pixels, masks[0][valid], emb, seen, 1.0)
    assert loss.item() == pytest.approx(want, rel=1e-5)
    got_grad = out.grad[0].permute(1, 2, 0)[valid]
    torch.testing.assert_close(got_grad, want_grad.float(), rtol=1e-5, atol=1e-6)
    assert out.grad[0, :, 1, 1].abs().sum() == 0  # the void pixel


def test_ranks_cover_every_count_of_violators():
    """One pixel per possible rank r = 0..3 among 4 seen classes (orthonormal embeddings, so a
    pixel's output is its scores), hinges chosen by hand: the loss is the mean over pixels of
    beta_r / r times the sum of that pixel's hinges."""
    emb = torch.eye(4)
    # every pixel is of class 0, which scores 2; another class violates when it scores above 1
    rows = [[2.0, 0.0, 0.0, 0.0],   # r = 0
            [2.0, 1.0, 0.0, 0.0],   # r = 0: a tie at the margin is no violation
            [2.0, 1.5, 0.0, 0.0],   # r = 1: hinge 0.5
            [2.0, 1.5, 1.25, 0.0],  # r = 2: hinges 0.5, 0.25
            [2.0, 3.0, 1.5, 1.5]]   # r = 3: hinges 2, 0.5, 0.5
    out = torch.tensor(rows).T.reshape(1, 4, 1, 5)
    masks = torch.zeros(1, 1, 5, dtype=torch.long)
    loss = ALELoss(emb, range(4), margin=1.0)(out, masks)
    want = (0 + 0 + 1 * 0.5 + (1.5 / 2) * 0.75 + (11 / 6 / 3) * 3.0) / 5
    assert loss.item() == pytest.approx(want)


def test_loss_is_zero_when_the_class_wins_every_comparison_by_the_margin():
    emb = torch.eye(3)
    loss = ALELoss(emb, [0, 1, 2], margin=1.0)
    for y in range(3):
        out = 1.01 * F.one_hot(torch.tensor(y), 3).float().view(1, 3, 1, 1)
        assert loss(out, torch.tensor([[[y]]])) == 0
        # the same output labelled otherwise: hinges 1 + 1.01 (class y) and 1 (the third), r = 2
        wrong = (y + 1) % 3
        assert loss(out, torch.tensor([[[wrong]]])).item() == pytest.approx(0.75 * 3.01)
    out = 0.99 * F.one_hot(torch.tensor(0), 3).float().view(1, 3, 1, 1)  # wins by less than the margin
    assert loss(out, torch.tensor([[[0]]])).item() == pytest.approx(0.75 * 2 * 0.01, rel=1e-4)


def test_unseen_classes_are_refused_and_never_negatives():
    emb = torch.eye(3)
    loss = ALELoss(emb, seen_ids=[0, 1], margin=1.0)
    with pytest.raises(ValueError, match="not seen classes"):
        loss(torch.ones(1, 3, 1, 1), torch.tensor([[[2]]]))
    out = torch.tensor([2.0, 0.0, 50.0]).view(1, 3, 1, 1)  # the unseen class 2 scores far higher
    assert loss(out, torch.tensor([[[0]]])) == 0


def test_scores_are_the_unnormalised_bilinear_compatibility_and_rank_like_the_cosine():
    torch.manual_seed(0)
    emb = torch.randn(5, 6)
    segmenter = DeepLabV3Plus(6, **TINY)
    ale = ALESegmenter(segmenter, emb).eval()
    x = torch.randn(1, 3, 32, 32)
    scores = ale.scores(x)
    want = torch.einsum("ndhw,cd->nchw", ale(x), F.normalize(emb, dim=1))
    torch.testing.assert_close(scores, want)
    cosine = DeviseSegmenter(segmenter, emb).eval().scores(x)
    assert not torch.allclose(scores, cosine)
    assert torch.equal(scores.argmax(1), cosine.argmax(1))


def test_a_tiny_bilinear_model_learns_to_separate_two_classes():
    """Two seen classes whose pixel features are two Gaussian blobs; W (a 1x1 projection to 3
    embedding dimensions) starts at random and is trained by SGD on the ALE loss alone. A third,
    unseen class stays out of training. Afterwards every pixel ranks its class first among the
    seen by the margin (loss 0), and the scores separate held-out pixels too."""
    g = torch.Generator().manual_seed(0)
    emb = torch.tensor([[1.0, 0.2, 0.0], [0.3, 1.0, 0.1], [0.0, 0.0, 1.0]])

    def batch(n):
        labels = torch.randint(0, 2, (1, 1, n), generator=g)
        centres = torch.tensor([[2.0, -1.0], [-1.0, 2.0]])
        feats = centres[labels[0, 0]] + 0.5 * torch.randn(n, 2, generator=g)
        return feats.T.reshape(1, 2, 1, n), labels

    torch.manual_seed(0)
    head = torch.nn.Conv2d(2, 3, 1)
    loss_fn = ALELoss(emb, seen_ids=[0, 1], margin=1.0)
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    feats, labels = batch(200)
    first = loss_fn(head(feats), labels).item()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(head(feats), labels)
        loss.backward()
        opt.step()
    assert first > 0.5 and loss.item() < 0.01 * first
    test_feats, test_labels = batch(200)
    seen_scores = torch.einsum("ndhw,cd->nchw", head(test_feats), F.normalize(emb, dim=1))[:, :2]
    accuracy = (seen_scores.argmax(1) == test_labels).float().mean().item()
    assert accuracy > 0.97
