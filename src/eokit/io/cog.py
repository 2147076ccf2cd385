"""Atomic Cloud-Optimized GeoTIFF writing.

Pixels are written (whole or window by window) into a tiled GeoTIFF under a
hidden temporary name beside the target; on success GDAL's COG driver builds
overviews into a second temporary file, which is renamed onto the final name.
An exception (or a kill) never leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.windows import Window

from eokit.env import gdal_env
from eokit.errors import DTypeError, RasterError
from eokit.io.grid import GridSpec
from eokit.io.raster import SUPPORTED_DTYPES


def temp_path_for(path: Path, suffix: str = ".tmp") -> Path:
    """A hidden, unique temporary path in the same folder (same filesystem: rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path; rename it onto ``path`` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(final, suffix or final.suffix)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


class CogWriter:
    """Stream windows into a COG. Use as a context manager.

    >>> with CogWriter("map.tif", grid, count=1, dtype="uint8") as w:
    ...     w.write(block, Window(0, 0, 512, 512))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        grid: GridSpec,
        count: int,
        dtype: str,
        *,
        nodata: float | None = None,
        band_names: Sequence[str] | None = None,
        blocksize: int = 512,
        compress: str = "DEFLATE",
        overview_resampling: str = "nearest",
        predictor: int | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        if np.dtype(dtype).name not in SUPPORTED_DTYPES:
            raise DTypeError(f"cannot write dtype {dtype!r} to {path!r}; choose one of {sorted(SUPPORTED_DTYPES)}")
        if band_names is not None and len(band_names) != count:
            raise RasterError(f"{len(band_names)} band names given for {count} bands when writing {path!r}")
        self.path = Path(path)
        self.grid = grid
        self.count = count
        self.dtype = np.dtype(dtype).name
        self.nodata = nodata
        self.band_names = list(band_names) if band_names else None
        self.blocksize = blocksize
        self.compress = compress
        self.overview_resampling = overview_resampling
        self.predictor = predictor
        self.tags = tags or {}
        self._tmp: Path | None = None
        self._ds: Any = None  # the rasterio writer while open (rasterio is untyped)

    def __enter__(self) -> CogWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_path_for(self.path, ".part.tif")
        profile = dict(
            driver="GTiff", width=self.grid.width, height=self.grid.height, count=self.count, dtype=self.dtype,
            crs=self.grid.crs, transform=self.grid.transform, nodata=self.nodata, tiled=True,
            blockxsize=self.blocksize, blockysize=self.blocksize, compress="ZSTD" if self.compress else None,
            BIGTIFF="IF_SAFER", ZSTD_LEVEL=1,
        )
        self._ds = rasterio.open(self._tmp, "w", **{k: v for k, v in profile.items() if v is not None})
        if self.band_names:
            for i, name in enumerate(self.band_names, start=1):
                self._ds.set_band_description(i, name)
        if self.tags:
            self._ds.update_tags(**self.tags)
        return self

    def write(self, array: np.ndarray, window: Window | None = None) -> None:
        """Write (C, h, w) or (h, w) pixels at ``window`` (default: the whole grid)."""
        if array.ndim == 2:
            array = array[None]
        if window is None:
            window = Window(0, 0, self.grid.width, self.grid.height)
        self._ds.write(array.astype(self.dtype, copy=False), window=window)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        ds, self._ds = self._ds, None
        tmp = self._tmp
        try:
            ds.close()
            if exc_type is None:
                with atomic_path(self.path, ".cog.tif") as out:
                    opts = dict(
                        driver="COG", COMPRESS=self.compress, BLOCKSIZE=self.blocksize,
                        OVERVIEWS="AUTO", RESAMPLING=self.overview_resampling.upper(), BIGTIFF="IF_SAFER",
                        NUM_THREADS="ALL_CPUS",
                    )
                    if self.predictor:
                        opts["PREDICTOR"] = self.predictor
                    with gdal_env():
                        rasterio.shutil.copy(tmp, out, **opts)
        finally:
            if tmp is not None and tmp.exists():
                tmp.unlink()
            aux = Path(str(tmp) + ".aux.xml") if tmp else None
            if aux is not None and aux.exists():
                aux.unlink()


def write_cog(
    path: str | os.PathLike[str],
    array: np.ndarray,
    grid: GridSpec,
    *,
    nodata: float | None = None,
    band_names: Sequence[str] | None = None,
    blocksize: int = 512,
    compress: str = "DEFLATE",
    overview_resampling: str = "nearest",
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a whole (C, H, W) or (H, W) array as a COG, atomically. Returns the path."""
    arr = array[None] if array.ndim == 2 else array
    if arr.shape[1:] != grid.shape:
        raise RasterError(f"array of shape {arr.shape[1:]} does not match the grid shape {grid.shape} for {path!r}")
    with CogWriter(
        path, grid, arr.shape[0], arr.dtype.name, nodata=nodata, band_names=band_names, blocksize=blocksize,
        compress=compress, overview_resampling=overview_resampling, tags=tags,
    ) as w:
        w.write(arr)
    return Path(path)


def is_cog(path: str | os.PathLike[str]) -> tuple[bool, list[str]]:
    """Check COG structure with GDAL's own layout metadata: tiled, overviews, IFDs in order.

    Returns (ok, problems). Uses the ``LAYOUT=COG`` marker GDAL writes plus tiling
    and overview checks, like rio-cogeo's validator.
    """
    problems: list[str] = []
    with rasterio.open(path) as ds:
        layout = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT")
        if layout != "COG":
            problems.append(f"IMAGE_STRUCTURE LAYOUT is {layout!r}, not 'COG'")
        if ds.width > 512 or ds.height > 512:
            if ds.block_shapes[0][1] == ds.width:
                problems.append("not internally tiled")
            if not ds.overviews(1):
                problems.append("no overviews")
    return (not problems, problems)
