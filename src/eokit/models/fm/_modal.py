"""Shared by the natively multi-modal families (CROMA, TerraMind): one modality's channels by band name."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from eokit.errors import BandError
from eokit.sensors import Band, Sensor, band_key, match_bands


def modality_channels(x: torch.Tensor, given: Sequence[str] | None, wanted: Sequence[Band], *,
                      owner: str, modality: str) -> torch.Tensor:
    """``x`` (B, C, H, W) with bands ``given`` -> the channels of ``wanted``, in that order, by band name.

    ``given=None``: ``x`` must already hold ``wanted`` in order (only its channel count is checked).
    """
    names = [b.name for b in wanted]
    if x.ndim != 4:
        raise BandError(f"{owner}: modality {modality!r} needs (B, C, H, W), got shape {tuple(x.shape)}")
    if given is not None:
        if len(given) != x.shape[1]:
            raise BandError(f"{owner}: modality {modality!r} has {x.shape[1]} channels but bands lists "
                            f"{len(given)}: {list(given)}")
        if [band_key(g) for g in given] != [band_key(n) for n in names]:
            own = Sensor(f"{owner}:{modality}", tuple(wanted))  # the modality's own names and aliases
            index = match_bands(names, list(given), own, where=f"modality {modality!r} bands {list(given)}",
                                what=f"{owner} (modality {modality!r}: {names})")
            x = x[:, index]
    if x.shape[1] != len(names):
        raise BandError(f"{owner}: modality {modality!r} needs (B, {len(names)}, H, W) with bands {names}, got "
                        f"shape {tuple(x.shape)}; pass bands={{{modality!r}: [...]}} to select them by name")
    return x
