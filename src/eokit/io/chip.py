"""Chip: an array read from a raster, with its grid, band names and validity mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from eokit.io.grid import GridSpec


@dataclass(frozen=True)
class Chip:
    """Pixels (C, H, W) plus everything needed to place them on Earth.

    ``valid`` is a (H, W) boolean mask: False where any band is nodata or the
    read fell outside the raster.
    """

    array: np.ndarray
    valid: np.ndarray
    bands: tuple[str, ...]
    grid: GridSpec
    nodata: float | None = None

    @property
    def crs(self) -> CRS | None:
        return self.grid.crs

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.grid.bounds

    def select(self, bands: list[str] | tuple[str, ...]) -> Chip:
        """A chip with only ``bands`` (by exact name), in that order."""
        from eokit.errors import BandError

        missing = [b for b in bands if b not in self.bands]
        if missing:
            raise BandError(f"bands {missing} are not in this chip; it has {list(self.bands)}")
        idx = [self.bands.index(b) for b in bands]
        return Chip(self.array[idx], self.valid, tuple(bands), self.grid, self.nodata)
