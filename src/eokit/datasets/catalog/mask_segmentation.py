"""Segmentation from image + mask files: Dubai aerial land cover, SPARCS Landsat 8 clouds, any mask folder.

- :class:`DubaiAerialLandcover` reads the "Semantic segmentation of aerial imagery" release
  (Humans in the Loop / MBRSC) as published: ``Tile <k>/images/*.jpg`` with RGB colour-coded
  ``Tile <k>/masks/*.png``. The colours in its ``classes.json`` do not match the masks; the
  class colours here were measured on the masks (every mask pixel is one of them or black).
- :class:`SparcsL8Cloud` reads the SPARCS Landsat 8 validation subscenes (``sending/``
  layout: ``<id>_photo.png``, ``<id>_mask.png`` with the official class codes) and cuts
  them into chips.
- :class:`MaskFolder` is the generic reader of ``images/`` + ``masks/`` folders with the same
  stems (class-id PNG/TIFF masks, or RGB colour masks with ``colors=``), so a user's own
  segmentation data needs no code.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from rasterio.errors import NotGeoreferencedWarning

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, EODataset, register
from eokit.datasets.catalog._util import (
    IGNORE_INDEX,
    decode_colour_mask,
    geo_meta,
    image_tensor,
    mask_tensor,
    split_folders,
    split_ids,
)
from eokit.datasets.catalog.classification import IMAGE_EXTS, photo_sensor, read_image
from eokit.datasets.splits import DEFAULT_FRACTIONS, split_file_path, stable_split
from eokit.errors import DatasetError
from eokit.io import open_raster
from eokit.tasktype import TaskType


def _rgb_array(path: Path) -> np.ndarray:
    """H×W×3 uint8 of an image file (palette and grey PNGs are converted to RGB)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as exc:
        raise DatasetError(f"cannot read image {str(path)!r}: {exc}") from exc


def _index_array(path: Path) -> np.ndarray:
    """The single band of a class-id raster (palette PNG -> palette indices), as int64."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        src = open_raster(path)
        if len(src.bands) != 1:
            raise DatasetError(
                f"mask {str(path)!r} has {len(src.bands)} bands; class-id masks have one band "
                "(RGB colour masks need a colour table: colors={class: [r, g, b]})"
            )
        return np.asarray(src.read(dtype=None).array[0]).astype(np.int64)


# --------------------------------------------------------------------------- Dubai aerial land cover
DUBAI_CLASSES = ("building", "land", "road", "vegetation", "water", "unlabeled")
DUBAI_COLOURS: tuple[tuple[int, int, int], ...] = (
    (60, 16, 152),  # #3C1098 building
    (132, 41, 246),  # #8429F6 land (unpaved area)
    (110, 193, 228),  # #6EC1E4 road
    (254, 221, 58),  # #FEDD3A vegetation
    (226, 169, 41),  # #E2A929 water
    (155, 155, 155),  # #9B9B9B unlabeled
)
"""Mask colour of each class, measured on the 54 masks (``classes.json`` lists other colours)."""
DUBAI_IGNORE_COLOURS = ((0, 0, 0),)
"""A few black pixels (< 0.01 %) belong to no class: they become ``IGNORE_INDEX``."""


@register
class DubaiAerialLandcover(EODataset):
    """Dubai aerial land cover (Humans in the Loop / MBRSC): 72 RGB tiles in 8 tile groups, 6 classes.

    Masks are RGB colour codes (Tiles 2 and 4 as palette PNGs); each pixel is mapped to a
    class by its exact colour (:data:`DUBAI_COLOURS`), black to ``IGNORE_INDEX``, and any other
    colour raises a DatasetError naming the file and the colour (the real masks hold no
    other colour: they are lossless PNGs, so no near-colour matching is done). Splits are seeded
    by tile group (``Tile <k>``): the parts of one tile are adjacent and never straddle splits.
    """

    ignore_index = IGNORE_INDEX
    spec = DatasetSpec(
        name="dubai_aerial_landcover",
        task=TaskType.SEGMENTATION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=DUBAI_CLASSES,
        splits=("train", "val", "test"),
        folder="dubai_aerial_landcover",
        layout="Tile <k>/images/image_part_00<i>.jpg (RGB JPEG) and Tile <k>/masks/image_part_00<i>.png "
        "(RGB colour-coded PNG, same size), classes.json (its colours are wrong; not read)",
        license="not stated in the GitHub copies; see the Humans in the Loop release on Kaggle",
        citation="Humans in the Loop, Semantic segmentation of aerial imagery (Dubai, imagery by MBRSC), "
        "2020, https://www.kaggle.com/datasets/humansintheloop/semantic-segmentation-of-aerial-imagery",
        size="72 image/mask pairs in Tiles 1-8 (the eokit mirror holds Tiles 1-6: 54 pairs, 11 MB)",
        tags=frozenset({"gsd<10", "rgbn", "pixelwise"}),
        gsd=None,
        split_policy="seeded (seed 0) 70/10/20 split over tile groups 'Tile <k>' (6 tiles -> 4/1/1)",
        description="Download the archive from Kaggle (login needed) and unpack it; the folder holding "
        "'Tile 1' ... is the root. Mask colours: " + ", ".join(
            f"{c} #{r:02X}{g:02X}{b:02X}" for c, (r, g, b) in zip(DUBAI_CLASSES, DUBAI_COLOURS, strict=True)
        ),
        homepage="https://www.kaggle.com/datasets/humansintheloop/semantic-segmentation-of-aerial-imagery",
        mirror="segmentation/dubai_aerial_landcover",
        mirror_part="Tiles 1-6 of 8: 54 of the 72 image/mask pairs",
    )

    def _pairs(self) -> list[tuple[str, Path, Path]]:
        tiles = sorted((d for d in self.root.glob("Tile *") if d.is_dir()),
                       key=lambda d: int(re.sub(r"\D", "", d.name) or 0))
        if not tiles:
            raise DatasetError(
                f"dubai_aerial_landcover: no 'Tile <k>' folders under {str(self.root)!r}; expected the "
                f"published layout ({self.spec.layout})"
            )
        out = []
        for tile in tiles:
            for img in sorted((tile / "images").glob("*.jpg")):
                mask = tile / "masks" / f"{img.stem}.png"
                if not mask.exists():
                    raise DatasetError(f"dubai_aerial_landcover: image {str(img)!r} has no mask {str(mask)!r}")
                out.append((tile.name, img, mask))
        if not out:
            raise DatasetError(f"dubai_aerial_landcover: no Tile */images/*.jpg under {str(self.root)!r}")
        return out

    def _index(self) -> list[tuple[str, Path, Path]]:
        pairs = self._pairs()
        tiles = sorted({t for t, _, _ in pairs})
        keep = set(split_ids(self.spec.name, tiles, self.split))
        return [p for p in pairs if p[0] in keep]

    def describe(self, item: tuple[str, Path, Path]) -> str:
        return repr(str(item[1]))

    def decode_mask(self, path: Path) -> np.ndarray:
        """Class ids of one mask file (black -> IGNORE_INDEX; another colour -> DatasetError)."""
        return decode_colour_mask(_rgb_array(path), DUBAI_COLOURS, path, ignore=DUBAI_IGNORE_COLOURS)

    def _load(self, item: tuple[str, Path, Path]) -> Sample:
        tile, img_path, mask_path = item
        rgb = _rgb_array(img_path)
        mask = self.decode_mask(mask_path)
        if mask.shape != rgb.shape[:2]:
            raise DatasetError(
                f"mask {str(mask_path)!r} is {mask.shape[1]}x{mask.shape[0]} px but image {str(img_path)!r} "
                f"is {rgb.shape[1]}x{rgb.shape[0]} px; each mask must have its image's size"
            )
        return {
            "image": image_tensor(rgb.transpose(2, 0, 1)),
            "mask": mask_tensor(mask),
            "bands": self.spec.bands,
            "sensor": "rgb",
            **geo_meta(None),
            "time": None,
            "id": f"{tile}/{img_path.stem}",
            "path": str(img_path),
        }


# --------------------------------------------------------------------------- SPARCS
SPARCS_CLASSES = ("cloud_shadow", "cloud_shadow_over_water", "water", "snow_ice", "land", "cloud", "flooded")
"""Official SPARCS mask codes 0..6 (Hughes & Kennedy 2019)."""
SPARCS_PHOTO_BANDS = ("B6", "B5", "B4")
"""Bands of the 8-bit ``_photo.png`` rendering (SWIR1, NIR, red as R, G, B): snow/ice is cyan in
it (dark first channel) and vegetation green, as in a Landsat 8 6-5-4 composite."""
SPARCS_DATA_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B9", "B10", "B11")
"""Bands of the full release's 10-band ``_data.tif`` (OLI/TIRS without the pan band)."""


@functools.lru_cache(maxsize=4)
def _sparcs_scene(path: str, kind: str) -> np.ndarray:
    """A whole SPARCS file, decoded once per process for all chips of its scene (read-only)."""
    p = Path(path)
    if kind == "photo":
        a = _rgb_array(p).transpose(2, 0, 1).astype(np.float32) / 255.0
    elif kind == "data":
        a = open_raster(p).read(dtype=None).array.astype(np.float32)
    else:
        a = _index_array(p)
    a.setflags(write=False)
    return a


@register
class SparcsL8Cloud(EODataset):
    """SPARCS: Landsat 8 1000x1000 subscenes with hand-drawn cloud/shadow/water/snow masks.

    ``image``: ``'photo'`` (default; the 8-bit rendering shown to the interpreters, bands
    SWIR1/NIR/red = B6/B5/B4, scaled to 0-1, not calibrated reflectance) or ``'data'`` (the
    full release's 10-band ``_data.tif``, raw DN). ``chip_size``: chips of that many pixels
    (the last row and column of chips end at the scene edge, overlapping the previous one);
    ``None`` gives whole scenes. Splits are seeded by subscene, so chips of one scene stay in
    one split. Mask codes follow SPARCS: 0 cloud shadow, 1 shadow over water, 2 water,
    3 snow/ice, 4 land, 5 cloud, 6 flooded; any other value raises a DatasetError.
    """

    ignore_index = IGNORE_INDEX
    spec = DatasetSpec(
        name="sparcs_l8_cloud",
        task=TaskType.SEGMENTATION,
        sensor="landsat8",
        bands=SPARCS_PHOTO_BANDS,
        classes=SPARCS_CLASSES,
        splits=("train", "val", "test"),
        folder="sparcs_l8_cloud",
        layout="sending/<scene>_<k>_photo.png (8-bit RGB = B6/B5/B4), <scene>_<k>_mask.png (palette PNG of "
        "codes 0-6), <scene>_<k>_qmask.tif (BQA), <scene>_mtl.txt; optional <scene>_<k>_data.tif (10 bands); "
        "the files may also lie in the root itself",
        license="US Government work (USGS SPARCS validation release): public domain under USGS data policy; "
        "the authors ask to cite Hughes & Kennedy 2019",
        citation="Hughes and Kennedy, High Quality Cloud Masking of Landsat 8 Imagery Using Convolutional "
        "Neural Networks, Remote Sensing 11(21):2591, 2019, doi:10.3390/rs11212591",
        size="80 subscenes of 1000x1000 px (the eokit mirror holds 20, 30 MB, without _data.tif)",
        tags=frozenset({"gsd>=10", "multispectral", "pixelwise"}),
        gsd=30.0,
        split_policy="seeded (seed 0) 70/10/20 split over subscenes (20 subscenes -> 14/2/4); chips of a "
        "subscene stay in its split",
        description="USGS distributes the subscenes as l8cloudmasks.zip (folder 'sending/'); the root is the "
        "folder holding 'sending/' or the files themselves.",
        homepage="https://www.usgs.gov/landsat-missions/spatial-procedures-automated-removal-cloud-and-shadow-"
        "sparcs-validation-data",
        mirror="segmentation/sparcs_l8_cloud",
        mirror_part="20 of the 80 subscenes",
    )

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        *,
        chip_size: int | None = 256,
        image: str = "photo",
        **kwargs: Any,
    ) -> None:
        if chip_size is not None and not chip_size >= 8:
            raise DatasetError(f"sparcs_l8_cloud: chip_size must be >= 8 or None (whole scenes), got {chip_size}")
        if image not in ("photo", "data"):
            raise DatasetError(f"sparcs_l8_cloud: image must be 'photo' or 'data', got {image!r}")
        self.chip_size = chip_size
        self.image_kind = image
        super().__init__(root, split, **kwargs)

    @property
    def folder(self) -> Path:
        return self.root / "sending" if (self.root / "sending").is_dir() else self.root

    def _scenes(self) -> list[str]:
        ids = sorted(p.name.removesuffix("_mask.png") for p in self.folder.glob("*_mask.png"))
        if not ids:
            raise DatasetError(
                f"sparcs_l8_cloud: no *_mask.png under {str(self.folder)!r}; expected the SPARCS layout "
                f"({self.spec.layout})"
            )
        for sid in ids:
            img = self._image_path(sid)
            if not img.exists():
                raise DatasetError(
                    f"sparcs_l8_cloud: mask of {sid!r} has no image {str(img)!r}"
                    + (" (the 10-band _data.tif is not in every copy; use image='photo')"
                       if self.image_kind == "data" else "")
                )
        return ids

    def _image_path(self, sid: str) -> Path:
        return self.folder / f"{sid}_{self.image_kind}.{'png' if self.image_kind == 'photo' else 'tif'}"

    def _windows(self, size: int) -> list[int]:
        c = self.chip_size
        if c is None or c >= size:
            return [0]
        starts = list(range(0, size - c + 1, c))
        if starts[-1] + c < size:
            starts.append(size - c)
        return starts

    def _index(self) -> list[tuple[str, int, int, int]]:
        scenes = split_ids(self.spec.name, self._scenes(), self.split)
        items = []
        for sid in scenes:
            h, w = self._mask(sid).shape
            c = self.chip_size if self.chip_size is not None else max(h, w)
            items += [(sid, x, y, min(c, w, h)) for y in self._windows(h) for x in self._windows(w)]
        return items

    def _mask(self, sid: str) -> np.ndarray:
        path = self.folder / f"{sid}_mask.png"
        mask = _sparcs_scene(str(path), "mask")
        bad = (mask < 0) | (mask >= len(SPARCS_CLASSES))
        if bad.any():
            y, x = (int(v[0]) for v in np.nonzero(bad))
            raise DatasetError(
                f"sparcs_l8_cloud: mask {str(path)!r} holds value {int(mask[y, x])} at row {y}, col {x}; "
                f"SPARCS codes are 0-{len(SPARCS_CLASSES) - 1} ({', '.join(SPARCS_CLASSES)})"
            )
        return mask

    def describe(self, item: tuple[str, int, int, int]) -> str:
        sid, x, y, c = item
        return f"{str(self.folder / (sid + '_mask.png'))!r} window ({x}, {y}, {c}, {c})"

    def _load(self, item: tuple[str, int, int, int]) -> Sample:
        sid, x, y, c = item
        img_path = self._image_path(sid)
        image = _sparcs_scene(str(img_path), self.image_kind)
        mask = self._mask(sid)
        if image.shape[-2:] != mask.shape:
            raise DatasetError(
                f"sparcs_l8_cloud: image {str(img_path)!r} is {image.shape[-1]}x{image.shape[-2]} px but its mask "
                f"is {mask.shape[1]}x{mask.shape[0]} px"
            )
        bands = SPARCS_PHOTO_BANDS if self.image_kind == "photo" else SPARCS_DATA_BANDS
        if image.shape[0] != len(bands):
            raise DatasetError(f"sparcs_l8_cloud: {str(img_path)!r} has {image.shape[0]} bands, expected {bands}")
        return {
            "image": image_tensor(image[:, y:y + c, x:x + c].copy()),  # the scene cache stays read-only
            "mask": mask_tensor(mask[y:y + c, x:x + c].copy()),
            "bands": bands,
            "sensor": "landsat8",
            **geo_meta(None),
            "time": None,
            "id": f"{sid}:{x},{y},{c}",
            "path": str(img_path),
        }


# --------------------------------------------------------------------------- generic mask folder
@register
class MaskFolder(EODataset):
    """Any ``images/`` + ``masks/`` folder pair with the same file stems (bring your own data).

    Layouts: ``root/images/<stem>.<ext>`` + ``root/masks/<stem>.<ext>`` (splits are then seeded
    70/10/20 over stems and kept in a split file), or ``root/{train,val,test}/images|masks``
    (the split folders are the splits). Images: GeoTIFF/PNG/JPEG (``sensor`` names the bands;
    without it 8-bit RGB PNG/JPEG images are read as sensor ``rgb``).
    Masks: one-band class ids (PNG, palette PNG or TIFF); ``ignore_index`` marks a raw value as
    unlabelled; RGB colour masks need ``colors={class: [r, g, b]}`` (the class order is the
    order of that mapping). ``classes``: class names, index = mask value; without it the
    classes are read from ``classes.txt`` in the root (one name a line) or, failing that,
    found by scanning every mask (``class_0`` ... up to the largest value). A mask value
    outside the classes raises a DatasetError naming the file.
    """

    generic: ClassVar[bool] = True
    spec = DatasetSpec.generic(
        "mask_folder", "segmentation",
        "<root>/images/<stem>.{tif,png,jpg} + <root>/masks/<stem>.{png,tif} (class ids, or RGB colours with "
        "colors=), or the same under <root>/train, val, test",
        {"pixelwise"}, unit="image stems",
    )
    MASK_EXTS: ClassVar[tuple[str, ...]] = (".png", ".tif", ".tiff")

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        images: str = "images",
        masks: str = "masks",
        classes: Sequence[str] | None = None,
        colors: Mapping[str, Sequence[int]] | None = None,
        ignore_index: int | None = None,
        sensor: str | None = None,
        bands: Sequence[str] | None = None,
        name: str | None = None,
        seed: int = 0,
        fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
        split_file: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        self.images_dir, self.masks_dir = images, masks
        self.colours: tuple[tuple[int, int, int], ...] | None = None
        if colors is not None:
            bad = {k: v for k, v in colors.items() if len(v) != 3 or not all(0 <= int(c) <= 255 for c in v)}
            if bad:
                raise DatasetError(f"mask_folder: colors must map a class to [r, g, b] in 0-255, got {bad}")
            if classes is not None and list(classes) != list(colors):
                raise DatasetError(
                    f"mask_folder: classes {list(classes)} and the keys of colors {list(colors)} differ; "
                    "pass one of them (colors fixes the class order)"
                )
            self.colours = tuple((int(v[0]), int(v[1]), int(v[2])) for v in colors.values())
            classes = list(colors)
        self.given_classes = tuple(classes) if classes is not None else None
        self.ignore_value = ignore_index
        self.sensor = sensor
        self.band_subset = tuple(bands) if bands is not None else None
        self.name = name or f"mask_folder-{Path(root).expanduser().name}"
        self.seed, self.fractions, self.split_file = seed, dict(fractions), split_file
        self.spec = dataclasses.replace(  # type: ignore[misc]  # per-instance sensor and bands
            type(self).spec, sensor=sensor, bands=self.band_subset or ()
        )
        super().__init__(Path(root).expanduser(), split, **kwargs)

    def _split_dirs(self) -> dict[str, Path]:
        return split_folders(self.root, self.images_dir)

    def _pairs(self, base: Path) -> list[tuple[Path, Path]]:
        img_dir, mask_dir = base / self.images_dir, base / self.masks_dir
        for d in (img_dir, mask_dir):
            if not d.is_dir():
                raise DatasetError(
                    f"mask_folder: {str(d)!r} is not a folder; expected {self.images_dir}/ and {self.masks_dir}/ "
                    f"with the same file stems under {str(base)!r}"
                )
        masks: dict[str, Path] = {}
        for p in sorted(mask_dir.iterdir()):
            if p.suffix.lower() in (".jpg", ".jpeg"):
                raise DatasetError(
                    f"mask_folder: mask {str(p)!r} is a JPEG; lossy compression changes class values at edges, "
                    "save masks as PNG or TIFF"
                )
            if p.is_file() and p.suffix.lower() in self.MASK_EXTS:
                masks.setdefault(p.stem, p)
        images = [p for p in sorted(img_dir.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
        if not images:
            raise DatasetError(f"mask_folder: no images ({', '.join(IMAGE_EXTS)}) in {str(img_dir)!r}")
        missing = [p.name for p in images if p.stem not in masks]
        if missing:
            raise DatasetError(
                f"mask_folder: {len(missing)} image(s) in {str(img_dir)!r} have no mask of the same stem in "
                f"{str(mask_dir)!r}, e.g. {missing[:3]}"
            )
        return [(p, masks[p.stem]) for p in images]

    def _class_names(self, all_masks: Sequence[Path]) -> tuple[str, ...]:
        if self.given_classes is not None:
            return self.given_classes
        listed = self.root / "classes.txt"
        if listed.is_file():
            names = tuple(n.strip() for n in listed.read_text().splitlines() if n.strip())
            if names:
                return names
        top = -1
        for path in all_masks:
            values = np.unique(self._raw_mask(path))
            values = values[values != self.ignore_value] if self.ignore_value is not None else values
            if values.size:
                if values.min() < 0:
                    raise DatasetError(f"mask_folder: mask {str(path)!r} holds negative value {int(values.min())}")
                top = max(top, int(values.max()))
        if top < 0:
            raise DatasetError(f"mask_folder: every mask under {str(self.root)!r} is unlabelled")
        return tuple(f"class_{k}" for k in range(top + 1))

    def _index(self) -> list[tuple[Path, Path]]:
        split_dirs = self._split_dirs()
        if split_dirs:
            if self.split not in split_dirs and self.split != "all":
                raise DatasetError(
                    f"mask_folder: {str(self.root)!r} has split folders {sorted(p.name for p in split_dirs.values())} "
                    f"but none for split {self.split!r}"
                )
            by_split = {s: self._pairs(d) for s, d in split_dirs.items()}
            pairs = by_split[self.split] if self.split != "all" else [p for ps in by_split.values() for p in ps]
            all_masks = [m for ps in by_split.values() for _, m in ps]
        else:
            pairs = self._pairs(self.root)
            all_masks = [m for _, m in pairs]
            if self.split != "all":
                ids = [img.stem for img, _ in pairs]
                path = self.split_file or split_file_path(self.name, self.seed)
                keep = set(stable_split(ids, None, self.split, path=path, fractions=self.fractions, seed=self.seed))
                pairs = [p for p in pairs if p[0].stem in keep]
        self.classes = self._class_names(all_masks)
        if self.sensor is None and pairs:
            self.sensor = photo_sensor(pairs[0][0])  # 8-bit RGB PNG/JPEG -> 'rgb'
        self.spec = dataclasses.replace(  # type: ignore[misc]  # per-instance classes and sensor
            self.spec, classes=self.classes, sensor=self.sensor
        )
        return pairs

    def describe(self, item: tuple[Path, Path]) -> str:
        return repr(str(item[1]))

    def _raw_mask(self, path: Path) -> np.ndarray:
        if self.colours is not None:
            return decode_colour_mask(_rgb_array(path), self.colours, path)
        return _index_array(path)

    def _load(self, item: tuple[Path, Path]) -> Sample:
        img_path, mask_path = item
        sample = read_image(img_path, self.sensor, self.band_subset)
        raw = self._raw_mask(mask_path)
        h, w = sample["image"].shape[-2:]
        if raw.shape != (h, w):
            raise DatasetError(
                f"mask {str(mask_path)!r} is {raw.shape[1]}x{raw.shape[0]} px but image {str(img_path)!r} is "
                f"{w}x{h} px; a mask must have its image's size"
            )
        mask = raw.copy()
        if self.ignore_value is not None:
            mask[raw == self.ignore_value] = IGNORE_INDEX
        bad = (mask != IGNORE_INDEX) & ((mask < 0) | (mask >= len(self.classes)))
        if bad.any():
            y, x = (int(v[0]) for v in np.nonzero(bad))
            raise DatasetError(
                f"mask {str(mask_path)!r} holds value {int(raw[y, x])} at row {y}, col {x}, but there are "
                f"{len(self.classes)} classes {list(self.classes)}; fix the mask, list every class in classes:, "
                "or mark the value with ignore_index:"
            )
        sample.update(mask=mask_tensor(mask), sensor=self.sensor, time=None, id=img_path.stem, path=str(img_path))
        return sample
