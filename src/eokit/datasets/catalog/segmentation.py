"""Semantic segmentation benchmarks: LandCover.ai, Sen1Floods11, SpaceNet buildings/roads.

Chesapeake Land Cover ships as GEO-Bench HDF5 chips: see ``geobench.py``
(``m-chesapeake-landcover``).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eokit.data.modalities import check_modality_grids, multimodal_sample
from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, Download, EODataset, register
from eokit.datasets.catalog._util import (
    IGNORE_INDEX,
    check_same_grid,
    geo_meta,
    image_tensor,
    mask_tensor,
    rasterize_vectors,
    split_ids,
)
from eokit.errors import DatasetError
from eokit.io import open_raster
from eokit.sensors import get_sensor
from eokit.tasktype import TaskType


# --------------------------------------------------------------------------- LandCover.ai
@register
class LandCoverAI(EODataset):
    """LandCover.ai v1: 512 px tiles of Polish aerial orthophotos (25/50 cm), 5 classes.

    Reads the published archive unchanged: the tile named ``<image>_<k>`` in
    ``train.txt``/``val.txt``/``test.txt`` is cut from ``images/<image>.tif``
    and ``masks/<image>.tif`` exactly as the dataset's ``split.py`` numbers it
    (row-major over 512 px steps, k counting partial edge tiles too, which are
    not used). Running ``split.py`` to make JPEG copies is not needed.
    """

    tile_size = 512
    ignore_index = None
    spec = DatasetSpec(
        name="landcoverai",
        task=TaskType.SEGMENTATION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=("background", "building", "woodland", "water", "road"),
        splits=("train", "val", "test"),
        folder="landcoverai",
        layout="images/<name>.tif (RGB uint8 GeoTIFF, EPSG:2180), masks/<name>.tif (uint8 0-4), "
        "train.txt/val.txt/test.txt listing tiles <name>_<k>",
        downloads=(
            Download(
                url="https://landcover.ai.linuxpolska.com/download/landcover.ai.v1.zip",
                filename="landcover.ai.v1.zip",
                sha256="dd448287ff3a76291f2b159084b8a265f2ba4559bb80b0551fc8c6c0eb149a4b",
                extract=True,
            ),
        ),
        license="CC BY-NC-SA 4.0",
        citation="Boguszewski et al., LandCover.ai: Dataset for Automatic Mapping of Buildings, "
        "Woodlands, Water and Roads from Aerial Imagery, CVPR Workshops 2021",
        size="1.5 GB, 41 orthophotos -> 10,674 tiles of 512x512",
        tags=frozenset({"gsd<10", "rgbn", "pixelwise"}),
        gsd=0.25,
        split_policy="official: train.txt / val.txt / test.txt shipped with the dataset",
        homepage="https://landcover.ai.linuxpolska.com/",
    )

    def _index(self) -> list[tuple[str, int]]:
        lst = self.root / f"{self.split}.txt"
        if not lst.exists():
            raise DatasetError(
                f"{self.spec.name}: split list {str(lst)!r} is missing; the published archive has "
                "train.txt, val.txt and test.txt next to images/ and masks/"
            )
        items = []
        for line in lst.read_text().split():
            m = re.fullmatch(r"(.+)_(\d+)", line.strip())
            if not m:
                raise DatasetError(f"{str(lst)!r}: tile name {line!r} is not '<image>_<k>'")
            items.append((m.group(1), int(m.group(2))))
        return items

    def _load(self, item: tuple[str, int]) -> Sample:
        name, k = item
        img_path = self.root / "images" / f"{name}.tif"
        mask_path = self.root / "masks" / f"{name}.tif"
        img = open_raster(img_path, band_names=("R", "G", "B"), sensor="rgb")
        msk = open_raster(mask_path)
        check_same_grid(img.grid, msk.grid, img_path, mask_path)
        t = self.tile_size
        ncols = math.ceil(img.grid.width / t)
        row, col = divmod(k, ncols)
        if (row + 1) * t > img.grid.height or (col + 1) * t > img.grid.width:
            raise DatasetError(
                f"tile {name}_{k} lies outside {str(img_path)!r} "
                f"({img.grid.width}x{img.grid.height} px, {t} px tiles)"
            )
        window = (col * t, row * t, t, t)
        chip = img.read(window)
        mask = msk.read(window, dtype=None).array[0]
        return {
            "image": image_tensor(chip.array),
            "mask": mask_tensor(mask),
            "bands": chip.bands,
            "sensor": "rgb",
            **geo_meta(chip.grid),
            "time": None,
            "id": f"{name}_{k}",
            "path": str(img_path),
        }


# --------------------------------------------------------------------------- Sen1Floods11
S1_BANDS = ("VV", "VH")


@register
class Sen1Floods11(EODataset):
    """Sen1Floods11 hand-labelled chips: Sentinel-1 (VV, VH dB) and Sentinel-2 L1C, 512x512.

    ``modalities``: ``("s2",)`` (default), ``("s1",)`` or ``("s1", "s2")``: a multi-modal
    sample (``eokit.data.modalities``) with both under ``modalities`` and their stacked view
    (S1 then S2, sensor None) under ``image``/``bands``.
    Labels: -1 no data (-> ``ignore_index`` -1), 0 dry, 1 water.
    """

    ignore_index = IGNORE_INDEX
    spec = DatasetSpec(
        name="sen1floods11",
        task=TaskType.SEGMENTATION,
        sensor="sentinel2_l1c",
        bands=get_sensor("sentinel2_l1c").band_names,
        classes=("dry", "water"),
        splits=("train", "val", "test"),
        folder="sen1floods11",
        layout="S1Hand/<chip>_S1Hand.tif (2 bands float32 dB), S2Hand/<chip>_S2Hand.tif (13 bands "
        "int16), LabelHand/<chip>_LabelHand.tif (int16 -1/0/1), optional "
        "flood_{train,valid,test}_data.csv (in the root or splits/)",
        downloads=(),
        license="CC BY 4.0 (per the Sen1Floods11 GCS bucket README)",
        citation="Bonafilia et al., Sen1Floods11: a georeferenced dataset to train and test deep "
        "learning flood algorithms for Sentinel-1, CVPR Workshops 2020",
        size="446 hand-labelled chips, ~14 GB (gs://sen1floods11)",
        tags=frozenset({"gsd>=10", "multispectral", "sar", "pixelwise"}),
        gsd=10.0,
        split_policy="official flood_{train,valid,test}_data.csv when present; otherwise a seeded "
        "(seed 0) 70/10/20 split stratified by country",
        homepage="https://github.com/cloudtostreet/Sen1Floods11",
    )

    def __init__(self, *args: Any, modalities: Sequence[str] = ("s2",), **kwargs: Any) -> None:
        bad = set(modalities) - {"s1", "s2"}
        if bad or not modalities:
            raise DatasetError(f"sen1floods11: modalities must be from ('s1', 's2'), got {modalities}")
        self.modalities = tuple(modalities)
        super().__init__(*args, **kwargs)

    def _index(self) -> list[str]:
        labels = sorted((self.root / "LabelHand").glob("*_LabelHand.tif"))
        if not labels:
            raise DatasetError(f"sen1floods11: no LabelHand/*_LabelHand.tif under {str(self.root)!r}")
        chips = [p.name[: -len("_LabelHand.tif")] for p in labels]
        csv_name = {"train": "train", "val": "valid", "test": "test"}[self.split]
        for folder in (self.root, self.root / "splits"):
            lst = folder / f"flood_{csv_name}_data.csv"
            if lst.exists():
                with lst.open() as fh:
                    wanted = [row[0].replace("_S1Hand.tif", "") for row in csv.reader(fh) if row]
                missing = sorted(set(wanted) - set(chips))
                if missing:
                    raise DatasetError(f"{str(lst)!r} lists chips with no label file: {missing[:5]}")
                return wanted
        countries = [c.split("_")[0] for c in chips]
        return split_ids(self.spec.name, chips, self.split, countries)

    def _load(self, chip: str) -> Sample:
        label_path = self.root / "LabelHand" / f"{chip}_LabelHand.tif"
        lab = open_raster(label_path)
        parts: dict[str, Sample] = {}
        grids: dict[str, tuple[Any, Path]] = {}
        for mod in self.modalities:
            if mod == "s1":
                path = self.root / "S1Hand" / f"{chip}_S1Hand.tif"
                src = open_raster(path, band_names=S1_BANDS, sensor="sentinel1_grd_db")
                sensor = "sentinel1_grd_db"
            else:
                path = self.root / "S2Hand" / f"{chip}_S2Hand.tif"
                src = open_raster(path, band_names=self.spec.bands, sensor="sentinel2_l1c")
                sensor = "sentinel2_l1c"
            grids[mod] = (src.grid, path)
            a = np.nan_to_num(src.read().array, nan=0.0)
            parts[mod] = {"image": image_tensor(a), "bands": tuple(src.bands), "sensor": sensor}
        check_modality_grids(grids)
        for grid, path in grids.values():
            check_same_grid(grid, lab.grid, path, label_path)
        mask = lab.read(dtype=None).array[0].astype(np.int64)
        mask[mask < 0] = IGNORE_INDEX
        top: Sample = {
            "mask": mask_tensor(mask),
            **geo_meta(lab.grid),
            "time": None,
            "id": chip,
            "path": str(label_path),
        }
        if len(parts) > 1:  # S1 + S2: both modalities, and their stacked view (S1 then S2)
            return multimodal_sample(parts, **top)
        (only,) = parts.values()
        return {**only, **top}


# --------------------------------------------------------------------------- vector labels
class _VectorLabelDataset(EODataset):
    """Image rasters paired with vector label files, burnt onto each image's grid."""

    buffer_m: float = 0.0
    ignore_index = None

    def _band_names(self, count: int) -> tuple[str, ...] | None:
        return None

    def _pairs(self) -> list[tuple[Path, Path]]:
        raise NotImplementedError

    def _index(self) -> list[tuple[Path, Path]]:
        pairs = self._pairs()
        by_id = {
            str(img.relative_to(self.root)) if img.is_relative_to(self.root) else str(img): (img, vec)
            for img, vec in pairs
        }
        return [by_id[i] for i in split_ids(self.spec.name, list(by_id), self.split)]

    def _load(self, item: tuple[Path, Path]) -> Sample:
        img_path, vec_path = item
        count = len(open_raster(img_path).bands)
        src = open_raster(img_path, band_names=self._band_names(count), sensor=self.spec.sensor)
        chip = src.read()
        mask = rasterize_vectors(vec_path, src.grid, buffer_m=self.buffer_m)
        return {
            "image": image_tensor(chip.array),
            "mask": mask_tensor(mask),
            "bands": chip.bands,
            "sensor": self.spec.sensor,
            **geo_meta(chip.grid),
            "time": None,
            "id": img_path.stem,
            "path": str(img_path),
        }


@register
class VectorSegmentation(_VectorLabelDataset):
    """Generic reader: any rasters + vector label files (GeoJSON, GPKG, Shapefile).

    Pass ``pairs=[(image, labels), ...]`` (paths relative to ``root`` or absolute),
    or let it pair ``<stem>.tif`` with ``<stem><label_suffix>`` in ``root``.
    ``buffer_m`` widens line features (roads) by that many metres on each side.
    ``split="all"`` keeps every pair; train/val/test are a seeded 70/10/20 split.
    """

    spec = DatasetSpec.generic(
        "vector_segmentation", "segmentation",
        "any raster + vector label file pairs; vectors are rasterised on the raster's grid",
        {"gsd<10", "multispectral", "pixelwise"}, unit="image paths", classes=("background", "feature"),
    )

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        *,
        pairs: Sequence[tuple[str | Path, str | Path]] | None = None,
        label_suffix: str = ".geojson",
        buffer_m: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self._given = pairs
        self.label_suffix = label_suffix
        self.buffer_m = buffer_m
        super().__init__(root, split, **kwargs)

    def _pairs(self) -> list[tuple[Path, Path]]:
        if self._given is not None:
            out = [(self.root / a, self.root / b) for a, b in self._given]
        else:
            out = []
            for img in sorted(self.root.glob("*.tif")):
                lab = img.with_name(img.stem + self.label_suffix)
                if lab.exists():
                    out.append((img, lab))
        for img, lab in out:
            for p in (img, lab):
                if not p.exists():
                    raise DatasetError(f"vector_segmentation: {str(p)!r} does not exist")
        if not out:
            raise DatasetError(
                f"vector_segmentation: no <stem>.tif + <stem>{self.label_suffix} pairs in "
                f"{str(self.root)!r}; pass pairs=[(image, labels), ...]"
            )
        return out

    def _index(self) -> list[tuple[Path, Path]]:
        if self.split == "all":
            return self._pairs()
        return super()._index()


def _spacenet_spec(name: str, what: str, layout: str, citation: str, gsd: float) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        task=TaskType.SEGMENTATION,
        sensor=None,
        bands=(),
        classes=("background", what),
        splits=("train", "val", "test"),
        folder=name,
        layout=layout,
        downloads=(),
        license="CC BY-SA 4.0",
        citation=citation,
        size="SpaceNet AOI tarballs on s3://spacenet-dataset (requester-pays), several GB each",
        tags=frozenset({"gsd<10", "multispectral", "pixelwise"}),
        gsd=gsd,
        split_policy="public test labels are withheld: a seeded (seed 0) 70/10/20 split over image ids",
        homepage="https://spacenet.ai/datasets/",
    )


WV3_MS = ("coastal", "blue", "green", "yellow", "red", "rededge", "nir1", "nir2")


class _SpaceNet(_VectorLabelDataset):
    """SpaceNet AOI folders; band names follow the product (WorldView-3 MS order for 8 bands)."""

    label_dir: str
    label_token: str
    products: tuple[str, ...]

    def _band_names(self, count: int) -> tuple[str, ...] | None:
        if count == 1:
            return ("PAN",)
        if count == 3:
            return ("R", "G", "B")
        if count == 8:
            return WV3_MS
        return None

    def __init__(self, *args: Any, product: str | None = None, **kwargs: Any) -> None:
        self.product = product or self.products[0]
        if self.product not in self.products:
            raise DatasetError(f"{self.spec.name}: product {self.product!r} not in {self.products}")
        super().__init__(*args, **kwargs)

    def _pairs(self) -> list[tuple[Path, Path]]:
        out = []
        for vec in sorted(self.root.glob(f"*/{self.label_dir}/*.geojson")):
            aoi_dir = vec.parents[len(Path(self.label_dir).parts)]
            name = vec.name.replace(self.label_token, self.product).replace(".geojson", ".tif")
            img = aoi_dir / self.product / name
            if not img.exists():
                raise DatasetError(
                    f"{self.spec.name}: label {str(vec)!r} has no image {str(img)!r} "
                    f"(product {self.product!r})"
                )
            out.append((img, vec))
        if not out:
            raise DatasetError(
                f"{self.spec.name}: no */{self.label_dir}/*.geojson under {str(self.root)!r}; "
                f"expected the SpaceNet layout ({self.spec.layout})"
            )
        return out


@register
class SpaceNetBuildings(_SpaceNet):
    """SpaceNet 2 building footprints, rasterised on each image's grid (1 = building)."""

    label_dir = "geojson/buildings"
    label_token = "buildings"
    products = ("RGB-PanSharpen", "MUL-PanSharpen", "PAN", "MUL")
    spec = _spacenet_spec(
        "spacenet_buildings",
        "building",
        "AOI_<n>_<City>_Train/<product>/<product>_AOI_<n>_<City>_img<N>.tif and "
        "AOI_<n>_<City>_Train/geojson/buildings/buildings_AOI_<n>_<City>_img<N>.geojson "
        "(product RGB-PanSharpen | MUL-PanSharpen | PAN | MUL)",
        "Van Etten et al., SpaceNet: A Remote Sensing Dataset and Challenge Series, arXiv:1807.01232",
        0.3,
    )


@register
class SpaceNetRoads(_SpaceNet):
    """SpaceNet 3 road centre-lines, buffered by ``buffer_m`` (default 2 m each side) and burnt."""

    label_dir = "geojson_roads"
    label_token = "geojson_roads"
    products = ("PS-RGB", "PS-MS", "PAN", "MS")
    buffer_m = 2.0
    spec = _spacenet_spec(
        "spacenet_roads",
        "road",
        "AOI_<n>_<City>/<product>/SN3_roads_train_AOI_<n>_<City>_<product>_img<N>.tif and "
        "AOI_<n>_<City>/geojson_roads/SN3_roads_train_AOI_<n>_<City>_geojson_roads_img<N>.geojson "
        "(product PS-RGB | PS-MS | PAN | MS)",
        "Van Etten et al., SpaceNet: A Remote Sensing Dataset and Challenge Series, arXiv:1807.01232",
        0.3,
    )

    def __init__(self, *args: Any, buffer_m: float = 2.0, **kwargs: Any) -> None:
        self.buffer_m = buffer_m
        super().__init__(*args, **kwargs)
