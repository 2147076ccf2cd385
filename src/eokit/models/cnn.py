"""From-scratch baselines: a U-Net encoder and a small efficient CNN (inverted residuals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike
from eokit.models.weights import WeightSpec
from eokit.sensors import Sensor


def conv_bn_act(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1,
                act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act(inplace=True)
    )


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.block = nn.Sequential(conv_bn_act(cin, cout), conv_bn_act(cout, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class UNetEncoder(Backbone):
    """The U-Net contracting path (Ronneberger et al., 2015) with batch norm.

    Maps at strides 1, 2, 4, ... 2**depth with ``base * 2**i`` channels; pair
    it with the ``unet`` head for the full U-Net.
    """

    arch = "unet"

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, *,
                 base_channels: int = 32, depth: int = 4) -> None:
        super().__init__(bands, sensor, spec)
        chans = [base_channels * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(self.in_chans, chans[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(chans[i], chans[i + 1])) for i in range(depth)
        )
        self.feature_info = [{"channels": c, "stride": 2**i} for i, c in enumerate(chans)]
        self.num_features = chans[-1]
        self.first_conv_keys = ["inc.block.0.0.weight"]

    def forward_features(self, x: torch.Tensor) -> Features:
        maps = [self.inc(x)]
        for down in self.downs:
            maps.append(down(maps[-1]))
        return Features(pooled=maps[-1].mean(dim=(2, 3)), maps=maps)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project; residual when shapes agree."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4) -> None:
        super().__init__()
        mid = cin * expand
        self.block = nn.Sequential(
            conv_bn_act(cin, mid, 1, act=nn.ReLU6),
            conv_bn_act(mid, mid, 3, stride, groups=mid, act=nn.ReLU6),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileCNN(Backbone):
    """A small efficient CNN (~0.5 M parameters at width 1): inverted-residual stages at strides 2-32."""

    arch = "mobilecnn"

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, *,
                 width: float = 1.0, num_features: int = 256) -> None:
        super().__init__(bands, sensor, spec)

        def c(n: int) -> int:
            return max(8, round(n * width / 8) * 8)

        stem = c(16)
        plan = [(c(24), 2), (c(48), 2), (c(96), 3), (c(160), 2)]
        self.stem = conv_bn_act(self.in_chans, stem, 3, 2, act=nn.ReLU6)
        stages, cin = [], stem
        for cout, n in plan:
            blocks = [InvertedResidual(cin, cout, 2)] + [InvertedResidual(cout, cout, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.head: nn.Module | None = conv_bn_act(cin, num_features, 1, act=nn.ReLU6)
        self.feature_info = [{"channels": stem, "stride": 2}] + [
            {"channels": co, "stride": 2 ** (i + 2)} for i, (co, _) in enumerate(plan)
        ]
        self.num_features = num_features
        self.first_conv_keys = ["stem.0.weight"]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def _prune_pooling(self) -> None:
        self.head = None

    def forward_features(self, x: torch.Tensor) -> Features:
        maps = [self.stem(x)]
        for stage in self.stages:
            maps.append(stage(maps[-1]))
        pooled = maps[-1] if self.head is None else self.head(maps[-1])
        return Features(pooled=pooled.mean(dim=(2, 3)), maps=maps)


def build(cls: type[Backbone]):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, **kw: Any) -> Backbone:
        return cls(bands, sensor, spec, **kw)

    return builder
