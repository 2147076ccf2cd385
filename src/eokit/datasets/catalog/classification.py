"""Scene classification: EuroSAT MS/RGB, UC Merced, RESISC45 and a generic class-folder reader.

Each loader reads its publisher's layout unchanged (class = folder name). The
generic :class:`ImageFolderEO` reads any ``<Class>/<file>`` tree of GeoTIFF /
PNG / JPEG, optionally under split folders (``train/<Class>/...``); it is the
documented way to read re-packaged copies such as ImageFolder exports.

Splits: the published (or de-facto standard) split lists when present, else a
seeded, stratified split written to a split file (``eokit.datasets.splits``).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from rasterio.errors import NotGeoreferencedWarning

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, Download, EODataset, register
from eokit.datasets.catalog._util import geo_meta, image_tensor
from eokit.datasets.splits import DEFAULT_FRACTIONS, split_file_path, stable_split
from eokit.errors import DatasetError
from eokit.io import open_raster
from eokit.tasktype import TaskType

log = logging.getLogger(__name__)

IMAGE_EXTS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
SPLIT_LIST_BASE = "https://storage.googleapis.com/remote_sensing_representations/"


def read_image(path: Path, sensor: str | None, bands: Sequence[str] | None = None) -> Sample:
    """Read a GeoTIFF/PNG/JPEG into Sample fields (``image``, ``bands``, georeferencing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        src = open_raster(path, sensor=sensor)
        chip = src.read(bands=list(bands) if bands is not None else None)
    return {"image": image_tensor(chip.array), "bands": tuple(chip.bands), **geo_meta(chip.grid)}


def photo_sensor(path: Path) -> str | None:
    """``'rgb'`` for an 8-bit RGB PNG/JPEG (a photo: its bands are red, green, blue), else None.

    The generic readers use it when no ``sensor=`` is given, so that band names (``R``, ``G``,
    ``B``) and 8-bit scaling are known for plain photo folders.
    """
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        return None
    from PIL import Image

    try:
        with Image.open(path) as im:
            return "rgb" if im.mode == "RGB" else None
    except OSError:
        return None  # the read of the item reports it


def class_folders(folder: Path, expected: Sequence[str] | None, hint: str = "") -> list[str]:
    """Class folder names under ``folder``; DatasetError names a missing or extra one."""
    found = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))
    if expected is None:
        if not found:
            raise DatasetError(f"no class folders in {str(folder)!r}; expected <Class>/<image> folders")
        return found
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    if missing:
        raise DatasetError(
            f"class folder {missing[0]!r} is missing from {str(folder)!r} (missing: {missing}); the dataset is "
            f"incomplete{hint}"
        )
    if extra:
        raise DatasetError(
            f"unexpected folder {extra[0]!r} in {str(folder)!r} (not a class: {extra}; classes are "
            f"{list(expected)}); remove it, or read the folder with ImageFolderEO(classes=...)"
        )
    return list(expected)


def image_files(folder: Path, extensions: Sequence[str] = IMAGE_EXTS) -> list[Path]:
    exts = {e.lower() for e in extensions}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts)


class _ClassFolderDataset(EODataset):
    """A publisher's ``<base_dir>/<Class>/<image>`` layout with optional split lists."""

    base_dir: ClassVar[str] = ""
    extension: ClassVar[str] = ".tif"
    split_lists: ClassVar[Mapping[str, str]] = {}
    list_suffix: ClassVar[str] = ""  # suffix used in the list files when it differs from ``extension``

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        *,
        bands: Sequence[str] | None = None,
        split_source: str = "auto",
        seed: int = 0,
        fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
        split_file: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        """``split_source``: 'lists' (published lists, required), 'seeded' (stratified seeded split
        written to ``split_file``), or 'auto' (lists when present, else seeded)."""
        if split_source not in ("auto", "lists", "seeded"):
            raise DatasetError(f"split_source must be 'auto', 'lists' or 'seeded', not {split_source!r}")
        self.band_subset = tuple(bands) if bands is not None else None
        self.split_source = split_source
        self.seed = seed
        self.fractions = dict(fractions)
        self.split_file = split_file
        super().__init__(root, split, **kwargs)

    def _index(self) -> list[tuple[Path, int]]:
        cdir = self.root / self.base_dir
        if not cdir.is_dir():
            raise DatasetError(
                f"{self.spec.name}: expected the class folders in {str(cdir)!r} (layout: {self.spec.layout}); "
                f"download the dataset with `eokit datasets download {self.spec.name}`"
            )
        classes = class_folders(cdir, self.spec.classes, f"; re-download with `eokit datasets download {self.spec.name}`")
        files: list[Path] = []
        labels: list[int] = []
        for k, c in enumerate(classes):
            found = image_files(cdir / c, (self.extension,))
            files += found
            labels += [k] * len(found)
        listfile = self.root / self.split_lists[self.split] if self.split in self.split_lists else None
        use_lists = listfile is not None and listfile.exists() and self.split_source != "seeded"
        if self.split_source == "lists" and not use_lists:
            raise DatasetError(
                f"{self.spec.name}: split list {str(listfile)!r} not found; download it with "
                f"`eokit datasets download {self.spec.name}` or pass split_source='seeded'"
            )
        if use_lists:
            assert listfile is not None
            wanted = []
            for line in listfile.read_text().split():
                name = Path(line.strip()).name
                if self.list_suffix:
                    name = name.removesuffix(self.list_suffix) + self.extension
                wanted.append(name)
            by_name = {f.name: (f, lab) for f, lab in zip(files, labels, strict=True)}
            missing = [n for n in wanted if n not in by_name]
            if missing:
                raise DatasetError(
                    f"{self.spec.name}: {len(missing)} images listed in {str(listfile)!r} are not under "
                    f"{str(cdir)!r}, e.g. {missing[:3]}; the download is incomplete"
                )
            return [by_name[n] for n in wanted]
        log.info("%s: no split list for %r; using the seeded stratified split (seed %d)", self.spec.name, self.split, self.seed)
        ids = [f"{f.parent.name}/{f.name}" for f in files]
        path = self.split_file or split_file_path(self.spec.name, self.seed)
        chosen = set(stable_split(ids, labels, self.split, path=path, fractions=self.fractions, seed=self.seed))
        return [(f, lab) for f, lab, i in zip(files, labels, ids, strict=True) if i in chosen]

    def describe(self, item: tuple[Path, int]) -> str:
        return repr(str(item[0]))

    def _load(self, item: tuple[Path, int]) -> Sample:
        path, label = item
        sample = read_image(path, self.spec.sensor, self.band_subset)
        sample.update(label=torch.tensor(label, dtype=torch.int64), sensor=self.spec.sensor, path=str(path), id=path.stem)
        return sample


EUROSAT_CLASSES = (
    "AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
    "Pasture", "PermanentCrop", "Residential", "River", "SeaLake",
)  # fmt: skip
EUROSAT_CITATION = (
    "Helber et al., EuroSAT: A Novel Dataset and Deep Learning Benchmark for Land Use and Land Cover "
    "Classification, IEEE JSTARS 12(7), 2019"
)
EUROSAT_SPLIT_DOWNLOADS = (
    Download(SPLIT_LIST_BASE + "eurosat-train.txt", "eurosat-train.txt", md5="908f142e73d6acdf3f482c5e80d851b1"),
    Download(SPLIT_LIST_BASE + "eurosat-val.txt", "eurosat-val.txt", md5="95de90f2aa998f70a3b2416bfe0687b4"),
    Download(SPLIT_LIST_BASE + "eurosat-test.txt", "eurosat-test.txt", md5="7ae5ab94471417b6e315763121e67c5f"),
)
EUROSAT_SPLIT_POLICY = (
    "standard lists eurosat-{train,val,test}.txt (16,200/5,400/5,400; Neumann et al. 2019, as TorchGeo "
    "uses) when present in the root; else a seeded stratified 70/10/20 split written to a split file"
)


@register
class EuroSATMS(_ClassFolderDataset):
    """EuroSAT multispectral: 27,000 13-band Sentinel-2 L1C GeoTIFFs (64x64 px, uint16), 10 classes."""

    base_dir = "ds/images/remote_sensing/otherDatasets/sentinel_2/tif"
    extension = ".tif"
    list_suffix = ".jpg"  # the lists name the RGB JPEGs; the MS files share their stems
    split_lists: ClassVar[Mapping[str, str]] = {s: f"eurosat-{s}.txt" for s in ("train", "val", "test")}
    spec = DatasetSpec(
        name="eurosat_ms",
        task=TaskType.CLASSIFICATION,
        sensor="sentinel2_l1c",
        bands=("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"),
        classes=EUROSAT_CLASSES,
        folder="eurosat_ms",
        layout="ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<n>.tif "
        "(13-band uint16 GeoTIFF, band order B01..B08,B8A,B09..B12) + eurosat-{train,val,test}.txt",
        downloads=(
            Download(
                "http://madm.dfki.de/files/sentinel/EuroSATallBands.zip",
                "EuroSATallBands.zip",
                md5="5ac12b3b2557aa56e1826e981e8e200e",
                extract=True,
            ),
            *EUROSAT_SPLIT_DOWNLOADS,
        ),
        license="MIT (EuroSAT); contains modified Copernicus Sentinel data",
        citation=EUROSAT_CITATION,
        size="2.0 GB zip, 27,000 images of 64x64 px",
        tags=frozenset({"gsd>=10", "multispectral"}),
        gsd=10.0,
        split_policy=EUROSAT_SPLIT_POLICY,
        homepage="https://github.com/phelber/EuroSAT",
    )


@register
class EuroSATRGB(_ClassFolderDataset):
    """EuroSAT RGB: the same 27,000 scenes as 8-bit JPEGs of Sentinel-2 B04/B03/B02."""

    base_dir = "2750"
    extension = ".jpg"
    split_lists: ClassVar[Mapping[str, str]] = {s: f"eurosat-{s}.txt" for s in ("train", "val", "test")}
    spec = DatasetSpec(
        name="eurosat_rgb",
        task=TaskType.CLASSIFICATION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=EUROSAT_CLASSES,
        folder="eurosat_rgb",
        layout="2750/<Class>/<Class>_<n>.jpg (64x64 RGB JPEG) + eurosat-{train,val,test}.txt",
        downloads=(
            Download(
                "http://madm.dfki.de/files/sentinel/EuroSAT.zip",
                "EuroSAT.zip",
                md5="c8fa014336c82ac7804f0398fcb19387",
                extract=True,
            ),
            *EUROSAT_SPLIT_DOWNLOADS,
        ),
        license="MIT (EuroSAT); contains modified Copernicus Sentinel data",
        citation=EUROSAT_CITATION,
        size="90 MB zip, 27,000 images of 64x64 px",
        tags=frozenset({"gsd>=10", "rgbn"}),
        gsd=10.0,
        split_policy=EUROSAT_SPLIT_POLICY,
        homepage="https://github.com/phelber/EuroSAT",
    )


UCM_CLASSES = (
    "agricultural", "airplane", "baseballdiamond", "beach", "buildings", "chaparral", "denseresidential",
    "forest", "freeway", "golfcourse", "harbor", "intersection", "mediumresidential", "mobilehomepark",
    "overpass", "parkinglot", "river", "runway", "sparseresidential", "storagetanks", "tenniscourt",
)  # fmt: skip


@register
class UCMerced(_ClassFolderDataset):
    """UC Merced Land Use: 2,100 aerial RGB tiles (256x256 px, 0.3 m), 21 classes."""

    base_dir = "UCMerced_LandUse/Images"
    extension = ".tif"
    split_lists: ClassVar[Mapping[str, str]] = {s: f"uc_merced-{s}.txt" for s in ("train", "val", "test")}
    spec = DatasetSpec(
        name="uc_merced",
        task=TaskType.CLASSIFICATION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=UCM_CLASSES,
        folder="uc_merced",
        layout="UCMerced_LandUse/Images/<class>/<class>NN.tif (256x256 RGB uint8 TIFF, NN = 00..99)",
        downloads=(
            Download(
                "http://weegee.vision.ucmerced.edu/datasets/UCMerced_LandUse.zip",
                "UCMerced_LandUse.zip",
                md5="5b7ec56793786b6dc8a908e8854ac0e4",
                extract=True,
            ),
            Download(SPLIT_LIST_BASE + "uc_merced-train.txt", "uc_merced-train.txt", md5="f2fb12eb2210cfb53f93f063a35ff374"),
            Download(SPLIT_LIST_BASE + "uc_merced-val.txt", "uc_merced-val.txt", md5="11ecabfc52782e5ea6a9c7c0d263aca0"),
            Download(SPLIT_LIST_BASE + "uc_merced-test.txt", "uc_merced-test.txt", md5="046aff88472d8fc07c4678d03749e28d"),
        ),
        license="public domain (USGS National Map imagery); no explicit licence from the authors",
        citation="Yang and Newsam, Bag-of-visual-words and spatial extensions for land-use classification, ACM GIS 2010",
        size="317 MB zip, 2,100 images of 256x256 px",
        tags=frozenset({"gsd<10", "rgbn"}),
        gsd=0.3,
        split_policy="the publisher ships no split; standard lists uc_merced-{train,val,test}.txt (Neumann et al. "
        "2019) when present, else a seeded stratified 70/10/20 split written to a split file",
        homepage="http://weegee.vision.ucmerced.edu/datasets/landuse.html",
    )


RESISC45_CLASSES = (
    "airplane", "airport", "baseball_diamond", "basketball_court", "beach", "bridge", "chaparral", "church",
    "circular_farmland", "cloud", "commercial_area", "dense_residential", "desert", "forest", "freeway",
    "golf_course", "ground_track_field", "harbor", "industrial_area", "intersection", "island", "lake",
    "meadow", "medium_residential", "mobile_home_park", "mountain", "overpass", "palace", "parking_lot",
    "railway", "railway_station", "rectangular_farmland", "river", "roundabout", "runway", "sea_ice", "ship",
    "snowberg", "sparse_residential", "stadium", "storage_tank", "tennis_court", "terrace",
    "thermal_power_station", "wetland",
)  # fmt: skip


@register
class RESISC45(_ClassFolderDataset):
    """NWPU-RESISC45: 31,500 Google Earth RGB scenes (256x256 px, 0.2-30 m), 45 classes of 700."""

    base_dir = "NWPU-RESISC45"
    extension = ".jpg"
    split_lists: ClassVar[Mapping[str, str]] = {s: f"resisc45-{s}.txt" for s in ("train", "val", "test")}
    spec = DatasetSpec(
        name="resisc45",
        task=TaskType.CLASSIFICATION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=RESISC45_CLASSES,
        folder="resisc45",
        layout="NWPU-RESISC45/<class>/<class>_NNN.jpg (256x256 RGB JPEG, NNN = 001..700)",
        downloads=(),
        license="research use (no explicit licence; images from Google Earth)",
        citation="Cheng, Han and Lu, Remote Sensing Image Scene Classification: Benchmark and State of the Art, "
        "Proceedings of the IEEE 105(10), 2017",
        size="400 MB rar, 31,500 images of 256x256 px",
        tags=frozenset({"gsd<10", "rgbn"}),
        gsd=None,
        split_policy="the publisher ships no split; standard lists resisc45-{train,val,test}.txt (Neumann et al. "
        f"2019, {SPLIT_LIST_BASE}resisc45-<split>.txt) when present, else a seeded stratified 70/10/20 split",
        homepage="https://gcheng-nwpu.github.io/#Datasets",
        description="Distributed as a RAR archive on OneDrive/Baidu: download and unpack it manually.",
    )


@register
class ImageFolderEO(EODataset):
    """Any ``<Class>/<image>`` tree of GeoTIFF/PNG/JPEG, optionally under split folders.

    Layouts: ``root/<Class>/*`` (splits are then seeded, stratified and kept in a
    split file) or ``root/{train,val,test}/<Class>/*`` (the split folders are the
    splits; ``validation``/``valid`` count as ``val``). ``sensor`` names the bands
    (a file whose band count matches the sensor gets its band names); ``bands``
    selects a subset (without ``sensor``, 8-bit RGB PNG/JPEG files are read as sensor ``rgb``).
    ``classes`` fixes the expected class folders: a missing or
    extra one is an error. Used to read re-packaged copies of benchmark datasets.
    """

    generic: ClassVar[bool] = True
    spec = DatasetSpec(
        name="image_folder",
        task=TaskType.CLASSIFICATION,
        sensor=None,
        bands=(),
        folder="image_folder",
        layout="<root>/[<split>/]<Class>/<image>.{tif,tiff,png,jpg,jpeg}",
        license="depends on the data",
        citation="n/a (generic reader)",
        size="any",
        split_policy="split folders when present; else a seeded stratified split (70/10/20) in a split file",
        homepage="https://github.com/eokit",
    )
    SPLIT_ALIASES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "train": ("train", "training"),
        "val": ("val", "validation", "valid"),
        "test": ("test", "testing"),
    }

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        sensor: str | None = None,
        bands: Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        name: str | None = None,
        extensions: Sequence[str] = IMAGE_EXTS,
        seed: int = 0,
        fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
        split_file: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        self.sensor = sensor
        self.band_subset = tuple(bands) if bands is not None else None
        self.expected = tuple(classes) if classes is not None else None
        self.name = name or Path(root).name
        self.extensions = tuple(extensions)
        self.seed = seed
        self.fractions = dict(fractions)
        self.split_file = split_file
        self.spec = dataclasses.replace(  # type: ignore[misc]  # per-instance sensor and bands
            type(self).spec, sensor=sensor, bands=self.band_subset or ()
        )
        super().__init__(root, split, **kwargs)

    def _split_dirs(self) -> dict[str, Path]:
        out = {}
        for s, aliases in self.SPLIT_ALIASES.items():
            for a in aliases:
                if (self.root / a).is_dir():
                    out[s] = self.root / a
                    break
        return out

    def _index(self) -> list[tuple[Path, int]]:
        split_dirs = self._split_dirs()
        if split_dirs:
            if self.split not in split_dirs:
                raise DatasetError(
                    f"{str(self.root)!r} has split folders {sorted(p.name for p in split_dirs.values())} but none "
                    f"for split {self.split!r}"
                )
            expected = self.expected
            if expected is None:  # every split folder must hold the same classes
                expected = tuple(sorted({c for d in split_dirs.values() for c in class_folders(d, None)}))
            for d in split_dirs.values():
                class_folders(d, expected)
            folder = split_dirs[self.split]
        else:
            folder = self.root
            expected = tuple(class_folders(folder, self.expected))
        self.classes = expected
        self.spec = dataclasses.replace(self.spec, classes=expected)  # type: ignore[misc]  # per-instance classes
        files, labels = [], []
        for k, c in enumerate(expected):
            found = image_files(folder / c, self.extensions)
            files += found
            labels += [k] * len(found)
        if not files:
            raise DatasetError(f"no images with extensions {self.extensions} under {str(folder)!r}")
        if self.sensor is None and (found_sensor := photo_sensor(files[0])) is not None:
            log.info("%s: 8-bit RGB %s images read as sensor 'rgb' (pass sensor= to change)", self.name,
                     files[0].suffix)
            self.sensor = found_sensor
            self.spec = dataclasses.replace(self.spec, sensor=found_sensor)  # type: ignore[misc]  # per instance
        if split_dirs:
            return list(zip(files, labels, strict=True))
        ids = [f"{f.parent.name}/{f.name}" for f in files]
        path = self.split_file or split_file_path(self.name, self.seed)
        chosen = set(stable_split(ids, labels, self.split, path=path, fractions=self.fractions, seed=self.seed))
        return [(f, lab) for f, lab, i in zip(files, labels, ids, strict=True) if i in chosen]

    def describe(self, item: tuple[Path, int]) -> str:
        return repr(str(item[0]))

    def _load(self, item: tuple[Path, int]) -> Sample:
        path, label = item
        sample = read_image(path, self.sensor, self.band_subset)
        sample.update(label=torch.tensor(label, dtype=torch.int64), sensor=self.sensor, path=str(path), id=path.stem)
        return sample
