"""SceneCollection: many rasters indexed by footprint (STRtree) and acquisition time.

Each scene keeps its native CRS and grid; only the *query index* holds footprints
in a common CRS (EPSG:4326 by default). Samples are read on the grid of the scene
they come from, so a collection spanning several UTM zones needs no warping.
"""

from __future__ import annotations

import functools
import glob as _glob
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds

from eokit.errors import ConfigError, EmptyCollectionError, MissingCRSError, NoOverlapError
from eokit.io import BandStack, RasterSource, open_band_files, open_raster
from eokit.io.footprint import sampled_footprint
from eokit.io.grid import GridSpec, _crs_str
from eokit.sensors.bands import Sensor

Source = RasterSource | BandStack
TimeLike = datetime | date | str
TIME_TAGS = ("TIFFTAG_DATETIME", "DATETIME", "datetime", "ACQUISITION_DATE", "DATE_ACQUIRED", "time")


@dataclass(frozen=True)
class Scene:
    """What the index knows about one raster (all plain, picklable values)."""

    path: str
    crs: CRS
    grid: GridSpec
    bands: tuple[str, ...]
    time: datetime | None
    footprint: shapely.Polygon  # in the collection's index CRS
    block_shape: tuple[int, int]  # (rows, cols) of the file's internal tiles/strips

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Bounds in the scene's own CRS."""
        return self.grid.bounds


def parse_time(value: TimeLike, what: str = "time") -> datetime:
    """A datetime from a datetime, date, ISO string or TIFF ``YYYY:MM:DD HH:MM:SS`` string."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y%m%d", "%Y%m%dT%H%M%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise ConfigError(
            f"cannot read {what} {value!r} as a date; use ISO 8601 ('2023-06-14' or '2023-06-14T10:30:00')"
        ) from None


SEASONS = {"DJF": (12, 1, 2), "MAM": (3, 4, 5), "JJA": (6, 7, 8), "SON": (9, 10, 11)}


def parse_months(months: str | int | Sequence[int] | None) -> tuple[int, ...] | None:
    """A season as month numbers: ``'JJA'``, ``'6-8'``, ``'11-2'`` (wraps), ``[6, 7, 8]`` or ``7``."""
    if months is None:
        return None
    if isinstance(months, int):
        out: tuple[int, ...] = (months,)
    elif isinstance(months, str):
        text = months.strip().upper()
        if text in SEASONS:
            out = SEASONS[text]
        else:
            try:
                if "-" in text:
                    a, b = (int(v) for v in text.split("-", 1))
                    out = tuple(range(a, b + 1)) if a <= b else (*range(a, 13), *range(1, b + 1))
                else:
                    out = tuple(int(v) for v in text.split(","))
            except ValueError:
                raise ConfigError(
                    f"cannot read months={months!r} as a season; use 'JJA', '6-8', '11-2' or [6, 7, 8]"
                ) from None
    else:
        out = tuple(int(m) for m in months)
    bad = [m for m in out if not 1 <= m <= 12]
    if bad or not out:
        raise ConfigError(f"months={months!r} holds {bad or 'no month'}; months are 1..12 ('6-8', 'JJA')")
    return out


def time_from_name(path: str, pattern: re.Pattern[str], date_format: str) -> datetime | None:
    """Acquisition time from a file name: a ``date`` group (parsed with ``date_format``) or
    ``year``/``month``/``day`` (+ ``hour``/``minute``/``second``) groups."""
    m = pattern.search(Path(path).name) or pattern.search(str(path))
    if m is None:
        return None
    groups = m.groupdict()
    if groups.get("date") is not None:
        try:
            return datetime.strptime(groups["date"], date_format)
        except ValueError:
            raise ConfigError(
                f"{path!r}: date {groups['date']!r} does not match date_format {date_format!r}; "
                "fix the pattern or pass the right date_format (e.g. '%Y%m%d')"
            ) from None
    if groups.get("year") is not None:
        parts = [int(groups.get(k) or d) for k, d in
                 (("year", 0), ("month", 1), ("day", 1), ("hour", 0), ("minute", 0), ("second", 0))]
        year, month, day, hour, minute, second = parts
        return datetime(year, month, day, hour, minute, second)
    raise ConfigError(
        f"time pattern {pattern.pattern!r} has no 'date' or 'year' named group; "
        r"write it like r'(?P<date>\d{8})'"
    )


def _time_from_tags(src: Source, tag: str | None) -> datetime | None:
    ref = src.reference if isinstance(src, BandStack) else src
    tags = ref.dataset.tags()
    keys = (tag,) if tag else TIME_TAGS
    for k in keys:
        if k in tags and tags[k].strip():
            return parse_time(tags[k], f"tag {k} of {ref.path!r}")
    return None


@functools.lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(src_wkt, dst_wkt, always_xy=True)


def _make_scene(src: Source, t: TimeLike | None, time_tag: str | None, index_crs: CRS) -> Scene:
    ref = src.reference if isinstance(src, BandStack) else src
    t = parse_time(t, f"time of {ref.path!r}") if t is not None else _time_from_tags(src, time_tag)
    block = tuple(ref.dataset.block_shapes[0])
    return Scene(ref.path, src.grid.crs, src.grid, tuple(src.bands), t,
                 _footprint(src.grid, ref.path, index_crs), block)


def _footprint(grid: GridSpec, path: str, index_crs: CRS) -> shapely.Polygon:
    if grid.crs is None:
        raise MissingCRSError(
            f"{path!r} has no CRS, so it cannot be placed in a SceneCollection; assign one "
            "(gdal_edit.py -a_srs EPSG:XXXX)"
        )
    box = shapely.segmentize(shapely.box(*grid.bounds), max(grid.bounds[2] - grid.bounds[0],
                                                            grid.bounds[3] - grid.bounds[1]) / 16)
    if grid.crs == index_crs:
        return box
    tr = _transformer(grid.crs.to_wkt(), index_crs.to_wkt())
    poly = shapely.transform(box, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1], errcheck=False)))
    if np.isfinite(shapely.get_coordinates(poly)).all():
        return poly
    # corners outside the index CRS's domain (a geostationary full disk): hull of the valid part
    geom, note = sampled_footprint(grid.crs, grid.transform, grid.width, grid.height, index_crs)
    if geom is None:
        raise NoOverlapError(f"{path!r} cannot be placed in a SceneCollection indexed in {index_crs}: {note}")
    return shapely.geometry.shape(geom)


class SceneCollection:
    """Rasters (``RasterSource`` or ``BandStack``) indexed by footprint and time.

    >>> coll = SceneCollection.from_paths("scenes/*.tif", pattern=r"(?P<date>\\d{8})")
    >>> sub = coll.query(bounds=(5.5, 45.0, 6.5, 45.3), crs="EPSG:4326", start="2023-06-01")
    """

    def __init__(
        self,
        sources: Sequence[Source],
        times: Sequence[TimeLike | None] | None = None,
        *,
        index_crs: CRS | str = "EPSG:4326",
        time_tag: str | None = None,
    ) -> None:
        if not sources:
            raise EmptyCollectionError(
                "a SceneCollection needs at least one raster, got none; check the paths or glob pattern"
            )
        if times is not None and len(times) != len(sources):
            raise ConfigError(f"{len(times)} times given for {len(sources)} sources; give one per source")
        self.index_crs = CRS.from_user_input(index_crs)
        self.sources: list[Source] = list(sources)
        self.scenes: tuple[Scene, ...] = tuple(
            _make_scene(src, times[i] if times is not None else None, time_tag, self.index_crs)
            for i, src in enumerate(self.sources)
        )
        self._tree: shapely.STRtree | None = None

    @classmethod
    def _from_parts(cls, sources: Sequence[Source], scenes: Sequence[Scene], index_crs: CRS) -> SceneCollection:
        new = object.__new__(cls)
        new.index_crs, new.sources, new.scenes, new._tree = index_crs, list(sources), tuple(scenes), None
        return new

    # -- construction -------------------------------------------------------
    @classmethod
    def from_paths(
        cls,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        pattern: str | None = None,
        date_format: str = "%Y%m%d",
        time_tag: str | None = None,
        sensor: str | Sensor | None = None,
        band_names: Sequence[str] | None = None,
        nodata: float | None = None,
        index_crs: CRS | str = "EPSG:4326",
    ) -> SceneCollection:
        """One scene per raster file. ``paths`` is a list, a glob (``'dir/**/*.tif'``) or a folder.

        Time comes from ``pattern`` (a regex with a ``date`` group parsed with ``date_format``,
        or ``year``/``month``/``day`` groups) matched on the file name, else from a metadata tag.
        """
        files = _expand(paths)
        if not files:
            raise EmptyCollectionError(f"no raster files match {paths!r}; check the path or glob pattern")
        times = _times(files, pattern, date_format)
        icrs = CRS.from_user_input(index_crs)
        sources, scenes = [], []
        for i, p in enumerate(files):  # open, index, move on: stays within the handle cache
            src = open_raster(p, band_names=band_names, sensor=sensor, nodata=nodata)
            sources.append(src)
            scenes.append(_make_scene(src, times[i] if times else None, time_tag, icrs))
        return cls._from_parts(sources, scenes, icrs)

    @classmethod
    def from_band_files(
        cls,
        groups: Sequence[Sequence[str | os.PathLike[str]]],
        *,
        sensor: str | Sensor | None = None,
        reference: int | str = 0,
        resampling: str | Resampling | None = None,
        pattern: str | None = None,
        date_format: str = "%Y%m%d",
        times: Sequence[TimeLike | None] | None = None,
        index_crs: CRS | str = "EPSG:4326",
    ) -> SceneCollection:
        """One scene per group of one-band-per-file rasters (Sentinel-2 tiles, OSCD).

        A scene's time is ``times[i]`` when given (not None), else from ``pattern``
        on the reference file's name (or path), else from a metadata tag.
        """
        if not groups:
            raise EmptyCollectionError("no band-file groups given; pass one list of band files per scene")
        stacks = [open_band_files(g, sensor=sensor, reference=reference, resampling=resampling) for g in groups]
        found: list[TimeLike | None] = list(
            _times([s.reference.path for s in stacks], pattern, date_format) or [None] * len(stacks)
        )
        if times is not None:
            if len(times) != len(stacks):
                raise ConfigError(f"{len(times)} times given for {len(stacks)} band-file groups; give one per group")
            found = [t if t is not None else f for t, f in zip(times, found, strict=True)]
        return cls(stacks, found, index_crs=index_crs)

    # -- access -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, i: int) -> Scene:
        return self.scenes[i]

    def __iter__(self) -> Iterator[Scene]:
        return iter(self.scenes)

    def __repr__(self) -> str:
        crss = sorted({_crs_str(s.crs) for s in self.scenes})
        return f"SceneCollection({len(self)} scenes, crs={crss})"

    def source(self, i: int) -> Source:
        """The reader of scene ``i`` (file handles open lazily, once per process)."""
        return self.sources[i]

    @property
    def crs_set(self) -> set[str]:
        return {_crs_str(s.crs) for s in self.scenes}

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree([s.footprint for s in self.scenes])
        return self._tree

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tree"] = None  # rebuilt lazily in the worker
        return state

    # -- queries ------------------------------------------------------------
    def query(
        self,
        bounds: tuple[float, float, float, float] | None = None,
        crs: CRS | str | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        geometry: shapely.Geometry | None = None,
        months: str | int | Sequence[int] | None = None,
    ) -> SceneCollection:
        """The scenes intersecting ``bounds``/``geometry`` (in ``crs``, default the index CRS),
        acquired within ``[start, end]`` and in the season ``months`` ('JJA', '6-8', [6, 7, 8]).
        No match raises EmptyCollectionError."""
        idx = self.query_indexes(bounds, crs, start, end, geometry=geometry, months=months)
        return self.subset(idx)

    def query_indexes(
        self,
        bounds: tuple[float, float, float, float] | None = None,
        crs: CRS | str | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        geometry: shapely.Geometry | None = None,
        months: str | int | Sequence[int] | None = None,
    ) -> list[int]:
        """Like :meth:`query` but returns scene indexes (possibly empty, never raises for no match)."""
        idx = list(range(len(self)))
        if bounds is not None or geometry is not None:
            qcrs = CRS.from_user_input(crs) if crs is not None else self.index_crs
            if geometry is not None:
                geom = geometry
                if qcrs != self.index_crs:
                    tr = Transformer.from_crs(qcrs, self.index_crs, always_xy=True)
                    geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
            elif bounds is not None:
                if qcrs != self.index_crs:
                    bounds = transform_bounds(qcrs, self.index_crs, *bounds, densify_pts=21)
                geom = shapely.box(*bounds)
            hits = set(self.tree.query(geom, predicate="intersects").tolist())
            idx = [i for i in idx if i in hits]
        if start is not None or end is not None:
            t0 = parse_time(start, "start") if start is not None else None
            t1 = parse_time(end, "end") if end is not None else None
            if t1 is not None and isinstance(end, str) and len(end.strip()) <= 10:
                t1 = t1.replace(hour=23, minute=59, second=59, microsecond=999999)  # a date means the whole day
            idx = [i for i in idx if _within(self.scenes[i].time, t0, t1)]
        season = parse_months(months)
        if season is not None:
            idx = [i for i in idx if (t := self.scenes[i].time) is not None and t.month in season]
        return idx

    def subset(self, indexes: Sequence[int], why: str = "the query") -> SceneCollection:
        """A collection of the given scenes (in that order)."""
        if not indexes:
            raise EmptyCollectionError(self._empty_message(why))
        return self._from_parts([self.sources[i] for i in indexes], [self.scenes[i] for i in indexes],
                                self.index_crs)

    def _empty_message(self, why: str) -> str:
        union = shapely.union_all([s.footprint for s in self.scenes]).bounds
        times = [s.time for s in self.scenes if s.time is not None]
        span = f"{min(times).isoformat()} .. {max(times).isoformat()}" if times else "no scene has a time"
        return (
            f"{why} matched none of the {len(self)} scenes; they cover bounds "
            f"{tuple(round(v, 4) for v in union)} in {_crs_str(self.index_crs)} and times {span}. "
            "Widen the bounds or time range (and check the bounds' crs=)"
        )


def _expand(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        p = str(paths)
        if Path(p).is_dir():
            files = sorted(str(f) for ext in ("*.tif", "*.tiff", "*.TIF", "*.vrt", "*.jp2")
                           for f in Path(p).rglob(ext))
            return sorted(set(files))
        if any(c in p for c in "*?["):
            return sorted(_glob.glob(p, recursive=True))
        return [p]
    return [str(p) for p in paths]


def _within(t: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    """True when ``t`` is known and lies in [start, end] (an open side is None)."""
    return t is not None and (start is None or t >= start) and (end is None or t <= end)


def _times(files: Sequence[str], pattern: str | None, date_format: str) -> list[datetime | None] | None:
    if pattern is None:
        return None
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"time pattern {pattern!r} is not a valid regular expression: {exc}") from None
    return [time_from_name(f, rx, date_format) for f in files]
