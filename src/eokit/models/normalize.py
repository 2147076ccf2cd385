"""Per-band input normalisation as an nn.Module (for normalisation inside a model)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from eokit.errors import BandError


class Normalize(nn.Module):
    """``(x * scale + offset - mean[c]) / std[c]`` on tensors (…, C, H, W) in ``bands`` order.

    For Samples in a data pipeline use ``eokit.transforms.NormalizeBands``
    (what ``WeightSpec.transforms()`` returns); this module is its in-model
    twin, moved with the model's device and saved in no state dict.
    """

    def __init__(self, bands: Sequence[str], mean: Sequence[float], std: Sequence[float],
                 scale: float = 1.0, offset: float = 0.0) -> None:
        super().__init__()
        if not (len(bands) == len(mean) == len(std)):
            raise BandError(f"Normalize: {len(bands)} bands, {len(mean)} means, {len(std)} stds")
        if any(s <= 0 for s in std):
            raise BandError(f"Normalize: std must be > 0, got {list(std)} for bands {list(bands)}")
        self.bands = tuple(bands)
        self.scale, self.offset = float(scale), float(offset)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(-1, 1, 1), False)

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-3] != len(self.bands):
            raise BandError(
                f"Normalize expects {len(self.bands)} channels {list(self.bands)}, got shape {tuple(x.shape)}"
            )
        x = x.float() * self.scale + self.offset
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"bands={list(self.bands)}, scale={self.scale}, offset={self.offset}"
