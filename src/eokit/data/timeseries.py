"""Space-time sampling: windows of a SceneCollection with a time axis -> (T, C, H, W) samples.

A space-time sample is a pixel window on an *anchor* grid (one distinct scene grid
of the collection) plus one scene per date slot. The dates come from the scenes
whose footprint overlaps the window and whose acquisition time passes the time
selection (:class:`TimeSelection`: a ``start``/``end`` window, a season of
``months``, ``n_dates`` picked among them, or irregular target ``dates``).

Missing dates are masked, never filled silently: a slot without a scene (fewer
dates than ``n_dates`` with ``pad=True``, or a target date with no scene within
``tolerance_days``) holds zeros with ``time_mask`` False, and a date whose scene
has no valid pixel in the window is masked too; per-pixel gaps (nodata, a scene
that covers only part of the window) are False in ``valid`` (T, H, W).

Members on the anchor's grid (same CRS and resolution, whole-pixel offset) are read
with one windowed read each. Members on another grid (another UTM zone, another
resolution) are warped onto the anchor window's grid only when asked, as the 2-D
path does (``resampling=``, or a common grid ``target_crs``/``target_res``);
otherwise :class:`~eokit.errors.GridAlignError` names both files and the fix.

>>> coll = SceneCollection.from_paths("scenes/*.tif", pattern=r"(?P<date>\\d{8})")
>>> sampler = RandomSpaceTimeSampler(coll, size=64, length=100, n_dates=4, months="JJA")
>>> ds = SpaceTimeDataset(coll, resampling="bilinear")
>>> sample = ds[next(iter(sampler))]   # image (4, C, 64, 64), doy, time_mask, dates
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np
import shapely
import torch
from rasterio.crs import CRS
from rasterio.windows import Window

from eokit.data.collection import (
    Scene,
    SceneCollection,
    TimeLike,
    _transformer,
    parse_months,
    parse_time,
)
from eokit.data.sample import Sample, crs_string
from eokit.data.samplers import _BaseWindowSampler, _size, grid_offsets
from eokit.errors import ConfigError, EokitError, GridAlignError, TimeSeriesError, WindowError
from eokit.io import BandStack, Chip, GridSpec, RasterSource, reproject_chip, target_grid
from eokit.io.grid import _crs_str

PICKS = ("even", "first", "last", "random")


class SpaceTimeWindow(NamedTuple):
    """A space-time sample's location: anchor scene + pixel window, and one scene per date slot.

    ``scenes[t]`` is a scene index or -1 (no scene: the slot is masked); ``days[t]`` is
    the slot's date as a proleptic ordinal (``date.toordinal()``): the scene's date, the
    target date of an unserved irregular slot, 0 for padding.
    """

    anchor: int
    col: int
    row: int
    width: int
    height: int
    scenes: tuple[int, ...]
    days: tuple[int, ...]

    @property
    def window(self) -> Window:
        return Window(self.col, self.row, self.width, self.height)


@dataclass(frozen=True)
class TimeSelection:
    """Which dates a space-time sample takes.

    ``start``/``end``: the time window (a date-only ``end`` means the whole day);
    ``months``: a season (see :func:`parse_months`); ``n_dates``: how many dates
    (T) to take among those, picked ``'even'``ly spread, ``'first'``, ``'last'`` or
    ``'random'`` (seeded); with fewer available, ``pad=True`` masks the missing slots
    at the end, else :class:`~eokit.errors.TimeSeriesError`. ``dates``: irregular
    target dates instead, each served by the nearest unused scene within
    ``tolerance_days`` (none: the slot is masked).
    """

    start: datetime | None = None
    end: datetime | None = None
    months: tuple[int, ...] | None = None
    n_dates: int | None = None
    dates: tuple[datetime, ...] | None = None
    tolerance_days: float = 8.0
    pick: str = "even"
    pad: bool = False

    @classmethod
    def of(
        cls,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        months: str | int | Sequence[int] | None = None,
        n_dates: int | None = None,
        dates: Sequence[TimeLike] | None = None,
        tolerance_days: float = 8.0,
        pick: str = "even",
        pad: bool = False,
    ) -> TimeSelection:
        """A checked selection from user values (strings parsed, ranges checked)."""
        t0 = parse_time(start, "start") if start is not None else None
        t1 = parse_time(end, "end") if end is not None else None
        if t1 is not None and isinstance(end, str) and len(end.strip()) <= 10:
            t1 = t1.replace(hour=23, minute=59, second=59, microsecond=999999)
        if t0 is not None and t1 is not None and t1 < t0:
            raise ConfigError(f"end {end!r} is before start {start!r}; swap them")
        if pick not in PICKS:
            raise ConfigError(f"pick={pick!r} is not one of {PICKS}")
        if n_dates is not None and n_dates < 1:
            raise ConfigError(f"n_dates must be at least 1, got {n_dates}")
        if dates is not None and n_dates is not None:
            raise ConfigError("pass either dates= (irregular target dates) or n_dates=, not both")
        if tolerance_days < 0:
            raise ConfigError(f"tolerance_days must be >= 0, got {tolerance_days}")
        parsed = None
        if dates is not None:
            if not len(dates):
                raise ConfigError("dates= is empty; give at least one target date")
            parsed = tuple(_parse_date(d, f"target date #{i + 1}") for i, d in enumerate(dates))
        return cls(t0, t1, parse_months(months), n_dates, parsed, float(tolerance_days), pick, pad)

    @property
    def length(self) -> int | None:
        """T of every sample, when fixed (``n_dates`` or ``dates``)."""
        return len(self.dates) if self.dates is not None else self.n_dates

    def admits(self, t: datetime) -> bool:
        """True when ``t`` lies in the time window and the season."""
        return ((self.start is None or t >= self.start) and (self.end is None or t <= self.end)
                and (self.months is None or t.month in self.months))

    def describe(self) -> str:
        parts = []
        if self.start or self.end:
            parts.append(f"{self.start.date() if self.start else '..'} to {self.end.date() if self.end else '..'}")
        if self.months:
            parts.append(f"months {list(self.months)}")
        return ", ".join(parts) or "any time"


def _parse_date(value: TimeLike, what: str) -> datetime:
    try:
        return parse_time(value, what)
    except EokitError as exc:
        raise TimeSeriesError(str(exc)) from None


def _same_crs(a: CRS | None, b: CRS | None) -> bool:
    return a is not None and b is not None and (a is b or a == b)


def grid_offset(src: GridSpec, dst: GridSpec) -> tuple[int, int] | None:
    """(dcol, drow) so that pixel (c, r) of ``dst`` is pixel (c + dcol, r + drow) of ``src``;
    None when the grids do not align (other CRS, resolution, rotation or a sub-pixel shift)."""
    a, b = src.transform, dst.transform
    if not _same_crs(src.crs, dst.crs) or a.b != 0 or a.d != 0 or b.b != 0 or b.d != 0:
        return None
    if not (math.isclose(a.a, b.a, rel_tol=1e-9) and math.isclose(a.e, b.e, rel_tol=1e-9)):
        return None
    dc, dr = (b.c - a.c) / a.a, (b.f - a.f) / a.e
    rc, rr = round(dc), round(dr)
    if abs(dc - rc) > 1e-6 or abs(dr - rr) > 1e-6:
        return None
    return int(rc), int(rr)


def warp_float(chip: Chip, grid: GridSpec, resampling: str) -> Chip:
    """A float chip warped onto ``grid`` (bilinear or nearest) without GDAL's per-call set-up.

    Target pixel centres are projected into the chip's CRS on a 9x9 lattice (cached PROJ
    transformer), interpolated to every pixel (the map between two UTM zones is smooth over a
    chip: well under 0.01 px error), and sampled with ``grid_sample``. A pixel is valid where
    every source pixel it draws on is valid; invalid pixels are 0. Other methods go to GDAL
    (``reproject_chip``).
    """
    method = str(getattr(resampling, "name", resampling)).lower()
    if method not in ("bilinear", "nearest") or chip.crs is None or grid.crs is None:
        return reproject_chip(chip, grid, resampling)
    h, w = grid.height, grid.width
    ys = np.linspace(0.5, h - 0.5, min(h, 9))
    xs = np.linspace(0.5, w - 0.5, min(w, 9))
    cc, rr = np.meshgrid(xs, ys)
    t = grid.transform
    x, y = t.a * cc + t.b * rr + t.c, t.d * cc + t.e * rr + t.f
    tr = _transformer(grid.crs.to_wkt(), chip.crs.to_wkt())
    sx, sy = tr.transform(x, y, errcheck=False)
    inv = ~chip.transform
    sx, sy = np.asarray(sx), np.asarray(sy)
    col, row = inv.a * sx + inv.b * sy + inv.c, inv.d * sx + inv.e * sy + inv.f  # source pixel coordinates
    sh, sw = chip.array.shape[1:]
    # normalised to grid_sample's [-1, 1] over pixel centres (align_corners=True)
    coarse = np.stack([(col - 0.5) / max(sw - 1, 1) * 2 - 1, (row - 0.5) / max(sh - 1, 1) * 2 - 1])
    lattice = torch.from_numpy(coarse.astype(np.float32))[None]
    full = torch.nn.functional.interpolate(lattice, size=(h, w), mode="bilinear", align_corners=True)
    where = full.permute(0, 2, 3, 1)  # (1, h, w, 2) as (x, y)
    ok = torch.from_numpy(chip.valid)
    src = torch.from_numpy(np.where(chip.valid[None], chip.array, 0).astype(np.float32, copy=False))[None]
    mode = "bilinear" if method == "bilinear" else "nearest"
    out = torch.nn.functional.grid_sample(src, where, mode=mode, padding_mode="zeros", align_corners=True)[0]
    cover = torch.nn.functional.grid_sample(ok[None, None].float(), where, mode=mode, padding_mode="zeros",
                                            align_corners=True)[0, 0]
    valid = (cover > 0.999).numpy()
    arr = out.numpy().astype(chip.array.dtype, copy=False)
    arr[:, ~valid] = 0
    return Chip(arr, valid, chip.bands, grid, chip.nodata)


class _SpaceTimeBase(_BaseWindowSampler):
    """Time selection, anchor grids and per-window members shared by the space-time samplers."""

    def __init__(self, collection: SceneCollection, size: int | tuple[int, int], time: TimeSelection | None,
                 seed: int, rank: int | None, world_size: int | None, time_kw: dict[str, Any] | None = None) -> None:
        super().__init__(collection, seed, rank, world_size)
        if time is not None and time_kw:
            raise ConfigError(f"pass either time= or {sorted(time_kw)}, not both")
        self.size = _size(size)
        self.time = time or TimeSelection.of(**(time_kw or {}))
        scenes = collection.scenes
        undated = [s.path for s in scenes if s.time is None]
        if undated:
            raise TimeSeriesError(
                f"{len(undated)} of {len(scenes)} scenes have no acquisition time (e.g. {undated[0]!r}); "
                "give times when building the collection: from_paths(pattern=r'(?P<date>\\d{8})'), "
                "times=[...] or time_tag="
            )
        stamps = [s.time for s in scenes if s.time is not None]  # every scene, after the check above
        self.eligible = [i for i, t in enumerate(stamps) if self.time.admits(t)]
        if not self.eligible:
            raise TimeSeriesError(
                f"no scene of the collection lies in {self.time.describe()}; its scenes span "
                f"{min(stamps).date()} .. {max(stamps).date()} ({scenes[0].path!r} ...); widen start/end or months"
            )
        self._time = np.array([t.toordinal() for t in stamps])
        self._sec = np.array([t.timestamp() for t in stamps])
        # anchors: one per distinct grid among the eligible scenes
        seen: dict[tuple[str, tuple[float, ...], int, int], int] = {}
        for i in self.eligible:
            g = scenes[i].grid
            seen.setdefault((_crs_str(g.crs), tuple(g.transform)[:6], g.height, g.width), i)
        self.anchors = list(seen.values())
        self._cands: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # -- members of a window ------------------------------------------------------------------
    def _candidates(self, anchor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eligible scenes overlapping the anchor's footprint: indexes, bounds and outlines
        (polygons) in the anchor's CRS (a scene in another CRS is a rotated quadrilateral there)."""
        if anchor not in self._cands:
            scenes = self.collection.scenes
            a = scenes[anchor]
            hits = set(self.collection.tree.query(a.footprint, predicate="intersects").tolist())
            idx = [i for i in self.eligible if i in hits]
            outlines = []
            for i in idx:
                s = scenes[i]
                box = shapely.box(*s.bounds)
                if not _same_crs(s.crs, a.crs):
                    tr = _transformer(s.crs.to_wkt(), a.crs.to_wkt())
                    edge = max(s.bounds[2] - s.bounds[0], s.bounds[3] - s.bounds[1]) / 16
                    box = shapely.transform(shapely.segmentize(box, edge), lambda xy, tr=tr: np.column_stack(
                        tr.transform(xy[:, 0], xy[:, 1], errcheck=False)))
                    if not np.isfinite(shapely.get_coordinates(box)).all():
                        box = shapely.Polygon()  # outside the anchor CRS's domain: never a member
                outlines.append(box)
            polys = np.array(outlines, dtype=object)
            shapely.prepare(polys)
            bounds = shapely.bounds(polys).reshape(-1, 4) if len(polys) else np.zeros((0, 4))
            self._cands[anchor] = (np.array(idx, dtype=np.int64), bounds, polys)
        return self._cands[anchor]

    def members(self, anchor: int, col: int, row: int, width: int, height: int) -> list[int]:
        """Eligible scenes overlapping the window, one per day (in time order).

        Of several scenes on one day the anchor-aligned one wins, else the one containing the
        window, else the first (scenes of one day are not mosaicked).
        """
        idx, b, polys = self._candidates(anchor)
        g = self.collection.scenes[anchor].grid.window_grid(Window(col, row, width, height))
        left, bottom, right, top = g.bounds
        hit = np.flatnonzero((b[:, 0] < right) & (b[:, 2] > left) & (b[:, 1] < top) & (b[:, 3] > bottom))
        window = shapely.box(left, bottom, right, top)
        hit = hit[shapely.intersects(polys[hit], window)]  # the outline, not only its bounding box
        found = idx[hit]
        contains = shapely.contains(polys[hit], window)
        by_day: dict[int, tuple[int, int]] = {}
        anchor_grid = self.collection.scenes[anchor].grid
        for i, inside in zip(found.tolist(), contains.tolist(), strict=True):
            score = 2 if grid_offset(self.collection.scenes[i].grid, anchor_grid) is not None else int(inside)
            day = int(self._time[i])
            if day not in by_day or score > by_day[day][1]:
                by_day[day] = (i, score)
        return sorted((v[0] for v in by_day.values()), key=lambda i: (self._sec[i], i))

    def slots(self, members: list[int], rng: np.random.Generator, where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(scene per slot, day ordinal per slot) for a window's ``members`` (see TimeSelection)."""
        ts = self.time
        if ts.dates is not None:
            used: set[int] = set()
            scenes, days = [], []
            for target in ts.dates:
                best, gap = -1, ts.tolerance_days * 86400 + 1e-6
                for i in members:
                    d = abs(self._sec[i] - target.timestamp())
                    if i not in used and d <= gap:
                        best, gap = i, d
                if best >= 0:
                    used.add(best)
                scenes.append(best)
                days.append(int(self._time[best]) if best >= 0 else target.toordinal())
            return tuple(scenes), tuple(days)
        n = ts.n_dates
        if n is None:
            chosen = members
        elif len(members) >= n:
            if ts.pick == "first":
                chosen = members[:n]
            elif ts.pick == "last":
                chosen = members[-n:]
            elif ts.pick == "random":
                chosen = [members[k] for k in sorted(rng.choice(len(members), size=n, replace=False).tolist())]
            else:
                chosen = [members[k] for k in np.linspace(0, len(members) - 1, n).round().astype(int).tolist()]
        elif ts.pad:
            chosen = members + [-1] * (n - len(members))
        else:
            found = [date.fromordinal(int(self._time[i])).isoformat() for i in members]
            raise TimeSeriesError(
                f"{where} has {len(members)} dates in {ts.describe()} ({found}), fewer than n_dates={n}; "
                "lower n_dates, widen start/end or months, or pass pad=True to mask the missing dates "
                "(time_mask False)"
            )
        return tuple(chosen), tuple(int(self._time[i]) if i >= 0 else 0 for i in chosen)

    def _where(self, anchor: int, col: int, row: int) -> str:
        h, w = self.size
        return f"window ({col}, {row}, {w}, {h}) of {self.collection.scenes[anchor].path!r}"

    def _spec(self, anchor: int, col: int, row: int, rng: np.random.Generator) -> SpaceTimeWindow:
        h, w = self.size
        mem = self.members(anchor, col, row, w, h)
        scenes, days = self.slots(mem, rng, self._where(anchor, col, row))
        return SpaceTimeWindow(anchor, col, row, w, h, scenes, days)


class RandomSpaceTimeSampler(_SpaceTimeBase):
    """``length`` random space-time windows per epoch (all ranks together).

    An anchor grid is drawn with probability proportional to its number of window
    positions, a window inside it, and the window's dates per ``time`` (a
    :class:`TimeSelection`, or its keyword arguments ``start``, ``end``, ``months``,
    ``n_dates``, ``dates``, ``tolerance_days``, ``pick``, ``pad``). Same seed and
    epoch -> same windows and dates.
    """

    def __init__(
        self,
        collection: SceneCollection,
        size: int | tuple[int, int],
        length: int,
        *,
        time: TimeSelection | None = None,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        **time_kw: Any,
    ) -> None:
        super().__init__(collection, size, time, seed, rank, world_size, time_kw)
        if length <= 0:
            raise ConfigError(f"length (samples per epoch) must be positive, got {length}")
        self.length = int(length)
        h, w = self.size
        scenes = collection.scenes
        ok = [i for i in self.anchors if scenes[i].grid.height >= h and scenes[i].grid.width >= w]
        if not ok:
            biggest = max((scenes[i].grid.width, scenes[i].grid.height) for i in self.anchors)
            raise WindowError(f"no scene is large enough for {w}x{h} px windows (largest is "
                              f"{biggest[0]}x{biggest[1]}); use a smaller size")
        self._anchor_ok = np.array(ok)
        n = np.array([(scenes[i].grid.height - h + 1) * (scenes[i].grid.width - w + 1) for i in ok], np.float64)
        self._p = n / n.sum()

    def __len__(self) -> int:
        return math.ceil(self.length / self.world_size)

    def _all_windows(self) -> list[SpaceTimeWindow]:  # type: ignore[override]  # other items, same split
        rng = np.random.default_rng([self.seed, self.epoch])
        h, w = self.size
        picks = self._anchor_ok[rng.choice(len(self._anchor_ok), size=self.length, p=self._p)]
        u = rng.random((self.length, 2))
        out = []
        for k, a in enumerate(picks.tolist()):
            g = self.collection.scenes[a].grid
            col = min(int(u[k, 0] * (g.width - w + 1)), g.width - w)
            row = min(int(u[k, 1] * (g.height - h + 1)), g.height - h)
            out.append(self._spec(a, col, row, rng))
        return out

    def __iter__(self) -> Iterator[SpaceTimeWindow]:  # type: ignore[override]  # yields SpaceTimeWindow
        return iter(self.windows())  # type: ignore[arg-type]  # windows() returns this class's items


class GridSpaceTimeSampler(_SpaceTimeBase):
    """Every anchor grid cut into windows of ``size`` px every ``stride`` px (edges covered,
    as :class:`~eokit.data.samplers.GridWindowSampler`), each with its dates per ``time``.

    Each distinct scene grid is an anchor once, however many dates it has, so a stack of
    one tile over many dates gives each location once. The windows and their dates are fixed
    when the sampler is built (``pick='random'`` draws once, from ``seed``); ``shuffle`` reorders
    them per epoch.
    """

    def __init__(
        self,
        collection: SceneCollection,
        size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        *,
        time: TimeSelection | None = None,
        shuffle: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        **time_kw: Any,
    ) -> None:
        super().__init__(collection, size, time, seed, rank, world_size, time_kw)
        self.stride = _size(stride) if stride is not None else self.size
        self.shuffle = shuffle
        rng = np.random.default_rng([self.seed, 0])
        h, w = self.size
        self._grid = [
            self._spec(a, c, r, rng)
            for a in self.anchors
            for r in grid_offsets(collection.scenes[a].grid.height, h, self.stride[0])
            for c in grid_offsets(collection.scenes[a].grid.width, w, self.stride[1])
        ]

    def __len__(self) -> int:
        return math.ceil(len(self._grid) / self.world_size)

    def _all_windows(self) -> list[SpaceTimeWindow]:  # type: ignore[override]  # other items, same split
        if not self.shuffle:
            return list(self._grid)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self._grid))
        return [self._grid[i] for i in order]

    def __iter__(self) -> Iterator[SpaceTimeWindow]:  # type: ignore[override]  # yields SpaceTimeWindow
        return iter(self.windows())  # type: ignore[arg-type]  # windows() returns this class's items


class SpaceTimeDataset(torch.utils.data.Dataset[Sample]):
    """(T, C, H, W) Samples of a collection, indexed by :class:`SpaceTimeWindow` (what the
    space-time samplers yield).

    A sample holds ``image`` (T, C, H, W) float32, ``valid`` (T, H, W) bool, ``doy``
    (T,) int64 (0 for padded slots), ``time_mask`` (T,) bool, ``dates`` (ISO date per
    slot: the scene's date, the target date of a missing irregular slot, None for
    padding), ``paths`` (scene per slot, None when missing), ``bands`` and the window's
    ``crs``/``transform``/``bounds`` (the anchor's grid, or the common grid
    ``target_crs``/``target_res``). ``bands`` picks bands by any name the resolver
    knows (default: the anchor scene's). Members off the anchor's grid are warped
    with ``resampling`` ('bilinear', 'nearest', ...); without it (and without a
    ``target_crs``) they raise :class:`~eokit.errors.GridAlignError`.
    """

    def __init__(
        self,
        collection: SceneCollection,
        *,
        bands: Sequence[str] | None = None,
        resampling: str | None = None,
        target_crs: CRS | str | None = None,
        target_res: float | None = None,
        dtype: str = "float32",
    ) -> None:
        self.collection = collection
        self.bands = tuple(bands) if bands is not None else None
        self.resampling = resampling
        if target_res is not None and target_crs is None:
            raise ConfigError("target_res needs target_crs (the common grid's CRS)")
        self.target_crs = CRS.from_user_input(target_crs) if target_crs is not None else None
        self.target_res = target_res
        self.dtype = dtype
        self._offsets: dict[tuple[int, int], tuple[int, int] | None] = {}

    def _offset(self, member: int, anchor: int) -> tuple[int, int] | None:
        key = (member, anchor)
        if key not in self._offsets:
            s = self.collection.scenes
            self._offsets[key] = grid_offset(s[member].grid, s[anchor].grid)
        return self._offsets[key]

    def _read_member(self, member: int, grid: GridSpec, offset: tuple[int, int] | None,
                     bands: Sequence[str] | None, anchor: Scene) -> Chip:
        scene = self.collection.scenes[member]
        src = self.collection.sources[member]
        g = scene.grid
        if offset is not None:  # aligned: one windowed read
            col, row = offset
            inside = col >= 0 and row >= 0 and col + grid.width <= g.width and row + grid.height <= g.height
            return src.read(Window(col, row, grid.width, grid.height), bands=bands, boundless=not inside,
                            dtype=self.dtype)
        method = self.resampling or ("bilinear" if self.target_crs is not None else None)
        if method is None:
            raise GridAlignError(
                f"{scene.path!r} ({_crs_str(scene.crs)}, pixel size {g.res[0]:g}, origin "
                f"{g.transform.c:g}, {g.transform.f:g}) is not on the grid of {anchor.path!r} "
                f"({_crs_str(anchor.crs)}, pixel size {anchor.grid.res[0]:g}, origin {anchor.grid.transform.c:g}, "
                f"{anchor.grid.transform.f:g}), so its date cannot "
                "be stacked as read; pass resampling='bilinear' (or 'nearest') to warp it onto the anchor's "
                "grid, or target_crs=/target_res= for one common grid"
            )
        ref = src.reference if isinstance(src, BandStack) else src  # a stack reads on its reference grid
        win = ref.window_for_bounds(grid.bounds, grid.crs)
        c0, r0 = math.floor(win.col_off) - 2, math.floor(win.row_off) - 2
        c1, r1 = math.ceil(win.col_off + win.width) + 2, math.ceil(win.row_off + win.height) + 2
        if c1 <= 0 or r1 <= 0 or c0 >= g.width or r0 >= g.height:  # no overlap: all invalid
            names = self._names(src, bands)
            return Chip(np.zeros((len(names), grid.height, grid.width), self.dtype),
                        np.zeros(grid.shape, bool), names, grid, None)
        chip = src.read(Window(c0, r0, c1 - c0, r1 - r0), bands=bands, boundless=True, dtype=self.dtype)
        if chip.array.dtype.kind != "f":
            return reproject_chip(chip, grid, method)
        return warp_float(chip, grid, method)

    @staticmethod
    def _names(src: RasterSource | BandStack, bands: Sequence[str] | None) -> tuple[str, ...]:
        return tuple(bands) if bands is not None else tuple(src.bands)

    def __getitem__(self, spec: SpaceTimeWindow) -> Sample:
        scenes = self.collection.scenes
        anchor = scenes[spec.anchor]
        grid = anchor.grid.window_grid(spec.window)
        if self.target_crs is not None:
            grid = target_grid(grid, self.target_crs, self.target_res)
        wanted = self.bands if self.bands is not None else anchor.bands
        n_t, h, w = len(spec.scenes), grid.height, grid.width
        image = np.zeros((n_t, len(wanted), h, w), dtype=self.dtype)
        valid = np.zeros((n_t, h, w), dtype=bool)
        paths: list[str | None] = []
        names: tuple[str, ...] | None = None  # the first read's band names (as the files spell them)
        for t, member in enumerate(spec.scenes):
            if member < 0:
                paths.append(None)
                continue
            if self.target_crs is None:
                d = self._offset(member, spec.anchor)
                offset = (spec.col + d[0], spec.row + d[1]) if d is not None else None
            else:
                offset = grid_offset(scenes[member].grid, grid)
            same = tuple(scenes[member].bands) == tuple(wanted)
            chip = self._read_member(member, grid, offset, None if same else wanted, anchor)
            image[t] = chip.array
            valid[t] = chip.valid
            names = names or tuple(chip.bands)
            paths.append(scenes[member].path)
        present = np.array([m >= 0 for m in spec.scenes]) & valid.reshape(n_t, -1).any(axis=1)
        doy = [date.fromordinal(d).timetuple().tm_yday if d else 0 for d in spec.days]
        dates = tuple(date.fromordinal(d).isoformat() if d else None for d in spec.days)
        first = next((d for d, p in zip(dates, present.tolist(), strict=True) if p), None)
        return {
            "image": torch.from_numpy(image),
            "valid": torch.from_numpy(valid),
            "doy": torch.tensor(doy, dtype=torch.int64),
            "time_mask": torch.from_numpy(present),
            "dates": dates,
            "bands": names or tuple(wanted),
            "sensor": getattr(getattr(self.collection.sources[spec.anchor], "sensor", None), "name", None),
            "crs": crs_string(grid.crs),
            "transform": tuple(grid.transform)[:6],
            "bounds": grid.bounds,
            "time": first,
            "path": anchor.path,
            "paths": tuple(paths),
            "id": f"{os.path.basename(anchor.path)}:{spec.col},{spec.row},{spec.width},{spec.height}",
        }


def day_of_year(dates: Sequence[TimeLike | None]) -> list[int]:
    """Day of year (1-366) per date; 0 for None. Unparsable dates raise TimeSeriesError naming them."""
    out = []
    for i, d in enumerate(dates):
        out.append(0 if d is None else _parse_date(d, f"date #{i + 1}").timetuple().tm_yday)
    return out

