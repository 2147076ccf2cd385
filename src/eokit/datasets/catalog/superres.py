"""Super-resolution: WorldStrat (Sentinel-2 revisits -> SPOT) and Landsat 8 pan/MS pairs.

A sample's ``image`` is the low-resolution input and ``target`` the
high-resolution reference (``target_bands`` names its channels).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, EODataset, register
from eokit.datasets.catalog._util import geo_meta, image_tensor, split_ids
from eokit.errors import DatasetError
from eokit.io import open_raster
from eokit.tasktype import TaskType

L2A_12 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
SPOT_RGBN = ("R", "G", "B", "N")


@register
class WorldStrat(EODataset):
    """WorldStrat: up to 16 Sentinel-2 L2A revisits (10 m) per AOI and one SPOT 6/7 image (1.5 m).

    ``image`` is (T, 12, h, w) float32 L2A reflectance (the first ``revisits``
    acquisitions, ``<tile>-1`` … ``<tile>-T``); ``target`` is the SPOT
    ``<tile>_<hr_product>.tiff`` (``rgbn`` 4 bands, default, or ``ps`` pansharpened)
    as 12-bit DN scaled to [0, 1] by /4095 (``hr_scale``).
    """

    spec = DatasetSpec(
        name="worldstrat",
        task=TaskType.SUPER_RESOLUTION,
        sensor="sentinel2_l2a",
        bands=L2A_12,
        splits=("train", "val", "test"),
        folder="worldstrat",
        layout="lr_dataset/<tile>/L2A/<tile>-<n>-L2A_data.tiff (12 bands), "
        "hr_dataset/12bit/<tile>/<tile>_rgbn.tiff (SPOT R,G,B,NIR 12-bit), "
        "stratified_train_val_test_split.csv (tile,split)",
        downloads=(),
        license="CC BY 4.0 (Sentinel-2 part, code) / CC BY-NC 4.0 (SPOT imagery)",
        citation="Cornebise et al., Open High-Resolution Satellite Imagery: The WorldStrat Dataset, "
        "NeurIPS 2022 Datasets and Benchmarks",
        size="3,449 AOIs of 1,054x1,054 HR px with 16 LR revisits, ~107 GB",
        tags=frozenset({"gsd>=10", "multispectral", "temporal"}),
        gsd=10.0,
        split_policy="official stratified_train_val_test_split.csv when present; otherwise a seeded "
        "(seed 0) 70/10/20 split by AOI",
        homepage="https://worldstrat.github.io/",
    )

    def __init__(self, *args: Any, revisits: int = 8, hr_product: str = "rgbn",
                 hr_scale: float = 1 / 4095, **kwargs: Any) -> None:
        if revisits < 1:
            raise DatasetError(f"worldstrat: revisits must be >= 1, got {revisits}")
        self.revisits = revisits
        self.hr_product = hr_product
        self.hr_scale = hr_scale
        super().__init__(*args, **kwargs)

    def _index(self) -> list[str]:
        lr = self.root / "lr_dataset"
        if not lr.is_dir():
            raise DatasetError(f"worldstrat: {str(lr)!r} is missing (expected lr_dataset/ and hr_dataset/)")
        tiles = sorted(p.name for p in lr.iterdir() if p.is_dir())
        split_csv = self.root / "stratified_train_val_test_split.csv"
        if split_csv.exists():
            with split_csv.open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            if not rows or not {"tile", "split"} <= set(rows[0]):
                raise DatasetError(f"{str(split_csv)!r} needs columns 'tile' and 'split'")
            wanted = {r["tile"] for r in rows if r["split"].strip().lower() in (self.split, f"{self.split}id")}
            return [t for t in tiles if t in wanted]
        return split_ids(self.spec.name, tiles, self.split)

    def _load(self, tile: str) -> Sample:
        frames: list[np.ndarray] = []
        grid = None
        for n in range(1, self.revisits + 1):
            path = self.root / "lr_dataset" / tile / "L2A" / f"{tile}-{n}-L2A_data.tiff"
            if not path.exists():
                if n == 1:
                    raise DatasetError(f"worldstrat: {str(path)!r} is missing")
                break
            chip = open_raster(path, band_names=L2A_12, sensor="sentinel2_l2a").read()
            if frames and chip.array.shape != frames[0].shape:
                raise DatasetError(f"worldstrat: {str(path)!r} is {chip.array.shape}, revisit 1 is {frames[0].shape}")
            frames.append(chip.array)
            grid = grid or chip.grid
        hr_path = self.root / "hr_dataset" / "12bit" / tile / f"{tile}_{self.hr_product}.tiff"
        if not hr_path.exists():
            raise DatasetError(f"worldstrat: high-resolution image {str(hr_path)!r} is missing")
        hr = open_raster(hr_path)
        names = SPOT_RGBN[: len(hr.bands)] if len(hr.bands) <= 4 else hr.bands
        target = hr.read().array * self.hr_scale
        return {
            "image": image_tensor(np.stack(frames)),
            "target": image_tensor(target),
            "bands": L2A_12,
            "target_bands": tuple(names),
            "sensor": "sentinel2_l2a",
            **geo_meta(grid),
            "time": None,
            "id": tile,
            "path": str(hr_path),
        }


@register
class LandsatPanSharpening(EODataset):
    """Landsat 8 pan/MS pairs: 30 m multispectral chip in, 15 m panchromatic (B8) chip as target.

    Finds every ``<prefix>_B8.TIF`` (Collection-1/2 names, any case) in ``root``
    and its subfolders, with ``<prefix>_B2/_B3/_B4`` (or ``ms_bands``) beside it.
    Chips are ``chip_size`` MS pixels; the target covers the same bounds at
    twice the size (read from B8 by bounds). ``split="all"`` keeps every chip;
    train/val/test are a seeded 70/10/20 split of chip ids.
    """

    spec = DatasetSpec(
        name="landsat8_pansharpen",
        task=TaskType.SUPER_RESOLUTION,
        sensor="landsat8",
        bands=("B2", "B3", "B4"),
        splits=("all", "train", "val", "test"),
        folder="landsat8_pansharpen",
        layout="<scene>/<prefix>_B2.TIF, _B3.TIF, _B4.TIF (30 m) and <prefix>_B8.TIF (15 m pan), "
        "as USGS Level-1 scenes unpack",
        downloads=(),
        license="public domain (USGS Landsat)",
        citation="USGS Landsat 8 OLI Level-1 (https://doi.org/10.5066/P9OGBGM6)",
        size="any number of Level-1 scenes (~1 GB each)",
        tags=frozenset({"gsd>=10", "multispectral"}),
        gsd=30.0,
        split_policy="'all', or a seeded (seed 0) 70/10/20 split over chip ids",
        homepage="https://www.usgs.gov/landsat-missions/landsat-8",
    )

    def __init__(self, *args: Any, chip_size: int = 64, ms_bands: Sequence[str] = ("B2", "B3", "B4"),
                 **kwargs: Any) -> None:
        if chip_size < 2:
            raise DatasetError(f"landsat8_pansharpen: chip_size must be >= 2, got {chip_size}")
        self.chip_size = chip_size
        self.ms_bands = tuple(ms_bands)
        super().__init__(*args, **kwargs)

    def _scenes(self) -> list[tuple[dict[str, Path], Path]]:
        out = []
        pans = sorted(p for p in self.root.rglob("*") if p.name.upper().endswith("_B8.TIF"))
        for pan in pans:
            prefix, ext = pan.name[: -len("_B8.TIF")], pan.name[-4:]
            ms = {b: pan.with_name(f"{prefix}_{b}{ext}") for b in self.ms_bands}
            missing = [str(p) for p in ms.values() if not p.exists()]
            if missing:
                raise DatasetError(f"landsat8_pansharpen: {str(pan)!r} has no multispectral bands {missing}")
            out.append((ms, pan))
        if not out:
            raise DatasetError(f"landsat8_pansharpen: no *_B8.TIF panchromatic band under {str(self.root)!r}")
        return out

    def _index(self) -> list[tuple[dict[str, Path], Path, tuple[int, int, int, int]]]:
        items = []
        c = self.chip_size
        for ms, pan in self._scenes():
            ref = open_raster(ms[self.ms_bands[0]])
            p = open_raster(pan)
            if ref.crs != p.crs:
                raise DatasetError(f"landsat8_pansharpen: {str(pan)!r} CRS {p.crs} differs from the MS bands' {ref.crs}")
            h, w = ref.grid.height, ref.grid.width
            items += [(ms, pan, (x, y, c, c)) for y in range(0, h - c + 1, c) for x in range(0, w - c + 1, c)]
        if self.split == "all":
            return items
        ids = [self._id(it) for it in items]
        keep = set(split_ids(self.spec.name, ids, self.split))
        return [it for it, i in zip(items, ids, strict=True) if i in keep]

    @staticmethod
    def _id(item: tuple[dict[str, Path], Path, tuple[int, int, int, int]]) -> str:
        return f"{item[1].name}:{item[2][0]},{item[2][1]},{item[2][2]}"

    def describe(self, item: Any) -> str:
        return f"{str(item[1])!r} window {item[2]}"

    def _load(self, item: tuple[dict[str, Path], Path, tuple[int, int, int, int]]) -> Sample:
        ms, pan, window = item
        layers, grid = [], None
        for b in self.ms_bands:
            chip = open_raster(ms[b], band_names=(b,), sensor="landsat8").read(window)
            if grid is not None and chip.array.shape[1:] != layers[0].shape:
                raise DatasetError(f"landsat8_pansharpen: {str(ms[b])!r} is not on the grid of {self.ms_bands[0]}")
            grid = grid or chip.grid
            layers.append(chip.array[0])
        if grid is None:
            raise DatasetError(f"landsat8_pansharpen: no multispectral bands to read (ms_bands={self.ms_bands})")
        c = self.chip_size
        target = open_raster(pan, band_names=("B8",), sensor="landsat8").read(
            bounds=grid.bounds, out_shape=(2 * c, 2 * c), boundless=True
        )
        return {
            "image": image_tensor(np.stack(layers)),
            "target": image_tensor(target.array),
            "bands": self.ms_bands,
            "target_bands": ("B8",),
            "sensor": "landsat8",
            **geo_meta(grid),
            "time": None,
            "id": self._id(item),
            "path": str(pan),
        }
