"""Pure geometry value objects: GridSpec (CRS + transform + shape)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS
from rasterio.transform import array_bounds, from_origin
from rasterio.windows import Window

from eokit.errors import CRSMismatchError, WindowError


@dataclass(frozen=True)
class GridSpec:
    """A raster grid: CRS, affine transform and (height, width)."""

    crs: CRS | None
    transform: Affine
    height: int
    width: int

    @classmethod
    def from_bounds(
        cls, crs: CRS | str | int, bounds: tuple[float, float, float, float], resolution: float | tuple[float, float]
    ) -> GridSpec:
        """A north-up grid covering ``bounds`` at ``resolution`` (map units)."""
        rx, ry = (resolution, resolution) if isinstance(resolution, int | float) else resolution
        left, bottom, right, top = bounds
        if right <= left or top <= bottom:
            raise WindowError(f"empty bounds {bounds}: need left < right and bottom < top")
        width = max(1, math.ceil((right - left) / rx - 1e-9))
        height = max(1, math.ceil((top - bottom) / ry - 1e-9))
        return cls(CRS.from_user_input(crs), from_origin(left, top, rx, ry), height, width)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return _bounds(self)

    @property
    def res(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))

    def window_grid(self, window: Window) -> GridSpec:
        """The sub-grid of ``window`` (which may extend beyond this grid)."""
        from rasterio.windows import transform as win_transform

        return GridSpec(self.crs, win_transform(window, self.transform), int(window.height), int(window.width))

    def same_crs(self, other: GridSpec, what: str = "layers") -> None:
        """Raise CRSMismatchError showing both CRSs if they differ."""
        if (self.crs is None) != (other.crs is None) or (self.crs and self.crs != other.crs):
            raise CRSMismatchError(
                f"{what} have different CRSs: first {_crs_str(self.crs)}, second {_crs_str(other.crs)}; "
                "pass on_mismatch='reproject' to warp the second onto the first's grid"
            )


def _bounds(grid: GridSpec) -> tuple[float, float, float, float]:
    west, south, east, north = array_bounds(grid.height, grid.width, grid.transform)
    return (west, south, east, north)


def _crs_str(crs: CRS | None) -> str:
    if crs is None:
        return "None (no CRS)"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()
