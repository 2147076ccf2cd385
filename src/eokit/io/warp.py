"""Explicit reprojection / resampling to a target grid (never implicit)."""

from __future__ import annotations

import numpy as np
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import reproject as _reproject

from eokit.errors import MissingCRSError
from eokit.io.chip import Chip
from eokit.io.footprint import safe_transform_bounds
from eokit.io.grid import GridSpec
from eokit.io.raster import _resampling


def reproject_chip(chip: Chip, target: GridSpec, resampling: str | Resampling = "bilinear") -> Chip:
    """Warp ``chip`` onto ``target`` (CRS, transform, shape)."""
    if chip.crs is None or target.crs is None:
        raise MissingCRSError(
            f"cannot reproject: source CRS is {chip.crs}, target CRS is {target.crs}; both need a CRS"
        )
    rs = _resampling(resampling)
    nodata = chip.nodata if chip.nodata is not None else (np.nan if chip.array.dtype.kind == "f" else 0)
    out = np.full((chip.array.shape[0], target.height, target.width), nodata, dtype=chip.array.dtype)
    src = np.where(chip.valid[None], chip.array, nodata).astype(chip.array.dtype)
    _reproject(
        src, out,
        src_transform=chip.transform, src_crs=chip.crs, src_nodata=nodata,
        dst_transform=target.transform, dst_crs=target.crs, dst_nodata=nodata,
        resampling=rs,
    )
    valid_src = chip.valid.astype(np.uint8)
    valid = np.zeros(target.shape, dtype=np.uint8)
    _reproject(
        valid_src, valid,
        src_transform=chip.transform, src_crs=chip.crs, dst_transform=target.transform,
        dst_crs=target.crs, resampling=Resampling.nearest, src_nodata=None, dst_nodata=0,
    )
    return Chip(out, valid.astype(bool), chip.bands, target, chip.nodata)


def target_grid(
    source_grid: GridSpec,
    crs: CRS | str | int | None = None,
    resolution: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> GridSpec:
    """A target grid derived from a source grid, overriding CRS, resolution or bounds."""
    from rasterio.warp import calculate_default_transform, transform_bounds

    dst_crs = CRS.from_user_input(crs) if crs is not None else source_grid.crs
    if bounds is None:
        if source_grid.crs is None:
            raise MissingCRSError("the source grid has no CRS; give bounds explicitly")
        try:
            bounds = transform_bounds(source_grid.crs, dst_crs, *source_grid.bounds, densify_pts=21)
        except (CPLE_BaseError, RasterioError, SystemError):
            bounds = (np.inf,) * 4
        if not np.isfinite(bounds).all():  # corners outside dst's domain (geostationary full disk)
            bounds = safe_transform_bounds(source_grid.crs, dst_crs, source_grid.bounds, "the target CRS", n=65)
    if resolution is None:
        try:
            t, _, _ = calculate_default_transform(
                source_grid.crs, dst_crs, source_grid.width, source_grid.height, *source_grid.bounds
            )
            resolution = abs(t.a)
        except (CPLE_BaseError, RasterioError, SystemError):
            resolution = float("nan")
        if not np.isfinite(resolution) or resolution <= 0:
            resolution = (bounds[2] - bounds[0]) / source_grid.width
    return GridSpec.from_bounds(dst_crs, bounds, resolution)
