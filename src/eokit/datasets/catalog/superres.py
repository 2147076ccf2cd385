"""Super-resolution: WorldStrat (Sentinel-2 revisits -> SPOT), Landsat 8 pan/MS pairs, Wald's protocol.

A sample's ``image`` is the low-resolution input and ``target`` the
high-resolution reference (``target_bands`` names its channels). ``wald_scene``
makes pairs from any scene by Wald's protocol (:func:`wald_degrade`: low-pass
filter and decimate by the factor, super-resolve, compare with the original),
with an optional label raster on the scene's grid as ``mask`` for a downstream
task.
"""

from __future__ import annotations

import csv
import glob
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, EODataset, register
from eokit.datasets.catalog._util import (
    IGNORE_INDEX,
    check_same_grid,
    geo_meta,
    image_tensor,
    mask_tensor,
    split_ids,
)
from eokit.errors import BandError, ConfigError, DatasetError
from eokit.io import open_band_files, open_raster
from eokit.io.stack import band_name_from_filename
from eokit.sensors import get_sensor
from eokit.sensors.qa import decode_qa, qa_rules
from eokit.tasktype import TaskType

L2A_12 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
SPOT_RGBN = ("red", "green", "blue", "nir")  # STAC common names: they resolve to any sensor's bands


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


def wald_degrade(hr: np.ndarray | torch.Tensor, factor: int, *, mtf: float | None = 0.3) -> np.ndarray:
    """Wald's protocol degradation of (..., H, W) images: Gaussian low-pass, then ``factor``x``factor`` block means.

    The Gaussian's gain at the low-resolution Nyquist frequency is ``mtf`` (0.3, about
    what optical sensors' MTFs give there; ``None``: block means only). H and W must be
    multiples of ``factor`` (ConfigError otherwise). Returns float32 (..., H/f, W/f).
    """
    x = torch.as_tensor(np.asarray(hr, dtype=np.float32))
    if factor < 2:
        raise ConfigError(f"Wald degradation factor must be >= 2, got {factor}")
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise ConfigError(f"super-resolution factor {factor} does not divide the image size {h}x{w}; "
                          f"use images (chip_size) of a multiple of {factor}")
    if mtf is not None and not 0 < mtf < 1:
        raise ConfigError(f"Wald degradation mtf must be in (0, 1) (gain at the Nyquist frequency), got {mtf}")
    lead = x.shape[:-2]
    y = x.reshape(1, -1, h, w)
    if mtf is not None:
        sigma = factor * math.sqrt(-2.0 * math.log(mtf)) / math.pi  # exp(-pi^2 s^2 / (2 f^2)) = mtf
        r = max(1, math.ceil(3 * sigma))
        k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
        k = k / k.sum()
        c = y.shape[1]
        mode = "reflect" if min(h, w) > r else "replicate"
        y = F.conv2d(F.pad(y, (r, r, 0, 0), mode=mode), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
        y = F.conv2d(F.pad(y, (0, 0, r, r), mode=mode), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    y = F.avg_pool2d(y, factor)
    return y.reshape(*lead, h // factor, w // factor).numpy()


@register
class WaldScene(EODataset):
    """Super-resolution pairs from any scene by Wald's protocol: the original chip is the target.

    ``image``: a raster file, a list of band files or a glob (relative to ``root``); files
    not on the grid of the first wanted band are dropped (e.g. a 15 m pan band among 30 m
    bands). ``bands``: the bands to use (default all). Each ``chip_size`` chip (a multiple
    of ``factor``; whole chips only) is the ``target``; ``image`` is the chip degraded by
    :func:`wald_degrade` (``factor``, ``mtf``). ``label``: an optional raster on the scene's
    grid (class values, or bit flags decoded with ``qa=``) returned as ``mask`` on the target
    grid, for a downstream task; chips whose labels are all ignored are then left out.
    ``split``: ``all`` or a seeded 70/10/20 split over chip ids.
    """

    generic: ClassVar[bool] = True
    spec = DatasetSpec.generic(
        "wald_scene", TaskType.SUPER_RESOLUTION,
        "a scene (multi-band raster, or one file per band: <prefix>_B<n>.TIF), optionally a label raster on its "
        "grid; pairs made by Wald's protocol (degrade by the factor, compare with the original)",
        {"multispectral"},
    )

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        *,
        image: str | Sequence[str],
        factor: int = 2,
        bands: Sequence[str] | None = None,
        sensor: str | None = None,
        chip_size: int = 64,
        mtf: float | None = 0.3,
        label: str | None = None,
        qa: str | Sequence[Mapping[str, Any]] | None = None,
        classes: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if factor < 2:
            raise DatasetError(f"wald_scene: factor must be >= 2, got {factor}")
        if chip_size % factor:
            raise DatasetError(f"wald_scene: chip_size {chip_size} is not a multiple of the super-resolution factor "
                               f"{factor}; use chip_size={max(factor, chip_size // factor * factor)}")
        if chip_size // factor < 2:
            raise DatasetError(f"wald_scene: chip_size {chip_size} leaves {chip_size // factor} px at factor {factor}; "
                               f"use chip_size >= {2 * factor}")
        if mtf is not None and not 0 < mtf < 1:
            raise DatasetError(f"wald_scene: mtf must be in (0, 1) or null, got {mtf}")
        if qa is not None and label is None:
            raise DatasetError("wald_scene: qa= decodes the label raster; pass label= too")
        self.image_spec, self.label_name, self.sensor = image, label, sensor
        self.factor, self.chip_size, self.mtf = int(factor), int(chip_size), mtf
        self.want_bands = tuple(bands) if bands else None
        self.qa = qa_rules(qa) if qa is not None else None
        self.classes = tuple(classes) if classes else (("clear", "cloud") if self.qa is not None else ())
        super().__init__(root, split, **kwargs)

    def _path(self, name: str) -> Path:
        return Path(name) if Path(name).is_absolute() else self.root / name

    def _image_paths(self) -> list[Path]:
        specs = [self.image_spec] if isinstance(self.image_spec, str) else list(self.image_spec)
        paths: list[Path] = []
        for spec in specs:
            p = self._path(spec)
            hits = sorted(glob.glob(str(p))) if any(ch in str(spec) for ch in "*?[") else [str(p)]
            if not hits or not Path(hits[0]).exists():
                raise DatasetError(f"wald_scene: image {str(p)!r} matches no file")
            paths += [Path(h) for h in hits]
        if self.label_name is not None:  # a glob like l8_B* may catch the QA band
            label = self._path(self.label_name).resolve()
            paths = [p for p in paths if p.resolve() != label]
        if len(paths) <= 1:
            return paths
        sensor = get_sensor(self.sensor) if self.sensor else None
        if self.want_bands:
            want = [sensor.band(b).name if sensor is not None and sensor.has(b) else b for b in self.want_bands]
            named = {band_name_from_filename(str(p), sensor): p for p in paths}
            chosen = [named[b] for b in want if b in named]
            paths = chosen or paths
        ref = open_raster(paths[0]).grid
        return [p for p in paths if open_raster(p).grid == ref]

    def _source(self) -> Any:
        if len(self.image_paths) == 1:
            return open_raster(self.image_paths[0], sensor=self.sensor)
        return open_band_files(self.image_paths, sensor=self.sensor)

    def _labels(self) -> np.ndarray | None:
        if self.label_name is None:
            return None
        path = self._path(self.label_name)
        raw = open_raster(path).read(dtype=None).array[0]
        return decode_qa(raw, self.qa) if self.qa is not None else raw.astype(np.int64)

    def _index(self) -> list[tuple[int, int, int, int]]:
        self.image_paths = self._image_paths()
        src = self._source()
        if self.label_name is not None:
            lpath = self._path(self.label_name)
            if not lpath.exists():
                raise DatasetError(f"wald_scene: label raster {str(lpath)!r} does not exist")
            check_same_grid(src.grid, open_raster(lpath).grid, self.image_paths[0], lpath)
        self.bands = self.want_bands or tuple(src.bands)
        try:
            src.read((0, 0, 1, 1), bands=self.bands)
        except BandError as exc:
            raise DatasetError(f"wald_scene: {exc}") from None
        h, w, c = src.grid.height, src.grid.width, self.chip_size
        if h < c or w < c:
            raise DatasetError(f"wald_scene: the scene {str(self.image_paths[0])!r} ({w}x{h} px) is smaller than "
                               f"chip_size {c}; lower chip_size")
        labels = self._labels()
        items = [(x, y, c, c) for y in range(0, h - c + 1, c) for x in range(0, w - c + 1, c)
                 if labels is None or (labels[y:y + c, x:x + c] != IGNORE_INDEX).any()]
        if self.split == "all":
            return items
        ids = [self._id(it) for it in items]
        keep = set(split_ids(self.spec.name, ids, self.split))
        return [it for it, i in zip(items, ids, strict=True) if i in keep]

    def _id(self, item: tuple[int, int, int, int]) -> str:
        return f"{self.image_paths[0].name}:{item[0]},{item[1]},{item[2]}"

    def describe(self, item: Any) -> str:
        return f"{str(self.image_paths[0])!r} window {item}"

    def _load(self, item: tuple[int, int, int, int]) -> Sample:
        chip = self._source().read(item, bands=self.bands)
        hr = np.where(chip.valid[None], chip.array, 0.0).astype(np.float32)
        sample: Sample = {
            "image": image_tensor(wald_degrade(hr, self.factor, mtf=self.mtf)),
            "target": image_tensor(hr),
            "bands": tuple(chip.bands),
            "target_bands": tuple(chip.bands),
            "sensor": self.sensor,
            **geo_meta(chip.grid),
            "time": None,
            "id": self._id(item),
            "path": str(self.image_paths[0]),
        }
        if self.label_name is not None:
            lab = open_raster(self._path(self.label_name)).read(item, dtype=None)
            mask = decode_qa(lab.array[0], self.qa) if self.qa is not None else lab.array[0].astype(np.int64)
            mask[~(chip.valid & lab.valid)] = IGNORE_INDEX
            sample["mask"] = mask_tensor(mask)
        return sample
