"""Segmentation from any scene + label raster on its grid, including labels decoded from a QA band.

The scene is a multi-band raster or one file per band (names from file names,
as USGS and ESA deliver them); the label raster holds class values, or bit-packed
quality flags decoded with ``qa=`` (a preset such as
``landsat8_precollection_bqa_cloud`` or a list of rules, see ``eokit.sensors.qa``).
The scene is cut into ``chip_size`` chips; ``split`` is ``all`` or a seeded
70/10/20 train/val/test split over chip ids.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

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
from eokit.errors import BandError, DatasetError
from eokit.io import open_band_files, open_raster
from eokit.io.stack import band_name_from_filename
from eokit.sensors import get_sensor
from eokit.sensors.qa import decode_qa, qa_rules


@register
class RasterSegmentation(EODataset):
    """Chips of a scene with a per-pixel label raster (class values or a decoded QA band).

    ``image``: a raster file, a list of band files or a glob (relative to ``root``);
    ``label``: the label raster on the same grid; ``bands``: the bands to use
    (default all); ``qa``: decode ``label`` as bit flags (preset name or rules);
    ``label_map``: {raw value: class} (others -> ignore); ``classes``: class names;
    chips whose labels are all ignored are left out.
    """

    generic: ClassVar[bool] = True
    spec = DatasetSpec.generic(
        "raster_segmentation", "segmentation",
        "a scene (multi-band raster, or one file per band: <prefix>_B<n>.TIF) and a label raster on its grid "
        "(class values, or a QA band decoded with qa=)",
        {"gsd>=10", "multispectral", "pixelwise"},
    )

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        *,
        image: str | Sequence[str],
        label: str,
        bands: Sequence[str] | None = None,
        sensor: str | None = None,
        chip_size: int = 128,
        qa: str | Sequence[Mapping[str, Any]] | None = None,
        label_map: Mapping[int, int] | None = None,
        classes: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if chip_size < 8:
            raise DatasetError(f"raster_segmentation: chip_size must be >= 8, got {chip_size}")
        if qa is not None and label_map is not None:
            raise DatasetError("raster_segmentation: pass qa= (bit flags) or label_map= (values), not both")
        self.image_spec, self.label_name = image, label
        self.sensor, self.chip_size = sensor, chip_size
        self.want_bands = tuple(bands) if bands else None
        self.qa = qa_rules(qa) if qa is not None else None
        self.label_map = {int(k): int(v) for k, v in (label_map or {}).items()} or None
        self.classes = tuple(classes) if classes else (("clear", "cloud") if self.qa is not None else ())
        super().__init__(root, split, **kwargs)

    # -- opening -----------------------------------------------------------
    def _image_paths(self) -> list[Path]:
        specs = [self.image_spec] if isinstance(self.image_spec, str) else list(self.image_spec)
        paths: list[Path] = []
        for s in specs:
            p = Path(s) if Path(s).is_absolute() else self.root / s
            hits = sorted(glob.glob(str(p))) if any(ch in str(s) for ch in "*?[") else [str(p)]
            if not hits or not Path(hits[0]).exists():
                raise DatasetError(f"raster_segmentation: image {str(p)!r} matches no file")
            paths += [Path(h) for h in hits]
        label = self._label_path()
        return [p for p in paths if p.resolve() != label.resolve()]  # a glob like l8_B* may catch l8_BQA

    def _label_path(self) -> Path:
        p = Path(self.label_name)
        return p if p.is_absolute() else self.root / p

    def _select_paths(self) -> list[Path]:
        """The image files to read (once, at indexing): wanted bands only, on the label's grid."""
        paths = self._image_paths()
        self.band_files = len(paths) > 1  # one file per band: band names come from the file names
        if not self.band_files:
            return paths
        if self.want_bands:  # only the wanted band files (a pan band on another grid is not opened)
            sensor = get_sensor(self.sensor) if self.sensor else None
            want = {sensor.band(b).name if sensor is not None and sensor.has(b) else b for b in self.want_bands}
            paths = [p for p in paths if band_name_from_filename(str(p), sensor) in want] or paths
        label_grid = open_raster(self._label_path()).grid
        same = [p for p in paths if open_raster(p).grid == label_grid]  # e.g. drop a 15 m pan band
        if not same:
            raise DatasetError(f"raster_segmentation: no image file is on the grid of {str(self._label_path())!r} "
                               f"({label_grid.width}x{label_grid.height} px): {[str(p) for p in paths]}")
        return same

    def _source(self) -> Any:
        """The scene from the files chosen at indexing (handles come from eokit.io's per-process cache)."""
        if not self.band_files:
            return open_raster(self.image_paths[0], sensor=self.sensor)
        return open_band_files(self.image_paths, sensor=self.sensor)

    def _index(self) -> list[tuple[int, int, int, int]]:
        label_path = self._label_path()
        if not label_path.exists():
            raise DatasetError(f"raster_segmentation: label raster {str(label_path)!r} does not exist")
        self.image_paths = self._select_paths()
        src = self._source()
        lab = open_raster(label_path)
        check_same_grid(src.grid, lab.grid, self.image_paths[0], label_path)
        self.bands = self.want_bands or tuple(src.bands)
        try:
            src.read((0, 0, 1, 1), bands=self.bands)
        except BandError as exc:
            raise DatasetError(f"raster_segmentation: {exc}") from None
        h, w, c = src.grid.height, src.grid.width, self.chip_size
        labels = self._decode(lab.read(dtype=None).array[0])
        items = [(x, y, c, c) for y in range(0, h, c) for x in range(0, w, c)
                 if (labels[y:y + c, x:x + c] != IGNORE_INDEX).any()]
        if self.split == "all":
            return items
        ids = [self._id(it) for it in items]
        keep = set(split_ids(self.spec.name, ids, self.split))
        return [it for it, i in zip(items, ids, strict=True) if i in keep]

    def _decode(self, raw: np.ndarray) -> np.ndarray:
        if self.qa is not None:
            return decode_qa(raw, self.qa)
        if self.label_map is not None:
            out = np.full(raw.shape, IGNORE_INDEX, np.int64)
            for value, cls in self.label_map.items():
                out[raw == value] = cls
            return out
        return raw.astype(np.int64)

    def _id(self, item: tuple[int, int, int, int]) -> str:
        return f"{self._label_path().name}:{item[0]},{item[1]},{item[2]}"

    def describe(self, item: Any) -> str:
        return f"{str(self._label_path())!r} window {item}"

    def _load(self, item: tuple[int, int, int, int]) -> Sample:
        src = self._source()
        chip = src.read(item, bands=self.bands, boundless=True)
        lab = open_raster(self._label_path()).read(item, boundless=True, dtype=None)
        mask = self._decode(lab.array[0])
        mask[~(chip.valid & lab.valid)] = IGNORE_INDEX
        return {
            "image": image_tensor(np.where(chip.valid[None], chip.array, 0.0)),
            "mask": mask_tensor(mask),
            "bands": tuple(chip.bands),
            "sensor": self.sensor,
            **geo_meta(chip.grid),
            "time": None,
            "id": self._id(item),
            "path": str(self._label_path()),
        }
