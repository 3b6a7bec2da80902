"""ResNet backbones for DeepLabv3+, returning (low-level stride-4, high-level stride-OS) features.

ResNet-50/101 are torchvision's, under torchvision's parameter names, so torchvision and the
authors' ImageNet checkpoints load without a key map (`load_backbone_weights`; the authors' files
with their layout checked strictly, `load_authors_backbone`); torchvision is imported only when one of
them is built or its weights are located. torchvision's basic-block ResNets cannot dilate, hence
`resnet_tiny`: a narrow basic-block ResNet that keeps the CPU default fast, built from this
module's `BasicBlock` (torchvision's, module for module), so that the jobs that only run it do not
pay torchvision's import.

Output stride 16 trades layer4's stride for dilation, 8 also layer3's; every block of a dilated
stage gets the stage's rate (DeepLab's convention; torchvision leaves the first block at the
previous rate), and layer4's block i gets rate * multi_grid[i % len(multi_grid)].
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from zs3core.checkpoints import load_checkpoint
from zs3core.prerequisites import IMAGENET_URLS, imagenet_weights_path

TORCHVISION = ("resnet50", "resnet101")  # torchvision model names
BACKBONES = (*TORCHVISION, "resnet_tiny")
OUTPUT_STRIDES = (8, 16)
# stride-to-dilation swap of layer2..layer4 (torchvision's `replace_stride_with_dilation`)
DILATED_STAGES = {16: (False, False, True), 8: (False, True, True)}
MODULE_NAMES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


def stage_rates(output_stride: int, multi_grid: Sequence[int],
                num_blocks: Sequence[int]) -> list[list[int]]:
    """Dilation rate of every block of layer1..layer4."""
    rates, rate = [[1] * num_blocks[0]], 1
    for dilated, n in zip(DILATED_STAGES[output_stride], num_blocks[1:]):
        rate *= 2 if dilated else 1
        rates.append([rate] * n)
    rates[3] = [rate * multi_grid[i % len(multi_grid)] for i in range(num_blocks[3])]
    return rates


def set_dilation(layer: nn.Sequential, rates: Sequence[int]) -> None:
    """Give each block's 3x3 convolutions its rate, padded to keep the spatial size."""
    for block, rate in zip(layer, rates):
        for conv in block.modules():
            if isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3):
                conv.dilation, conv.padding = (rate, rate), (rate, rate)


class BasicBlock(nn.Module):
    """torchvision's `BasicBlock` (stride on the first 3x3 convolution, optional `downsample` of
    the identity): the same submodules in the same order, so the same state-dict keys and the
    same initial weights from the same seed."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class ResNetFeatures(nn.Module):
    """A ResNet body (torchvision names `conv1` .. `layer4`, no `fc`): x -> (layer1, layer4)."""

    def __init__(self, modules: Mapping[str, nn.Module], low_level_channels: int,
                 out_channels: int, output_stride: int, multi_grid: Sequence[int]):
        super().__init__()
        for name in MODULE_NAMES:
            self.add_module(name, modules[name])
        self.low_level_channels, self.out_channels = low_level_channels, out_channels
        layers = [self.layer1, self.layer2, self.layer3, self.layer4]
        for layer, rates in zip(layers, stage_rates(output_stride, multi_grid, [len(l) for l in layers])):
            set_dilation(layer, rates)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        low = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        return low, self.layer4(self.layer3(self.layer2(low)))


def torchvision_resnet(name: str, output_stride: int, multi_grid: Sequence[int]) -> ResNetFeatures:
    from torchvision.models import get_model
    net = get_model(name, weights=None, replace_stride_with_dilation=list(DILATED_STAGES[output_stride]))
    modules = {n: getattr(net, n) for n in MODULE_NAMES}
    return ResNetFeatures(modules, 256, 2048, output_stride, multi_grid)


def tiny_resnet(output_stride: int, multi_grid: Sequence[int], widths: Sequence[int] = (16, 32, 64, 128),
                blocks: Sequence[int] = (1, 1, 1, 1)) -> ResNetFeatures:
    """Basic-block ResNet: 3x3 stride-2 stem + max-pool (stride 4 like ResNet), then 4 stages."""
    strides = [1] + [1 if dilated else 2 for dilated in DILATED_STAGES[output_stride]]
    modules: dict[str, nn.Module] = {
        "conv1": nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), "bn1": nn.BatchNorm2d(widths[0]),
        "relu": nn.ReLU(inplace=True), "maxpool": nn.MaxPool2d(3, 2, 1)}
    cin = widths[0]
    for i, (width, n, stride) in enumerate(zip(widths, blocks, strides), start=1):
        layer = []
        for b in range(n):
            s = stride if b == 0 else 1
            down = None
            if s != 1 or cin != width:
                down = nn.Sequential(nn.Conv2d(cin, width, 1, s, bias=False), nn.BatchNorm2d(width))
            layer.append(BasicBlock(cin, width, s, down))
            cin = width
        modules[f"layer{i}"] = nn.Sequential(*layer)
    net = ResNetFeatures(modules, widths[0], widths[3], output_stride, multi_grid)
    for m in net.modules():  # torchvision's ResNet initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def imagenet_checkpoint(name: str) -> Path:
    """The torchvision ImageNet checkpoint of `name` in the local torch hub cache, where the DAG's
    check looks (`zs3core.prerequisites.imagenet_weights_path`); never downloads."""
    path = imagenet_weights_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"segmenter.init=imagenet needs {path} (torchvision's {name} ImageNet "
                                f"weights, from {IMAGENET_URLS[name]}); put the file there, nothing is downloaded")
    return path


def load_backbone_weights(backbone: ResNetFeatures, path: str | os.PathLike) -> None:
    """Load a ResNet checkpoint into `backbone`, refusing any partial or mis-shaped load.

    Accepts a bare state dict or one under 'state_dict', with or without a DataParallel
    'module.' prefix (the authors' ImageNet-without-Pascal files). A classification
    checkpoint's `fc.*` is dropped; a missing `num_batches_tracked` (older files) is tolerated.
    Numpy float64 scalars beside the weights are allowed, no other pickled object.
    """
    state = load_checkpoint(path, foreign=True)
    state = state.get("state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
    own = backbone.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong_shape = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
                   if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong_shape:
        raise ValueError(f"backbone checkpoint {path} does not fit: missing {missing}, "
                         f"unexpected {unexpected}, wrong shape {wrong_shape}")
    backbone.load_state_dict({**own, **state})


AUTHORS_PREFIX = "module."  # DataParallel's prefix on every key of the authors' backbone files
BATCHES_TRACKED = "num_batches_tracked"


def authors_backbone_state(path: str | os.PathLike, expected: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The authors' ImageNet-without-Pascal ResNet-101 (`resnet_backbone_pretrained_imagenet_wo_pascal
    {voc,context}.pth.tar`) as a state dict for a backbone whose state dict is `expected`.

    Their layout, checked rather than assumed (a silent partial load is the classic failure): a dict
    with `state_dict`, every key under `module.`, torchvision's names, a classifier `fc.*` of any
    size (dropped), then exactly the backbone's keys (624 for ResNet-101), or all of them but the
    `num_batches_tracked` counters (520; a file of older torch, the model's own counters are kept),
    each of the backbone's shape. Anything else is a ValueError naming the file and the keys.
    """
    checkpoint = load_checkpoint(path, foreign=True)
    theirs = checkpoint.get("state_dict")
    what = "the layout of the authors' ImageNet backbone files"
    if not isinstance(theirs, Mapping):
        raise ValueError(f"{path} does not have {what}: no 'state_dict' dict (entries: {sorted(checkpoint)})")
    unprefixed = [k for k in theirs if not k.startswith(AUTHORS_PREFIX)]
    not_tensors = [k for k, v in theirs.items() if not isinstance(v, Tensor)]
    state = {k.removeprefix(AUTHORS_PREFIX): v for k, v in theirs.items()
             if k not in unprefixed and k not in not_tensors and not k.removeprefix(AUTHORS_PREFIX).startswith("fc.")}
    wanted = set(expected)
    if not any(k.endswith(BATCHES_TRACKED) for k in state):
        wanted = {k for k in wanted if not k.endswith(BATCHES_TRACKED)}
    missing = sorted(wanted - set(state))
    unexpected = sorted(set(state) - wanted)
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
             for k in sorted(wanted & set(state)) if state[k].shape != expected[k].shape]
    if unprefixed or not_tensors or missing or unexpected or wrong:
        raise ValueError(f"{path} does not have {what} ({len(wanted)} backbone tensors under "
                         f"'{AUTHORS_PREFIX}' expected): keys without the prefix {unprefixed[:10]}, non-tensor "
                         f"entries {not_tensors[:10]}, missing {missing[:10]}, unexpected {unexpected[:10]}, "
                         f"wrong shapes {wrong[:10]}" + (" (first 10 of each)" if max(
                             map(len, (unprefixed, not_tensors, missing, unexpected, wrong))) > 10 else ""))
    return {k: state[k].to(expected[k].dtype) if k in state else expected[k] for k in expected}


def load_authors_backbone(backbone: ResNetFeatures, path: str | os.PathLike) -> None:
    """Load the authors' ImageNet-without-Pascal file into `backbone` (`authors_backbone_state`)."""
    backbone.load_state_dict(authors_backbone_state(path, backbone.state_dict()))
