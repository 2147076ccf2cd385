"""Hyperspectral scenes with ground truth: Indian Pines, Pavia, Salinas (.mat), ABU anomaly scenes,
and a generic ENVI (.hdr/.img) reader.

Scenes are cut into ``patch_size`` patches (edges padded; padding is marked
unlabelled). Ground truth 0 (unlabelled) becomes ``ignore_index`` -1 and
class k becomes k - 1, so ``spec.classes`` lists only real classes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, Download, EODataset, register
from eokit.datasets.catalog._util import (
    IGNORE_INDEX,
    image_tensor,
    mask_tensor,
    read_mat,
    split_ids,
)
from eokit.errors import DatasetError, SensorError
from eokit.sensors import Sensor, get_sensor, hyperspectral, register_sensor
from eokit.tasktype import TaskType

EHU = "https://www.ehu.eus/ccwintco/uploads"


def _sensor(name: str, wavelengths: Sequence[float], gsd: float) -> Sensor:
    """Register (once) and return a hyperspectral sensor with these band centres."""
    try:
        return get_sensor(name)
    except SensorError:
        return register_sensor(hyperspectral(name, list(wavelengths), gsd=gsd))


def _aviris_centres(removed: Sequence[int], n: int = 224) -> list[float]:
    """Nominal AVIRIS band centres (400-2500 nm, 224 channels) without the ``removed`` 0-based channels."""
    centres = np.linspace(400.0, 2500.0, n)
    gone = set(removed)
    return [round(float(c), 1) for i, c in enumerate(centres) if i not in gone]


# Indian Pines: 220 channels recorded, 20 water-absorption channels removed (104-108, 150-163, 220)
INDIAN_PINES_WL = [c for i, c in enumerate(np.linspace(400.0, 2500.0, 220).round(1).tolist())
                   if i not in set(range(103, 108)) | set(range(149, 163)) | {219}]
# Salinas: 224 channels, 20 removed (108-112, 154-167, 224)
SALINAS_WL = _aviris_centres(list(range(107, 112)) + list(range(153, 167)) + [223])
# ROSIS-03: 115 channels over 430-860 nm, 12 noisy ones removed -> 103 (Pavia University) / 102 (Centre)
PAVIA_U_WL = np.linspace(430.0, 860.0, 103).round(1).tolist()
PAVIA_C_WL = np.linspace(430.0, 860.0, 102).round(1).tolist()


def _stamp(path: str) -> tuple[str, int, int]:
    """Cache key that changes when the file does (path, mtime, size)."""
    try:
        st = Path(path).stat()
    except OSError as exc:
        raise DatasetError(f"cannot read {path!r}: {exc}") from exc
    return (path, st.st_mtime_ns, st.st_size)


def _cube(path: str, key: str | None) -> np.ndarray:
    return _cube_cached(_stamp(path), key)


@lru_cache(maxsize=4)
def _cube_cached(stamp: tuple[str, int, int], key: str | None) -> np.ndarray:
    path = stamp[0]
    arrays = read_mat(Path(path))
    if key is None:
        if len(arrays) != 1:
            raise DatasetError(f"{path!r} holds {sorted(arrays)}; name the variable to read")
        key = next(iter(arrays))
    if key not in arrays:
        raise DatasetError(f"{path!r} has no variable {key!r}; it has {sorted(arrays)}")
    return arrays[key]


class _Scene(EODataset):
    """Patches of (image cube H x W x B, ground truth H x W) pairs."""

    ignore_index: int | None = IGNORE_INDEX
    shift_labels: ClassVar[bool] = True  # gt 0 = unlabelled, k -> k - 1

    def __init__(self, *args: Any, patch_size: int | None = 64, **kwargs: Any) -> None:
        if patch_size is not None and patch_size < 1:
            raise DatasetError(f"{self.spec.name}: patch_size must be >= 1 or None, got {patch_size}")
        self.patch_size = patch_size
        super().__init__(*args, **kwargs)

    # subclasses: list (scene id, cube, gt) sources
    def _scenes(self) -> list[tuple[str, Any]]:
        raise NotImplementedError

    def _read(self, source: Any) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _bands(self, scene: str, n: int) -> tuple[tuple[str, ...], str | None]:
        sensor = get_sensor(self.spec.sensor) if self.spec.sensor else None
        if sensor is not None and len(sensor.bands) == n:
            return sensor.band_names, sensor.name
        return tuple(f"HS{i + 1:03d}" for i in range(n)), None

    def _index(self) -> list[tuple[str, Any, tuple[int, int, int, int]]]:
        items = []
        for scene, source in self._scenes():
            cube, gt = self._read(source)
            if cube.shape[:2] != gt.shape[:2]:
                raise DatasetError(
                    f"{self.spec.name}: ground truth of {scene} is {gt.shape[:2]} but the cube is "
                    f"{cube.shape[:2]}; labels must share the image grid"
                )
            h, w = gt.shape[:2]
            p = self.patch_size
            wins = [(0, 0, w, h)] if p is None else [(x, y, p, p) for y in range(0, h, p) for x in range(0, w, p)]
            items += [(scene, source, win) for win in wins]
        if self.split == "all":
            return items
        ids = [f"{s}:{win}" for s, _, win in items]
        keep = set(split_ids(self.spec.name, ids, self.split))
        return [it for it, i in zip(items, ids, strict=True) if i in keep]

    def describe(self, item: Any) -> str:
        return f"{item[0]} window {item[2]}"

    def _load(self, item: tuple[str, Any, tuple[int, int, int, int]]) -> Sample:
        scene, source, (x, y, w, h) = item
        cube, gt = self._read(source)
        H, W, B = cube.shape
        img = np.zeros((B, h, w), dtype=np.float32)
        lab = np.full((h, w), IGNORE_INDEX, dtype=np.int64)
        part = cube[y : min(y + h, H), x : min(x + w, W), :]
        img[:, : part.shape[0], : part.shape[1]] = np.moveaxis(part, -1, 0)
        g = gt[y : min(y + h, H), x : min(x + w, W)].astype(np.int64)
        if self.shift_labels:
            g = np.where(g > 0, g - 1, IGNORE_INDEX)
        lab[: g.shape[0], : g.shape[1]] = g
        bands, sensor = self._bands(scene, B)
        return {
            "image": image_tensor(img),
            "mask": mask_tensor(lab),
            "bands": bands,
            "sensor": sensor,
            "crs": None,
            "transform": None,
            "bounds": None,
            "time": None,
            "id": f"{scene}:{x},{y}",
            "path": scene,
        }


class _MatScene(_Scene):
    """One published .mat scene: ``cube_file``/``cube_key`` + ``gt_file``/``gt_key``."""

    cube_file: ClassVar[str]
    cube_key: ClassVar[str]
    gt_file: ClassVar[str]
    gt_key: ClassVar[str]

    def _scenes(self) -> list[tuple[str, Any]]:
        for f in (self.cube_file, self.gt_file):
            if not (self.root / f).exists():
                raise DatasetError(
                    f"{self.spec.name}: {str(self.root / f)!r} is missing; download it with "
                    f"`eokit datasets download {self.spec.name}`"
                )
        return [(self.cube_file, None)]

    def _read(self, source: Any) -> tuple[np.ndarray, np.ndarray]:
        cube = _cube(str(self.root / self.cube_file), self.cube_key)
        gt = _cube(str(self.root / self.gt_file), self.gt_key)
        if cube.ndim != 3 or gt.ndim != 2:
            raise DatasetError(f"{self.spec.name}: cube {cube.shape} / ground truth {gt.shape} are not HxWxB / HxW")
        return cube, gt


def _mat_spec(name: str, sensor: str, n_bands: int, classes: tuple[str, ...], files: dict[str, str],
              layout: str, citation: str, size: str, gsd: float, license: str) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        task=TaskType.SEGMENTATION,
        sensor=sensor,
        bands=get_sensor(sensor).band_names,
        classes=classes,
        splits=("all", "train", "val", "test"),
        folder=name,
        layout=layout,
        downloads=tuple(Download(url=url, filename=fn) for fn, url in files.items()),
        license=license,
        citation=citation,
        size=size,
        tags=frozenset({"gsd<10" if gsd < 10 else "gsd>=10", "hyperspectral", "pixelwise"}),
        gsd=gsd,
        split_policy="'all' patches, or a seeded (seed 0) 70/10/20 split over patches; the scene has "
        "no official split (papers sample labelled pixels per class)",
        description=f"{n_bands} bands named HS001.. with nominal centre wavelengths as aliases",
        homepage="https://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes",
    )


_sensor("aviris_indian_pines", INDIAN_PINES_WL, 20.0)
_sensor("aviris_salinas", SALINAS_WL, 3.7)
_sensor("rosis_pavia_university", PAVIA_U_WL, 1.3)
_sensor("rosis_pavia_centre", PAVIA_C_WL, 1.3)

GIC_LICENSE = "public research data (GIC, Universidad del País Vasco); cite the source"


@register
class IndianPines(_MatScene):
    """Indian Pines (AVIRIS, 145x145 px, 200 bands after water-band removal, 16 classes)."""

    cube_file, cube_key = "Indian_pines_corrected.mat", "indian_pines_corrected"
    gt_file, gt_key = "Indian_pines_gt.mat", "indian_pines_gt"
    spec = _mat_spec(
        "indian_pines", "aviris_indian_pines", 200,
        ("Alfalfa", "Corn-notill", "Corn-mintill", "Corn", "Grass-pasture", "Grass-trees",
         "Grass-pasture-mowed", "Hay-windrowed", "Oats", "Soybean-notill", "Soybean-mintill",
         "Soybean-clean", "Wheat", "Woods", "Buildings-Grass-Trees-Drives", "Stone-Steel-Towers"),
        {"Indian_pines_corrected.mat": f"{EHU}/6/67/Indian_pines_corrected.mat",
         "Indian_pines_gt.mat": f"{EHU}/c/c4/Indian_pines_gt.mat"},
        "Indian_pines_corrected.mat (indian_pines_corrected: 145x145x200), "
        "Indian_pines_gt.mat (indian_pines_gt: 145x145, 0 unlabelled, 1-16)",
        "Baumgardner, Biehl & Landgrebe, 220 Band AVIRIS Hyperspectral Image Data Set: June 12, 1992 "
        "Indian Pine Test Site 3, Purdue University Research Repository, doi:10.4231/R7RX991C",
        "6 MB", 20.0, "CC BY 3.0 (Purdue PURR)",
    )


@register
class Salinas(_MatScene):
    """Salinas Valley (AVIRIS, 512x217 px, 204 bands, 16 classes)."""

    cube_file, cube_key = "Salinas_corrected.mat", "salinas_corrected"
    gt_file, gt_key = "Salinas_gt.mat", "salinas_gt"
    spec = _mat_spec(
        "salinas", "aviris_salinas", 204,
        ("Brocoli_green_weeds_1", "Brocoli_green_weeds_2", "Fallow", "Fallow_rough_plow",
         "Fallow_smooth", "Stubble", "Celery", "Grapes_untrained", "Soil_vinyard_develop",
         "Corn_senesced_green_weeds", "Lettuce_romaine_4wk", "Lettuce_romaine_5wk",
         "Lettuce_romaine_6wk", "Lettuce_romaine_7wk", "Vinyard_untrained", "Vinyard_vertical_trellis"),
        {"Salinas_corrected.mat": f"{EHU}/a/a3/Salinas_corrected.mat",
         "Salinas_gt.mat": f"{EHU}/f/fa/Salinas_gt.mat"},
        "Salinas_corrected.mat (salinas_corrected: 512x217x204), Salinas_gt.mat (salinas_gt)",
        "AVIRIS Salinas Valley scene (1998), GIC hyperspectral scenes collection",
        "27 MB", 3.7, GIC_LICENSE,
    )


@register
class PaviaUniversity(_MatScene):
    """Pavia University (ROSIS, 610x340 px, 103 bands, 9 classes)."""

    cube_file, cube_key = "PaviaU.mat", "paviaU"
    gt_file, gt_key = "PaviaU_gt.mat", "paviaU_gt"
    spec = _mat_spec(
        "pavia_university", "rosis_pavia_university", 103,
        ("Asphalt", "Meadows", "Gravel", "Trees", "Painted metal sheets", "Bare Soil", "Bitumen",
         "Self-Blocking Bricks", "Shadows"),
        {"PaviaU.mat": f"{EHU}/e/ee/PaviaU.mat", "PaviaU_gt.mat": f"{EHU}/5/50/PaviaU_gt.mat"},
        "PaviaU.mat (paviaU: 610x340x103), PaviaU_gt.mat (paviaU_gt)",
        "Gamba, P., ROSIS Pavia University scene (DLR / University of Pavia), GIC collection",
        "34 MB", 1.3, GIC_LICENSE,
    )


@register
class PaviaCentre(_MatScene):
    """Pavia Centre (ROSIS, 1096x715 px, 102 bands, 9 classes)."""

    cube_file, cube_key = "Pavia.mat", "pavia"
    gt_file, gt_key = "Pavia_gt.mat", "pavia_gt"
    spec = _mat_spec(
        "pavia_centre", "rosis_pavia_centre", 102,
        ("Water", "Trees", "Asphalt", "Self-Blocking Bricks", "Bitumen", "Tiles", "Shadows", "Meadows",
         "Bare Soil"),
        {"Pavia.mat": f"{EHU}/e/e3/Pavia.mat", "Pavia_gt.mat": f"{EHU}/5/53/Pavia_gt.mat"},
        "Pavia.mat (pavia: 1096x715x102), Pavia_gt.mat (pavia_gt)",
        "Gamba, P., ROSIS Pavia Centre scene (DLR / University of Pavia), GIC collection",
        "123 MB", 1.3, GIC_LICENSE,
    )


@register
class ABUAnomaly(_Scene):
    """Airport-Beach-Urban style anomaly scenes: ``.mat`` files with ``data`` (H, W, B) and ``map`` (H, W).

    Every ``*.mat`` in the root is a scene (or pass ``scenes=``); ``map`` 1 marks
    anomalous pixels, so masks are 0 background / 1 anomaly. Band wavelengths
    are not stored, so bands are named HS001.. and the sample's sensor is None.
    """

    shift_labels = False
    ignore_index = None
    spec = DatasetSpec(
        name="abu_anomaly",
        task=TaskType.SEGMENTATION,
        sensor=None,
        bands=(),
        classes=("background", "anomaly"),
        splits=("all", "train", "val", "test"),
        folder="abu_anomaly",
        layout="<scene>.mat with variables data (H x W x B) and map (H x W, 1 = anomaly)",
        downloads=(),
        license="research use; cite Kang et al. 2017",
        citation="Kang et al., Hyperspectral Anomaly Detection With Attribute and Edge-Preserving "
        "Filters, IEEE TGRS 55(10), 2017",
        size="13 scenes of 100x100 (AVIRIS, HYDICE, ROSIS), ~30 MB",
        tags=frozenset({"gsd<10", "hyperspectral", "pixelwise"}),
        gsd=3.5,
        split_policy="'all' (anomaly detection is evaluated on whole scenes), or a seeded (seed 0) "
        "70/10/20 split over patches",
        homepage="http://xudongkang.weebly.com/data-sets.html",
        mirror="hyperspectral/abu_anomaly_aviris_hydice",
        mirror_part="3 of the 13 scenes (abu-urban-2, sandiego_plane, HYDICE urban)",
    )

    def __init__(self, *args: Any, scenes: Sequence[str] | None = None, patch_size: int | None = None,
                 **kwargs: Any) -> None:
        self.scene_names = tuple(scenes) if scenes else None
        super().__init__(*args, patch_size=patch_size, **kwargs)

    def _scenes(self) -> list[tuple[str, Any]]:
        files = sorted(self.root.glob("*.mat"))
        if self.scene_names:
            files = [self.root / n for n in self.scene_names]
        if not files:
            raise DatasetError(f"abu_anomaly: no .mat scenes under {str(self.root)!r}")
        return [(p.stem, p) for p in files]

    def _read(self, source: Path) -> tuple[np.ndarray, np.ndarray]:
        return _cube(str(source), "data"), _cube(str(source), "map")


@register
class EnviHyperspectral(_Scene):
    """Generic ENVI cube (``.hdr`` + ``.img``/``.dat``/``.raw``) with a ground-truth raster on its grid.

    Read through GDAL (``eokit.io.open_raster``). Band names are HS001.. and the
    sample carries ``wavelengths`` (nm) parsed from the header's ``wavelength``
    (micrometres converted when ``wavelength units`` says so). ``gt`` names
    the ground-truth raster (ENVI classification or GeoTIFF; 0 unlabelled).
    """

    spec = DatasetSpec.generic(
        "envi_hyperspectral", "segmentation",
        "<cube>.hdr + <cube>.img|dat|raw (ENVI, BSQ/BIL/BIP) and a ground-truth raster",
        {"gsd<10", "hyperspectral", "pixelwise"}, unit="patches", classes=("class 1",),
        homepage="https://www.nv5geospatialsoftware.com/docs/ENVIHeaderFiles.html",
    )

    def __init__(self, root: str | Path, split: str = "all", *, cube: str, gt: str,
                 classes: Sequence[str] | None = None, **kwargs: Any) -> None:
        self.cube_name, self.gt_name = cube, gt
        self.class_names = tuple(classes) if classes else None
        super().__init__(root, split, **kwargs)

    def _scenes(self) -> list[tuple[str, Any]]:
        return [(self.cube_name, None)]

    def _read(self, source: Any) -> tuple[np.ndarray, np.ndarray]:
        return _envi(_stamp(str(self.root / self.cube_name)), _stamp(str(self.root / self.gt_name)))

    def _load(self, item: Any) -> Sample:
        sample = super()._load(item)
        sample["wavelengths"] = envi_wavelengths(self.root / self.cube_name)
        return sample


@lru_cache(maxsize=2)
def _envi(cube: tuple[str, int, int], gt: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    from eokit.io import open_raster

    c = open_raster(cube[0]).read(dtype=None).array
    g = open_raster(gt[0]).read(dtype=None).array[0]
    return np.moveaxis(c, 0, -1), g


def envi_wavelengths(path: str | Path) -> list[float] | None:
    """Centre wavelengths in nm from an ENVI header (``.hdr`` next to ``path``), or None."""
    p = Path(path)
    hdr = p if p.suffix == ".hdr" else p.with_suffix(".hdr")
    if not hdr.exists():
        hdr = Path(str(p) + ".hdr")
    if not hdr.exists():
        return None
    text = hdr.read_text(errors="replace")
    m = re.search(r"^\s*wavelength\s*=\s*\{([^}]*)\}", text, re.M | re.I)
    if not m:
        return None
    values = [float(v) for v in re.split(r"[,\s]+", m.group(1).strip()) if v]
    units = re.search(r"^\s*wavelength units\s*=\s*(\S+)", text, re.M | re.I)
    unit = units.group(1).lower() if units else ("micrometers" if max(values) < 30 else "nanometers")
    scale = 1000.0 if unit.startswith(("micro", "um", "µm")) else 1.0
    return [v * scale for v in values]
