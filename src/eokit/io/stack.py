"""BandStack: several single- or multi-band files read as one raster on a reference grid.

Sentinel-2 SAFE tiles, OSCD, BigEarthNet and STAC items store one file per
band, often at different resolutions. A stack reads every band on the grid of
its *reference* source. When sources differ in resolution the caller must say
how to resample (``resampling='bilinear'``): eokit never resamples silently.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from eokit.errors import BandError, CRSMismatchError, WindowError
from eokit.io.blockcache import BlockCache
from eokit.io.chip import Chip
from eokit.io.grid import GridSpec, _crs_str
from eokit.io.raster import BandMap, RasterSource, _unique, resolve_positions
from eokit.sensors.bands import Sensor
from eokit.sensors.resolve import apply_band_map, parse_band_map


class BandStack:
    """Bands from several ``RasterSource``s, aligned to ``reference``'s grid.

    ``band_map`` (``'red=3,nir=4'``) names bands by 1-based position in the stack's band
    order; ``bands`` then keeps only the bands wanted, in that order (each becomes a
    one-band view of its source, see ``RasterSource.select``). ``reference`` is a source
    index or a band name.
    """

    item_id: str | None  # set by open_stac_item: the STAC item's id and datetime
    datetime: str | None

    def __init__(
        self,
        sources: Sequence[RasterSource],
        reference: int | str = 0,
        resampling: str | Resampling | None = None,
        *,
        bands: Sequence[str | float] | None = None,
        band_map: BandMap = None,
    ) -> None:
        if not sources:
            raise BandError("a BandStack needs at least one source")
        self.sources = list(sources)
        self.sensor = next((s.sensor for s in self.sources if s.sensor is not None), None)
        mapping = parse_band_map(band_map)
        if mapping:
            self._rename(mapping)
        if isinstance(reference, str):
            try:
                reference = self._owners([reference])[0][0]
            except BandError as exc:
                raise BandError(f"reference band {reference!r}: {exc}") from None
        self.reference = self.sources[reference]
        self.grid: GridSpec = self.reference.grid
        self.resampling = resampling
        ref = self.reference
        for src in self.sources:
            if src.crs != ref.crs:
                raise CRSMismatchError(
                    f"band files must share a CRS: {ref.path!r} is {_crs_str(ref.crs)} but "
                    f"{src.path!r} is {_crs_str(src.crs)}; reproject one of them first (eokit.io.reproject)"
                )
            if src.grid != ref.grid and resampling is None:
                raise WindowError(
                    f"{src.path!r} ({src.grid.width}x{src.grid.height}, res {src.grid.res}) is not on the grid of "
                    f"{ref.path!r} ({ref.grid.width}x{ref.grid.height}, res {ref.grid.res}); pass "
                    "resampling='bilinear' (or 'nearest', …; on the command line --resampling bilinear) to "
                    "resample it onto the reference grid, or leave that file out"
                )
        if bands is not None:
            self.sources = self._views(bands)

    def _views(self, bands: Sequence[str | float]) -> list[RasterSource]:
        return [self.sources[o].select([self.sources[o].bands[j]]) for o, j in self._owners(bands)]

    def select(self, bands: Sequence[str | float]) -> BandStack:
        """A view of this stack with only ``bands`` (resolved like ``read(bands=)``), in that order."""
        view = copy.copy(self)
        view.sources = self._views(bands)
        return view

    def _where(self) -> str:
        paths = [s.path for s in self.sources]
        return repr(paths[0]) if len(paths) == 1 else f"the band files {paths}"

    def _rename(self, mapping: dict[str, int]) -> None:
        """Apply a band map over the stack's band order (copies of the sources carry the new names)."""
        mapped = apply_band_map(self.bands, mapping, where=self._where(), sensor=self.sensor)
        names = _unique(list(mapped), keep={i - 1 for i in mapping.values()})
        start = 0
        for k, src in enumerate(self.sources):
            n = len(src.bands)
            if tuple(names[start:start + n]) != src.bands:
                self.sources[k] = copy.copy(src)  # the caller's source keeps its names
                self.sources[k].bands = tuple(names[start:start + n])
                self.sources[k].fill_wavelengths()
            start += n

    def _owners(self, names: Sequence[str | float], what: str = "") -> list[tuple[int, int]]:
        """(source index, position in that source) of each band, resolved with ``match_bands``."""
        flat = [(k, j) for k, s in enumerate(self.sources) for j in range(len(s.bands))]
        positions = resolve_positions(
            names, self.bands, self.sensor,
            wavelengths=[w for s in self.sources for w in s.wavelengths],
            common_names=[c for s in self.sources for c in s.common_names],
            where=self._where(), what=what,
        )
        return [flat[i] for i in positions]

    def require_bands(self, wanted: Sequence[str | float], what: str = "") -> list[str]:
        """``wanted`` as a list once every band of it is found (BandError names every missing one)."""
        self._owners(wanted, what=what)
        return list(wanted)  # type: ignore[arg-type]

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(b for s in self.sources for b in s.bands)

    @property
    def wavelengths(self) -> tuple[float | None, ...]:
        return tuple(w for s in self.sources for w in s.wavelengths)

    @property
    def crs(self) -> CRS | None:
        return self.grid.crs

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.grid.bounds

    @property
    def nodata(self) -> float | None:
        return self.reference.nodata

    def read(
        self,
        window: Window | tuple[int, int, int, int] | None = None,
        *,
        bounds: tuple[float, float, float, float] | None = None,
        bounds_crs: CRS | str | None = None,
        bands: Sequence[str] | None = None,
        boundless: bool = False,
        dtype: str | None = "float32",
        cache: BlockCache | None = None,
    ) -> Chip:
        """Read bands (default: all) on the reference grid; same arguments as RasterSource.read
        (``cache`` serves the bands already on the reference grid)."""
        if bounds is not None:
            window = self.reference.window_for_bounds(bounds, bounds_crs)
        elif window is None:
            window = Window(0, 0, self.grid.width, self.grid.height)
        elif not isinstance(window, Window):
            window = Window(*window)
        assert not isinstance(window, tuple)  # a Window now (for mypy: rasterio has no type hints)
        out_shape = (round(window.height), round(window.width))
        window = Window(round(window.col_off), round(window.row_off), round(window.width), round(window.height))
        owners = self._owners(bands) if bands is not None else [
            (k, j) for k, s in enumerate(self.sources) for j in range(len(s.bands))]
        arrays, valid, canonical = [], None, []
        win_grid = self.grid.window_grid(window)
        for owner, j in owners:
            src = self.sources[owner]
            name = src.bands[j]
            if src.grid == self.grid:
                chip = src.read(window, bands=[name], boundless=boundless, dtype=dtype, cache=cache)
            else:
                sub = src.window_for_bounds(win_grid.bounds)
                chip = src.read(
                    sub,
                    bands=[name],
                    boundless=True if boundless else _inside(sub, src),
                    dtype=dtype,
                    out_shape=out_shape,
                    resampling=self.resampling,
                )
            arrays.append(chip.array[0])
            canonical.append(chip.bands[0])
            valid = chip.valid if valid is None else (valid & chip.valid)
        arr = np.stack(arrays)
        assert valid is not None  # set by the first band (np.stack refuses none)
        return Chip(arr, valid, tuple(canonical), win_grid, self.nodata)


def _inside(window: Window, src: RasterSource) -> bool:
    """Sub-pixel overhang from resolution differences is padded rather than refused."""
    return not (
        window.col_off >= -1
        and window.row_off >= -1
        and window.col_off + window.width <= src.grid.width + 1
        and window.row_off + window.height <= src.grid.height + 1
    )


def band_name_from_filename(path: str, sensor: Sensor | None) -> str | None:
    """Guess a band name from a file name's last token: ``l8_B4.tif`` -> ``B4``, ``T18SVG_B8A.jp2`` -> ``B8A``."""
    stem = Path(path).name.split(".")[0]
    tokens = re.split(r"[_\-. ]", stem)
    for tok in reversed(tokens):
        if sensor is not None and sensor.has(tok):
            return sensor.band(tok).name
        if sensor is None and re.fullmatch(r"[Bb]\d{1,2}[Aa]?|VV|VH|vv|vh", tok):
            return tok.upper()
    return None


def open_band_files(
    paths: Sequence[str | os.PathLike[str]],
    sensor: str | Sensor | None = None,
    reference: int | str = 0,
    resampling: str | Resampling | None = None,
    *,
    bands: Sequence[str | float] | None = None,
    band_map: BandMap = None,
    complex_mode: str | None = None,
) -> BandStack:
    """Open one-file-per-band rasters as a BandStack, naming bands from file names.

    ``complex_mode`` turns complex (SLC SAR) files into real channels (see ``eokit.io.sar``).

    Single-band files are named by the band token at the end of the file name
    (``..._B04.tif``); files whose name has no band token keep their own band names
    (descriptions, or the sensor band at their centre wavelength). ``band_map`` names
    bands by 1-based position in the stack; ``bands`` keeps only those bands, in that
    order (see ``BandStack``).
    """
    from eokit.sensors.catalog import get_sensor

    s = get_sensor(sensor) if sensor is not None else None
    sources = []
    for p in paths:
        src = RasterSource(p, sensor=s, complex_mode=complex_mode)
        if len(src.bands) == 1:
            name = band_name_from_filename(str(p), s)
            if name is not None:
                src.bands = (name,)
                src.fill_wavelengths()
        sources.append(src)
    if s is not None:
        order = {b: i for i, b in enumerate(s.band_names)}
        sources.sort(key=lambda src: order.get(src.bands[0], len(order)) if len(src.bands) == 1 else -1)
    return BandStack(sources, reference=reference, resampling=resampling, bands=bands, band_map=band_map)
