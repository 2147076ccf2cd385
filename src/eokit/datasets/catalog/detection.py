"""Object detection: DeepForest/NEON tree crowns (CSV, Pascal VOC), YOLO txt labels, COCO JSON.

Every sample carries ``boxes`` (N, 4) float32 ``xmin, ymin, xmax, ymax`` in
pixels of ``image`` and ``labels`` (N,) int64 indexes into the spec's classes.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, EODataset, register
from eokit.datasets.catalog._util import geo_meta, image_tensor, split_ids
from eokit.errors import DatasetError
from eokit.io import open_raster
from eokit.tasktype import TaskType

IMAGE_EXTS = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")


def _read_image(path: Path, sensor: str | None) -> tuple[np.ndarray, tuple[str, ...], Any]:
    """Pixels (C, H, W) float32, band names and grid of an image file (GeoTIFF, PNG, JPEG)."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        src = open_raster(path)
        count = len(src.bands)
        names = ("R", "G", "B") if count == 3 else ("R", "G", "B", "A") if count == 4 else src.bands
        src = open_raster(path, band_names=names, sensor=sensor if count == 3 else None)
        chip = src.read()
    array, bands = chip.array, chip.bands
    if bands == ("R", "G", "B", "A"):
        array, bands = array[:3], ("R", "G", "B")
    grid = chip.grid if chip.grid.crs is not None else None
    return array, bands, grid


def _check_boxes(boxes: np.ndarray, h: int, w: int, where: str) -> None:
    if len(boxes) == 0:
        return
    bad = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    bad |= (boxes[:, 0] < -1) | (boxes[:, 1] < -1) | (boxes[:, 2] > w + 1) | (boxes[:, 3] > h + 1)
    if bad.any():
        raise DatasetError(
            f"{where}: box {boxes[bad][0].tolist()} is empty or outside the {w}x{h} px image "
            "(expected xmin < xmax, ymin < ymax, in pixels)"
        )


class _DetectionDataset(EODataset):
    """Items are (image path, boxes array (N, 4), class names); subclasses list them."""

    def __init__(self, *args: Any, classes: Sequence[str] | None = None, **kwargs: Any) -> None:
        self._classes = tuple(classes) if classes else None
        super().__init__(*args, **kwargs)

    @property
    def classes(self) -> tuple[str, ...]:
        return self._classes or self.spec.classes

    def _label_ids(self, names: Sequence[str], where: str) -> np.ndarray:
        ids = []
        for n in names:
            if n not in self.classes:
                raise DatasetError(f"{where}: label {n!r} is not one of {list(self.classes)}; pass classes=")
            ids.append(self.classes.index(n))
        return np.asarray(ids, dtype=np.int64)

    def _split(self, items: list[Any], key: Any) -> list[Any]:
        if self.split == "all":
            return items
        ids = [key(it) for it in items]
        keep = set(split_ids(self.spec.name, ids, self.split))
        return [it for it, i in zip(items, ids, strict=True) if i in keep]

    def describe(self, item: Any) -> str:
        return repr(str(item[0]))

    def _load(self, item: tuple[Path, np.ndarray, np.ndarray]) -> Sample:
        path, boxes, labels = item
        array, bands, grid = _read_image(path, self.spec.sensor)
        _check_boxes(boxes, array.shape[1], array.shape[2], str(path))
        return {
            "image": image_tensor(array),
            "boxes": torch.from_numpy(np.asarray(boxes, dtype=np.float32).reshape(-1, 4)),
            "labels": torch.from_numpy(np.asarray(labels, dtype=np.int64)),
            "bands": bands,
            "sensor": self.spec.sensor if len(bands) == 3 else None,
            **geo_meta(grid),
            "time": None,
            "id": path.stem,
            "path": str(path),
        }


@register
class NeonTreeCrowns(_DetectionDataset):
    """DeepForest / NeonTreeEvaluation tree crowns on NEON 10 cm RGB.

    ``annotations="csv"`` reads every ``*.csv`` with the DeepForest header
    ``image_path,xmin,ymin,xmax,ymax,label`` (image paths relative to the CSV;
    a row of zeros marks an image without trees); ``annotations="voc"`` reads
    Pascal-VOC ``*.xml`` (``annotations/`` or the root; images next to them or in
    ``RGB/``). Class names: ``classes=``, else ``("Tree",)`` followed by the names
    of a DeepForest ``classes.csv`` (rows ``name,id``) in the root, in id order.
    """

    spec = DatasetSpec(
        name="neon_tree_crowns",
        task=TaskType.DETECTION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=("Tree",),
        splits=("all", "train", "val", "test"),
        folder="neon_tree_crowns",
        layout="<plot>.tif|png RGB + DeepForest CSV (image_path,xmin,ymin,xmax,ymax,label) or "
        "Pascal-VOC annotations/<plot>.xml",
        downloads=(),
        license="CC BY 4.0 (NeonTreeEvaluation); DeepForest sample data MIT",
        citation="Weinstein et al., A benchmark dataset for canopy crown detection and delineation "
        "in co-registered airborne RGB, LiDAR and hyperspectral imagery from the NEON, PLoS Comput "
        "Biol 2021",
        size="NeonTreeEvaluation: 194 evaluation plots (400x400 px), ~6 GB with LiDAR/HSI",
        tags=frozenset({"gsd<10", "rgbn"}),
        gsd=0.1,
        split_policy="'all' (the benchmark's evaluation plots), or a seeded (seed 0) 70/10/20 split "
        "by image",
        homepage="https://github.com/weecology/NeonTreeEvaluation",
    )

    def __init__(self, *args: Any, annotations: str = "csv", **kwargs: Any) -> None:
        if annotations not in ("csv", "voc"):
            raise DatasetError(f"neon_tree_crowns: annotations must be 'csv' or 'voc', got {annotations!r}")
        self.annotations = annotations
        super().__init__(*args, **kwargs)

    def _index(self) -> list[tuple[Path, np.ndarray, np.ndarray]]:
        label_csv = self.root / "classes.csv"
        if self._classes is None and label_csv.exists():
            with label_csv.open(newline="") as fh:
                rows = sorted((int(r[1]), r[0].strip()) for r in csv.reader(fh) if len(r) >= 2)
            extra = [n for _, n in rows if n not in self.spec.classes]
            self._classes = (*self.spec.classes, *extra)
        items = self._from_csv() if self.annotations == "csv" else self._from_voc()
        if not items:
            raise DatasetError(f"neon_tree_crowns: no {self.annotations} annotations under {str(self.root)!r}")
        return self._split(items, lambda it: it[0].name)

    def _from_csv(self) -> list[tuple[Path, np.ndarray, np.ndarray]]:
        groups: dict[Path, list[tuple[list[float], str]]] = {}
        for path in sorted(self.root.glob("*.csv")):
            with path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or not {"image_path", "xmin", "ymin", "xmax", "ymax", "label"} <= set(
                    reader.fieldnames
                ):
                    continue  # e.g. classes.csv
                for n, row in enumerate(reader, start=2):
                    img = path.parent / row["image_path"]
                    try:
                        box = [float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax")]
                    except ValueError as exc:
                        raise DatasetError(f"{str(path)!r} line {n}: {exc}") from exc
                    rows = groups.setdefault(img, [])
                    if any(box):
                        rows.append((box, row["label"]))
        return [self._item(img, rows, str(img)) for img, rows in groups.items()]

    def _from_voc(self) -> list[tuple[Path, np.ndarray, np.ndarray]]:
        folder = self.root / "annotations" if (self.root / "annotations").is_dir() else self.root
        items = []
        for xml in sorted(folder.glob("*.xml")):
            try:
                tree = ET.parse(xml).getroot()
            except ET.ParseError as exc:
                raise DatasetError(f"{str(xml)!r} is not valid Pascal-VOC XML: {exc}") from exc
            name = tree.findtext("filename") or f"{xml.stem}.tif"
            candidates = [xml.parent / name, self.root / name, self.root / "RGB" / name]
            img = next((c for c in candidates if c.exists()), candidates[0])
            rows = []
            for obj in tree.iter("object"):
                bb = obj.find("bndbox")
                if bb is None:
                    continue
                box = [float(bb.findtext(k, "nan")) for k in ("xmin", "ymin", "xmax", "ymax")]
                rows.append((box, obj.findtext("name", "")))
            items.append(self._item(img, rows, str(xml)))
        return items

    def _item(self, img: Path, rows: list[tuple[list[float], str]], where: str) -> tuple[Path, np.ndarray, np.ndarray]:
        boxes = np.asarray([r[0] for r in rows], dtype=np.float32).reshape(-1, 4)
        return img, boxes, self._label_ids([r[1] for r in rows], where)


@register
class YoloDetection(_DetectionDataset):
    """YOLO-format labels: ``labels/*.txt`` rows ``class cx cy w h`` normalised to [0, 1].

    Layouts: ``images/<split>/`` + ``labels/<split>/`` (Ultralytics), or flat
    ``images/`` + ``labels/`` with ``train.txt``/``val.txt``/``test.txt`` listing
    image names, or flat folders without lists (``split="all"`` or a seeded
    split). Class names come from ``classes=``, ``classes.txt`` or ``data.yaml``
    ``names``.
    """

    spec = DatasetSpec(
        name="yolo_detection",
        task=TaskType.DETECTION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=(),
        splits=("all", "train", "val", "test"),
        folder="yolo_detection",
        layout="images/[<split>/]<name>.jpg|png|tif + labels/[<split>/]<name>.txt (class cx cy w h, "
        "normalised), optional <split>.txt lists, classes.txt or data.yaml names",
        license="n/a (generic reader; the data's own licence applies)",
        citation="n/a (generic reader)",
        size="any",
        tags=frozenset({"gsd<10", "rgbn"}),
        split_policy="per-split folders or <split>.txt lists when present; otherwise 'all' or a "
        "seeded (seed 0) 70/10/20 split by image",
        homepage="https://docs.ultralytics.com/datasets/detect/",
    )
    split_dirs: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("train",), "val": ("val", "valid"), "test": ("test",)
    }

    def _names(self) -> tuple[str, ...]:
        if self._classes:
            return self._classes
        if (self.root / "classes.txt").exists():
            return tuple(x.strip() for x in (self.root / "classes.txt").read_text().splitlines() if x.strip())
        if (self.root / "data.yaml").exists():
            import yaml

            names = yaml.safe_load((self.root / "data.yaml").read_text()).get("names")
            if isinstance(names, dict):
                names = [names[k] for k in sorted(names)]
            if names:
                return tuple(names)
        if self.spec.classes:
            return self.spec.classes
        raise DatasetError(
            f"{self.spec.name}: no class names for {str(self.root)!r}: pass classes= or add classes.txt/data.yaml"
        )

    def _index(self) -> list[tuple[Path, Path]]:  # type: ignore[override]  # (image, YOLO label file)
        self._classes = self._names()
        images = self._images()
        items = []
        for img in images:
            rel = img.relative_to(self.root / "images")
            lab = (self.root / "labels" / rel).with_suffix(".txt")
            items.append((img, lab))
        return items

    def _images(self) -> list[Path]:
        base = self.root / "images"
        if not base.is_dir():
            raise DatasetError(f"{self.spec.name}: {str(base)!r} is missing (expected images/ and labels/)")
        if self.split != "all":
            for d in self.split_dirs[self.split]:
                if (base / d).is_dir():
                    return sorted(p for p in (base / d).iterdir() if p.suffix.lower() in IMAGE_EXTS)
            lst = self.root / f"{self.split}.txt"
            if lst.exists():
                out = []
                for line in lst.read_text().split():
                    p = Path(line)
                    out.append(p if p.is_absolute() else (self.root / p if (self.root / p).exists() else base / p.name))
                return out
        flat = sorted(p for p in base.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        if self.split == "all":
            return flat
        keep = set(split_ids(self.spec.name, [str(p.relative_to(base)) for p in flat], self.split))
        return [p for p in flat if str(p.relative_to(base)) in keep]

    def _load(self, item: tuple[Path, Path]) -> Sample:  # type: ignore[override]
        img, lab = item
        array, bands, grid = _read_image(img, self.spec.sensor)
        h, w = array.shape[1:]
        rows = []
        if lab.exists():  # no label file = no objects (YOLO convention)
            for n, line in enumerate(lab.read_text().splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) < 5:
                    raise DatasetError(f"{str(lab)!r} line {n}: expected 'class cx cy w h', got {line!r}")
                c, cx, cy, bw, bh = int(parts[0]), *map(float, parts[1:5])
                if not 0 <= c < len(self.classes):
                    raise DatasetError(f"{str(lab)!r} line {n}: class {c} not in 0..{len(self.classes) - 1}")
                rows.append((c, (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
        boxes = np.asarray([r[1:] for r in rows], dtype=np.float32).reshape(-1, 4)
        _check_boxes(boxes, h, w, str(lab))
        return {
            "image": image_tensor(array),
            "boxes": torch.from_numpy(boxes),
            "labels": torch.tensor([r[0] for r in rows], dtype=torch.int64),
            "bands": bands,
            "sensor": self.spec.sensor if len(bands) == 3 else None,
            **geo_meta(grid),
            "time": None,
            "id": img.stem,
            "path": str(img),
        }


@register
class HRPlanes(YoloDetection):
    """HRPlanes: airplanes on 4800x2703 Google Earth images, YOLO labels (class 0 = airplane)."""

    spec = DatasetSpec(
        name="hrplanes",
        task=TaskType.DETECTION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=("airplane",),
        splits=("train", "val", "test"),
        folder="hrplanes",
        layout="images/<name>.jpg + labels/<name>.txt (YOLO: 0 cx cy w h normalised) with "
        "train.txt/val.txt/test.txt, or images/<split>/ + labels/<split>/",
        downloads=(),
        license="CC BY 4.0 (HRPlanes v2, Zenodo)",
        citation="Bakirman & Sertel, HRPlanes: High resolution airplane dataset for deep learning, "
        "arXiv:2204.10959",
        size="2,120 images of 4800x2703 px, 14,335 airplanes",
        tags=frozenset({"gsd<10", "rgbn"}),
        gsd=0.5,
        split_policy="official train/val/test lists or folders (70/20/10)",
        homepage="https://github.com/TolgaBkm/HRPlanes",
    )


@register
class CocoDetection(_DetectionDataset):
    """COCO JSON boxes: ``annotations.json`` or ``annotations/instances_<split>.json`` + images.

    ``bbox`` ``[x, y, w, h]`` becomes xyxy; category ids map to labels in
    ascending id order (names from ``categories``). Images without annotations
    give zero boxes; ``iscrowd`` boxes are kept.
    """

    spec = DatasetSpec(
        name="coco_detection",
        task=TaskType.DETECTION,
        sensor="rgb",
        bands=("R", "G", "B"),
        classes=(),
        splits=("all", "train", "val", "test"),
        folder="coco_detection",
        layout="annotations/instances_<split>.json (or annotations.json) with images/, "
        "images/<split>/ or <split>/ holding file_name",
        license="n/a (generic reader; the data's own licence applies)",
        citation="Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014 (format)",
        size="any",
        tags=frozenset({"gsd<10", "rgbn"}),
        split_policy="instances_<split>.json per split when present; otherwise 'all' or a seeded "
        "(seed 0) 70/10/20 split by image",
        homepage="https://cocodataset.org/#format-data",
    )

    def _json(self) -> Path:
        names = {"train": ("train",), "val": ("val", "valid"), "test": ("test",)}.get(self.split, ())
        for n in names:
            for p in (self.root / "annotations" / f"instances_{n}.json", self.root / f"{n}.json"):
                if p.exists():
                    return p
        for p in (self.root / "annotations.json", self.root / "annotations" / "annotations.json"):
            if p.exists():
                return p
        raise DatasetError(
            f"{self.spec.name}: no COCO JSON under {str(self.root)!r} "
            f"(annotations/instances_<split>.json or annotations.json)"
        )

    def _index(self) -> list[tuple[Path, np.ndarray, np.ndarray]]:
        path = self._json()
        try:
            coco = json.loads(path.read_text())
            cats = sorted(coco["categories"], key=lambda c: c["id"])
            images = coco["images"]
            anns = coco.get("annotations", [])
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{str(path)!r} is not COCO detection JSON: {exc}") from exc
        self._classes = self._classes or tuple(c["name"] for c in cats)
        cat_index = {c["id"]: i for i, c in enumerate(cats)}
        by_image: dict[Any, list[dict]] = {im["id"]: [] for im in images}
        for a in anns:
            if a.get("image_id") not in by_image or a.get("category_id") not in cat_index:
                raise DatasetError(
                    f"{str(path)!r}: annotation {a.get('id')} refers to unknown image "
                    f"{a.get('image_id')} or category {a.get('category_id')}"
                )
            by_image[a["image_id"]].append(a)
        per_split = path.name.startswith("instances_") or path.stem in ("train", "val", "valid", "test")
        items = []
        for im in images:
            img = self._image_path(im["file_name"])
            boxes = np.asarray(
                [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in by_image[im["id"]])],
                dtype=np.float32,
            ).reshape(-1, 4)
            labels = np.asarray([cat_index[a["category_id"]] for a in by_image[im["id"]]], dtype=np.int64)
            items.append((img, boxes, labels))
        return items if per_split else self._split(items, lambda it: it[0].name)

    def _image_path(self, name: str) -> Path:
        for base in (self.root / "images" / self.split, self.root / self.split, self.root / "images", self.root):
            if (base / name).exists():
                return base / name
        return self.root / "images" / name
