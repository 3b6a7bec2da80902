"""ZS5Net's second mode: fine-tune the decoder and the classifier on pseudo-labels + seen labels.

Instead of retraining the 1x1 classifier on stored features (`selftrain.mode: classifier`), the
seen-only segmenter, with the ZS3 classifier in place of its own, trains its decoder and
classifier on two sets: the seen-only training images with their ground truth (which holds no
unseen class) and the pool images with their pseudo-labels (every other pixel void; the pool's
ground truth is never read). The trunk (backbone + ASPP) stays frozen in eval mode, so the
features the generator modelled keep their meaning. A seeded share of the seen-only images is
held out of training; their pixels choose the calibration offset gamma, as for ZS3.

The result is a classifier file like ZS3's (`zs3core.classifiers.save_classifier`; the gamma of
`classifier.calibration.rule`, the cross-validated one being ZS3Net's, as in classifier mode),
with the fine-tuned decoder's weights under `decoder`: `zs3core.classifiers.classifier_scorer`
puts them in place before scoring.
"""
from __future__ import annotations

import copy
import logging
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from zs3core.calibration import calibration_gammas
from zs3core.classifiers import save_classifier
from zs3core.data.dataset import SegmentationDataset, without_classes
from zs3core.data.transforms import EvalTransform
from zs3core.models.deeplab import DeepLabV3Plus
from zs3core.train.segmenter import SegmenterTraining, load_trained, train_segmenter

HELDOUT_PIXELS_PER_IMAGE = 256  # calibration pixels drawn per held-out image


class DecoderFinetune(nn.Module):
    """A segmenter whose backbone and ASPP are frozen in eval mode; decoder and classifier learn
    (the decoder at the base learning rate, the classifier at `head_lr_mult` times it)."""

    def __init__(self, segmenter: DeepLabV3Plus):
        super().__init__()
        self.net = segmenter
        for part in (segmenter.backbone, segmenter.aspp):
            part.requires_grad_(False)

    def train(self, mode: bool = True) -> "DecoderFinetune":
        super().train(mode)
        self.net.backbone.eval()
        self.net.aspp.eval()
        return self

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        return self.net.decoder.parameters()

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.net.classifier.parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def with_classifier(segmenter: DeepLabV3Plus, state: dict) -> DeepLabV3Plus:
    """A copy of the segmenter whose 1x1 classifier is the retrained one in `state` (all classes)."""
    net = copy.deepcopy(segmenter)
    weight = state["weight"]
    net.classifier = nn.Conv2d(weight.shape[1], weight.shape[0], 1)
    with torch.no_grad():
        net.classifier.weight.copy_(weight[:, :, None, None])
        net.classifier.bias.copy_(state["bias"])
    return net


def training_sets(index_csv, pseudo_index_csv, unseen: Sequence[str], train_cfg: dict,
                  holdout: frozenset[str]) -> tuple[torch.utils.data.Dataset, SegmentationDataset]:
    """(seen-only images minus the held-out ones + pseudo-labelled pool images, the held-out
    seen-only images; the pool leaves the hold-out out already, `selftrain.unlabelled_pool`)."""
    # imported here: ZS5Net's default mode (retraining the classifier) imports this module too
    from zs3core.data.augment import train_transform
    transform = train_transform(train_cfg["base_size"], train_cfg["crop_size"], tuple(train_cfg["scale"]))
    seen_only = SegmentationDataset(index_csv, "train", transform, keep=without_classes(unseen))
    heldout = SegmentationDataset(index_csv, "train", EvalTransform(), keep=without_classes(unseen))
    heldout.rows = [r for r in seen_only.rows if r["image_id"] in holdout]
    seen_only.rows = [r for r in seen_only.rows if r["image_id"] not in holdout]
    pool = SegmentationDataset(pseudo_index_csv, "train", transform)
    return torch.utils.data.ConcatDataset([seen_only, pool]), heldout


@torch.no_grad()
def heldout_logits(segmenter: DeepLabV3Plus, images: SegmentationDataset, seed: int) -> torch.Tensor:
    """Classifier logits (N, C) at up to HELDOUT_PIXELS_PER_IMAGE labelled pixels per held-out image."""
    rng = np.random.default_rng([seed, 0x5E1F])
    segmenter.eval()
    rows = []
    for image, mask, _ in images:
        logits = segmenter(image[None])[0].flatten(1)
        labelled = np.flatnonzero(mask.flatten().numpy() != 255)
        pick = rng.choice(labelled, size=min(HELDOUT_PIXELS_PER_IMAGE, labelled.size), replace=False)
        rows.append(logits[:, torch.from_numpy(pick)].T)
    return torch.cat(rows) if rows else torch.empty(0, segmenter.classifier.out_channels)


def finetune_zs5(segmenter: DeepLabV3Plus, zs3_state: dict, index_csv, pseudo_index_csv,
                 class_names: Sequence[str], unseen: Sequence[str], train: SegmenterTraining, seg_train: dict,
                 calibration: dict, holdout: frozenset[str], *, out_path, work_dir, cv_gamma: float | None = None,
                 provenance: dict | None = None, log: logging.Logger | None = None) -> dict:
    """Fine-tune, choose gamma, and write the classifier file (with the decoder and `provenance`,
    `zs3core.classifiers.save_classifier`) to `out_path`. Gamma as every classifier's
    (`zs3core.calibration.calibration_gammas`): the rate rule's on the held-out images, and
    `cv_gamma` (ZS3Net's cross-validated one), applied as `calibration.rule` says."""
    dataset, heldout = training_sets(index_csv, pseudo_index_csv, unseen, seg_train, holdout)
    torch.manual_seed(train.seed)
    model = DecoderFinetune(with_classifier(segmenter, zs3_state))
    weights_path = work_dir / "finetuned.pt"
    train_segmenter(model, dataset, nn.CrossEntropyLoss(ignore_index=255), train, work_dir=work_dir,
                    out_path=weights_path, log=log)
    weights, _ = load_trained(weights_path)
    model.load_state_dict(weights)
    net = model.net.cpu()
    seen_ids = [c for c in range(len(class_names)) if class_names[c] not in set(unseen)]
    gammas, sweep = calibration_gammas(heldout_logits(net, heldout, train.seed), seen_ids, calibration, cv_gamma)
    if log:
        log.info("fine-tuned on %d images; gamma %s, applied: %s", len(dataset), gammas, calibration["rule"])
    state = save_classifier(out_path, net.classifier.weight[:, :, 0, 0], net.classifier.bias, gammas,
                            calibration["rule"], sweep, class_names, unseen, "zs5", decoder=net.decoder.state_dict(), provenance=provenance)
    weights_path.unlink()
    return state
