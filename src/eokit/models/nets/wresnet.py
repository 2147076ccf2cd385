"""A wavelength-conditioned ResNet: one set of weights for any band set (optical and SAR).

The first convolution's kernel is generated per band from the band's centre wavelength (a sin/cos
embedding of log10 of the wavelength in nm, so 620 nm RGB red and 665 nm Sentinel-2 B04 are neighbours)
and, for SAR, its polarisation (VV/VH/HH/HV get their own learned codes, since they share a wavelength).
The kernels are stacked in the input's band order and scaled by 1/sqrt(C), so any number of bands in any
order works. The trunk is a ResNet-18 layout (BasicBlocks 2-2-2-2; eokit_small: widths 32-64-128-256) with GroupNorm
(batch-size and sensor-mix independent: frozen features do not depend on running statistics) and a
stride-2 stem without max-pooling, so a 64 px chip ends on a 4x4 map. Pure PyTorch: no eokit imports.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

POLARISATIONS = ("VV", "VH", "HH", "HV")  # code 1..4; 0 = optical / no polarisation


def wavelength_embedding(wavelengths_nm: torch.Tensor, dim: int) -> torch.Tensor:
    """(C,) wavelengths in nm -> (C, dim) sin/cos features of log10(nm) at geometric frequencies."""
    t = (torch.log10(wavelengths_nm.float().clamp_min(1.0)) - 2.5) / 5.0  # ~0 at 300 nm, ~1 at 30 cm (SAR)
    freqs = torch.logspace(0, math.log10(512.0), dim // 2, device=t.device) * math.pi
    arg = t[:, None] * freqs[None]
    return torch.cat([arg.sin(), arg.cos()], dim=1)


class SpectralStem(nn.Module):
    """Conv stem whose (out, C, k, k) kernel is generated from each band's wavelength and polarisation."""

    def __init__(self, out_channels: int = 64, kernel_size: int = 3, stride: int = 2, embed_dim: int = 32,
                 hidden: int = 128) -> None:
        super().__init__()
        self.out_channels, self.kernel_size, self.stride, self.embed_dim = out_channels, kernel_size, stride, embed_dim
        self.pol = nn.Embedding(len(POLARISATIONS) + 1, embed_dim)
        self.generator = nn.Sequential(
            nn.Linear(embed_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, out_channels * kernel_size * kernel_size),
        )
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.zeros_(self.pol.weight)

    def kernel(self, wavelengths_nm: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        emb = wavelength_embedding(wavelengths_nm, self.embed_dim) + self.pol(codes.long())
        w = self.generator(emb)  # (C, out*k*k)
        c, k = wavelengths_nm.shape[0], self.kernel_size
        return w.view(c, self.out_channels, k, k).transpose(0, 1) / math.sqrt(c)

    def forward(self, x: torch.Tensor, wavelengths_nm: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != wavelengths_nm.shape[0]:
            raise ValueError(f"SpectralStem: {x.shape[1]} channels but {wavelengths_nm.shape[0]} wavelengths")
        w = self.kernel(wavelengths_nm.to(x.device), codes.to(x.device)).to(x.dtype)
        return F.conv2d(x, w, self.bias.to(x.dtype), stride=self.stride, padding=self.kernel_size // 2)


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, ch // 4), ch)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = _norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = _norm(cout)
        nn.init.zeros_(self.norm2.weight)  # each block starts as the identity
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class WavelengthResNet(nn.Module):
    """Spectral stem + ResNet trunk. ``forward(x, wavelengths_nm, codes) -> (pooled, [maps finest first])``."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), blocks: tuple[int, ...] = (2, 2, 2, 2),
                 stem_stride: int = 2, embed_dim: int = 32) -> None:
        super().__init__()
        self.stem = SpectralStem(widths[0], 3, stem_stride, embed_dim)
        self.stem_norm = _norm(widths[0])
        layers, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks, strict=True)):
            stage = [BasicBlock(cin, w, 1 if i == 0 else 2)] + [BasicBlock(w, w, 1) for _ in range(n - 1)]
            layers.append(nn.Sequential(*stage))
            cin = w
        self.layers = nn.ModuleList(layers)
        self.widths = widths
        self.strides = tuple(stem_stride * 2**i for i in range(len(widths)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def num_features(self) -> int:
        return self.widths[-1]

    def forward(self, x: torch.Tensor, wavelengths_nm: torch.Tensor,
                codes: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = F.relu(self.stem_norm(self.stem(x, wavelengths_nm, codes)))
        maps = []
        for layer in self.layers:
            x = layer(x)
            maps.append(x)
        return x.mean(dim=(-2, -1)), maps
