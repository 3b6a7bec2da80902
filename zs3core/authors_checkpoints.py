"""The authors' DeepLab files -> this project's DeepLabV3Plus, through an explicit, strictly checked key map.

What their files hold (from the code that wrote them, valeoai/ZS3; names in `zs3core.authors`):
- a pickled dict {epoch, state_dict, optimizer, best_pred}; `best_pred` is a numpy float64, tensors
  were saved on CUDA. Read with `weights_only=True`, numpy float64 scalars allow-listed, on the CPU.
- `state_dict`: 680 tensors (567 without `num_batches_tracked`), no `module.` prefix, every conv
  bias-free except `decoder.pred_conv` (C = 21 VOC, 60 Context):
  - `backbone.*` (624): torchvision's resnet101 names and shapes minus `fc` (layer4 dilated 2/4/8);
  - `aspp.*` (36): `aspp{1..4}.atrous_conv` (256,2048,1|3,3) + `.bn`, rates 1/6/12/18; image pooling
    `global_avg_pool.1` conv (256,2048,1,1) + `.2` BN; `conv1` (256,1280,1,1) + `bn1`;
  - `decoder.*` (20): `conv1` (48,256,1,1) + `bn1` on layer1; `last_conv.{0,1,4,5}` two 3x3 convs
    (256,304|256,3,3) + BN; `pred_conv` (C,256,1,1) + bias.
- Stage-2 finals have the same keys (a retrained `pred_conv`, drifted batch-norm statistics).

Our DeepLabV3Plus computes the same network (`segmenter.architecture: authors`); only module names
differ (`MODULE_MAP`), and Context's output channels come in their class order (`authors.CLASSES`),
which the classifier rows are permuted from, by name.
"""
from __future__ import annotations

import logging
import os
from typing import Mapping, Sequence

import torch
from torch import Tensor

from zs3core.authors import CLASSES, split_problems
from zs3core.checkpoints import load_checkpoint, save_checkpoint
from zs3core.models.deeplab import DeepLabV3Plus, build_segmenter

# Their module -> ours; a tensor `<their module>.<name>` becomes `<our module>.<name>`.
MODULE_MAP = {
    "backbone": "backbone",  # torchvision ResNet names on both sides
    "aspp.aspp1.atrous_conv": "aspp.convs.0.0", "aspp.aspp1.bn": "aspp.convs.0.1",
    "aspp.aspp2.atrous_conv": "aspp.convs.1.0", "aspp.aspp2.bn": "aspp.convs.1.1",
    "aspp.aspp3.atrous_conv": "aspp.convs.2.0", "aspp.aspp3.bn": "aspp.convs.2.1",
    "aspp.aspp4.atrous_conv": "aspp.convs.3.0", "aspp.aspp4.bn": "aspp.convs.3.1",
    "aspp.global_avg_pool.1": "aspp.pool.1", "aspp.global_avg_pool.2": "aspp.pool.2",
    "aspp.conv1": "aspp.project.0", "aspp.bn1": "aspp.project.1",
    "decoder.conv1": "decoder.low.0", "decoder.bn1": "decoder.low.1",
    "decoder.last_conv.0": "decoder.convs.0", "decoder.last_conv.1": "decoder.convs.1",
    "decoder.last_conv.4": "decoder.convs.4", "decoder.last_conv.5": "decoder.convs.5",
    "decoder.pred_conv": "classifier",
}
BATCHES_TRACKED = "num_batches_tracked"


def rename(key: str, module_map: Mapping[str, str]) -> str | None:
    """`key` under the map's target names, None when no module of the map holds it."""
    for source, target in module_map.items():
        if key.startswith(source + "."):
            return target + key[len(source):]
    return None


def convert_state_dict(theirs: Mapping[str, Tensor], expected: Mapping[str, Tensor], source) -> dict[str, Tensor]:
    """Their state dict under our names, checked against `expected` (the target model's state dict):
    every tensor mapped, shapes equal, nothing left over, or a ValueError naming `source` and listing
    the offending keys. A file without any `num_batches_tracked` (older torch) gets zeros for them."""
    unmapped = [k for k in theirs if rename(k, MODULE_MAP) not in expected]
    not_tensors = [k for k, v in theirs.items() if not isinstance(v, Tensor)]
    ours = {rename(k, MODULE_MAP): v for k, v in theirs.items() if k not in unmapped and k not in not_tensors}
    if not any(k.endswith(BATCHES_TRACKED) for k in theirs):
        ours.update({k: torch.zeros_like(v) for k, v in expected.items() if k.endswith(BATCHES_TRACKED)})
    inverse = {v: k for k, v in MODULE_MAP.items()}
    missing = [rename(k, inverse) for k in expected if k not in ours]
    wrong = [f"{rename(k, inverse)} {tuple(v.shape)} (expected {tuple(expected[k].shape)})"
             for k, v in ours.items() if v.shape != expected[k].shape]
    if unmapped or not_tensors or missing or wrong:
        raise ValueError(f"{source} does not have the layout of the authors' DeepLabv3+ "
                         f"({len(expected)} tensors expected): unmapped keys {unmapped}, non-tensor "
                         f"entries {not_tensors}, missing keys {missing}, wrong shapes {wrong}")
    return {k: ours[k].detach().to("cpu", expected[k].dtype) for k in expected}


def to_class_order(state: dict[str, Tensor], theirs: Sequence[str], ours: Sequence[str], source) -> dict[str, Tensor]:
    """Permute the classifier's rows from their class order to ours, by name."""
    if sorted(theirs) != sorted(ours):
        raise ValueError(f"{source}: its classes {list(theirs)} are not, by name, the config's {list(ours)}")
    rows = torch.tensor([list(theirs).index(name) for name in ours])
    return {**state, "classifier.weight": state["classifier.weight"][rows],
            "classifier.bias": state["classifier.bias"][rows]}


def load_authors_state(path, class_names: Sequence[str], fmt: str, model: DeepLabV3Plus) -> tuple[dict, dict]:
    """(state dict for `model` in our names and class order, meta) of one of their DeepLab files."""
    checkpoint = load_checkpoint(path, foreign=True)
    if not isinstance(checkpoint.get("state_dict"), Mapping):
        raise ValueError(f"{path} has no 'state_dict' dict (entries: {sorted(checkpoint)}): not one of the "
                         f"authors' DeepLab files")
    state = convert_state_dict(checkpoint["state_dict"], model.state_dict(), path)
    state = to_class_order(state, CLASSES[fmt], class_names, path)
    meta = {"converted_from": os.fspath(path), "authors_epoch": int(checkpoint.get("epoch", -1)),
            "authors_best_pred": float(checkpoint.get("best_pred", float("nan")))}
    return state, meta


def check_split(path, dataset: str, fmt: str, k, class_names: Sequence[str], unseen: Sequence[str]) -> None:
    """The file of their split K stands for the config's split K only with the same classes unseen."""
    problems = split_problems(fmt, k, list(unseen), list(class_names), f"datasets.{dataset}")
    if problems:
        raise ValueError(f"{path} cannot stand for {dataset} K={k}: " + "; ".join(problems))


def authors_segmenter(path, *, dataset: str, fmt: str, k, class_names: Sequence[str],
                      unseen: Sequence[str]) -> DeepLabV3Plus:
    """One of their DeepLab files (a stage-2 final, say) as our network, in eval mode."""
    check_split(path, dataset, fmt, k, class_names, unseen)
    model = build_segmenter(len(class_names), {"architecture": "authors", "init": "none"})
    state, _ = load_authors_state(path, class_names, fmt, model)
    model.load_state_dict(state)
    return model.eval()


def convert_step0(path, out_path, *, dataset: str, fmt: str, k, class_names: Sequence[str], unseen: Sequence[str],
                  seg_cfg: dict, log: logging.Logger | None = None) -> None:
    """Their stage-1 file of split K -> a seen-only checkpoint `load_step0` reads like a trained one.

    `seg_cfg` (the dataset's segmenter section) must build their network (`architecture: authors`);
    the converted weights are loaded into it strictly before the file is written, atomically."""
    if seg_cfg.get("architecture") != "authors":
        raise ValueError(f"converting {path} needs segmenter.architecture 'authors' (their network), "
                         f"got {seg_cfg.get('architecture', 'deeplabv3plus')!r}")
    check_split(path, dataset, fmt, k, class_names, unseen)
    model = build_segmenter(len(class_names), {**seg_cfg, "init": "none"})
    state, meta = load_authors_state(path, class_names, fmt, model)
    model.load_state_dict(state)
    save_checkpoint(out_path, {"model": state, "meta": meta})
    if log:
        log.info("converted %s (their epoch %d, best_pred %.4f) -> %s", path, meta["authors_epoch"],
                 meta["authors_best_pred"], out_path)
