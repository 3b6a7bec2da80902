"""DeepLabv3+ (Chen et al., ECCV 2018) as ZS3Net uses it: the decoder's last 3x3 conv output is
the pixel feature the generator models, read by a swappable 1x1 `classifier` (class logits, or
300-d embeddings for the DeViSE baseline).

Defaults are the paper's: ResNet-101, output stride 16, multi-grid (1, 2, 4), ASPP rates 6/12/18
(doubled at stride 8), 256 channels, dropout 0.5 after ASPP, 48-channel low-level projection,
decoder dropouts 0.5/0.1. Rates are in pixels of the stride-16 map: small inputs (the CPU
default's 64x64 images give 4x4 maps) need smaller ones, or the atrous taps fall in the padding.
The authors upsample with align_corners=True; the default here is False (torchvision's).
`architecture: authors` fixes every architecture key to the authors' values (their code, valeoai/ZS3,
computes exactly this network, and with ImageNet normalisation their checkpoints load unchanged).
"""
from __future__ import annotations

from typing import Iterator, Sequence

import torch.nn.functional as F
from torch import Tensor, cat, nn

from zs3core.authors import resolve_architecture

from .backbones import (BACKBONES, OUTPUT_STRIDES, TORCHVISION, imagenet_checkpoint, load_authors_backbone,
                        load_backbone_weights, tiny_resnet, torchvision_resnet)

INITS = ("none", "imagenet", "authors_imagenet", "file", "authors")


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1x1 + one atrous 3x3 branch per rate + image pooling.

    In train mode a batch needs 2+ images: the pooling branch's batch norm sees one value per
    image and channel (as in the authors' and torchvision's ASPP), so drop a last batch of one.
    """

    def __init__(self, cin: int, channels: int, rates: Sequence[int], dropout: float = 0.5):
        super().__init__()
        self.convs = nn.ModuleList([nn.Sequential(*conv_bn_relu(cin, channels))] +
                                   [nn.Sequential(*conv_bn_relu(cin, channels, 3, r)) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), *conv_bn_relu(cin, channels))
        self.project = nn.Sequential(*conv_bn_relu(channels * (len(rates) + 2), channels), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.pool(x).expand(-1, -1, *x.shape[-2:])  # upsampling a 1x1 map = broadcasting
        return self.project(cat([conv(x) for conv in self.convs] + [pooled], dim=1))


class Decoder(nn.Module):
    """Low-level projection, concat with the upsampled ASPP output, two 3x3 convs."""

    def __init__(self, low_cin: int, aspp_channels: int, low_channels: int, feature_dim: int,
                 dropout: Sequence[float], align_corners: bool):
        super().__init__()
        self.low = nn.Sequential(*conv_bn_relu(low_cin, low_channels))
        self.convs = nn.Sequential(*conv_bn_relu(aspp_channels + low_channels, feature_dim, 3), nn.Dropout(dropout[0]),
                                   *conv_bn_relu(feature_dim, feature_dim, 3), nn.Dropout(dropout[1]))
        self.align_corners = align_corners

    def forward(self, aspp: Tensor, low: Tensor) -> Tensor:
        aspp = F.interpolate(aspp, size=low.shape[-2:], mode="bilinear", align_corners=self.align_corners)
        return self.convs(cat([aspp, self.low(low)], dim=1))


class DeepLabV3Plus(nn.Module):
    """DeepLabv3+; `features` is the stride-4 map that the 1x1 `classifier` reads."""

    feature_stride = 4

    def __init__(self, num_outputs: int, backbone: str = "resnet101", output_stride: int = 16,
                 multi_grid: Sequence[int] = (1, 2, 4), aspp_channels: int = 256, feature_dim: int = 256,
                 low_level_channels: int = 48, decoder_dropout: Sequence[float] = (0.5, 0.1),
                 align_corners: bool = False, aspp_rates: Sequence[int] = (6, 12, 18), **backbone_kwargs):
        super().__init__()
        _check(backbone in BACKBONES, "backbone", backbone, f"one of {BACKBONES}")
        _check(output_stride in OUTPUT_STRIDES, "output_stride", output_stride, f"one of {OUTPUT_STRIDES}")
        _check(_ints(multi_grid), "multi_grid", multi_grid, "a non-empty list of positive integers")
        _check(_ints(aspp_rates), "aspp_rates", aspp_rates, "a non-empty list of positive integers")
        for key, value in (("num_outputs", num_outputs), ("aspp_channels", aspp_channels),
                           ("feature_dim", feature_dim), ("low_level_channels", low_level_channels)):
            _check(_ints([value]), key, value, "a positive integer")
        _check(isinstance(decoder_dropout, (list, tuple)) and len(decoder_dropout) == 2
               and all(isinstance(p, (int, float)) and 0 <= p < 1 for p in decoder_dropout),
               "decoder_dropout", decoder_dropout, "two probabilities in [0, 1)")
        tiny = backbone == "resnet_tiny"
        _check(set(backbone_kwargs) <= ({"widths", "blocks"} if tiny else set()), "backbone", backbone,
               f"resnet_tiny to take options {sorted(backbone_kwargs)}")
        for key, value in backbone_kwargs.items():
            _check(_ints(value) and len(value) == 4, f"tiny_{key}", value, "four positive integers")
        self.backbone = (tiny_resnet(output_stride, multi_grid, **backbone_kwargs) if tiny
                         else torchvision_resnet(backbone, output_stride, multi_grid))
        rates = [r * 16 // output_stride for r in aspp_rates]
        self.aspp = ASPP(self.backbone.out_channels, aspp_channels, rates)
        self.decoder = Decoder(self.backbone.low_level_channels, aspp_channels, low_level_channels,
                               feature_dim, decoder_dropout, align_corners)
        self.classifier = nn.Conv2d(feature_dim, num_outputs, 1)
        self.align_corners = align_corners
        for m in nn.ModuleList(self.head()).modules():  # the authors' head initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def head(self) -> list[nn.Module]:
        """ASPP + decoder + classifier: the part trained at 10x the backbone's learning rate."""
        return [self.aspp, self.decoder, self.classifier]

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return (p for part in self.head() for p in part.parameters())

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        return self.backbone.parameters()

    def features(self, x: Tensor) -> Tensor:
        """(N, feature_dim, ceil(H/4), ceil(W/4)) pixel features."""
        low, high = self.backbone(x)
        return self.decoder(self.aspp(high), low)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.classifier(self.features(x))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=self.align_corners)


def build_segmenter(num_outputs: int, cfg: dict) -> DeepLabV3Plus:
    """DeepLabV3Plus from the `segmenter` config section; absent keys take the paper's values.

    Keys: architecture (deeplabv3plus: the keys below | authors: their values, see
    `zs3core.authors`), backbone, output_stride, multi_grid, aspp_channels, aspp_rates (at stride
    16), feature_dim, low_level_channels, decoder_dropout, align_corners, tiny_widths, tiny_blocks
    (resnet_tiny only), init (none | imagenet | authors_imagenet | file | authors) and backbone_weights
    (for init=authors_imagenet: the authors' ImageNet ResNet-101 without Pascal classes, its layout
    checked; init=file: any ResNet checkpoint; init=authors: their backbone, `authors.with_authors_backbone`).
    """
    cfg = resolve_architecture(cfg)
    arch = {k: cfg[k] for k in ("backbone", "output_stride", "multi_grid", "aspp_channels", "aspp_rates",
                                "feature_dim", "low_level_channels", "decoder_dropout", "align_corners")
            if k in cfg}
    arch.update({k.removeprefix("tiny_"): cfg[k] for k in ("tiny_widths", "tiny_blocks") if k in cfg})
    model = DeepLabV3Plus(num_outputs, **arch)
    backbone, init = arch.get("backbone", "resnet101"), cfg.get("init", "none")
    _check(init in INITS, "init", init, f"one of {INITS}")
    if init == "imagenet":
        _check(backbone in TORCHVISION, "init", init, f"'none' or 'file' for backbone {backbone}")
        load_backbone_weights(model.backbone, imagenet_checkpoint(backbone))
    elif init == "authors_imagenet":
        _check(backbone == "resnet101", "backbone", backbone, "resnet101 with init=authors_imagenet (the authors' "
               "file is a ResNet-101)")
        _check(bool(cfg.get("backbone_weights")), "backbone_weights", cfg.get("backbone_weights"),
               "the path of the authors' resnet_backbone_pretrained_imagenet_wo_pascal{voc,context}.pth.tar "
               "when segmenter.init=authors_imagenet (set segmenter.authors_dir)")
        load_authors_backbone(model.backbone, cfg["backbone_weights"])
    elif init in ("file", "authors"):
        _check(bool(cfg.get("backbone_weights")), "backbone_weights", cfg.get("backbone_weights"),
               f"a checkpoint path when segmenter.init={init}")
        load_backbone_weights(model.backbone, cfg["backbone_weights"])
    return model


def _ints(values) -> bool:
    return isinstance(values, (list, tuple)) and len(values) > 0 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)


def _check(ok: bool, key: str, value, expected: str) -> None:
    if not ok:
        raise ValueError(f"segmenter.{key} must be {expected}, got {value!r}")
