"""Batched EO augmentations on the training device (pure torch, any number of bands).

All work on (B, C, H, W) reflectance tensors, draw per-sample parameters from a ``torch.Generator`` or
the global RNG, and never leave the device: crops are one ``roi_align`` call, flips/rot90 are selects,
colour jitter is per band in reflectance (a shared gain and offset plus a small per-band gain), so the
same code serves RGB, Sentinel-2, Landsat and SAR. Normalisation comes last (:func:`normalize`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.ops import roi_align


def _rand(n: int, device: torch.device, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    return torch.rand(n, device=device) * (hi - lo) + lo


def random_resized_crop(x: torch.Tensor, size: int, scale: tuple[float, float] = (0.2, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """Per-sample random crop of ``scale`` of the area and aspect ``ratio``, resized to ``size`` (bilinear).

    Crops stay on the native grid of the chip (no reprojection); one ``roi_align`` call for the batch.
    """
    b, _, h, w = x.shape
    dev = x.device
    area = _rand(b, dev, *scale) * h * w
    logr = _rand(b, dev, float(torch.tensor(ratio[0]).log()), float(torch.tensor(ratio[1]).log()))
    r = logr.exp()
    cw = (area * r).sqrt().clamp(1.0, w)
    ch = (area / r).sqrt().clamp(1.0, h)
    x0 = _rand(b, dev) * (w - cw)
    y0 = _rand(b, dev) * (h - ch)
    boxes = torch.stack([torch.arange(b, device=dev, dtype=x.dtype), x0, y0, x0 + cw, y0 + ch], dim=1).to(x.dtype)
    return roi_align(x, boxes, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)


def flip_rot90(x: torch.Tensor) -> torch.Tensor:
    """A random element of the dihedral group per sample (flips and 90-degree turns; square images)."""
    b = x.shape[0]
    dev = x.device
    if x.shape[-1] == x.shape[-2]:
        t = (torch.rand(b, device=dev) < 0.5).view(b, 1, 1, 1)
        x = torch.where(t, x.transpose(-1, -2), x)
    for dim in (-1, -2):
        f = (torch.rand(b, device=dev) < 0.5).view(b, 1, 1, 1)
        x = torch.where(f, x.flip(dim), x)
    return x


def band_jitter(x: torch.Tensor, std: torch.Tensor, gain: float = 0.4, band_gain: float = 0.1,
                offset: float = 0.2, p: float = 0.8) -> torch.Tensor:
    """Colour jitter in reflectance: ``x * g * (1 + e_b) + o * std_b`` per sample, applied with probability p.

    ``g`` in [1 - gain, 1 + gain] is shared by the bands (brightness), ``e_b`` in [-band_gain, band_gain]
    per band (the spectral shape changes only a little), the offset ``o`` in [-offset, offset] is in units of
    each band's standard deviation (haze, calibration).
    """
    b, c = x.shape[:2]
    dev, dt = x.device, x.dtype
    apply = (torch.rand(b, 1, 1, 1, device=dev) < p).to(dt)
    g = 1 + (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) * 2 - 1) * gain
    e = 1 + (torch.rand(b, c, 1, 1, device=dev, dtype=dt) * 2 - 1) * band_gain
    o = (torch.rand(b, 1, 1, 1, device=dev, dtype=dt) * 2 - 1) * offset * std.to(dt).view(1, c, 1, 1)
    return x + apply * (x * g * e + o - x)


def gaussian_blur(x: torch.Tensor, p: float = 0.5, sigma: tuple[float, float] = (0.1, 1.5)) -> torch.Tensor:
    """Separable 5x5 Gaussian blur with a random sigma, applied per sample with probability p."""
    b, c, h, w = x.shape
    dev, dt = x.device, x.dtype
    s = _rand(b, dev, *sigma).to(dt)
    k = torch.arange(-2, 3, device=dev, dtype=dt)
    kern = torch.exp(-(k[None] ** 2) / (2 * s[:, None] ** 2))
    kern = kern / kern.sum(1, keepdim=True)  # (B, 5)
    xx = x.reshape(1, b * c, h, w)
    kh = kern.repeat_interleave(c, 0).view(b * c, 1, 1, 5)
    kv = kern.repeat_interleave(c, 0).view(b * c, 1, 5, 1)
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(xx, (2, 2, 0, 0), mode="reflect"), kh, groups=b * c)
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(y, (0, 0, 2, 2), mode="reflect"), kv, groups=b * c)
    apply = (torch.rand(b, 1, 1, 1, device=dev) < p).to(dt)
    return x + apply * (y.view(b, c, h, w) - x)


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std per band."""
    c = x.shape[1]
    return (x - mean.to(x.dtype).view(1, c, 1, 1)) / std.to(x.dtype).view(1, c, 1, 1)


@dataclass
class ViewConfig:
    """How one augmented view is made (SimCLR/MoCo-v3/DINO style, in reflectance)."""

    size: int = 64
    scale: tuple[float, float] = (0.25, 1.0)
    gain: float = 0.4
    band_gain: float = 0.1
    offset: float = 0.2
    jitter_p: float = 0.8
    blur_p: float = 0.5


def make_view(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, cfg: ViewConfig) -> torch.Tensor:
    """Crop -> dihedral flip -> band jitter -> blur -> normalise: one view of the batch."""
    v = random_resized_crop(x, cfg.size, cfg.scale)
    v = flip_rot90(v)
    v = band_jitter(v, std, cfg.gain, cfg.band_gain, cfg.offset, cfg.jitter_p)
    if cfg.blur_p > 0:
        v = gaussian_blur(v, cfg.blur_p)
    return normalize(v, mean, std)
