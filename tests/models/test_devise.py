"""The DeViSE baseline: cosine loss, prediction by the most similar class embedding."""
import pytest
import torch
import torch.nn.functional as F

from zs3core.models.deeplab import DeepLabV3Plus
from zs3core.models.devise import CosineLoss, DeviseSegmenter, RankLoss, downsample_mask

TINY = dict(backbone="resnet_tiny", aspp_channels=8, feature_dim=8, low_level_channels=4, aspp_rates=(1, 2, 3))


def test_cosine_loss_matches_hand_computation():
    emb = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    proj = torch.zeros(1, 2, 1, 3)
    proj[0, :, 0, 0] = torch.tensor([1.0, 0.0])   # class 0: cos 1
    proj[0, :, 0, 1] = torch.tensor([1.0, 1.0])   # class 1: cos 1/sqrt2
    proj[0, :, 0, 2] = torch.tensor([-1.0, 0.0])  # void: not counted
    masks = torch.tensor([[[0, 1, 255]]])
    loss = CosineLoss(emb)(proj, masks)
    assert torch.isclose(loss, torch.tensor((0 + (1 - 2 ** -0.5)) / 2))


def test_loss_is_computed_at_the_feature_stride():
    masks = torch.zeros(1, 8, 8, dtype=torch.long)
    masks[0, :4, :] = 1
    small = downsample_mask(masks, (2, 2))
    assert small.tolist() == [[[1, 1], [0, 0]]]


def test_scores_pick_the_most_similar_class_among_all():
    torch.manual_seed(0)
    emb = torch.randn(5, 6)
    model = DeviseSegmenter(DeepLabV3Plus(6, **TINY), emb).eval()
    x = torch.randn(1, 3, 32, 32)
    scores = model.scores(x)
    assert scores.shape == (1, 5, 8, 8)
    proj = F.normalize(model(x), dim=1)
    want = torch.einsum("ndhw,cd->nchw", proj, F.normalize(emb, dim=1))
    torch.testing.assert_close(scores, want)
    assert scores.abs().max() <= 1 + 1e-5


def test_head_and_backbone_groups_delegate():
    model = DeviseSegmenter(DeepLabV3Plus(6, **TINY), torch.randn(5, 6))
    ids = {id(p) for p in model.head_parameters()} | {id(p) for p in model.backbone_parameters()}
    assert ids == {id(p) for p in model.parameters()}


def test_rank_loss_matches_hand_computation():
    # classes 0, 1, 2 seen, 3 unseen (its embedding must not count as a negative)
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    proj = torch.zeros(1, 2, 1, 3)
    proj[0, :, 0, 0] = torch.tensor([1.0, 0.0])  # class 0: cos to 0, 1, 2 = 1, 0, 1/sqrt2
    proj[0, :, 0, 1] = torch.tensor([1.0, 0.0])  # class 2: same output, cos to its own class 1/sqrt2
    proj[0, :, 0, 2] = torch.tensor([0.0, 1.0])  # void
    masks = torch.tensor([[[0, 2, 255]]])
    loss = RankLoss(emb, seen_ids=[0, 1, 2], margin=0.1)(proj, masks)
    r = 2 ** -0.5
    pixel0 = max(0, 0.1 - 1 + 0) + max(0, 0.1 - 1 + r)           # negatives 1, 2
    pixel1 = max(0, 0.1 - r + 1) + max(0, 0.1 - r + 0)           # negatives 0, 1
    assert torch.isclose(loss, torch.tensor((pixel0 + pixel1) / 2))


def test_rank_loss_refuses_unseen_labels_and_ranks_the_target_first():
    emb = torch.eye(3)
    loss = RankLoss(emb, seen_ids=[0, 1], margin=0.1)
    with pytest.raises(ValueError, match="not seen classes"):
        loss(torch.ones(1, 3, 1, 1), torch.tensor([[[2]]]))
    proj = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)  # pixel of class 0, perfectly ranked
    assert loss(proj, torch.tensor([[[0]]])) == 0
    assert loss(proj, torch.tensor([[[1]]])) > 1  # wrong class first: at least 1 + margin
