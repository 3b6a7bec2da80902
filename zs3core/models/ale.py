"""The ALE baseline (Akata et al., "Label-Embedding for Image Classification", TPAMI 2015),
adapted to pixels: the comparison the paper reports at K = 2 on VOC, in the text beside Table 1.

ALE scores an input x against a class y with a bilinear compatibility F(x, y) = theta(x)^T W
phi(y). Here theta(x) is a pixel's DeepLabv3+ feature, W the 1x1 projection to the embedding
space that the DeViSE baseline also has (its bias adds b^T phi(y), the same as a constant 1
appended to theta(x)), and phi(y) the class's word embedding, l2-normalised as ALE normalises
its class embeddings. So the network is `DeviseSegmenter`'s; only the score and the loss differ.

**Unnormalised compatibility.** F is ALE's own: the pixel's projection is not normalised, as
it is in the DeViSE baseline's cosine. ALE's margin is Delta = 1 (its 0/1 loss between labels; `ale.margin`),
which cosine scores in [-1, 1] could hardly meet between related classes; with F unnormalised
the network meets a fixed margin by growing W, which the segmenter's weight decay holds back
(ALE, on fixed features, stopped early instead of regularising). Predicting the class with the
largest F at a pixel picks the same class as the largest cosine (the two differ by the pixel's
positive norm |W^T theta(x)|), so only training and the interpolation of score maps to full
resolution differ from a cosine scorer.

**The weighted approximate ranking objective** (ALE's ranking objective, after WSABIE, Weston
et al. 2011): for a pixel with class y, let l(y') = Delta + F(x, y') - F(x, y) for each other
seen class y', and r the number of y' with l(y') > 0 (an upper bound of y's rank). The loss is

    beta_r / r * sum_{y'} max(0, l(y')),   beta_r = sum_{k=1..r} alpha_k,   alpha_k = 1 / k,

taken as 0 when r = 0, averaged over the non-void pixels. beta_r / r times the sum is beta_r
times the mean violation: the loss grows like log r rather than like r (the DeViSE rank loss's
plain sum), which puts the weight on the top of the ranking, as ALE chooses alpha_k = 1/k to
do. beta_r / r is piecewise constant in the scores, so the gradient flows through the hinge
terms only. ALE's SGD estimates r by drawing labels until a violator turns up (r ~ (|Y| - 1)
/ draws); with a few dozen seen classes at most (58 of Pascal-Context's 60 at K = 2) this
module counts r exactly over all seen classes instead, at the cost of one (pixels x seen
classes) score matrix, which the DeViSE rank loss computes anyway.

Unseen classes never take part in training (neither targets nor negatives); evaluation scores
every class, seen and unseen, by F.
"""
from __future__ import annotations

import torch
from torch import Tensor

from zs3core.models.devise import DeviseSegmenter, SeenClassHinges, labelled_pixels


def rank_weights(max_rank: int) -> Tensor:
    """(max_rank + 1,) beta_r / r for r = 0 .. max_rank, with beta_r = sum_{k<=r} 1/k; 0 at r = 0."""
    r = torch.arange(1, max_rank + 1, dtype=torch.float64)
    return torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(1 / r, 0) / r]).float()


class ALESegmenter(DeviseSegmenter):
    """The DeViSE network scored by ALE's bilinear compatibility instead of the cosine."""

    def scores(self, x: Tensor) -> Tensor:
        """(N, C, h, w) F(x, y) = <W^T theta(x), phi(y)> of each pixel with every class."""
        return torch.einsum("ndhw,cd->nchw", self(x), self.embeddings)


class ALELoss(SeenClassHinges):
    """ALE's weighted approximate ranking loss over the seen classes (module docstring), on the
    unnormalised compatibility F, with the exact rank of each pixel's class."""

    def __init__(self, embeddings: Tensor, seen_ids, margin: float = 1.0):
        super().__init__(embeddings, seen_ids, margin)
        self.register_buffer("weights", rank_weights(len(self.seen_embeddings) - 1))

    def forward(self, projections: Tensor, masks: Tensor) -> Tensor:
        out, labels = labelled_pixels(projections, masks)
        hinge = self.hinges(out, labels)
        violators = (hinge > 0).sum(1)  # r per pixel: a count, no gradient
        return (self.weights[violators] * hinge.sum(1)).sum() / max(len(labels), 1)
