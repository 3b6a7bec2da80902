"""The classifier file (`classifiers/{dataset}/k{K}/{method}.pt`): its layout, written and read
here alone, and what reads it back: the retrained 1x1 classifier on the frozen segmenter's
features (`classifier_scorer`) and the calibrations its results rows report (`calibration_rows`).

Written by step 2 (`zs3core.retrain`) and ZS5Net's `finetune` mode (`zs3core.train.finetune`);
read by the evaluation, the pseudo-labelling and the predictions.
"""
from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch

from zs3core.checkpoints import load_checkpoint, save_checkpoint


def save_classifier(out_path, weight: torch.Tensor, bias: torch.Tensor, gammas: dict[str, float], rule: str,
                    sweep, class_names: Sequence[str], unseen: Sequence[str], method: str,
                    decoder: dict[str, torch.Tensor] | None = None, provenance: dict | None = None) -> dict:
    """Write a classifier file atomically and return its state: the (C, D) weight and (C,) bias of
    the 1x1 classifier, the gamma of each calibration rule and the applied one (`rule`), the
    sweep that chose the rate rule's, (ZS5Net's fine-tune mode) the fine-tuned decoder, and
    `provenance`: columns its results rows take from the classifier (ZS5Net's p and its rule,
    which under `selftrain.p: cv` only the job knows)."""
    state = {"weight": weight.detach().clone(), "bias": bias.detach().clone(),
             "gamma": gammas[rule], "gamma_rule": rule, "gammas": gammas, "gamma_sweep": sweep,
             "class_names": list(class_names), "unseen": list(unseen), "method": method}
    if provenance:
        state["provenance"] = dict(provenance)
    if decoder is not None:
        state["decoder"] = {k: v.detach().clone() for k, v in decoder.items()}
    save_checkpoint(out_path, state)
    return state


def load_classifier(path) -> dict:
    """A retrained classifier: weight (C, D), bias (C,), gamma and its record."""
    return load_checkpoint(path, rebuild_hint=str(path))


def classifier_scorer(segmenter, state: dict) -> Callable[[torch.Tensor], torch.Tensor]:
    """Raw logits of the frozen segmenter with the retrained 1x1 classifier (and, for ZS5Net's
    fine-tune mode, its fine-tuned decoder in place of the seen-only one)."""
    if "decoder" in state:
        segmenter = copy.deepcopy(segmenter)
        segmenter.decoder.load_state_dict(state["decoder"])
    weight = state["weight"][:, :, None, None]
    bias = state["bias"]

    def score(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(segmenter.features(x), weight.to(x.device), bias.to(x.device))

    return score


def calibration_rows(state: dict) -> tuple[dict[str, float], dict[str, dict]]:
    """The results rows of a classifier: `raw` (gamma 0), `calibrated` (its applied gamma) and
    `calibrated_<rule>` for each other rule it knows (for comparison only: the tables and claims
    read `raw` and `calibrated`), with the `gamma_rule` column of each. A classifier from before
    the cross-validation knows only the rate rule (ZS5Net's fine-tuned one, too, says so)."""
    applied = state.get("gamma_rule", "rate")
    calibrations = {"raw": 0.0, "calibrated": float(state["gamma"])}
    row_meta = {"raw": {"gamma_rule": "none"}, "calibrated": {"gamma_rule": applied}}
    for rule, gamma in state.get("gammas", {}).items():
        if rule != applied:
            calibrations[f"calibrated_{rule}"] = float(gamma)
            row_meta[f"calibrated_{rule}"] = {"gamma_rule": rule}
    return calibrations, row_meta
