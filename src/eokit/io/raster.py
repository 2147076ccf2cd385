"""Open GDAL rasters and read windows of them, by pixel window or by bounds.

Handles are cached per process and dropped after ``fork`` so DataLoader and
Dask workers reopen their own (GDAL handles must not cross a fork).
"""

from __future__ import annotations

import copy
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from eokit.io.blockcache import BlockCache
from eokit.io.chip import Chip
from eokit.io.footprint import safe_transform_bounds, sampled_footprint
from eokit.io.grid import GridSpec, _crs_str
from eokit.io.sar import check_mode, complex_band_names, is_complex_dtype, native_sources, to_real
from eokit.sensors.bands import Sensor, band_key
from eokit.sensors.catalog import get_sensor
from eokit.sensors.resolve import apply_band_map, match_bands, parse_band_map

SUPPORTED_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}
_MAX_HANDLES = 64

_handles: OrderedDict[str, rasterio.io.DatasetReader] = OrderedDict()
_lock = threading.Lock()
_own = threading.local()  # ``handles`` of a thread inside own_handles()


def _clear_handles() -> None:
    _handles.clear()  # after fork: drop (don't close) the parent's handles


os.register_at_fork(after_in_child=_clear_handles)


def _open_cached(path: str) -> rasterio.io.DatasetReader:
    """A per-process handle for ``path``, opened under the current GDAL_NUM_THREADS.

    GDAL reads GDAL_NUM_THREADS (multi-threaded block decoding) when a dataset is
    opened, so handles opened under different settings are cached apart. A thread
    inside :func:`own_handles` gets handles of its own instead.
    """
    from rasterio._env import get_gdal_config

    key = f"{path}\0{get_gdal_config('GDAL_NUM_THREADS')}"
    own: dict[str, rasterio.io.DatasetReader] | None = getattr(_own, "handles", None)
    if own is not None:
        ds = own.get(key)
        if ds is None or ds.closed:
            ds = own[key] = _open(path)
        return ds
    with _lock:
        ds = _handles.get(key)
        if ds is not None and not ds.closed:
            _handles.move_to_end(key)
            return ds
        ds = _open(path)
        _handles[key] = ds
        while len(_handles) > _MAX_HANDLES:
            _, old = _handles.popitem(last=False)
            old.close()
        return ds


def _open(path: str) -> rasterio.io.DatasetReader:
    """``rasterio.open(path)`` with its header decoded, or a typed error naming the file."""
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
    return ds


@contextmanager
def own_handles() -> Iterator[None]:
    """Within: the rasters this thread reads use handles of its own, closed on exit.

    A GDAL handle must not be read from two threads at once, and the per-process handles
    are shared: a thread that reads beside others (``eokit.infer.predict.sample_tiles``)
    opens its own.
    """
    prev = getattr(_own, "handles", None)
    _own.handles = {}
    try:
        yield
    finally:
        for ds in _own.handles.values():
            ds.close()
        _own.handles = prev


def _header_note(path: str) -> str:
    """' (with ENVI header X)' when a raw raster has a .hdr sidecar, so errors name both files."""
    for hdr in (str(Path(path).with_suffix(".hdr")), path + ".hdr"):
        if hdr != path and Path(hdr).is_file():
            return f" (with its ENVI header {hdr!r})"
    return ""


def forget(path: str) -> None:
    """Close this process's cached handles of ``path`` (its file changed on disk)."""
    with _lock:
        for key in [k for k in _handles if k.split("\0", 1)[0] == path]:
            _handles.pop(key).close()


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
    footprint_wgs84: dict[str, Any] | None
    wavelengths: tuple[float | None, ...] = ()
    footprint_note: str | None = None
    is_complex: bool = False
    tags: dict[str, str] = field(default_factory=dict)  # the file's metadata (eokit maps: classes, engine, ...)

    def to_dict(self) -> dict[str, Any]:
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


BandMap = str | Mapping[str, int] | None


def data_path(path: str | os.PathLike[str]) -> str:
    """The file GDAL opens: an ENVI header ``x.hdr`` stands for its data file ``x`` or ``x.img``."""
    p = str(path)
    if p.lower().endswith(".hdr"):
        stem = p[:-4]
        for cand in (stem, stem + ".img", stem + ".dat", stem + ".bsq", stem + ".bil", stem + ".bip", stem + ".raw"):
            if Path(cand).is_file():
                return cand
        return stem + ".img"
    return p

_UNIT_NM = {
    "nm": 1.0, "nanometer": 1.0, "nanometers": 1.0,
    "um": 1e3, "µm": 1e3, "micrometer": 1e3, "micrometers": 1e3, "micron": 1e3, "microns": 1e3,
    "mm": 1e6, "millimeter": 1e6, "millimeters": 1e6,
}
_WAVELENGTH_TEXT = re.compile(
    r"\(?\s*\d+(?:\.\d+)?\s*(?:nm|um|µm|nanometers?|micrometers?|microns?)\s*\)?\s*$", re.IGNORECASE
)
_GENERIC_NAME = re.compile(r"^(band[\s_]*\d+)?$", re.IGNORECASE)


def to_nm(value: str | float, units: str | None = None) -> float | None:
    """A wavelength in nm from a value and its units (micrometres are guessed for values below 30)."""
    try:
        v = float(str(value).strip())
    except ValueError:
        return None
    factor = _UNIT_NM.get((units or "").strip().lower())
    if factor is None:  # 'Unknown' or no units: 0.4-15 is micrometres, 300+ nanometres
        factor = 1e3 if v < 30 else 1.0
    return v * factor if v > 0 else None


def file_wavelengths(ds: rasterio.io.DatasetReader) -> tuple[float | None, ...]:
    """Per-band centre wavelengths (nm) from GDAL metadata: band ``wavelength``/``wavelength_units``
    tags (ENVI headers, GeoTIFFs), ``IMAGERY`` ``CENTRAL_WAVELENGTH_UM``, or the ENVI ``wavelength`` list."""
    lower = {k.lower(): v for k, v in ds.tags().items()}
    envi = {k.lower(): v for k, v in ds.tags(ns="ENVI").items()} if "ENVI" in (ds.tag_namespaces() or []) else {}
    ds_units = lower.get("wavelength_units") or envi.get("wavelength_units")
    envi_list = [v for v in envi.get("wavelength", "").strip("{} ").split(",") if v.strip()]
    out: list[float | None] = []
    for i in ds.indexes:
        tags = {k.lower(): v for k, v in ds.tags(i).items()}
        imagery = {k.lower(): v for k, v in ds.tags(i, ns="IMAGERY").items()}
        nm = None
        if "wavelength" in tags:
            nm = to_nm(tags["wavelength"], tags.get("wavelength_units") or ds_units)
        elif "central_wavelength_um" in imagery:
            nm = to_nm(imagery["central_wavelength_um"], "um")
        elif len(envi_list) == ds.count:
            nm = to_nm(envi_list[i - 1], ds_units)
        out.append(nm)
    return tuple(out)


def description_name(description: str | None) -> str | None:
    """The band name a GDAL description carries, or None for a generic one.

    ``'B4 (0.662 Micrometers)'`` -> ``'B4'``; ``'Band 3'``, ``'0.662 Micrometers'`` (what GDAL makes of
    ENVI headers without band names) and ``''`` -> None.
    """
    text = _WAVELENGTH_TEXT.sub("", (description or "").strip()).strip()
    return None if _GENERIC_NAME.match(text) else text


def resolve_positions(
    wanted: Sequence[str | float],
    names: Sequence[str],
    sensor: Sensor | None,
    *,
    wavelengths: Sequence[float | None] | None = None,
    common_names: Sequence[str | None] | None = None,
    where: str = "the input",
    what: str = "",
) -> list[int]:
    """0-based positions of ``wanted`` among ``names`` (``eokit.sensors.match_bands``); a band not found by
    its name is looked for among ``common_names`` (STAC ``eo:bands``) before BandError names every miss."""
    try:
        return match_bands(wanted, names, sensor, wavelengths=wavelengths, where=where, what=what)
    except BandError:
        if not common_names or not any(common_names):
            raise
    alt = [c or n for c, n in zip(common_names, names, strict=True)]
    out: list[int] = []
    missing: list[str | float] = []
    for w in wanted:
        for candidates in (names, alt):
            try:
                out += match_bands([w], candidates, sensor, wavelengths=wavelengths)
                break
            except BandError:
                continue
        else:
            missing.append(w)
    if missing:
        match_bands(missing, names, sensor, wavelengths=wavelengths, where=where, what=what)
    return out


def _unique(names: list[str], keep: Collection[int] = ()) -> list[str]:
    """``names`` with every duplicate (other than positions in ``keep``) replaced by its 1-based position."""
    seen = {band_key(names[i]) for i in keep}
    out = list(names)
    for i, n in enumerate(names):
        if i in keep:
            continue
        if band_key(n) in seen:
            out[i] = str(i + 1)
        seen.add(band_key(out[i]))
    return out


class RasterSource:
    """One raster file (any GDAL format) with named bands.

    Band names come from ``band_names`` (all N bands of the file), else the file's
    band descriptions, else the ``sensor`` band whose range holds each band's
    centre wavelength (file metadata, or ``wavelengths`` in nm), else the
    sensor's band order when the count matches, else ``'1'..'N'``. Bands named after a
    sensor band without a wavelength in the file get that band's centre. ``band_map``
    (``'red=3,nir=4'`` or a mapping) then names bands by 1-based position.
    ``bands`` (names, aliases, common names or wavelengths such as ``'665nm'``,
    resolved with ``eokit.sensors.match_bands``) keeps only those bands, in that
    order: ``.bands``, ``.wavelengths`` and every read then see only them (the
    source reads the file's band indexes ``.indexes``; ``.select`` makes such a view).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        band_names: Sequence[str] | None = None,
        sensor: str | Sensor | None = None,
        nodata: float | None = None,
        *,
        bands: Sequence[str | float] | None = None,
        band_map: BandMap = None,
        wavelengths: Sequence[float | None] | None = None,
        common_names: Sequence[str | None] | None = None,
        complex_mode: str | None = None,
    ) -> None:
        self.path = data_path(path)
        self.sensor = get_sensor(sensor) if sensor is not None else None
        ds = _open_cached(self.path)
        self._nodata_override = nodata
        if ds.dtypes[0] not in SUPPORTED_DTYPES and not is_complex_dtype(ds.dtypes[0]):
            raise DTypeError(
                f"{self.path!r} has dtype {ds.dtypes[0]!r}, which eokit does not read; "
                f"supported: {sorted(SUPPORTED_DTYPES)} (convert with gdal_translate -ot Float32)"
            )
        for label, given in (("names", band_names), ("wavelengths", wavelengths), ("common names", common_names)):
            if given is not None and len(given) != ds.count:
                raise BandError(
                    f"{self.path!r} has {ds.count} bands but {len(given)} band {label} were given: {list(given)}"
                )
        self.wavelengths: tuple[float | None, ...] = (
            tuple(wavelengths) if wavelengths is not None else file_wavelengths(ds)
        )
        self.common_names: tuple[str | None, ...] = (
            tuple(common_names) if common_names is not None else (None,) * ds.count
        )
        self.bands: tuple[str, ...] = self._names(ds, band_names)
        self.indexes: tuple[int, ...] = tuple(range(1, ds.count + 1))
        mapping = parse_band_map(band_map)
        if mapping:
            mapped = apply_band_map(self.bands, mapping, where=repr(self.path), sensor=self.sensor)
            self.bands = tuple(_unique(list(mapped), keep={i - 1 for i in mapping.values()}))
        self.fill_wavelengths()
        self.grid = GridSpec(ds.crs, ds.transform, ds.height, ds.width)
        self.dtype: str = ds.dtypes[0]
        self._init_complex(complex_mode)
        if bands is not None:
            self._keep(self.positions(bands))

    def _names(self, ds: rasterio.io.DatasetReader, band_names: Sequence[str] | None) -> tuple[str, ...]:
        if band_names is not None:
            return tuple(band_names)
        described = [description_name(d) for d in ds.descriptions]
        if all(described) and len({band_key(d) for d in described if d}) == ds.count:
            return tuple(d for d in described if d)
        s = self.sensor
        if s is not None and any(w is not None for w in self.wavelengths):
            names = []
            for i, (d, w) in enumerate(zip(described, self.wavelengths, strict=True)):
                at = s.band_at(w) if w is not None else None
                names.append(d or (at.name if at is not None else str(i + 1)))
            return tuple(_unique(names))
        if s is not None and len(s.bands) == ds.count:
            return s.band_names
        given = [band_key(d) for d in described if d]
        if len(set(given)) < len(given):  # repeated descriptions name nothing
            described = [None] * ds.count
        return tuple(_unique([d or str(i + 1) for i, d in enumerate(described)]))

    def fill_wavelengths(self) -> None:
        """Give bands the file does not give a wavelength the centre wavelength of their sensor band."""
        s = self.sensor
        if s is not None:
            self.wavelengths = tuple(
                s.band(b).center_nm if w is None and s.has(b) else w
                for b, w in zip(self.bands, self.wavelengths, strict=True)
            )

    def _keep(self, positions: Sequence[int]) -> None:
        self.bands = tuple(self.bands[i] for i in positions)
        self.indexes = tuple(self.indexes[i] for i in positions)
        self.wavelengths = tuple(self.wavelengths[i] for i in positions)
        self.common_names = tuple(self.common_names[i] for i in positions)

    def select(self, bands: Sequence[str | float]) -> RasterSource:
        """A view of this source with only ``bands`` (resolved like ``read(bands=)``), in that order."""
        view = copy.copy(self)
        view._keep(self.positions(bands))
        return view

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
            n = len(self.bands)
            self.indexes = tuple(range(1, n + 1))  # positions of the real channels
            self.wavelengths = (None,) * n
            self.common_names = (None,) * n

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

    def footprint(self, crs: CRS | str | None = None) -> dict[str, Any]:
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

    def _outline(self) -> dict[str, Any]:
        w, s, e, n = self.bounds
        return {"type": "Polygon", "coordinates": [[(w, s), (e, s), (e, n), (w, n), (w, s)]]}

    def require_crs(self, why: str) -> CRS:
        if self.crs is None:
            raise MissingCRSError(
                f"{self.path!r} has no CRS, so eokit cannot {why}; assign one "
                "(e.g. gdal_edit.py -a_srs EPSG:XXXX) or read by pixel window"
            )
        return self.crs

    def footprint_with_note(self, crs: CRS | str = "EPSG:4326") -> tuple[dict[str, Any] | None, str | None]:
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
            wavelengths=self.wavelengths,
            footprint_note=note,
            is_complex=is_complex_dtype(self.dtype),
            tags=dict(ds.tags()),
        )

    # -- band selection -----------------------------------------------------
    def positions(self, bands: Sequence[str | float], what: str = "") -> list[int]:
        """0-based positions in ``.bands`` of ``bands`` (names, aliases, common names, wavelengths)."""
        return resolve_positions(bands, self.bands, self.sensor, wavelengths=self.wavelengths,
                                 common_names=self.common_names, where=repr(self.path), what=what)

    def band_indexes(self, bands: Sequence[str | float] | None) -> list[int]:
        """1-based GDAL band indexes for ``bands`` (default: every band of this source)."""
        if bands is None:
            return list(self.indexes)
        return [self.indexes[i] for i in self.positions(bands)]

    def require_bands(self, wanted: Sequence[str | float], what: str = "") -> list[str]:
        """``wanted`` as a list once every band of it is found (BandError names every missing one)."""
        self.positions(wanted, what=what)
        return list(wanted)  # type: ignore[arg-type]

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
        cache: BlockCache | None = None,
    ) -> Chip:
        """Read a window (``Window`` or ``(col_off, row_off, width, height)``) or bounds.

        ``boundless=True`` pads the part outside the raster with nodata (0 if the
        raster has none) and marks it invalid; otherwise a window reaching
        outside the raster raises WindowError. ``dtype=None`` keeps the native
        dtype. ``out_shape`` resamples with ``resampling`` (explicit only).
        ``cache`` (a shared :class:`~eokit.io.blockcache.BlockCache`) serves the decoded
        blocks of a window inside the raster read at full resolution.
        """
        if window is not None and bounds is not None:
            raise WindowError("pass either window= or bounds=, not both")
        if bounds is not None:
            window = self.window_for_bounds(bounds, bounds_crs)
        elif window is None:
            window = Window(0, 0, self.grid.width, self.grid.height)
        elif not isinstance(window, Window):
            window = Window(*window)
        assert not isinstance(window, tuple)  # a Window now (for mypy: rasterio has no type hints)
        window = Window(round(window.col_off), round(window.row_off), round(window.width), round(window.height))
        assert not isinstance(window, tuple)
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
        positions = list(range(len(self.bands))) if bands is None else self.positions(bands)
        indexes = [self.indexes[i] for i in positions]
        names = tuple(self.bands[i] for i in positions)
        complex_indexes = indexes
        if is_complex_dtype(self.dtype):
            check_mode(self.complex_mode, repr(self.path), self.dtype)
            indexes = self._complex_sources(indexes)
        shape = out_shape or (int(window.height), int(window.width))
        cached = cache is not None and inside and out_shape is None and not is_complex_dtype(self.dtype)
        if cache is not None and cached:
            try:
                k0, k1, changed = cache.file_key(self.path)
            except OSError as exc:
                raise RasterError(f"cannot read {self.path!r}: {exc} (was the file moved or deleted?)") from exc
            if changed:  # rewritten since this process opened it: a fresh handle, fresh blocks
                forget(self.path)
        ds = self.dataset
        nodata = self._nodata_override if self._nodata_override is not None else ds.nodata
        fill = nodata if nodata is not None else 0
        try:
            arr = cache.read(ds, (k0, k1), indexes, int(window.col_off), int(window.row_off), int(window.width),
                             int(window.height), dtype=dtype) if cache is not None and cached else None
            if arr is not None:  # served from (and added to) the shared block cache
                valid = np.ones(shape, dtype=bool)
            elif inside and out_shape is None and dtype is not None and _direct_cast(self.dtype, dtype):
                # GDAL converts while copying out of its block cache: no native array and astype pass
                arr = ds.read(indexes, window=window, out_dtype=dtype)
                valid = np.ones(shape, dtype=bool)
            elif inside:
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

    def _mode(self) -> str:
        """The complex mode (``read`` checked that one was chosen)."""
        return check_mode(self.complex_mode, repr(self.path), self.dtype)

    def _complex_sources(self, indexes: list[int]) -> list[int]:
        """1-based complex bands to read for real channels ``indexes`` (1-based)."""
        need = {j for i in indexes
                for j in native_sources(self.native_bands, self._mode(), i - 1, repr(self.path))}
        return [j + 1 for j in sorted(need)]

    def _complex_to_real(self, arr: np.ndarray, read: list[int], wanted: list[int]) -> np.ndarray:
        """The real channels ``wanted`` (1-based into ``bands``) of complex ``arr`` (bands ``read``)."""
        where = repr(self.path)
        native = [self.native_bands[i - 1] for i in read]
        real, names = to_real(arr, native, self._mode(), where)
        full = complex_band_names(self.native_bands, self._mode(), where)  # by position: callers may rename
        return real[[names.index(full[i - 1]) for i in wanted]]

    def _read_padded(self, ds: rasterio.io.DatasetReader, indexes: list[int], window: Window,
                     shape: tuple[int, int], fill: float, resampling: Resampling) -> np.ndarray:
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
        mask: np.ndarray = r_ok[:, None] & c_ok[None, :]
        return mask


def _direct_cast(native: str, dtype: str) -> bool:
    """Whether GDAL's conversion of ``native`` to ``dtype`` gives numpy's ``astype`` values (exact)."""
    if native == dtype:
        return True
    exact = {"float32": {"uint8", "int8", "uint16", "int16"}, "float64": {"uint8", "int8", "uint16", "int16",
                                                                          "uint32", "int32", "float32"}}
    return native in exact.get(dtype, set())


def open_raster(
    path: str | os.PathLike[str],
    band_names: Sequence[str] | None = None,
    sensor: str | Sensor | None = None,
    nodata: float | None = None,
    *,
    bands: Sequence[str | float] | None = None,
    band_map: BandMap = None,
    complex_mode: str | None = None,
) -> RasterSource:
    """Open any GDAL-readable raster (GeoTIFF, COG, VRT, JP2, ENVI .hdr/.img …).

    ``bands`` keeps only the bands wanted, in that order (names, aliases, common names or
    wavelengths such as ``'665nm'``); ``band_map`` (``'red=3,nir=4'``) names bands by 1-based
    position; ``band_names`` names all N bands of the file. See ``RasterSource``. Complex (SLC
    SAR) rasters open without ``complex_mode``, but reading them needs one of
    ``eokit.io.sar.COMPLEX_MODES`` (amplitude, intensity, intensity_db, phase, real_imag, pauli).
    """
    return RasterSource(path, band_names=band_names, sensor=sensor, nodata=nodata, bands=bands, band_map=band_map,
                        complex_mode=complex_mode)


def block_row_bytes(source: Any) -> int:
    """Decoded bytes of one row of a scene's internal blocks across its full width.

    What GDAL's block cache must hold so that a reader moving down the scene in overlapping
    windows decodes each block once. ``source``: a RasterSource, a BandStack (its band files
    summed), a time series (its dates summed), or anything with ``.sources``; 0 when unknown.
    """
    if hasattr(source, "collection"):  # eokit.infer.series.SeriesSource
        return sum(block_row_bytes(s) for s in source.collection.sources)
    total = 0
    for s in getattr(source, "sources", [source]):
        ds = getattr(s, "dataset", None)
        if ds is None:
            return 0
        total += int(ds.block_shapes[0][0]) * ds.width * ds.count * np.dtype(ds.dtypes[0]).itemsize
    return total
