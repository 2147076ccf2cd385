"""A time series of scenes as one source for scene inference: one map per location from T dates.

:func:`open_series` stacks the dates of one place (one raster per date) into a
:class:`SeriesSource`, which ``predict_scene`` reads like a single scene: each tile
becomes (T, C, h, w), the model (a temporal model mapping (B, T, C, h, w) to
(B, K, h, w), e.g. ``create_model(..., temporal='ltae')``) gets the days of year
as ``dates=``, and the map is written on the first date's grid. A date whose
scene is on another grid is warped onto it only with ``resampling=`` (else
:class:`~eokit.errors.GridAlignError`); a pixel counts as valid in the map when
any date holds data there, and a date's nodata pixels are 0 after normalisation.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from eokit.data.collection import SceneCollection, parse_time
from eokit.data.timeseries import SpaceTimeDataset, SpaceTimeWindow
from eokit.errors import EokitError, RasterError, TimeSeriesError
from eokit.io import GridSpec

# a date in a file name: YYYYMMDD, YYYY-MM-DD, YYYY_MM_DD, or a year alone (1 January)
DATE_IN_NAME = re.compile(r"(?<!\d)(?P<year>(?:19|20)\d{2})(?:[-_]?(?P<month>[01]\d)[-_]?(?P<day>[0-3]\d))?(?!\d)")


@dataclass(frozen=True)
class SeriesChip:
    """Tiles of a series: ``array`` (T, C, h, w), ``valid`` (h, w) any date, ``frames_valid`` (T, h, w)."""

    array: np.ndarray
    valid: np.ndarray
    frames_valid: np.ndarray
    bands: tuple[str, ...]
    grid: GridSpec


class SeriesSource:
    """The dates of one place, read together on the first date's grid (see the module doc)."""

    def __init__(self, collection: SceneCollection, resampling: str | None = None) -> None:
        self.collection = collection
        order = sorted(range(len(collection)), key=lambda i: (collection.scenes[i].time, i))
        self.order = tuple(order)
        first = collection.scenes[order[0]]
        self.reference = collection.sources[order[0]]
        self.grid: GridSpec = first.grid
        self.bands: tuple[str, ...] = first.bands
        self.sensor = getattr(self.reference, "sensor", None)
        times = [collection.scenes[i].time for i in order]
        if any(t is None for t in times):
            raise TimeSeriesError(f"every scene of a series needs a date; {first.path!r} ... has none "
                                  "(pass dates=, one per file)")
        self.times: tuple[datetime, ...] = tuple(t for t in times if t is not None)
        self.dataset = SpaceTimeDataset(collection, resampling=resampling, dtype="float32")
        self._days = tuple(t.toordinal() for t in self.times)
        self.paths = tuple(collection.scenes[i].path for i in order)

    def __len__(self) -> int:
        return len(self.order)

    @property
    def doy(self) -> np.ndarray:
        """Day of year (1-366) of each date, in time order."""
        return np.array([t.timetuple().tm_yday for t in self.times], dtype=np.int64)

    def require_bands(self, wanted: Sequence[str | float], what: str = "") -> list[str]:
        """``wanted`` once every date has each band (BandError names the file and the missing band)."""
        for i in self.order:
            src = self.collection.sources[i]
            src.require_bands(wanted, what=what)
        return [str(b) for b in wanted]

    def read(self, window: Window, *, bands: Sequence[str] | None = None, boundless: bool = False,
             dtype: str | None = None) -> SeriesChip:
        """(T, C, h, w) float32 of ``window`` on the first date's grid (padding outside: invalid)."""
        ds = self.dataset
        ds.bands = tuple(bands) if bands is not None else None
        spec = SpaceTimeWindow(self.order[0], int(window.col_off), int(window.row_off), int(window.width),
                               int(window.height), self.order, self._days)
        s = ds[spec]
        frames = s["valid"].numpy()
        return SeriesChip(s["image"].numpy(), frames.any(axis=0), frames, tuple(s["bands"]),
                          self.grid.window_grid(window))

    def __repr__(self) -> str:
        return f"SeriesSource({self.describe()})"

    def describe(self) -> str:
        return (f"{len(self)} dates {self.times[0].date()} .. {self.times[-1].date()} "
                f"({Path(self.paths[0]).name} ...)")


def _expand(scenes: Sequence[str | os.PathLike[str]]) -> list[str]:
    files: list[str] = []
    for s in scenes:
        p = str(s)
        if Path(p).is_dir():
            files += sorted(str(f) for f in Path(p).iterdir()
                            if f.suffix.lower() in (".tif", ".tiff", ".vrt", ".jp2") and not f.name.startswith("."))
        elif any(ch in p for ch in "*?[") and not Path(p).exists():
            hits = sorted(glob.glob(p))
            if not hits:
                raise RasterError(f"the pattern {p!r} matches no files")
            files += hits
        else:
            files.append(p)
    return files


def _date_from_name(path: str) -> datetime | None:
    found = list(DATE_IN_NAME.finditer(Path(path).stem))
    if not found:
        return None
    m = found[-1]  # the last date-like token of the name (a tile id or version precedes it)
    try:
        return datetime(int(m["year"]), int(m["month"] or 1), int(m["day"] or 1))
    except ValueError:
        return None


def open_series(
    scenes: Sequence[str | os.PathLike[str]] | str,
    *,
    dates: Sequence[str | datetime] | None = None,
    pattern: str | None = None,
    date_format: str = "%Y%m%d",
    sensor: str | None = None,
    band_names: Sequence[str] | None = None,
    band_map: str | None = None,
    resampling: str | None = None,
    min_dates: int = 2,
) -> SeriesSource:
    """The dates of one place as a :class:`SeriesSource`.

    ``scenes``: raster files (one per date), a folder of them or a glob. A date comes from
    ``dates`` (one per file, ISO), else ``pattern`` (a regex with a ``date`` group parsed with
    ``date_format``, or ``year``/``month``/``day`` groups) on the file name, else the last
    date-like token of the name (``2020.tif``, ``S2_20230614_T31.tif``), else a TIFF date tag.
    A file with none, an unparsable date, two files on one date, or fewer than ``min_dates``
    files raise :class:`~eokit.errors.TimeSeriesError` naming the file and the fix.
    """
    files = _expand([scenes] if isinstance(scenes, str | os.PathLike) else list(scenes))
    if len(files) < min_dates:
        raise TimeSeriesError(
            f"a time series needs at least {min_dates} dates, got {len(files)} file(s) {files}; pass one raster "
            "per date (a folder, a glob such as 'series/*.tif', or several files)"
        )
    if dates is not None and len(dates) != len(files):
        raise TimeSeriesError(f"{len(dates)} dates given for {len(files)} files {files}; give one date per file")
    times: list[datetime | None] = []
    for i, f in enumerate(files):
        if dates is not None:
            try:
                times.append(parse_time(dates[i], f"the date of {f!r}"))
            except EokitError as exc:
                raise TimeSeriesError(str(exc)) from None
        elif pattern is not None:
            from eokit.data.collection import time_from_name

            try:
                t = time_from_name(f, re.compile(pattern), date_format)
            except (EokitError, re.error) as exc:
                raise TimeSeriesError(f"--date-pattern {pattern!r} on {f!r}: {exc}") from None
            if t is None:
                raise TimeSeriesError(f"--date-pattern {pattern!r} does not match {f!r}; fix the pattern or pass "
                                      "the dates explicitly (--dates 2020-06-01,...)")
            times.append(t)
        else:
            times.append(_date_from_name(f))
    try:
        coll = SceneCollection(_open_all(files, sensor, band_names, band_map), times)
    except EokitError as exc:
        if isinstance(exc, RasterError):
            raise
        raise TimeSeriesError(str(exc)) from None
    undated = [s.path for s in coll.scenes if s.time is None]
    if undated:
        raise TimeSeriesError(
            f"{undated[0]!r} has no date in its name or tags; name the files by date ('2020-06-01.tif', "
            "'S2_20200601.tif'), or pass --dates (one ISO date per file) or --date-pattern"
        )
    seen: dict[str, str] = {}
    for s in coll.scenes:
        key = s.time.isoformat() if s.time is not None else ""
        if key in seen:
            raise TimeSeriesError(f"{seen[key]!r} and {s.path!r} have the same date {key}; a series has one "
                                  "scene per date (mosaic them first, or pass distinct --dates)")
        seen[key] = s.path
    return SeriesSource(coll, resampling=resampling)


def _open_all(files: list[str], sensor: str | None, band_names: Sequence[str] | None,
              band_map: str | None) -> list[Any]:
    from eokit.io import open_raster

    return [open_raster(f, band_names=band_names, sensor=sensor, band_map=band_map) for f in files]
