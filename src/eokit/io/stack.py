"""BandStack: several single- or multi-band files read as one raster on a reference grid.

Sentinel-2 SAFE tiles, OSCD, BigEarthNet and STAC items store one file per
band, often at different resolutions. A stack reads every band on the grid of
its *reference* source. When sources differ in resolution the caller must say
how to resample (``resampling='bilinear'``): eokit never resamples silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.enums import Resampling
from rasterio.windows import Window

from eokit.errors import BandError, CRSMismatchError, WindowError, suggest
from eokit.io.chip import Chip
from eokit.io.grid import GridSpec, _crs_str
from eokit.io.raster import RasterSource
from eokit.sensors.bands import Sensor, _key


class BandStack:
    """Bands from several ``RasterSource``s, aligned to ``reference``'s grid."""

    def __init__(
        self,
        sources: Sequence[RasterSource],
        reference: int | str = 0,
        resampling: str | Resampling | None = None,
    ) -> None:
        if not sources:
            raise BandError("a BandStack needs at least one source")
        self.sources = list(sources)
        if isinstance(reference, str):
            matches = [i for i, s in enumerate(self.sources) if any(_key(b) == _key(reference) for b in s.bands)]
            if not matches:
                raise BandError(f"reference band {reference!r} is in none of the sources {self.bands}")
            reference = matches[0]
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
                    "resampling='bilinear' (or 'nearest', …) to resample it onto the reference grid"
                )
        seen: dict[str, int] = {}
        for i, src in enumerate(self.sources):
            for b in src.bands:
                seen.setdefault(_key(b), i)
        self._owner = seen
        self.sensor = next((s.sensor for s in self.sources if s.sensor is not None), None)

    def _resolve(self, name: str) -> tuple[int, str]:
        """(source index, band name in that source) for a name, alias or common name."""
        owner = self._owner.get(_key(name))
        if owner is None and self.sensor is not None and self.sensor.has(name):
            canonical = self.sensor.band(name).name
            owner = self._owner.get(_key(canonical))
            name = canonical
        if owner is None:
            raise BandError(f"band {name!r} is not in this stack; it has {list(self.bands)}.{suggest(name, self.bands)}")
        return owner, name

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(b for s in self.sources for b in s.bands)

    @property
    def crs(self):
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
        bounds_crs=None,
        bands: Sequence[str] | None = None,
        boundless: bool = False,
        dtype: str | None = "float32",
    ) -> Chip:
        """Read bands (default: all) on the reference grid; same arguments as RasterSource.read."""
        if bounds is not None:
            window = self.reference.window_for_bounds(bounds, bounds_crs)
        elif window is None:
            window = Window(0, 0, self.grid.width, self.grid.height)
        elif not isinstance(window, Window):
            window = Window(*window)
        window = Window(round(window.col_off), round(window.row_off), round(window.width), round(window.height))
        names = list(bands) if bands is not None else list(self.bands)
        arrays, valid, canonical = [], None, []
        win_grid = self.grid.window_grid(window)
        for name in names:
            owner, name = self._resolve(name)
            src = self.sources[owner]
            if src.grid == self.grid:
                chip = src.read(window, bands=[name], boundless=boundless, dtype=dtype)
            else:
                sub = src.window_for_bounds(win_grid.bounds)
                chip = src.read(
                    sub,
                    bands=[name],
                    boundless=True if boundless else _inside(sub, src),
                    dtype=dtype,
                    out_shape=(int(window.height), int(window.width)),
                    resampling=self.resampling,
                )
            arrays.append(chip.array[0])
            canonical.append(chip.bands[0])
            valid = chip.valid if valid is None else (valid & chip.valid)
        arr = np.stack(arrays)
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
    complex_mode: str | None = None,
) -> BandStack:
    """Open one-file-per-band rasters as a BandStack, naming bands from file names.

    ``complex_mode`` turns complex (SLC SAR) files into real channels (see ``eokit.io.sar``).

    Single-band files are named by the band token at the end of the file name
    (``..._B04.tif``); files whose name has no band token keep their own band names.
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
        sources.append(src)
    if s is not None:
        order = {b: i for i, b in enumerate(s.band_names)}
        sources.sort(key=lambda src: order.get(src.bands[0], len(order)) if len(src.bands) == 1 else -1)
    return BandStack(sources, reference=reference, resampling=resampling)
