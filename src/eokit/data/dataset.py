"""SceneDataset: a torch Dataset reading windows of a SceneCollection as Samples.

Each sample is read on the native grid of the scene it comes from, with one
windowed read per file: no warping, no resampling, no padding copy (unless a
window reaches outside its scene, or the user asks for a common grid). File
handles are opened lazily by :mod:`eokit.io`, once per DataLoader worker.

>>> coll = SceneCollection.from_paths("scenes/*.tif")
>>> sampler = RandomWindowSampler(coll, size=256, length=1000, seed=0)
>>> ds = SceneDataset(coll)
>>> loader = DataLoader(ds, sampler=sampler, batch_size=8, num_workers=2, collate_fn=collate_samples)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from rasterio.crs import CRS
from rasterio.windows import Window
from torch.utils.data import Dataset

from eokit.data.collection import SceneCollection
from eokit.data.labels import RasterLabels, VectorLabels, _policy
from eokit.data.sample import Sample, crs_string
from eokit.data.samplers import WindowSpec
from eokit.errors import ConfigError, NoOverlapError
from eokit.io import Chip, GridSpec, reproject_chip, target_grid
from eokit.io.blockcache import BlockCache, default_bound
from eokit.io.grid import _crs_str

Labels = RasterLabels | VectorLabels


def as_labels(labels: Any, column: str | None = None) -> Labels | None:
    """A label layer from a RasterLabels/VectorLabels, or a path (.geojson/.gpkg/.shp -> vector)."""
    if labels is None or isinstance(labels, RasterLabels | VectorLabels):
        return labels
    if hasattr(labels, "geometry"):
        return VectorLabels(labels, column=column)
    path = str(labels)
    if path.lower().endswith((".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet")):
        return VectorLabels(path, column=column)
    return RasterLabels(path)


class SceneDataset(Dataset[Sample]):
    """Samples (image + bands + crs + transform + bounds + time [+ mask]) from a collection.

    Index it with a :class:`WindowSpec` (what the samplers yield), or with an int
    when ``windows`` is given. ``labels`` adds a ``mask`` from a label raster or
    vector layer; ``on_mismatch`` ('raise' | 'reproject') decides what happens when
    its CRS differs from the image's. ``target_crs``/``target_res`` ask explicitly
    for a common grid: each window is then warped (``resampling``) onto it.
    """

    def __init__(
        self,
        collection: SceneCollection,
        *,
        bands: Sequence[str] | None = None,
        windows: Sequence[WindowSpec] | None = None,
        labels: Any = None,
        label_column: str | None = None,
        on_mismatch: str = "raise",
        label_key: str = "mask",
        dtype: str = "float32",
        target_crs: CRS | str | None = None,
        target_res: float | None = None,
        resampling: str = "bilinear",
        block_cache: bool | int | str | BlockCache | None = "auto",
    ) -> None:
        self.collection = collection
        self.bands = tuple(bands) if bands is not None else None
        self.windows = list(windows) if windows is not None else None
        self.labels = as_labels(labels, label_column)
        self.on_mismatch = _policy(on_mismatch)
        self.label_key = label_key
        self.dtype = dtype
        if (target_res is not None) and target_crs is None:
            raise ConfigError("target_res needs target_crs (the common grid's CRS)")
        self.target_crs = CRS.from_user_input(target_crs) if target_crs is not None else None
        self.target_res = target_res
        self.resampling = resampling
        if self.labels is not None:
            self._check_overlap()
        # resolve band names once per scene (names differ between files: 'B4' vs 'B04')
        self._times = [s.time.isoformat() if s.time is not None else None for s in collection.scenes]
        self._crs = [crs_string(s.crs) for s in collection.scenes]
        self._ids = [os.path.basename(s.path) for s in collection.scenes]
        self.block_cache = make_block_cache(collection, block_cache)

    def _check_overlap(self) -> None:
        scenes = self.collection.scenes
        assert self.labels is not None  # only called with labels
        if not any(self.labels.overlaps(s.crs, s.bounds) for s in scenes):
            name = self.labels.path if isinstance(self.labels, RasterLabels) else self.labels.name
            raise NoOverlapError(
                f"the label layer {name!r} ({_crs_str(self.labels.crs)}, bounds "
                f"{tuple(round(v, 3) for v in self.labels.bounds)}) overlaps none of the {len(scenes)} image "
                f"scenes (e.g. {scenes[0].path!r}, {_crs_str(scenes[0].crs)}, bounds "
                f"{tuple(round(v, 3) for v in scenes[0].bounds)}); check that they cover the same area"
            )

    def __len__(self) -> int:
        if self.windows is None:
            raise TypeError("this SceneDataset has no fixed windows: pass a sampler to the DataLoader")
        return len(self.windows)

    def __getitem__(self, key: WindowSpec | int) -> Sample:
        spec = key if isinstance(key, tuple) else self.windows[key]  # type: ignore[index]
        scene = self.collection.scenes[spec.scene]
        src = self.collection.sources[spec.scene]
        g = scene.grid
        inside = spec.col >= 0 and spec.row >= 0 and spec.col + spec.width <= g.width and spec.row + spec.height <= g.height
        chip = src.read(Window(spec.col, spec.row, spec.width, spec.height), bands=self.bands,
                        boundless=not inside, dtype=self.dtype, cache=self.block_cache)
        if self.target_crs is not None:
            chip = self._to_common_grid(chip)
        sample: Sample = {
            "image": torch.from_numpy(chip.array),
            "valid": torch.from_numpy(chip.valid),
            "bands": chip.bands,
            "sensor": getattr(getattr(src, "sensor", None), "name", None),
            "crs": self._crs[spec.scene] if self.target_crs is None else crs_string(chip.crs),
            "transform": tuple(chip.transform)[:6],
            "bounds": chip.bounds,
            "time": self._times[spec.scene],
            "path": scene.path,
            "id": f"{self._ids[spec.scene]}:{spec.col},{spec.row},{spec.width},{spec.height}",
        }
        if self.labels is not None:
            mask = self.labels.read(chip.grid, self.on_mismatch)
            sample[self.label_key] = torch.from_numpy(np.ascontiguousarray(mask))
        return sample

    def _to_common_grid(self, chip: Chip) -> Chip:
        grid: GridSpec = target_grid(chip.grid, self.target_crs, self.target_res)
        return reproject_chip(chip, grid, self.resampling)


_PROBE = 32
MAX_SLOT_BYTES = 4 * 2**20


def make_block_cache(collection: SceneCollection, setting: bool | int | str | BlockCache | None) -> BlockCache | None:
    """The shared decoded-block cache of a dataset, or None.

    ``'auto'`` makes one when every file of the collection is compressed, the case where a block
    costs a decode (for uncompressed files a read is a copy out of the page cache, and a second
    cache only adds one), bounded by what the collection's blocks need, at most
    :func:`~eokit.io.blockcache.default_bound` (10 % of RAM, a quarter of the free shared memory). ``True`` makes one regardless, an int is its bound in bytes, ``False``/None none. The
    first 32 scenes are checked; a slot holds the largest block (one band) among them, blocks
    larger than that or than 4 MiB are read directly.
    """
    if isinstance(setting, BlockCache):
        return setting
    if setting is None or setting is False:
        return None
    if setting not in ("auto", True) and not (isinstance(setting, int) and not isinstance(setting, bool)):
        raise ConfigError(f"block_cache must be 'auto', True, False, a size in bytes or a BlockCache, "
                          f"got {setting!r}")
    files = [f for src in collection.sources[:_PROBE] for f in _files(src)]
    if setting == "auto" and not all(f.dataset.compression is not None for f in files):
        return None
    sizes = [int(np.prod(f.dataset.block_shapes[0])) * np.dtype(f.dataset.dtypes[0]).itemsize for f in files]
    sizes = [b for b in sizes if b <= MAX_SLOT_BYTES]
    if not sizes:  # whole-image or huge-strip blocks: nothing to share at block granularity
        return None
    slot = max(sizes)
    if isinstance(setting, int) and not isinstance(setting, bool):
        return BlockCache(setting, slot)
    bh, bw = files[0].dataset.block_shapes[0]
    need = sum(-(-s.grid.height // bh) * -(-s.grid.width // bw) * len(s.bands) for s in collection.sources)
    return BlockCache(min(need * (slot + 32) + 2**20, default_bound()), slot)


def _files(src: Any) -> list[Any]:
    """The RasterSources a scene reads from (one, or each band file of a BandStack)."""
    return list(getattr(src, "sources", [src]))


GeoDataset = SceneDataset
