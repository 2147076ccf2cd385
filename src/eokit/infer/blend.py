"""Blending windows: how much each pixel of a tile counts where tiles overlap.

A tile's weight is the outer product of two 1-D windows. Sides of a tile that
lie on the scene border are not tapered (no other tile covers those pixels);
sides inside the scene are tapered with a Hann (cosine) or linear ramp, may
drop ``margin`` pixels entirely (CNN border effects), and never go below
``floor`` elsewhere, so every pixel keeps a usable weight.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from eokit.errors import ConfigError

WINDOWS = ("hann", "linear", "uniform")


def window_1d(
    size: int,
    kind: str = "hann",
    *,
    taper_start: bool = True,
    taper_end: bool = True,
    ramp: int | None = None,
    margin: int = 0,
    floor: float = 1e-3,
) -> np.ndarray:
    """A float32 window of ``size`` weights in (0, 1] (0 only inside ``margin``).

    ``hann`` is sin² over the whole tile; ``linear`` ramps from 0 to 1 over
    ``ramp`` pixels (default ``size // 2``) and is flat in the middle;
    ``uniform`` is flat (plain averaging).
    """
    if kind not in WINDOWS:
        raise ConfigError(f"unknown blending window {kind!r}; choose one of {list(WINDOWS)}")
    if margin < 0 or 2 * margin >= size:
        raise ConfigError(f"margin {margin} must be >= 0 and less than half the tile size {size}")
    i = np.arange(size, dtype=np.float64) + 0.5
    if kind == "hann":
        w = np.sin(np.pi * i / size) ** 2
    elif kind == "linear":
        r = max(1, ramp if ramp else size // 2)
        w = np.clip(np.minimum(i - margin, size - margin - i) / r, 0.0, 1.0)
    else:
        w = np.ones(size)
    w = np.maximum(w, floor)
    half = size // 2
    if not taper_start:
        w[:half] = w.max()
    if not taper_end:
        w[size - half:] = w.max()
    if taper_start and margin:
        w[:margin] = 0.0
    if taper_end and margin:
        w[size - margin:] = 0.0
    return w.astype(np.float32)


class BlendWindows:
    """2-D tile weights, cached per combination of tapered sides."""

    def __init__(self, crop: int, kind: str = "hann", *, ramp: int | None = None, margin: int = 0,
                 floor: float = 1e-3) -> None:
        if not 0 < floor <= 1:
            raise ConfigError(f"window floor {floor} must be in (0, 1]")
        self.crop, self.kind, self.ramp, self.margin, self.floor = crop, kind, ramp, margin, floor
        window_1d(crop, kind, ramp=ramp, margin=margin, floor=floor)  # validate now
        self._get = lru_cache(maxsize=32)(self._make)

    def _make(self, top: bool, bottom: bool, left: bool, right: bool) -> np.ndarray:
        kw: dict[str, Any] = dict(kind=self.kind, ramp=self.ramp, margin=self.margin, floor=self.floor)
        wy = window_1d(self.crop, taper_start=top, taper_end=bottom, **kw)
        wx = window_1d(self.crop, taper_start=left, taper_end=right, **kw)
        return np.outer(wy, wx)

    def for_tile(self, row: int, col: int, height: int, width: int) -> np.ndarray:
        """Weights (crop, crop) of the tile at (row, col) in a ``height`` x ``width`` scene."""
        c = self.crop
        return self._get(row > 0, row + c < height, col > 0, col + c < width)
