"""Open GDAL rasters and read windows of them, by pixel window or by bounds.

Handles are cached per process and dropped after ``fork`` so DataLoader and
Dask workers reopen their own (GDAL handles must not cross a fork).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.warp import transform_bounds, transform_geom
from rasterio.windows import Window, from_bounds

from eokit.errors import (
    BandError,
    DTypeError,
    MissingCRSError,
    NoOverlapError,
    RasterError,
    WindowError,
    suggest,
)
from eokit.io.chip import Chip
from eokit.io.footprint import safe_transform_bounds, sampled_footprint
from eokit.io.grid import GridSpec, _crs_str
from eokit.io.sar import check_mode, complex_band_names, is_complex_dtype, native_sources, to_real
from eokit.sensors.bands import Sensor, _key
from eokit.sensors.catalog import get_sensor

SUPPORTED_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}
_MAX_HANDLES = 64

_handles: OrderedDict[str, rasterio.io.DatasetReader] = OrderedDict()
_lock = threading.Lock()


def _clear_handles() -> None:
    _handles.clear()  # after fork: drop (don't close) the parent's handles


os.register_at_fork(after_in_child=_clear_handles)


def _open_cached(path: str) -> rasterio.io.DatasetReader:
    """A per-process handle for ``path``, opened under the current GDAL_NUM_THREADS.

    GDAL reads GDAL_NUM_THREADS (multi-threaded block decoding) when a dataset is
    opened, so handles opened under different settings are cached apart.
    """
    from rasterio._env import get_gdal_config

    key = f"{path}\0{get_gdal_config('GDAL_NUM_THREADS')}"
    with _lock:
        ds = _handles.get(key)
        if ds is not None and not ds.closed:
            _handles.move_to_end(key)
            return ds
        try:
            ds = rasterio.open(path)
            try:
                ds.descriptions  # noqa: B018 - decode header text now, so a bad header fails here, typed
            except BaseException:
                ds.close()
                raise
        except (RasterioIOError, CPLE_BaseError, UnicodeDecodeError) as exc:  # bytes in a header: not UTF-8
            exists = Path(path).exists() or "://" in path or path.startswith("/vsi")
            hint = "check the file is a complete raster GDAL can read" if exists else "the file does not exist"
            raise RasterError(f"cannot open {path!r}{_header_note(path)} as a raster ({hint}): {exc}") from exc
        _handles[key] = ds
        while len(_handles) > _MAX_HANDLES:
            _, old = _handles.popitem(last=False)
            old.close()
        return ds


def _header_note(path: str) -> str:
    """' (with ENVI header X)' when a raw raster has a .hdr sidecar, so errors name both files."""
    for hdr in (str(Path(path).with_suffix(".hdr")), path + ".hdr"):
        if hdr != path and Path(hdr).is_file():
            return f" (with its ENVI header {hdr!r})"
    return ""


def close_all() -> None:
    """Close every cached handle of this process."""
    with _lock:
        for ds in _handles.values():
            ds.close()
        _handles.clear()


@dataclass(frozen=True)
class RasterInfo:
    """What ``eokit info`` prints."""

    path: str
    driver: str
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS | None
    transform: tuple[float, ...]
    bounds: tuple[float, float, float, float]
    res: tuple[float, float]
    nodata: float | None
    bands: tuple[str, ...]
    overviews: tuple[int, ...]
    block_shape: tuple[int, int]
    compression: str | None
    footprint_wgs84: dict | None
    footprint_note: str | None = None
    is_complex: bool = False

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["crs"] = _crs_str(self.crs)
        return d


def _resampling(name: str | Resampling) -> Resampling:
    if isinstance(name, Resampling):
        return name
    try:
        return Resampling[name]
    except KeyError:
        names = [r.name for r in Resampling]
        raise WindowError(f"unknown resampling {name!r}; choose one of {names}.{suggest(name, names)}") from None


class RasterSource:
    """One raster file (any GDAL format) with named bands.

    Band names come from ``band_names``, else the file's band descriptions,
    else the sensor's band order when the count matches, else ``'1'..'N'``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        band_names: Sequence[str] | None = None,
        sensor: str | Sensor | None = None,
        nodata: float | None = None,
        complex_mode: str | None = None,
    ) -> None:
        self.path = str(path)
        self.sensor = get_sensor(sensor) if sensor is not None else None
        ds = _open_cached(self.path)
        self._nodata_override = nodata
        if ds.dtypes[0] not in SUPPORTED_DTYPES and not is_complex_dtype(ds.dtypes[0]):
            raise DTypeError(
                f"{self.path!r} has dtype {ds.dtypes[0]!r}, which eokit does not read; "
                f"supported: {sorted(SUPPORTED_DTYPES)} (convert with gdal_translate -ot Float32)"
            )
        if band_names is not None:
            if len(band_names) != ds.count:
                raise BandError(
                    f"{self.path!r} has {ds.count} bands but {len(band_names)} names were given: {list(band_names)}"
                )
            names = tuple(band_names)
        elif all(ds.descriptions) and len(set(ds.descriptions)) == ds.count:
            names = tuple(ds.descriptions)
        elif self.sensor is not None and len(self.sensor.bands) == ds.count:
            names = self.sensor.band_names
        else:
            names = tuple(str(i + 1) for i in range(ds.count))
        self.bands: tuple[str, ...] = names
        self.grid = GridSpec(ds.crs, ds.transform, ds.height, ds.width)
        self.dtype: str = ds.dtypes[0]
        self._init_complex(complex_mode)

    def _init_complex(self, mode: str | None) -> None:
        """Complex (SLC) rasters: ``bands`` become the real channels ``mode`` makes."""
        self.complex_mode = mode
        self.native_bands = self.bands
        if not is_complex_dtype(self.dtype):
            if mode is not None:
                raise DTypeError(f"{self.path!r} is not complex (dtype {self.dtype!r}); drop complex_mode={mode!r}")
            return
        if mode is not None:
            check_mode(mode, repr(self.path), self.dtype)
            self.bands = complex_band_names(self.bands, mode, repr(self.path))

    # -- metadata -----------------------------------------------------------
    @property
    def dataset(self) -> rasterio.io.DatasetReader:
        return _open_cached(self.path)

    @property
    def crs(self) -> CRS | None:
        return self.grid.crs

    @property
    def nodata(self) -> float | None:
        return self._nodata_override if self._nodata_override is not None else self.dataset.nodata

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.grid.bounds

    def footprint(self, crs: CRS | str | None = None) -> dict:
        """The raster's outline as a GeoJSON polygon, in its own CRS or ``crs``.

        In ``crs``, corners outside its domain (a geostationary full disk) are dropped: see
        :meth:`footprint_with_note`. NoOverlapError when no part of the raster lies in it.
        """
        if crs is None:
            return self._outline()
        self.require_crs("reproject its footprint")
        geom, note = self.footprint_with_note(crs)
        if geom is None:
            raise NoOverlapError(f"{self.path!r} has no footprint in {CRS.from_user_input(crs)}: {note}")
        return geom

    def _outline(self) -> dict:
        w, s, e, n = self.bounds
        return {"type": "Polygon", "coordinates": [[(w, s), (e, s), (e, n), (w, n), (w, s)]]}

    def require_crs(self, why: str) -> CRS:
        if self.crs is None:
            raise MissingCRSError(
                f"{self.path!r} has no CRS, so eokit cannot {why}; assign one "
                "(e.g. gdal_edit.py -a_srs EPSG:XXXX) or read by pixel window"
            )
        return self.crs

    def footprint_with_note(self, crs: CRS | str = "EPSG:4326") -> tuple[dict | None, str | None]:
        """The footprint in ``crs`` and a note, or ``(None, reason)``: never raises for CRS domains.

        Corners outside ``crs``'s domain (a geostationary full disk) make the footprint the
        hull of the raster's valid sampled points.
        """
        if self.crs is None:
            return None, "the raster has no CRS"
        try:
            geom = transform_geom(self.crs, CRS.from_user_input(crs), self._outline())
            ring = np.asarray(geom["coordinates"][0], dtype=float)
            if np.isfinite(ring).all():
                return geom, None
        except (CPLE_BaseError, RasterioError, ValueError, SystemError):  # SystemError: "Unknown GDAL Error"
            pass
        g = self.grid
        return sampled_footprint(self.crs, g.transform, g.width, g.height, crs)

    def info(self) -> RasterInfo:
        ds = self.dataset
        footprint, note = self.footprint_with_note("EPSG:4326")
        return RasterInfo(
            path=self.path,
            driver=ds.driver,
            width=ds.width,
            height=ds.height,
            count=ds.count,
            dtype=self.dtype,
            crs=ds.crs,
            transform=tuple(ds.transform)[:6],
            bounds=self.bounds,
            res=ds.res,
            nodata=self.nodata,
            bands=self.bands,
            overviews=tuple(ds.overviews(1)),
            block_shape=tuple(ds.block_shapes[0]),
            compression=ds.compression.name if ds.compression else None,
            footprint_wgs84=footprint,
            footprint_note=note,
            is_complex=is_complex_dtype(self.dtype),
        )

    # -- band selection -----------------------------------------------------
    def band_indexes(self, bands: Sequence[str] | None) -> list[int]:
        """1-based GDAL band indexes for ``bands`` (names, aliases or common names)."""
        if bands is None:
            return list(range(1, len(self.bands) + 1))
        out = []
        for name in bands:
            out.append(self._band_index(name) + 1)
        return out

    def _band_index(self, name: str) -> int:
        keys = [_key(b) for b in self.bands]
        if _key(name) in keys:
            return keys.index(_key(name))
        if self.sensor is not None and self.sensor.has(name):
            canonical = self.sensor.band(name)
            for i, b in enumerate(self.bands):
                if self.sensor.has(b) and self.sensor.band(b) == canonical:
                    return i
        raise BandError(
            f"band {name!r} is not in {self.path!r}; its bands are {list(self.bands)}."
            f"{suggest(name, self.bands)}"
        )

    # -- reading ------------------------------------------------------------
    def window_for_bounds(self, bounds: tuple[float, float, float, float], crs: CRS | str | None = None) -> Window:
        """The pixel window covering ``bounds`` (given in ``crs``, default the raster's)."""
        bounds_in = bounds
        if crs is not None:
            own = self.require_crs("read by bounds in another CRS")
            crs = CRS.from_user_input(crs)
            if crs != own:
                try:
                    bounds = transform_bounds(crs, own, *bounds, densify_pts=21)
                except (CPLE_BaseError, SystemError):  # SystemError: rasterio's "Unknown GDAL Error"
                    bounds = (np.inf,) * 4
                if not np.isfinite(bounds).all():  # corners outside the domain (geostationary)
                    bounds = safe_transform_bounds(crs, own, bounds_in, repr(self.path))
        return from_bounds(*bounds, transform=self.grid.transform)

    def read(
        self,
        window: Window | tuple[int, int, int, int] | None = None,
        *,
        bounds: tuple[float, float, float, float] | None = None,
        bounds_crs: CRS | str | None = None,
        bands: Sequence[str] | None = None,
        boundless: bool = False,
        dtype: str | None = "float32",
        out_shape: tuple[int, int] | None = None,
        resampling: str | Resampling = "nearest",
    ) -> Chip:
        """Read a window (``Window`` or ``(col_off, row_off, width, height)``) or bounds.

        ``boundless=True`` pads the part outside the raster with nodata (0 if the
        raster has none) and marks it invalid; otherwise a window reaching
        outside the raster raises WindowError. ``dtype=None`` keeps the native
        dtype. ``out_shape`` resamples with ``resampling`` (explicit only).
        """
        if window is not None and bounds is not None:
            raise WindowError("pass either window= or bounds=, not both")
        if bounds is not None:
            window = self.window_for_bounds(bounds, bounds_crs)
        elif window is None:
            window = Window(0, 0, self.grid.width, self.grid.height)
        elif not isinstance(window, Window):
            window = Window(*window)
        window = Window(round(window.col_off), round(window.row_off), round(window.width), round(window.height))
        if window.width <= 0 or window.height <= 0:
            raise WindowError(f"empty window {window} for {self.path!r}")
        inside = (
            window.col_off >= 0
            and window.row_off >= 0
            and window.col_off + window.width <= self.grid.width
            and window.row_off + window.height <= self.grid.height
        )
        overlaps = (
            window.col_off < self.grid.width
            and window.row_off < self.grid.height
            and window.col_off + window.width > 0
            and window.row_off + window.height > 0
        )
        if not overlaps and not boundless:
            raise WindowError(
                f"window {tuple(map(int, window.flatten()))} (col, row, width, height) lies outside "
                f"{self.path!r}, which is {self.grid.width}x{self.grid.height} px; "
                "pass boundless=True to pad with nodata"
            )
        if not inside and not boundless:
            raise WindowError(
                f"window {tuple(map(int, window.flatten()))} reaches outside {self.path!r} "
                f"({self.grid.width}x{self.grid.height} px); pass boundless=True to pad with nodata"
            )
        if dtype is not None and dtype not in SUPPORTED_DTYPES:
            raise DTypeError(f"cannot read {self.path!r} as dtype {dtype!r}; choose one of {sorted(SUPPORTED_DTYPES)}")
        indexes = self.band_indexes(bands)
        names = tuple(self.bands[i - 1] for i in indexes)
        complex_indexes = indexes
        if is_complex_dtype(self.dtype):
            check_mode(self.complex_mode, repr(self.path), self.dtype)
            indexes = self._complex_sources(indexes)
        shape = out_shape or (int(window.height), int(window.width))
        nodata = self.nodata
        fill = nodata if nodata is not None else 0
        ds = self.dataset
        try:
            if inside:
                arr = ds.read(indexes, window=window, out_shape=(len(indexes), *shape),
                              resampling=_resampling(resampling))
                valid = np.ones(shape, dtype=bool)
            else:
                arr = self._read_padded(ds, indexes, window, shape, fill, _resampling(resampling))
                valid = self._coverage(window, shape)
        except RasterioError as exc:
            raise RasterError(
                f"reading window {tuple(map(int, window.flatten()))} of {self.path!r} failed "
                f"(the file may be truncated or corrupt): {exc}"
            ) from exc
        if nodata is not None:
            if np.isnan(nodata):
                valid &= ~np.isnan(arr).any(axis=0)
            else:
                valid &= ~(arr == nodata).any(axis=0)
        if is_complex_dtype(self.dtype):
            arr = self._complex_to_real(arr, indexes, complex_indexes)
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype, copy=False)
        grid = self.grid.window_grid(window)
        if out_shape is not None:
            from rasterio.transform import Affine

            t = grid.transform * Affine.scale(window.width / shape[1], window.height / shape[0])
            grid = GridSpec(grid.crs, t, shape[0], shape[1])
        return Chip(arr, valid, names, grid, nodata)

    def _complex_sources(self, indexes: list[int]) -> list[int]:
        """1-based complex bands to read for real channels ``indexes`` (1-based)."""
        need = {j for i in indexes
                for j in native_sources(self.native_bands, self.complex_mode, i - 1, repr(self.path))}
        return [j + 1 for j in sorted(need)]

    def _complex_to_real(self, arr: np.ndarray, read: list[int], wanted: list[int]) -> np.ndarray:
        """The real channels ``wanted`` (1-based into ``bands``) of complex ``arr`` (bands ``read``)."""
        where = repr(self.path)
        native = [self.native_bands[i - 1] for i in read]
        real, names = to_real(arr, native, self.complex_mode, where)
        full = complex_band_names(self.native_bands, self.complex_mode, where)  # by position: callers may rename
        return real[[names.index(full[i - 1]) for i in wanted]]

    def _read_padded(self, ds, indexes, window, shape, fill, resampling):
        """Read the in-raster part and paste it into a nodata-filled array."""
        dt = "complex64" if ds.dtypes[0].startswith("complex_int") else ds.dtypes[0]
        out = np.full((len(indexes), *shape), fill, dtype=dt)
        c0 = max(0, window.col_off)
        r0 = max(0, window.row_off)
        c1 = min(self.grid.width, window.col_off + window.width)
        r1 = min(self.grid.height, window.row_off + window.height)
        if c1 <= c0 or r1 <= r0:
            return out
        sy, sx = shape[0] / window.height, shape[1] / window.width
        inner = Window(c0, r0, c1 - c0, r1 - r0)
        oy0, ox0 = round((r0 - window.row_off) * sy), round((c0 - window.col_off) * sx)
        oy1, ox1 = round((r1 - window.row_off) * sy), round((c1 - window.col_off) * sx)
        if oy1 > oy0 and ox1 > ox0:
            out[:, oy0:oy1, ox0:ox1] = ds.read(
                indexes, window=inner, out_shape=(len(indexes), oy1 - oy0, ox1 - ox0), resampling=resampling
            )
        return out

    def _coverage(self, window: Window, shape: tuple[int, int]) -> np.ndarray:
        rows = window.row_off + (np.arange(shape[0]) + 0.5) * window.height / shape[0]
        cols = window.col_off + (np.arange(shape[1]) + 0.5) * window.width / shape[1]
        r_ok = (rows >= 0) & (rows < self.grid.height)
        c_ok = (cols >= 0) & (cols < self.grid.width)
        return r_ok[:, None] & c_ok[None, :]


def open_raster(
    path: str | os.PathLike[str],
    band_names: Sequence[str] | None = None,
    sensor: str | Sensor | None = None,
    nodata: float | None = None,
    complex_mode: str | None = None,
) -> RasterSource:
    """Open any GDAL-readable raster (GeoTIFF, COG, VRT, JP2, ENVI .hdr/.img …).

    Complex (SLC SAR) rasters open without ``complex_mode``, but reading them needs one of
    ``eokit.io.sar.COMPLEX_MODES`` (amplitude, intensity, intensity_db, phase, real_imag, pauli).
    """
    p = str(path)
    if p.lower().endswith(".hdr"):
        p = p[:-4] if Path(p[:-4]).exists() else p[:-4] + ".img"
    return RasterSource(p, band_names=band_names, sensor=sensor, nodata=nodata, complex_mode=complex_mode)
