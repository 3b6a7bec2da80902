"""The DeViSE baseline of the paper: DeepLabv3+ regressing word embeddings instead of classes.

The 1x1 classifier becomes a projection to the embedding dimension, trained to maximise the
cosine similarity between a pixel's output and its class embedding (seen classes only); a
pixel's prediction is the class, among ALL classes, whose embedding is the most similar.

Two losses: `RankLoss`, DeViSE's own hinge rank loss (Frome et al. 2013) on cosine
similarities, which asks the pixel's class to beat every other seen class by a margin; and
`CosineLoss`, plain cosine regression, which only pulls the output towards its class: word
vectors share a large common direction, so on data dominated by a few classes it learns that
direction and predicts the class nearest to it. Both are computed at the feature stride (labels
downsampled by nearest neighbour): upsampling 300-channel maps to full resolution costs several
times more on a CPU.
"""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zs3core.models.deeplab import DeepLabV3Plus

VOID = 255


def downsample_mask(masks: Tensor, size: tuple[int, int]) -> Tensor:
    """Nearest-neighbour (cell centres) downsampling of (N, H, W) label maps; void is kept."""
    return F.interpolate(masks[:, None].float(), size=size, mode="nearest-exact")[:, 0].long()


def labelled_pixels(projections: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    """(n, D) projections of the non-void pixels at the feature stride, and their labels."""
    masks = downsample_mask(masks, projections.shape[-2:])
    valid = masks != VOID
    return projections.permute(0, 2, 3, 1)[valid].float(), masks[valid]


def labelled_projections(projections: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    """(n, D) unit-norm projections of the non-void pixels at the feature stride, and their labels."""
    out, labels = labelled_pixels(projections, masks)
    return F.normalize(out, dim=1), labels


class DeviseSegmenter(nn.Module):
    """Wraps a DeepLabV3Plus whose classifier has `embeddings.shape[1]` outputs.

    `forward` returns the stride-4 projections (what the cosine loss reads); `scores` the
    cosine similarity to every class embedding (what evaluation reads).
    """

    def __init__(self, segmenter: DeepLabV3Plus, embeddings: Tensor):
        super().__init__()
        if segmenter.classifier.out_channels != embeddings.shape[1]:
            raise ValueError(f"the projection has {segmenter.classifier.out_channels} outputs but the "
                             f"class embeddings have {embeddings.shape[1]} dimensions")
        self.segmenter = segmenter
        self.register_buffer("embeddings", F.normalize(embeddings.float(), dim=1))

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.segmenter.head_parameters()

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        return self.segmenter.backbone_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.segmenter.classifier(self.segmenter.features(x))

    def scores(self, x: Tensor) -> Tensor:
        """(N, C, h, w) cosine similarity of each pixel's projection to each class embedding."""
        return torch.einsum("ndhw,cd->nchw", F.normalize(self(x), dim=1), self.embeddings)


class CosineLoss(nn.Module):
    """Mean (1 - cosine) between each non-void pixel's projection and its class embedding."""

    def __init__(self, embeddings: Tensor):
        super().__init__()
        self.register_buffer("embeddings", F.normalize(embeddings.float(), dim=1))

    def forward(self, projections: Tensor, masks: Tensor) -> Tensor:
        out, labels = labelled_projections(projections, masks)
        cosine = (out * self.embeddings[labels]).sum(1)
        return (1 - cosine).sum() / max(len(labels), 1)  # a batch of void pixels only gives 0


class SeenClassHinges(nn.Module):
    """The hinge terms of a ranking loss over the seen classes: for a pixel with class y and
    scores s (one per seen class), max(0, margin - s_y + s_j) for every other seen class j.

    Only the seen classes' (unit-norm) embeddings take part: unseen classes are never targets
    nor negatives.
    """

    def __init__(self, embeddings: Tensor, seen_ids, margin: float):
        super().__init__()
        seen_ids = torch.as_tensor(list(seen_ids), dtype=torch.long)
        position = torch.full((VOID + 1,), -1, dtype=torch.long)
        position[seen_ids] = torch.arange(len(seen_ids))
        self.register_buffer("seen_embeddings", F.normalize(embeddings.float(), dim=1)[seen_ids])
        self.register_buffer("position", position)  # class id -> its column among the seen
        self.margin = float(margin)

    def hinges(self, out: Tensor, labels: Tensor) -> Tensor:
        """(pixels, seen classes) hinge terms of the (n, D) outputs `out`, scored by their inner
        product with the seen embeddings; 0 in each pixel's own class column."""
        target = self.position[labels]
        if (target < 0).any():
            raise ValueError(f"labels {labels[target < 0].unique().tolist()} are not seen classes: "
                             f"the rank loss must never see an unseen class")
        scores = out @ self.seen_embeddings.T  # (pixels, seen classes)
        hinge = (self.margin - scores.gather(1, target[:, None]) + scores).clamp(min=0)
        return hinge.scatter(1, target[:, None], 0.0)  # no term for the pixel's own class


class RankLoss(SeenClassHinges):
    """DeViSE's hinge rank loss: per non-void pixel with class y and output v, the sum over the
    other seen classes j of max(0, margin - cos(v, e_y) + cos(v, e_j)), averaged over pixels."""

    def __init__(self, embeddings: Tensor, seen_ids, margin: float = 0.1):
        super().__init__(embeddings, seen_ids, margin)

    def forward(self, projections: Tensor, masks: Tensor) -> Tensor:
        out, labels = labelled_projections(projections, masks)
        return self.hinges(out, labels).sum() / max(len(labels), 1)  # a batch of void pixels only gives 0
