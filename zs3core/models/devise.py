"""The DeViSE baseline of the paper: DeepLabv3+ regressing word embeddings instead of classes.

The 1x1 classifier becomes a projection to the embedding dimension, trained to maximise the
cosine similarity between a pixel's output and its class embedding (seen classes only); a
pixel's prediction is the class, among ALL classes, whose embedding is the most similar.
The loss is computed at the feature stride (labels downsampled by nearest neighbour):
upsampling 300-channel maps to full resolution costs several times more on a CPU.
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
        masks = downsample_mask(masks, projections.shape[-2:])
        valid = masks != VOID
        out = F.normalize(projections.permute(0, 2, 3, 1)[valid].float(), dim=1)
        cosine = (out * self.embeddings[masks[valid]]).sum(1)
        return (1 - cosine).sum() / valid.sum().clamp(min=1)  # a batch of void pixels only gives 0
