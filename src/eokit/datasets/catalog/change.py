"""Bi-temporal change detection: OSCD (Sentinel-2), LEVIR-CD, S2Looking, DSIFN.

Samples carry ``image`` (date 1), ``image2`` (date 2), both float32 C×H×W with
the same ``bands``, and ``mask`` (H×W int64: 0 = no change, 1 = change,
-1 = unlabelled). A label whose pixel grid differs from the image's is a
DatasetError, never silently resized.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, Download, EODataset, register
from eokit.datasets.catalog._util import (
    IGNORE_INDEX,
    check_same_grid,
    geo_meta,
    image_tensor,
    mask_tensor,
)
from eokit.datasets.catalog.classification import read_image
from eokit.errors import DatasetError
from eokit.io import GridSpec, open_band_files
from eokit.tasktype import TaskType

S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
CHANGE_CLASSES = ("no change", "change")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def _read_label(path: Path) -> tuple[np.ndarray, GridSpec]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            arr = ds.read()
            grid = GridSpec(ds.crs, ds.transform, ds.height, ds.width)
    return arr, grid


# --------------------------------------------------------------------------- OSCD
@register
class OSCD(EODataset):
    """Onera Satellite Change Detection: 24 Sentinel-2 L1C city pairs, 13 bands, one file per band.

    Bands come at their native 10/20/60 m; the 20 m and 60 m bands are
    resampled explicitly onto the 10 m grid of ``B02`` with ``resampling``
    (default bilinear). The label rasters ``<city>-cm.tif`` hold 1 = no change
    and 2 = change (not the 0/1 the README states); they become mask 0/1.

    Options: ``images_dir`` / ``labels_dir`` name the image and label folders
    when they were unpacked under other names than the published
    ``Onera Satellite Change Detection dataset - Images`` / ``- Train Labels``
    / ``- Test Labels``; ``cities`` restricts the split to some of its cities.
    """

    PREFIX: ClassVar[str] = "Onera Satellite Change Detection dataset - "
    spec = DatasetSpec(
        name="oscd",
        task=TaskType.CHANGE_DETECTION,
        sensor="sentinel2_l1c",
        bands=S2_BANDS,
        classes=CHANGE_CLASSES,
        splits=("train", "test"),
        folder="oscd",
        layout="'Onera Satellite Change Detection dataset - Images'/<city>/{imgs_1,imgs_2}/*_B01..B12,B8A.tif "
        "+ dates.txt, train.txt/test.txt (comma-separated cities); "
        "'... - Train Labels'/<city>/cm/<city>-cm.tif and '... - Test Labels'/<city>/cm/<city>-cm.tif (1/2)",
        downloads=(
            Download(
                "https://partage.imt.fr/index.php/s/gKRaWgRnLMfwMGo/download",
                "Onera Satellite Change Detection dataset - Images.zip",
                extract=True,
            ),
            Download(
                "https://partage.mines-telecom.fr/index.php/s/2D6n03k58ygBSpu/download",
                "Onera Satellite Change Detection dataset - Train Labels.zip",
                extract=True,
            ),
            Download(
                "https://partage.imt.fr/index.php/s/gpStKn4Mpgfnr63/download",
                "Onera Satellite Change Detection dataset - Test Labels.zip",
                extract=True,
            ),
        ),
        license="images: modified Copernicus Sentinel data 2015-2018; change maps CC BY-NC-SA",
        citation="Daudt et al., Urban Change Detection for Multispectral Earth Observation Using Convolutional "
        "Neural Networks, IGARSS 2018",
        size="~500 MB, 24 city pairs (14 train, 10 test), ~600x600 px at 10 m",
        tags=frozenset({"gsd>=10", "multispectral", "temporal", "pixelwise"}),
        gsd=10.0,
        split_policy="official: train.txt (14 cities) / test.txt (10 cities) shipped with the images; "
        "checksums are not published (downloads unverified)",
        homepage="https://rcdaudt.github.io/oscd/",
    )

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        *,
        images_dir: str | None = None,
        labels_dir: str | None = None,
        cities: Sequence[str] | None = None,
        bands: Sequence[str] | None = None,
        resampling: str = "bilinear",
        **kwargs: Any,
    ) -> None:
        self.images_dir = images_dir or self.PREFIX + "Images"
        self.labels_dir = labels_dir or self.PREFIX + ("Train Labels" if split == "train" else "Test Labels")
        self.cities = list(cities) if cities is not None else None
        self.band_subset = list(bands) if bands is not None else list(S2_BANDS)
        self.resampling = resampling
        super().__init__(root, split, **kwargs)

    def _index(self) -> list[str]:
        images = self.root / self.images_dir
        if not images.is_dir():
            raise DatasetError(
                f"oscd: image folder {str(images)!r} not found (layout: {self.spec.layout}); pass images_dir= if "
                "it was unpacked under another name, or run `eokit datasets download oscd`"
            )
        listfile = next((p for p in (images / f"{self.split}.txt", self.root / f"{self.split}.txt") if p.exists()), None)
        if listfile is None:
            raise DatasetError(f"oscd: split list {self.split}.txt not found in {str(images)!r} or {str(self.root)!r}")
        listed = [c.strip() for c in listfile.read_text().replace("\n", ",").split(",") if c.strip()]
        cities = listed
        if self.cities is not None:
            unknown = [c for c in self.cities if c not in listed]
            if unknown:
                raise DatasetError(f"oscd: cities {unknown} are not in the {self.split} split ({listfile}): {listed}")
            cities = self.cities
        for c in cities:
            if not (images / c).is_dir():
                raise DatasetError(
                    f"oscd: city {c!r} of {listfile.name} has no folder {str(images / c)!r}; the download is "
                    "incomplete (or pass cities= to read a subset)"
                )
        return cities

    def _stack(self, folder: Path) -> Any:
        paths = sorted(p for p in folder.glob("*.tif"))
        if not paths:
            raise DatasetError(f"oscd: no band files in {str(folder)!r}")
        return open_band_files(paths, sensor="sentinel2_l1c", reference="B02", resampling=self.resampling)

    def _load(self, city: str) -> Sample:
        images = self.root / self.images_dir / city
        s1, s2 = self._stack(images / "imgs_1"), self._stack(images / "imgs_2")
        c1 = s1.read(bands=self.band_subset)
        c2 = s2.read(bands=self.band_subset)
        if c1.array.shape != c2.array.shape:
            raise DatasetError(
                f"oscd: {city}: imgs_1 is {c1.array.shape[1:]} px but imgs_2 is {c2.array.shape[1:]} px on their 10 m grids"
            )
        label_path = self.root / self.labels_dir / city / "cm" / f"{city}-cm.tif"
        if not label_path.exists():
            raise DatasetError(f"oscd: label {str(label_path)!r} not found (pass labels_dir= if it lives elsewhere)")
        lab, lgrid = _read_label(label_path)
        check_same_grid(c1.grid, GridSpec(None, lgrid.transform, lgrid.height, lgrid.width), images / "imgs_1", label_path)
        raw = lab[0]
        mask = np.full(raw.shape, IGNORE_INDEX, dtype=np.int64)
        mask[raw == 1] = 0
        mask[raw == 2] = 1
        dates = dict(re.findall(r"(date_\d):\s*(\d{8})", (images / "dates.txt").read_text())) if (images / "dates.txt").exists() else {}
        iso = {k: f"{v[:4]}-{v[4:6]}-{v[6:]}" for k, v in dates.items()}
        return {
            "image": image_tensor(c1.array),
            "image2": image_tensor(c2.array),
            "mask": mask_tensor(mask),
            "bands": tuple(c1.bands),
            "sensor": "sentinel2_l1c",
            **geo_meta(c1.grid),
            "time": iso.get("date_1"),
            "time2": iso.get("date_2"),
            "path": str(images),
            "id": city,
        }


# --------------------------------------------------------------------------- A/B/label folders
class _BitemporalFolders(EODataset):
    """Pairs of co-registered images in two folders with a change mask in a third.

    ``layout='official'``: ``<root>/<split>/<dir_a|dir_b|dir_label>/<name>``.
    ``layout='lists'``: the cropped re-releases (LEVIR-CD-256, DSIFN-CD-256 as
    made by ChangeFormer/BIT): ``<root>/{A,B,label}/<name>`` with
    ``<root>/list/<split>.txt``; ``list_file`` reads another list in that
    folder (e.g. ``demo.txt``). Images pair by file stem; the mask is change
    where any channel is non-zero (0/255 or 0/1 encodings).
    """

    dirs_official: ClassVar[tuple[str, str, str]] = ("A", "B", "label")
    dirs_lists: ClassVar[tuple[str, str, str]] = ("A", "B", "label")

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        *,
        layout: str = "official",
        list_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        if layout not in ("official", "lists"):
            raise DatasetError(f"{self.spec.name}: layout must be 'official' or 'lists', not {layout!r}")
        self.layout = layout
        self.list_file = list_file
        super().__init__(root, split, **kwargs)

    def _folders(self) -> tuple[Path, Path, Path]:
        if self.layout == "official":
            base = self.root / self.split
            return tuple(base / d for d in self.dirs_official)  # type: ignore[return-value]
        return tuple(self.root / d for d in self.dirs_lists)  # type: ignore[return-value]

    def _index(self) -> list[tuple[Path, Path, Path]]:
        fa, fb, fl = self._folders()
        for f in (fa, fb, fl):
            if not f.is_dir():
                raise DatasetError(
                    f"{self.spec.name}: folder {str(f)!r} not found (layout={self.layout!r}: {self.spec.layout}); "
                    f"download the dataset with `eokit datasets download {self.spec.name}`"
                )

        def by_stem(folder: Path) -> dict[str, Path]:
            return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTS}

        a, b, lab = by_stem(fa), by_stem(fb), by_stem(fl)
        if self.layout == "lists":
            lst = self.root / "list" / (self.list_file or f"{self.split}.txt")
            if not lst.exists():
                raise DatasetError(f"{self.spec.name}: split list {str(lst)!r} not found")
            stems = [Path(s.strip()).stem for s in lst.read_text().split() if s.strip()]
        else:
            stems = sorted(a)
        items = []
        for s in stems:
            missing = [str(f / s) for f, d in ((fa, a), (fb, b), (fl, lab)) if s not in d]
            if missing:
                raise DatasetError(f"{self.spec.name}: pair {s!r} is incomplete: no file for {missing}")
            items.append((a[s], b[s], lab[s]))
        return items

    def describe(self, item: tuple[Path, Path, Path]) -> str:
        return repr(str(item[0]))

    def _load(self, item: tuple[Path, Path, Path]) -> Sample:
        pa, pb, pl = item
        sa = read_image(pa, self.spec.sensor)
        sb = read_image(pb, self.spec.sensor)
        if sa["image"].shape != sb["image"].shape:
            raise DatasetError(
                f"{self.spec.name}: {str(pa)!r} is {tuple(sa['image'].shape)} but {str(pb)!r} is {tuple(sb['image'].shape)}"
            )
        lab, lgrid = _read_label(pl)
        h, w = sa["image"].shape[-2:]
        if (lgrid.height, lgrid.width) != (h, w):
            raise DatasetError(
                f"{self.spec.name}: label {str(pl)!r} is {lgrid.width}x{lgrid.height} px but image {str(pa)!r} is "
                f"{w}x{h} px; labels must share the image grid (pass skip_invalid=True to skip the pair)"
            )
        mask = np.asarray((lab[:3] > 0).any(axis=0), dtype=np.int64)
        return {
            "image": sa["image"],
            "image2": sb["image"],
            "mask": mask_tensor(mask),
            "bands": sa["bands"],
            "sensor": self.spec.sensor,
            "crs": sa["crs"],
            "transform": sa["transform"],
            "bounds": sa["bounds"],
            "time": None,
            "path": str(pa),
            "id": pa.stem,
        }


@register
class LEVIRCD(_BitemporalFolders):
    """LEVIR-CD: 637 pairs of 1024x1024 Google Earth RGB images (0.5 m), building change masks."""

    spec = DatasetSpec(
        name="levir_cd",
        task=TaskType.CHANGE_DETECTION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=CHANGE_CLASSES,
        folder="levir_cd",
        layout="{train,val,test}/{A,B,label}/<split>_<n>.png (1024x1024 RGB; label 0/255); "
        "layout='lists': {A,B,label}/<name>.png + list/<split>.txt (LEVIR-CD-256 crops)",
        downloads=(),
        license="academic research use only (LEVIR-CD terms)",
        citation="Chen and Shi, A Spatial-Temporal Attention-Based Method and a New Dataset for Remote Sensing "
        "Image Change Detection, Remote Sensing 12(10), 2020",
        size="2.7 GB, 637 pairs (445 train / 64 val / 128 test) of 1024x1024 px",
        tags=frozenset({"gsd<10", "rgbn", "temporal", "pixelwise"}),
        gsd=0.5,
        split_policy="official train/val/test folders (or list/<split>.txt of the 256 px re-release)",
        homepage="https://justchenhao.github.io/LEVIR/",
        description="Distributed through Google Drive / Baidu: download manually.",
    )


@register
class S2Looking(_BitemporalFolders):
    """S2Looking: 5,000 side-looking satellite RGB pairs (1024x1024, 0.5-0.8 m), rural building changes."""

    dirs_official = ("Image1", "Image2", "label")
    spec = DatasetSpec(
        name="s2looking",
        task=TaskType.CHANGE_DETECTION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=CHANGE_CLASSES,
        folder="s2looking",
        layout="{train,val,test}/{Image1,Image2,label,label1,label2}/<n>.png (1024x1024 RGB; label: change "
        "map, non-zero = change; label1/label2: new / demolished buildings, not used)",
        downloads=(),
        license="academic research use only (S2Looking terms)",
        citation="Shen et al., S2Looking: A Satellite Side-Looking Dataset for Building Change Detection, "
        "Remote Sensing 13(24), 2021",
        size="~11 GB, 5,000 pairs (3,500 train / 500 val / 1,000 test) of 1024x1024 px",
        tags=frozenset({"gsd<10", "rgbn", "temporal", "pixelwise"}),
        gsd=0.5,
        split_policy="official train/val/test folders",
        homepage="https://github.com/S2Looking/Dataset",
        description="Distributed through Google Drive / Baidu: download manually.",
    )


@register
class DSIFN(_BitemporalFolders):
    """DSIFN-CD: bi-temporal Google Earth RGB images of six Chinese cities (512x512), change masks."""

    dirs_official = ("t1", "t2", "mask")
    spec = DatasetSpec(
        name="dsifn",
        task=TaskType.CHANGE_DETECTION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=CHANGE_CLASSES,
        folder="dsifn",
        layout="{train,val,test}/{t1,t2,mask}/<n>.{jpg,png,tif} (512x512 RGB; mask 0/255); "
        "layout='lists': {A,B,label}/<name>.png + list/<split>.txt (DSIFN-CD-256 crops)",
        downloads=(),
        license="not stated by the authors (research use)",
        citation="Zhang et al., A deeply supervised image fusion network for change detection in high resolution "
        "bi-temporal remote sensing images, ISPRS J. 166, 2020",
        size="~1.4 GB, 3,940 train / 48 test pairs of 512x512 px",
        tags=frozenset({"gsd<10", "rgbn", "temporal", "pixelwise"}),
        gsd=2.0,
        split_policy="official train/val/test folders (or list/<split>.txt of the 256 px re-release)",
        homepage="https://github.com/GeoZcx/A-deeply-supervised-image-fusion-network-for-change-detection-in-remote-sensing-images",
        description="Distributed through Google Drive / Baidu: download manually.",
    )
