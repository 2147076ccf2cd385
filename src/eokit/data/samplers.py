"""Window samplers over a SceneCollection: random, regular grid, and centred on vector labels.

Samplers yield :class:`WindowSpec` descriptors (scene index + pixel window on that
scene's native grid), never arrays, so they are cheap to pickle to DataLoader
workers. Every sampler is a ``torch.utils.data.Sampler`` and splits its windows
between DDP ranks (``rank``/``world_size``, taken from ``torch.distributed`` when
it is initialised): the rank slices are disjoint and together cover the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from rasterio.windows import Window
from torch.utils.data import Sampler

from eokit.data.collection import SceneCollection
from eokit.errors import ConfigError, WindowError


class WindowSpec(NamedTuple):
    """A sample's location: scene index and pixel window (col, row, width, height)."""

    scene: int
    col: int
    row: int
    width: int
    height: int

    @property
    def window(self) -> Window:
        return Window(self.col, self.row, self.width, self.height)


def dist_info(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world_size): explicit values, else torch.distributed's, else (0, 1)."""
    if rank is None or world_size is None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
    rank, world_size = rank or 0, world_size or 1
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} is not in range for world_size {world_size}; need 0 <= rank < world_size")
    return rank, world_size


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else size
    if h <= 0 or w <= 0:
        raise WindowError(f"window size must be positive, got {size!r}")
    return int(h), int(w)


class _BaseWindowSampler(Sampler[WindowSpec]):
    """Shared epoch and DDP handling: subclasses build the epoch's full window list."""

    def __init__(self, collection: SceneCollection, seed: int, rank: int | None, world_size: int | None) -> None:
        self.collection = collection
        self.seed = int(seed)
        self.epoch = 0
        self.rank, self.world_size = dist_info(rank, world_size)

    def set_epoch(self, epoch: int) -> None:
        """Use a new (reproducible) draw for ``epoch``, like DistributedSampler.set_epoch."""
        self.epoch = int(epoch)

    def _all_windows(self) -> list[WindowSpec]:
        raise NotImplementedError

    def windows(self) -> list[WindowSpec]:
        """This rank's windows for the current epoch (padded by wrapping so ranks get equal counts)."""
        allw = self._all_windows()
        if not allw:
            return []
        total = math.ceil(len(allw) / self.world_size) * self.world_size
        allw = allw + allw[: total - len(allw)] if total > len(allw) else allw
        return allw[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[WindowSpec]:
        return iter(self.windows())


class RandomWindowSampler(_BaseWindowSampler):
    """``length`` random windows of ``size`` px per epoch (all ranks together).

    Scenes are picked with probability proportional to their number of window
    positions (``weight='area'``) or uniformly (``'uniform'``); windows lie fully
    inside their scene. ``align='tile'`` keeps each window inside one internal
    tile of the file when the tile is at least as large as the window (one tile
    decoded per sample instead of up to four). Same seed and epoch -> same windows.
    """

    def __init__(
        self,
        collection: SceneCollection,
        size: int | tuple[int, int],
        length: int,
        *,
        seed: int = 0,
        weight: str = "area",
        align: str | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__(collection, seed, rank, world_size)
        self.size = _size(size)
        if length <= 0:
            raise ConfigError(f"length (samples per epoch) must be positive, got {length}")
        if align not in (None, "tile"):
            raise ConfigError(f"align must be None or 'tile', got {align!r}")
        if weight not in ("area", "uniform"):
            raise ConfigError(f"weight must be 'area' or 'uniform', got {weight!r}")
        self.length = int(length)
        self.align = align
        h, w = self.size
        ok = [i for i, s in enumerate(collection.scenes) if s.grid.height >= h and s.grid.width >= w]
        if not ok:
            biggest = max((s.grid.width, s.grid.height) for s in collection.scenes)
            raise WindowError(
                f"no scene is large enough for {w}x{h} px windows (largest is {biggest[0]}x{biggest[1]}); "
                "use a smaller size"
            )
        self._scenes = np.array(ok)
        n = np.array([(collection.scenes[i].grid.height - h + 1) * (collection.scenes[i].grid.width - w + 1)
                      for i in ok], dtype=np.float64)
        self._p = n / n.sum() if weight == "area" else np.full(len(ok), 1 / len(ok))

    def __len__(self) -> int:
        return math.ceil(self.length / self.world_size)

    def _all_windows(self) -> list[WindowSpec]:
        rng = np.random.default_rng([self.seed, self.epoch])
        h, w = self.size
        picks = self._scenes[rng.choice(len(self._scenes), size=self.length, p=self._p)]
        u = rng.random((self.length, 4))
        out = []
        for k, i in enumerate(picks.tolist()):
            scene = self.collection.scenes[i]
            col = _offset(u[k, 0], u[k, 1], scene.grid.width, w, scene.block_shape[1] if self.align else 0)
            row = _offset(u[k, 2], u[k, 3], scene.grid.height, h, scene.block_shape[0] if self.align else 0)
            out.append(WindowSpec(i, col, row, w, h))
        return out


def _offset(u_tile: float, u_pos: float, extent: int, size: int, block: int) -> int:
    """A random offset in [0, extent - size]; with ``block``, inside one block when possible."""
    if block >= size:
        full = extent // block  # blocks that are complete
        n_tiles = full + (1 if extent - full * block >= size else 0)
        if n_tiles:
            t = min(int(u_tile * n_tiles), n_tiles - 1)
            room = min(block, extent - t * block) - size
            return t * block + min(int(u_pos * (room + 1)), room)
    return min(int(u_pos * (extent - size + 1)), extent - size)


class GridWindowSampler(_BaseWindowSampler):
    """Every scene cut into windows of ``size`` px every ``stride`` px, covering the edges.

    The last window of a row/column is snapped to the right/bottom edge, so every
    pixel is covered. Scenes smaller than a window get one window at (0, 0) that
    reaches outside the scene (read boundless, padded with nodata).
    ``shuffle=True`` shuffles the order with ``seed`` and the epoch.
    """

    def __init__(
        self,
        collection: SceneCollection,
        size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__(collection, seed, rank, world_size)
        self.size = _size(size)
        self.stride = _size(stride) if stride is not None else self.size
        self.shuffle = shuffle
        self._grid = [
            WindowSpec(i, c, r, self.size[1], self.size[0])
            for i, s in enumerate(collection.scenes)
            for r in grid_offsets(s.grid.height, self.size[0], self.stride[0])
            for c in grid_offsets(s.grid.width, self.size[1], self.stride[1])
        ]

    def __len__(self) -> int:
        return math.ceil(len(self._grid) / self.world_size)

    def _all_windows(self) -> list[WindowSpec]:
        if not self.shuffle:
            return list(self._grid)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self._grid))
        return [self._grid[i] for i in order]


def grid_offsets(extent: int, size: int, stride: int) -> list[int]:
    """Offsets 0, stride, 2*stride … with the last one snapped so the window ends at ``extent``."""
    if extent <= size:
        return [0]
    offs = list(range(0, extent - size + 1, stride))
    if offs[-1] != extent - size:
        offs.append(extent - size)
    return offs


class VectorWindowSampler(_BaseWindowSampler):
    """Windows of ``size`` px centred on vector features (points, or polygons' representative points).

    ``vectors`` is a GeoJSON/GeoPackage path (read with pyogrio) or a GeoDataFrame;
    features are reprojected to each scene's CRS. A feature inside several scenes
    gives one window per scene (``scenes='all'``) or only the first (``'first'``).
    Windows near a scene edge are shifted inside it (``keep_inside=True``) so no
    padding is needed; features outside every scene are dropped.
    """

    def __init__(
        self,
        collection: SceneCollection,
        vectors: object,
        size: int | tuple[int, int],
        *,
        layer: str | int | None = None,
        scenes: str = "all",
        keep_inside: bool = True,
        shuffle: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__(collection, seed, rank, world_size)
        from eokit.data.labels import read_vectors

        self.size = _size(size)
        if scenes not in ("all", "first"):
            raise ConfigError(f"scenes must be 'all' or 'first', got {scenes!r}")
        self.shuffle = shuffle
        gdf = read_vectors(vectors, layer=layer)
        self._windows = self._centre_windows(gdf, scenes, keep_inside)
        self.features = len(gdf)
        if not self._windows:
            from eokit.errors import NoOverlapError

            raise NoOverlapError(
                f"none of the {len(gdf)} features of {_describe(vectors)} lies inside any of the "
                f"{len(collection)} scenes ({sorted(collection.crs_set)}); check the file's CRS and area"
            )

    def _centre_windows(self, gdf: Any, scenes: str, keep_inside: bool) -> list[WindowSpec]:
        h, w = self.size
        by_crs: dict[str, np.ndarray] = {}
        per_feature: dict[int, list[WindowSpec]] = {}
        for i, scene in enumerate(self.collection.scenes):
            key = scene.crs.to_wkt()
            if key not in by_crs:
                g = gdf.to_crs(scene.crs).geometry
                by_crs[key] = np.array([(p.x, p.y) for p in g.representative_point()]).reshape(-1, 2)
            xy = by_crs[key]
            inv = ~scene.grid.transform
            cols, rows = inv * (xy[:, 0], xy[:, 1])
            inside = (cols >= 0) & (cols < scene.grid.width) & (rows >= 0) & (rows < scene.grid.height)
            for f in np.flatnonzero(inside):
                c = math.floor(cols[f]) - w // 2
                r = math.floor(rows[f]) - h // 2
                if keep_inside:
                    c = min(max(c, 0), max(scene.grid.width - w, 0))
                    r = min(max(r, 0), max(scene.grid.height - h, 0))
                per_feature.setdefault(int(f), []).append(WindowSpec(i, c, r, w, h))
        out: list[WindowSpec] = []
        for fid in sorted(per_feature):
            out.extend(per_feature[fid][:1] if scenes == "first" else per_feature[fid])
        return out

    def __len__(self) -> int:
        return math.ceil(len(self._windows) / self.world_size)

    def _all_windows(self) -> list[WindowSpec]:
        if not self.shuffle:
            return list(self._windows)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self._windows))
        return [self._windows[i] for i in order]


def _describe(vectors: object) -> str:
    return repr(str(vectors)) if isinstance(vectors, str) or hasattr(vectors, "__fspath__") else "the vector layer"


def windows_of(sampler: Sampler[WindowSpec] | Sequence[WindowSpec]) -> list[WindowSpec]:
    """Materialise a sampler's current epoch as a list."""
    return list(sampler)
