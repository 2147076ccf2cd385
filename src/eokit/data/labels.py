"""Label layers read onto a sample's grid: vector features rasterised, or a label raster.

Both take the sample's :class:`~eokit.io.GridSpec` and return an (H, W) array on it.
When the label layer's CRS differs from the sample's, ``on_mismatch`` decides:
``'raise'`` (CRSMismatchError showing both CRSs) or ``'reproject'`` (nearest-neighbour
warp of the label onto the sample grid with :func:`eokit.io.reproject_chip`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from eokit.errors import ConfigError, CRSMismatchError, DatasetError, NoOverlapError, WindowError
from eokit.io import GridSpec, RasterSource, open_raster, reproject_chip
from eokit.io.grid import _crs_str

if TYPE_CHECKING:
    import geopandas as gpd

POLICIES = ("raise", "reproject")


def _policy(on_mismatch: str) -> str:
    if on_mismatch not in POLICIES:
        raise ConfigError(f"on_mismatch must be one of {POLICIES}, got {on_mismatch!r}")
    return on_mismatch


def read_vectors(vectors: Any, layer: str | int | None = None) -> gpd.GeoDataFrame:
    """A GeoDataFrame from a path (GeoJSON, GeoPackage, … via pyogrio; GeoParquet via pyarrow) or a GeoDataFrame."""
    import geopandas as gpd

    if isinstance(vectors, gpd.GeoDataFrame):
        gdf = vectors
        name = "the GeoDataFrame"
    else:
        name = repr(str(vectors))
        if not os.path.exists(str(vectors)):
            raise DatasetError(f"vector file {name} does not exist; check the path")
        parquet = str(vectors).lower().endswith((".parquet", ".geoparquet"))
        try:
            if parquet:
                gdf = gpd.read_parquet(str(vectors))
            else:
                gdf = gpd.read_file(str(vectors), layer=layer, engine="pyogrio")
        except Exception as exc:
            kind = "GeoParquet" if parquet else "GeoJSON/GeoPackage"
            raise DatasetError(f"cannot read vector file {name} ({kind} expected): {exc}") from exc
    if gdf.crs is None:
        raise DatasetError(f"{name} has no CRS; set one (e.g. gdf.set_crs('EPSG:4326')) so it can be placed")
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    return gdf


class VectorLabels:
    """Vector features rasterised to masks on any sample grid.

    ``column`` names the attribute holding class values: numbers are burnt as they are;
    strings are mapped through ``classes`` (a list: value -> index + 1, or a dict).
    Without ``column`` every feature burns ``value``. Pixels with no feature get
    ``background``. Features are reprojected to each sample's CRS (vectors carry
    their CRS, so this is exact, not a raster resampling).
    """

    def __init__(
        self,
        vectors: Any,
        column: str | None = None,
        *,
        classes: list[str] | dict[str, int] | None = None,
        value: int = 1,
        background: int = 0,
        all_touched: bool = False,
        layer: str | int | None = None,
        dtype: str = "int64",
    ) -> None:
        gdf = read_vectors(vectors, layer=layer)
        self.name = repr(str(vectors)) if not hasattr(vectors, "geometry") else "the GeoDataFrame"
        if column is not None:
            if column not in gdf.columns:
                cols = [c for c in gdf.columns if c != gdf.geometry.name]
                raise DatasetError(f"column {column!r} is not in {self.name}; its columns are {cols}")
            values = gdf[column]
            if values.dtype.kind in "iufb":
                burn = values.to_numpy()
            else:
                mapping = (
                    classes if isinstance(classes, dict)
                    else {c: i + 1 for i, c in enumerate(classes if classes is not None else sorted(values.unique()))}
                )
                unknown = sorted(set(values) - set(mapping))
                if unknown:
                    raise DatasetError(f"{self.name} column {column!r} has values {unknown} missing from classes")
                self.classes = mapping
                burn = values.map(mapping).to_numpy()
        else:
            burn = np.full(len(gdf), value)
        self.values = burn.astype(dtype)
        self.geoms = np.asarray(gdf.geometry.values, dtype=object)
        self.crs = CRS.from_user_input(gdf.crs)
        self.background = background
        self.all_touched = all_touched
        self.dtype = dtype
        self._cache: dict[str, tuple[np.ndarray, shapely.STRtree]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": {}}

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(shapely.total_bounds(self.geoms).tolist())

    def _in_crs(self, crs: CRS) -> tuple[np.ndarray, shapely.STRtree]:
        key = crs.to_wkt()
        if key not in self._cache:
            import geopandas as gpd

            geoms = self.geoms if crs == self.crs else np.asarray(
                gpd.GeoSeries(self.geoms, crs=self.crs).to_crs(crs).values, dtype=object)
            self._cache[key] = (geoms, shapely.STRtree(geoms))
        return self._cache[key]

    def overlaps(self, crs: CRS, bounds: tuple[float, float, float, float]) -> bool:
        _geoms, tree = self._in_crs(crs)
        return len(tree.query(shapely.box(*bounds), predicate="intersects")) > 0

    def rasterize(self, grid: GridSpec) -> np.ndarray:
        """An (H, W) mask on ``grid``."""
        from rasterio.features import rasterize

        if grid.crs is None:
            raise CRSMismatchError(f"the sample grid has no CRS, so {self.name} ({_crs_str(self.crs)}) cannot be placed")
        geoms, tree = self._in_crs(grid.crs)
        hits = tree.query(shapely.box(*grid.bounds), predicate="intersects")
        if len(hits) == 0:
            return np.full(grid.shape, self.background, dtype=self.dtype)
        order = np.sort(hits)  # file order: later features are burnt over earlier ones
        mask: np.ndarray = rasterize(
            zip(geoms[order], self.values[order], strict=True),
            out_shape=grid.shape,
            transform=grid.transform,
            fill=self.background,
            all_touched=self.all_touched,
            dtype=self.dtype,
        )
        return mask

    def read(self, grid: GridSpec, on_mismatch: str = "raise") -> np.ndarray:
        """Rasterise on ``grid``. Vectors reproject exactly, so ``on_mismatch='raise'`` only
        refuses when the CRSs differ and the user asked for strictness."""
        if _policy(on_mismatch) == "raise" and grid.crs != self.crs:
            raise CRSMismatchError(
                f"image and label layers have different CRSs: image {_crs_str(grid.crs)}, label {self.name} "
                f"{_crs_str(self.crs)}; pass on_mismatch='reproject' to reproject the label onto the image grid"
            )
        return self.rasterize(grid)


class RasterLabels:
    """A label raster read on the sample grid (one band, default the first).

    Same CRS and pixel grid: one windowed read (pixels outside the label raster
    get ``fill``). Different CRS or grid: ``on_mismatch='raise'`` raises,
    ``'reproject'`` warps with nearest neighbour. A sample that does not overlap
    the label raster at all raises NoOverlapError.
    """

    def __init__(self, path: str | os.PathLike[str] | RasterSource, band: int = 1, fill: int = 0,
                 dtype: str = "int64") -> None:
        self.source = path if isinstance(path, RasterSource) else open_raster(path)
        self.band = band
        self.fill = fill
        self.dtype = dtype
        self.source.require_crs("place it under an image as a label layer")

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def crs(self) -> CRS:
        return self.source.crs

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.source.bounds

    def overlaps(self, crs: CRS, bounds: tuple[float, float, float, float]) -> bool:
        b = bounds if crs == self.crs else transform_bounds(crs, self.crs, *bounds, densify_pts=21)
        lb = self.bounds
        return b[0] < lb[2] and b[2] > lb[0] and b[1] < lb[3] and b[3] > lb[1]

    def read(self, grid: GridSpec, on_mismatch: str = "raise") -> np.ndarray:
        """An (H, W) label array on ``grid``."""
        _policy(on_mismatch)
        src = self.source
        if not self.overlaps(grid.crs, grid.bounds):
            raise NoOverlapError(
                f"the sample at bounds {tuple(round(v, 3) for v in grid.bounds)} ({_crs_str(grid.crs)}) does not "
                f"overlap the label raster {self.path!r} (bounds {tuple(round(v, 3) for v in self.bounds)}, "
                f"{_crs_str(self.crs)}); restrict the sampler to the label's area (collection.query(bounds=...))"
            )
        band = [src.bands[self.band - 1]]
        if grid.crs != self.crs:
            if on_mismatch == "raise":
                raise CRSMismatchError(
                    f"image and label layers have different CRSs: image {_crs_str(grid.crs)}, label "
                    f"{self.path!r} {_crs_str(self.crs)}; pass on_mismatch='reproject' to warp the label "
                    "onto the image grid (nearest neighbour)"
                )
            return self._warped(grid, band)
        win = src.window_for_bounds(grid.bounds)
        aligned = (
            np.allclose(src.grid.res, grid.res, rtol=1e-6)
            and abs(win.col_off - round(win.col_off)) < 1e-3 and abs(win.row_off - round(win.row_off)) < 1e-3
        )
        if not aligned:
            if on_mismatch == "raise":
                raise WindowError(
                    f"label raster {self.path!r} (res {src.grid.res}) is not on the image's pixel grid "
                    f"(res {grid.res}); pass on_mismatch='reproject' to resample it (nearest neighbour)"
                )
            return self._warped(grid, band)
        chip = src.read(win, bands=band, boundless=True, dtype=None)
        arr: np.ndarray = chip.array[0].astype(self.dtype, copy=False)
        if not chip.valid.all():
            arr = np.where(chip.valid, arr, self.fill).astype(self.dtype, copy=False)
        return arr

    def _warped(self, grid: GridSpec, band: list[str]) -> np.ndarray:
        src = self.source
        b = transform_bounds(grid.crs, self.crs, *grid.bounds, densify_pts=21)
        win = src.window_for_bounds(b)
        pad = 2
        win = win.__class__(int(win.col_off) - pad, int(win.row_off) - pad, int(win.width) + 2 * pad + 1,
                            int(win.height) + 2 * pad + 1)
        chip = src.read(win, bands=band, boundless=True, dtype="float32")
        out = reproject_chip(chip, grid, resampling="nearest")
        warped: np.ndarray = np.where(out.valid, out.array[0], self.fill).astype(self.dtype)
        return warped
