"""Heads: image-level (linear, MLP), dense decoders (FCN, UPerNet, U-Net) and super-resolution.

Image heads map ``Features.pooled`` (B, D) to (B, K). Dense heads map
``Features.maps`` (described by ``feature_info``) to (B, K, H, W) at the
requested output size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import ModelError
from eokit.models.cnn import DoubleConv, conv_bn_act

FeatureInfo = Sequence[dict[str, int]]


def _up(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class LinearHead(nn.Module):
    """Dropout + linear layer on the pooled features."""

    def __init__(self, num_features: int, num_outputs: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(num_features, num_outputs)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(pooled))


class MLPHead(nn.Module):
    """Linear - norm - GELU - dropout - linear."""

    def __init__(self, num_features: int, num_outputs: int, hidden: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(num_features, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_outputs),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled)


class FCNHead(nn.Module):
    """FCN (Long et al., 2015): conv block on the deepest map, 1x1 classifier, bilinear upsampling."""

    def __init__(self, feature_info: FeatureInfo, num_outputs: int, channels: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        cin = feature_info[-1]["channels"]
        self.block = conv_bn_act(cin, channels)
        self.drop = nn.Dropout2d(dropout)
        self.cls = nn.Conv2d(channels, num_outputs, 1)

    def forward(self, maps: Sequence[torch.Tensor], out_size: Sequence[int]) -> torch.Tensor:
        return _up(self.cls(self.drop(self.block(maps[-1]))), out_size)


class PPM(nn.Module):
    """Pyramid pooling module (PSPNet) used by UPerNet on the deepest map."""

    def __init__(self, cin: int, channels: int, scales: Sequence[int] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(s), nn.Conv2d(cin, channels, 1, bias=False), nn.ReLU(inplace=True))
            for s in scales
        )
        self.bottleneck = conv_bn_act(cin + channels * len(scales), channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        return self.bottleneck(torch.cat([x] + [_up(stage(x), size) for stage in self.stages], dim=1))


class UPerNetHead(nn.Module):
    """UPerNet (Xiao et al., 2018): PPM on the deepest map + FPN top-down path, fused at the finest map."""

    def __init__(self, feature_info: FeatureInfo, num_outputs: int, channels: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        chans = [f["channels"] for f in feature_info]
        self.ppm = PPM(chans[-1], channels)
        self.lateral = nn.ModuleList(conv_bn_act(c, channels, 1) for c in chans[:-1])
        self.fpn = nn.ModuleList(conv_bn_act(channels, channels) for _ in chans[:-1])
        self.fuse = conv_bn_act(channels * len(chans), channels)
        self.drop = nn.Dropout2d(dropout)
        self.cls = nn.Conv2d(channels, num_outputs, 1)

    def forward(self, maps: Sequence[torch.Tensor], out_size: Sequence[int]) -> torch.Tensor:
        lat = [conv(m) for conv, m in zip(self.lateral, maps[:-1], strict=True)] + [self.ppm(maps[-1])]
        for i in range(len(lat) - 1, 0, -1):
            lat[i - 1] = lat[i - 1] + _up(lat[i], lat[i - 1].shape[-2:])
        outs = [fpn(x) for fpn, x in zip(self.fpn, lat[:-1], strict=True)] + [lat[-1]]
        size = outs[0].shape[-2:]
        fused = self.fuse(torch.cat([_up(o, size) for o in outs], dim=1))
        return _up(self.cls(self.drop(fused)), out_size)


class UNetDecoder(nn.Module):
    """U-Net expanding path over any feature pyramid: upsample, concatenate the skip, double conv.

    Returns features at ``out_size`` with ``out_channels`` channels.
    """

    def __init__(self, feature_info: FeatureInfo, out_channels: int = 32, max_channels: int = 256) -> None:
        super().__init__()
        chans = [f["channels"] for f in feature_info]
        dec = [min(c, max_channels) for c in chans]
        self.blocks = nn.ModuleList()
        cur = chans[-1]
        for i in range(len(chans) - 2, -1, -1):
            self.blocks.append(DoubleConv(cur + chans[i], dec[i]))
            cur = dec[i]
        self.final_stride = feature_info[0]["stride"]
        self.final = DoubleConv(cur, out_channels) if self.final_stride > 1 or cur != out_channels else nn.Identity()
        self.out_channels = out_channels

    def forward(self, maps: Sequence[torch.Tensor], out_size: Sequence[int]) -> torch.Tensor:
        x = maps[-1]
        for block, skip in zip(self.blocks, reversed(maps[:-1]), strict=True):
            x = block(torch.cat([_up(x, skip.shape[-2:]), skip], dim=1))
        return self.final(_up(x, out_size))


class UNetHead(nn.Module):
    """U-Net decoder + 1x1 classifier."""

    def __init__(self, feature_info: FeatureInfo, num_outputs: int, channels: int = 32) -> None:
        super().__init__()
        self.decoder = UNetDecoder(feature_info, channels)
        self.cls = nn.Conv2d(channels, num_outputs, 1)

    def forward(self, maps: Sequence[torch.Tensor], out_size: Sequence[int]) -> torch.Tensor:
        return self.cls(self.decoder(maps, out_size))


class SuperResolutionHead(nn.Module):
    """U-Net decoder at input resolution + the input, conv to C*s², pixel shuffle (×s), plus bicubic residual.

    ESPCN-style sub-pixel upsampling (Shi et al., 2016); the network learns the
    residual over bicubic interpolation. ×4 is two ×2 shuffles. ``out_chans``
    (default: ``in_chans``) sets the output bands, e.g. 3-band MS -> 1-band pan;
    when it differs, the bicubic base goes through a 1×1 convolution initialised
    to the mean of the input bands (learned, so it can fit the target's response).
    """

    def __init__(self, feature_info: FeatureInfo, in_chans: int, scale: int = 2, channels: int = 64,
                 out_chans: int | None = None) -> None:
        super().__init__()
        if scale not in (2, 3, 4, 8):
            raise ModelError(f"super-resolution scale {scale} is not supported; use 2, 3, 4 or 8")
        out_chans = in_chans if out_chans is None else int(out_chans)
        if out_chans < 1:
            raise ModelError(f"super-resolution out_chans must be >= 1, got {out_chans}")
        self.scale = scale
        self.decoder = UNetDecoder(feature_info, channels)
        self.mix = conv_bn_act(channels + in_chans, channels)
        steps = [3] if scale == 3 else [2] * {2: 1, 4: 2, 8: 3}[scale]
        ups: list[nn.Module] = []
        for s in steps:
            ups += [nn.Conv2d(channels, channels * s * s, 3, padding=1), nn.PixelShuffle(s), nn.ReLU(inplace=True)]
        self.up = nn.Sequential(*ups)
        self.out = nn.Conv2d(channels, out_chans, 3, padding=1)
        self.base: nn.Module = nn.Identity()
        if out_chans != in_chans:
            conv = nn.Conv2d(in_chans, out_chans, 1)
            nn.init.constant_(conv.weight, 1.0 / in_chans)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
            self.base = conv

    def forward(self, maps: Sequence[torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        size = image.shape[-2:]
        x = self.mix(torch.cat([self.decoder(maps, size), image], dim=1))
        base = F.interpolate(image, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return self.base(base) + self.out(self.up(x))
