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
import functools
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from rasterio.errors import NotGeoreferencedWarning

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, Download, EODataset, register
from eokit.datasets.catalog._util import geo_meta, image_tensor, split_folders
from eokit.datasets.splits import DEFAULT_FRACTIONS, assign_splits, split_file_path, stable_split
from eokit.errors import DatasetError
from eokit.io import open_raster
from eokit.tasktype import TaskType

log = logging.getLogger(__name__)

IMAGE_EXTS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
SPLIT_LIST_BASE = "https://storage.googleapis.com/remote_sensing_representations/"


def read_image(path: Path, sensor: str | None, bands: Sequence[str] | None = None,
               band_names: Sequence[str] | None = None) -> Sample:
    """Read a GeoTIFF/PNG/JPEG into Sample fields (``image``, ``bands``, georeferencing).

    ``band_names`` names every band of the file in its order (default: the sensor's order)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        src = open_raster(path, band_names=list(band_names) if band_names else None, sensor=sensor)
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
    """Files of ``folder`` with one of ``extensions`` (case-insensitive), sorted by name."""
    exts = {e.lower() for e in extensions}
    with os.scandir(folder) as entries:  # d_type from the directory listing: no stat per file
        names = [e.name for e in entries if os.path.splitext(e.name)[1].lower() in exts and e.is_file()]
    return [folder / n for n in sorted(names)]


def list_sha256(names: Sequence[str]) -> str:
    """sha256 of a split list as published (names joined by newlines, no trailing newline)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


class _ClassFolderDataset(EODataset):
    """A publisher's ``<base_dir>/<Class>/<image>`` layout with optional split lists.

    After loading, ``split_origin`` says where the split came from (published lists, lists in
    the folder, packaged split, seeded split file) and ``split_sha256`` is the sha256 of the
    split's list (see :func:`list_sha256`), for run cards.
    """

    base_dir: ClassVar[str] = ""
    extension: ClassVar[str] = ".tif"
    split_lists: ClassVar[Mapping[str, str]] = {}
    list_suffix: ClassVar[str] = ""  # suffix used in the list files when it differs from ``extension``
    published_sha256: ClassVar[Mapping[str, str]] = {}  # sha256 of the published list per split
    # stems of a split shipped with eokit (used when the folder has no lists), or None
    packaged_split: ClassVar[Any] = None
    packaged_origin: ClassVar[str] = ""

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
        lists_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        """``split_source``: 'lists' (split lists in the dataset folder, required), 'packaged' (the
        split shipped with eokit, where the dataset has one), 'seeded' (stratified seeded split
        written to ``split_file``), or 'auto' (lists in the folder, else the packaged split, else
        seeded). ``lists_dir``: read the split lists from this folder instead of the dataset
        folder (e.g. when that is read-only); a missing list there is an error."""
        if split_source not in ("auto", "lists", "packaged", "seeded"):
            raise DatasetError(
                f"split_source must be 'auto', 'lists', 'packaged' or 'seeded', not {split_source!r}"
            )
        if split_source == "packaged" and type(self).packaged_split is None:
            raise DatasetError(f"{self.spec.name} ships no packaged split; use split_source='lists' or 'seeded'")
        self.split_origin = ""
        self.split_sha256: str | None = None
        self.band_subset = tuple(bands) if bands is not None else None
        self.split_source = split_source
        self.seed = seed
        self.fractions = dict(fractions)
        self.split_file = split_file
        self.lists_dir = Path(lists_dir) if lists_dir is not None else None
        super().__init__(root, split, **kwargs)

    def _class_dir(self) -> Path:
        """``<root>/<base_dir>``, or ``<root>`` itself when it holds the class folders directly."""
        cdir = self.root / self.base_dir
        if cdir.is_dir():
            return cdir
        if self.spec.classes and all((self.root / c).is_dir() for c in self.spec.classes):
            return self.root  # an ImageFolder-style copy: <root>/<Class>/<image>
        raise DatasetError(
            f"{self.spec.name}: expected the class folders in {str(cdir)!r} (layout: {self.spec.layout}) "
            f"or directly under {str(self.root)!r}; download the dataset with "
            f"`eokit datasets download {self.spec.name}`"
        )

    def _index(self) -> list[tuple[Path, int]]:
        cdir = self._class_dir()
        classes = class_folders(cdir, self.spec.classes, f"; re-download with `eokit datasets download {self.spec.name}`")
        files: list[Path] = []
        labels: list[int] = []
        for k, c in enumerate(classes):
            found = image_files(cdir / c, (self.extension,))
            files += found
            labels += [k] * len(found)
        base = self.lists_dir or self.root
        listfile = base / self.split_lists[self.split] if self.split in self.split_lists else None
        has_list = listfile is not None and listfile.exists()
        if (self.split_source == "lists" or self.lists_dir is not None) and not has_list:
            raise DatasetError(
                f"{self.spec.name}: split list {str(listfile)!r} not found; download it with "
                f"`eokit datasets download {self.spec.name}` or pass split_source='seeded'"
            )
        wanted: list[str] | None = None
        if has_list and self.split_source in ("auto", "lists"):
            assert listfile is not None
            lines = [ln.strip() for ln in listfile.read_text().splitlines() if ln.strip()]
            self.split_sha256 = list_sha256(lines)
            published = self.published_sha256.get(self.split) == self.split_sha256
            self.split_origin = f"{'published list' if published else 'split list'} {str(listfile)!r}"
            wanted = []
            for line in lines:
                name = Path(line).name
                if self.list_suffix:
                    name = name.removesuffix(self.list_suffix) + self.extension
                wanted.append(name)
            source = repr(str(listfile))
        elif self.packaged_split is not None and self.split_source in ("auto", "packaged"):
            stems = self.packaged_split(self.split)
            self.split_sha256 = list_sha256([f"{st}.jpg" for st in stems])
            self.split_origin = self.packaged_origin
            wanted = [st + self.extension for st in stems]
            source = self.packaged_origin
        if wanted is not None:
            by_name = {f.name: (f, lab) for f, lab in zip(files, labels, strict=True)}
            missing = [n for n in wanted if n not in by_name]
            if missing:
                raise DatasetError(
                    f"{self.spec.name}: {len(missing)} images of split {self.split!r} ({source}) are not under "
                    f"{str(cdir)!r}, e.g. {missing[:3]}; the download is incomplete (complete it with "
                    f"`eokit datasets download {self.spec.name}`, or pass split_source='seeded' for a subset)"
                )
            return [by_name[n] for n in wanted]
        log.info("%s: no split list for %r; using the seeded stratified split (seed %d)", self.spec.name, self.split, self.seed)
        ids = [f"{f.parent.name}/{f.name}" for f in files]
        path = self.split_file or split_file_path(self.spec.name, self.seed)
        chosen = set(stable_split(ids, labels, self.split, path=path, fractions=self.fractions, seed=self.seed))
        self.split_origin = f"seeded split file {str(path)!r}"
        items = [(f, lab) for f, lab, i in zip(files, labels, ids, strict=True) if i in chosen]
        self.split_sha256 = list_sha256([f.name for f, _ in items])
        return items

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
# The published lists of Neumann et al. 2019 ("In-domain representation learning for remote sensing",
# google-research/remote_sensing_representations), which TorchGeo and SatMAE use: 16,200/5,400/5,400
# names "<Class>_<n>.jpg". The original bucket (SPLIT_LIST_BASE) is gone; TorchGeo mirrors the same
# bytes on Hugging Face (md5 as TorchGeo's split_md5s, sha256 as its CHECKSUMS).
EUROSAT_LIST_URL = "https://hf.co/datasets/torchgeo/eurosat/resolve/1ce6f1bfb56db63fd91b6ecc466ea67f2509774c/"
EUROSAT_LIST_SHA256 = {
    "train": "1c1d2e855f95deee605a3d992f914d113fddbecf422ec61648057d029a37d695",
    "val": "b385741f31daa9f1250cf1e1fe03adfab394e1172e0693df40141af004f60330",
    "test": "cf37948894c12bd953930ff54ee9b7abf0b31478abb8d25fd2c6c721db74c592",
}
EUROSAT_LIST_MD5 = {
    "train": "908f142e73d6acdf3f482c5e80d851b1",
    "val": "95de90f2aa998f70a3b2416bfe0687b4",
    "test": "7ae5ab94471417b6e315763121e67c5f",
}
EUROSAT_SPLIT_DOWNLOADS = tuple(
    Download(EUROSAT_LIST_URL + f"eurosat-{s}.txt", f"eurosat-{s}.txt", sha256=EUROSAT_LIST_SHA256[s],
             md5=EUROSAT_LIST_MD5[s])
    for s in ("train", "val", "test")
)
#: images per class in the EuroSAT release (files <Class>_1 .. <Class>_N, no gaps): 27,000
EUROSAT_COUNTS = {
    "AnnualCrop": 3000, "Forest": 3000, "HerbaceousVegetation": 3000, "Highway": 2500, "Industrial": 2500,
    "Pasture": 2000, "PermanentCrop": 2500, "Residential": 3000, "River": 2500, "SeaLake": 3000,
}  # fmt: skip
EUROSAT_SEEDED_FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
#: eokit's seeded stratified 60/20/20 split of the 27,000 stems (package data; scripts/make_eurosat_split.py)
EUROSAT_SEEDED_SPLIT = Path(__file__).resolve().parents[1] / "split_lists" / "eurosat_seeded_60_20_20.json"
EUROSAT_SEEDED_ORIGIN = "eokit seeded stratified 60/20/20 split (eokit/datasets/split_lists/eurosat_seeded_60_20_20.json)"
EUROSAT_SPLIT_POLICY = (
    "the published lists eurosat-{train,val,test}.txt (16,200/5,400/5,400; Neumann et al. 2019, as TorchGeo "
    "and SatMAE use; `eokit datasets download` fetches them, sha256-checked) when they are in the dataset "
    "folder; else eokit's packaged seeded (seed 0) stratified 60/20/20 split of the 27,000 official file "
    "names, of the same sizes (split_source='packaged'); split_source='seeded' for a subset of the images"
)


def eurosat_seeded_split_payload() -> str:
    """The text of ``EUROSAT_SEEDED_SPLIT``, made by eokit's split rule from the official stems."""
    ids = [f"{c}_{n}" for c in EUROSAT_CLASSES for n in range(1, EUROSAT_COUNTS[c] + 1)]
    labels = [i.rsplit("_", 1)[0] for i in ids]
    assignment = assign_splits(ids, labels, EUROSAT_SEEDED_FRACTIONS, seed=0)
    splits = {s: {c: [n for n in range(1, EUROSAT_COUNTS[c] + 1) if assignment[f"{c}_{n}"] == s]
                  for c in EUROSAT_CLASSES} for s in EUROSAT_SEEDED_FRACTIONS}
    names = {s: [f"{c}_{n}.jpg" for c, ns in per.items() for n in ns] for s, per in splits.items()}
    about = {
        "dataset": "EuroSAT (RGB .jpg and MS .tif share these stems)",
        "rule": "eokit.datasets.splits.assign_splits over the stems <Class>_<n>, stratified by class, seed 0: "
        "per class, sha256('0:<stem>') order, each stem to the split furthest below its share",
        "fractions": EUROSAT_SEEDED_FRACTIONS,
        "sizes": {s: len(v) for s, v in names.items()},
        "list_sha256": {s: list_sha256(v) for s, v in names.items()},
        "list_format": "sha256 of the names '<Class>_<n>.jpg' in class order, then n, joined by newlines",
        "made_by": "scripts/make_eurosat_split.py",
    }
    lines = ["{", f' "about": {json.dumps(about)},', ' "splits": {']
    for i, (s, per) in enumerate(splits.items()):
        lines.append(f'  "{s}": {{')
        rows = [f'   "{c}": {json.dumps(ns)}' for c, ns in per.items()]
        lines.append(",\n".join(rows))
        lines.append("  }" + ("," if i < len(splits) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def fetch_eurosat_lists(folder: str | Path, base_url: str = EUROSAT_LIST_URL) -> dict[str, Path]:
    """Download the published EuroSAT lists ``eurosat-{train,val,test}.txt`` into ``folder``.

    Each is checked against its published sha256 (a mismatch raises ``ChecksumError``); pass
    ``folder`` as ``lists_dir=`` to ``eurosat_rgb``/``eurosat_ms``, or download into the dataset
    folder itself. Files already there are verified, not fetched again.
    """
    from eokit.datasets.download import fetch

    out = {}
    for split in ("train", "val", "test"):
        name = f"eurosat-{split}.txt"
        out[split] = fetch(base_url.rstrip("/") + "/" + name, Path(folder) / name,
                           sha256=EUROSAT_LIST_SHA256[split], md5=EUROSAT_LIST_MD5[split])
    return out


@functools.cache
def _eurosat_seeded() -> dict[str, list[str]]:
    try:
        data = json.loads(EUROSAT_SEEDED_SPLIT.read_text())
        out = {s: [f"{c}_{n}" for c, ns in per.items() for n in ns] for s, per in data["splits"].items()}
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise DatasetError(
            f"eokit's EuroSAT split {str(EUROSAT_SEEDED_SPLIT)!r} is unreadable ({exc}); reinstall eokit or "
            "regenerate it with scripts/make_eurosat_split.py"
        ) from exc
    for s, stems in out.items():
        if list_sha256([f"{st}.jpg" for st in stems]) != data["about"]["list_sha256"][s]:
            raise DatasetError(
                f"eokit's EuroSAT split {str(EUROSAT_SEEDED_SPLIT)!r}: split {s!r} does not match its recorded "
                "sha256; the file was edited — regenerate it with scripts/make_eurosat_split.py"
            )
    return out


def eurosat_split(split: str) -> list[str]:
    """Stems (``<Class>_<n>``) of ``split`` in eokit's packaged seeded 60/20/20 EuroSAT split."""
    parts = _eurosat_seeded()
    if split not in parts:
        raise DatasetError(f"eokit's EuroSAT split has no split {split!r}; its splits are {list(parts)}")
    return parts[split]


@register
class EuroSATMS(_ClassFolderDataset):
    """EuroSAT multispectral: 27,000 13-band Sentinel-2 L1C GeoTIFFs (64x64 px, uint16), 10 classes."""

    base_dir = "ds/images/remote_sensing/otherDatasets/sentinel_2/tif"
    extension = ".tif"
    list_suffix = ".jpg"  # the lists name the RGB JPEGs; the MS files share their stems
    split_lists: ClassVar[Mapping[str, str]] = {s: f"eurosat-{s}.txt" for s in ("train", "val", "test")}
    published_sha256: ClassVar[Mapping[str, str]] = EUROSAT_LIST_SHA256
    packaged_split = staticmethod(eurosat_split)
    packaged_origin = EUROSAT_SEEDED_ORIGIN
    spec = DatasetSpec(
        name="eurosat_ms",
        task=TaskType.CLASSIFICATION,
        sensor="sentinel2_l1c",
        # the files hold B8A last (measured: band 13 correlates 0.98 with B08, bands 9-10 have B09's and
        # B10's levels; TorchGeo's EuroSAT and GEO-Bench issue #28 say the same)
        bands=("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A"),
        classes=EUROSAT_CLASSES,
        folder="eurosat_ms",
        layout="ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<n>.tif "
        "(13-band uint16 GeoTIFF, band order B01..B08,B09..B12,B8A) + eurosat-{train,val,test}.txt",
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
    """EuroSAT RGB: the same 27,000 scenes as 8-bit JPEGs of Sentinel-2 B04/B03/B02.

    Reads the release layout (``2750/<Class>/``) or an ImageFolder copy (``<Class>/`` under
    the root, as in the data mirror). Default split: the published lists when in the root,
    else eokit's packaged seeded 60/20/20 split (16,200/5,400/5,400); ``split_origin`` and
    ``split_sha256`` say which.
    """

    base_dir = "2750"
    extension = ".jpg"
    split_lists: ClassVar[Mapping[str, str]] = {s: f"eurosat-{s}.txt" for s in ("train", "val", "test")}
    published_sha256: ClassVar[Mapping[str, str]] = EUROSAT_LIST_SHA256
    packaged_split = staticmethod(eurosat_split)
    packaged_origin = EUROSAT_SEEDED_ORIGIN
    spec = DatasetSpec(
        name="eurosat_rgb",
        task=TaskType.CLASSIFICATION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=EUROSAT_CLASSES,
        folder="eurosat_rgb",
        layout="2750/<Class>/<Class>_<n>.jpg (64x64 RGB JPEG; or <Class>/ directly under the root) "
        "+ eurosat-{train,val,test}.txt",
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
        mirror="classification/eurosat_rgb",
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
    (a file whose band count matches the sensor gets its band names, in the sensor's order, unless
    ``band_names`` gives the file's own order, e.g. EuroSAT MS: B8A last); ``bands``
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
        band_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.sensor = sensor
        self.band_names = tuple(band_names) if band_names else None
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
        return split_folders(self.root)

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
        sample = read_image(path, self.sensor, self.band_subset, self.band_names)
        sample.update(label=torch.tensor(label, dtype=torch.int64), sensor=self.sensor, path=str(path), id=path.stem)
        return sample
