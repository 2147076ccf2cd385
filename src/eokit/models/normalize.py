"""Per-band input normalisation, keyed by band name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from eokit.errors import BandError


class Normalize(nn.Module):
    """``(x - mean[band]) / std[band]`` for a tensor (…, C, H, W) or a Sample dict.

    A Sample's ``bands`` must equal this transform's bands (same names, same
    order); otherwise a BandError lists both, instead of normalising the
    wrong channel.
    """

    def __init__(self, bands: Sequence[str], mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if not (len(bands) == len(mean) == len(std)):
            raise BandError(f"Normalize: {len(bands)} bands, {len(mean)} means, {len(std)} stds")
        if any(s <= 0 for s in std):
            raise BandError(f"Normalize: std must be > 0, got {list(std)} for bands {list(bands)}")
        self.bands = tuple(bands)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(-1, 1, 1), False)

    def _apply_tensor(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-3] != len(self.bands):
            raise BandError(f"Normalize expects {len(self.bands)} channels {list(self.bands)}, got shape {tuple(x.shape)}")
        return (x - self.mean.to(x)) / self.std.to(x)

    def forward(self, x: Any) -> Any:
        if isinstance(x, dict):
            got = tuple(x.get("bands") or ())
            if got and got != self.bands:
                raise BandError(f"Normalize for bands {list(self.bands)} got a sample with bands {list(got)}")
            out = dict(x)
            for key in ("image", "image2"):
                if key in out and isinstance(out[key], torch.Tensor):
                    out[key] = self._apply_tensor(out[key].float())
            return out
        return self._apply_tensor(x)

    def to_dict(self) -> dict[str, list]:
        return {"bands": list(self.bands), "mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()}

    def extra_repr(self) -> str:
        return f"bands={list(self.bands)}"
