"""Step 2 of the paper: retrain only the final 1x1 classifier on (real and synthetic) features.

The segmenter's backbone and decoder stay frozen; a 1x1 convolution over a feature map is a
linear layer over its pixel features, so the classifier is trained as an `nn.Linear` on rows
of features and used as the segmenter's `classifier` afterwards. Cross-entropy with a
configurable weight on unseen classes; SGD with momentum and a poly learning-rate decay.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn


@dataclass
class ClassifierTraining:
    """Hyper-parameters of the classifier retraining (from config.yaml `classifier:`)."""
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    unseen_weight: float = 1.0

    @classmethod
    def from_config(cls, section: dict) -> "ClassifierTraining":
        """The training keys of a `classifier:` config section (its other keys are ignored)."""
        return cls(**{k: section[k] for k in cls.__dataclass_fields__})


def class_weights(num_classes: int, unseen_ids: Sequence[int], unseen_weight: float) -> torch.Tensor:
    weights = torch.ones(num_classes)
    weights[list(unseen_ids)] = unseen_weight
    return weights


def fit_classifier(features: np.ndarray, labels: np.ndarray, num_classes: int, unseen_ids: Sequence[int],
                   cfg: ClassifierTraining, *, seed: int, log: logging.Logger | None = None,
                   curve: list[tuple[int, float]] | None = None) -> nn.Linear:
    """A linear classifier (feature_dim -> num_classes) trained on rows of features.

    Deterministic under `seed` on the CPU (initialisation and shuffling use their own generator).
    `curve`, when given, receives (epoch, mean training loss) after each epoch (its loss curve).
    """
    if len(features) != len(labels) or len(features) == 0:
        raise ValueError(f"need as many labels as feature rows (got {len(features)} rows, {len(labels)} labels)")
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    model = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():  # seeded initialisation, independent of the global RNG
        bound = 1 / x.shape[1] ** 0.5
        model.weight.uniform_(-bound, bound, generator=generator)
        model.bias.uniform_(-bound, bound, generator=generator)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(num_classes, unseen_ids, cfg.unseen_weight))
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(x) // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: (1 - it / total) ** cfg.poly_power)
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(x), generator=generator)
        loss_sum = 0.0
        for step in range(steps_per_epoch):
            batch = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            # index_select: the rows x[batch] gives, without advanced indexing's overhead (15% of this loop)
            loss = loss_fn(model(x.index_select(0, batch)), y.index_select(0, batch))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item()
        if curve is not None:
            curve.append((epoch + 1, loss_sum / steps_per_epoch))
        if log:
            log.info("classifier epoch %d/%d  loss %.4f", epoch + 1, cfg.epochs, loss_sum / steps_per_epoch)
    return model.eval()
