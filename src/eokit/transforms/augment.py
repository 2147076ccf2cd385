"""Geometric augmentations that keep a Sample's image, image2, mask, target, valid and boxes aligned.

Each transform takes and returns a Sample dict. Spatial keys are moved
together; a key at another resolution (a super-resolution ``target``) is
cropped at its own scale. Boxes are xyxy pixels of ``image``. Randomness
comes from torch's RNG (seeded by ``lightning.seed_everything``) or an
explicit ``generator``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from eokit.data.sample import Sample
from eokit.errors import ConfigError

SPATIAL = ("image", "image2", "mask", "target", "valid")


def _spatial(sample: Sample) -> list[str]:
    """Keys holding an (…, H, W) tensor (a scalar regression target is not spatial)."""
    keys = []
    for k in SPATIAL:
        v = sample.get(k)
        if isinstance(v, torch.Tensor) and v.ndim >= 2 and (k != "target" or v.ndim >= 2):
            keys.append(k)
    return keys


def _hw(sample: Sample) -> tuple[int, int]:
    x = sample["image"]
    return int(x.shape[-2]), int(x.shape[-1])


def hflip(sample: Sample) -> Sample:
    out = dict(sample)
    for k in _spatial(sample):
        out[k] = sample[k].flip(-1)
    if "boxes" in sample and len(sample["boxes"]):
        _, w = _hw(sample)
        b = sample["boxes"]
        out["boxes"] = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1)
    return out


def vflip(sample: Sample) -> Sample:
    out = dict(sample)
    for k in _spatial(sample):
        out[k] = sample[k].flip(-2)
    if "boxes" in sample and len(sample["boxes"]):
        h, _ = _hw(sample)
        b = sample["boxes"]
        out["boxes"] = torch.stack([b[:, 0], h - b[:, 3], b[:, 2], h - b[:, 1]], 1)
    return out


def rot90(sample: Sample, k: int = 1) -> Sample:
    """Rotate by k x 90 degrees counter-clockwise (as ``torch.rot90(x, k, (-2, -1))``)."""
    k %= 4
    out = dict(sample)
    for key in _spatial(sample):
        out[key] = torch.rot90(sample[key], k, (-2, -1))
    if "boxes" in sample and len(sample["boxes"]):
        h, w = _hw(sample)
        b = sample["boxes"]
        for _ in range(k):  # (x, y) -> (y, w - x); the new width is the old height
            b = torch.stack([b[:, 1], w - b[:, 2], b[:, 3], w - b[:, 0]], 1)
            h, w = w, h
        out["boxes"] = b
    return out


def crop(sample: Sample, top: int, left: int, height: int, width: int, min_box_area: float = 1.0) -> Sample:
    """Crop every spatial key at its own scale; clip boxes and drop those left smaller than ``min_box_area``."""
    h, w = _hw(sample)
    if top < 0 or left < 0 or top + height > h or left + width > w:
        raise ConfigError(f"crop ({top}, {left}, {height}, {width}) does not fit an image of {h}x{w}")
    out = dict(sample)
    for k in _spatial(sample):
        v = sample[k]
        sy, sx = v.shape[-2] / h, v.shape[-1] / w
        out[k] = v[..., int(top * sy): int((top + height) * sy), int(left * sx): int((left + width) * sx)]
    if "boxes" in sample:
        b = sample["boxes"].clone().float().reshape(-1, 4)
        b[:, [0, 2]] = (b[:, [0, 2]] - left).clamp(0, width)
        b[:, [1, 3]] = (b[:, [1, 3]] - top).clamp(0, height)
        keep = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) >= min_box_area
        out["boxes"] = b[keep]
        if "labels" in sample:
            out["labels"] = sample["labels"][keep]
    return out


class RandomFlip:
    """Horizontal and vertical flips, each with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        self.p, self.g = p, generator

    def __call__(self, sample: Sample) -> Sample:
        r = torch.rand(2, generator=self.g)
        if r[0] < self.p:
            sample = hflip(sample)
        if r[1] < self.p:
            sample = vflip(sample)
        return sample


class RandomRot90:
    """Rotation by a uniformly drawn multiple of 90 degrees (square images keep their shape)."""

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.g = generator

    def __call__(self, sample: Sample) -> Sample:
        k = int(torch.randint(0, 4, (1,), generator=self.g))
        return rot90(sample, k) if k else sample


class RandomCrop:
    """A random ``size`` x ``size`` window (the whole image when it is already that size)."""

    def __init__(self, size: int, generator: torch.Generator | None = None) -> None:
        self.size, self.g = int(size), generator

    def __call__(self, sample: Sample) -> Sample:
        h, w = _hw(sample)
        if h < self.size or w < self.size:
            raise ConfigError(f"RandomCrop size {self.size} is larger than the image ({h}x{w}); "
                              f"lower data.crop_size to at most {min(h, w)}")
        top = int(torch.randint(0, h - self.size + 1, (1,), generator=self.g))
        left = int(torch.randint(0, w - self.size + 1, (1,), generator=self.g))
        return crop(sample, top, left, self.size, self.size)


class CenterCrop:
    """The central ``size`` x ``size`` window (deterministic; for evaluation)."""

    def __init__(self, size: int) -> None:
        self.size = int(size)

    def __call__(self, sample: Sample) -> Sample:
        h, w = _hw(sample)
        s = min(self.size, h, w)
        return crop(sample, (h - s) // 2, (w - s) // 2, s, s)


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms})"


def batch_flip_rot90(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image random flips + rot90 on a square batch (B, C, H, W) in a few vectorised ops (no masks)."""
    b = images.shape[0]
    r = torch.rand(b, 3, generator=generator, device="cpu")
    out = torch.where((r[:, 0] < 0.5).view(-1, 1, 1, 1).to(images.device), images.flip(-1), images)
    out = torch.where((r[:, 1] < 0.5).view(-1, 1, 1, 1).to(images.device), out.transpose(-1, -2), out)
    return torch.where((r[:, 2] < 0.5).view(-1, 1, 1, 1).to(images.device), out.flip(-2), out)
