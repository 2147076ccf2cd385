"""GEO-Bench v1.0: one generic reader for its 12 ``m-*`` task folders.

A task folder holds ``<sample>.hdf5`` files (one HDF5 dataset per band, plus
``label`` for segmentation), ``<partition>_partition.json`` (``default``,
``0.01x_train`` …, each mapping train/valid/test to sample names),
``band_stats.json`` and, for labels that are not stored as an HDF5 dataset,
``label_map.json`` (classification: label -> sample names) or
``label_stats.json`` (multi-label: sample -> multi-hot vector).

Only the HDF5 datasets are read. Each file also carries a ``pickle``
attribute (band metadata) and each folder a ``task_specs.pkl``: eokit never
unpickles either, so a hostile file cannot run code.

Band names come from the HDF5 dataset keys. Sentinel-2 keys such as
``"04 - Red"`` and ``"08A - Vegetation Red Edge"`` become ``B04`` / ``B8A``;
RGB(N) keys become R/G/B/N. Two published tasks store wrong band names
(geo-bench issues #28 and #29): m-eurosat holds B09, B10, B11, B12, B8A under
the keys 08A, 09, 10, 11, 12, and m-brick-kiln holds B01 B02 B03 B04 B05 B07
B8A B08 B11 B12 TCI_R TCI_G TCI_B under its 13 keys; eokit names those
channels by what they contain.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
import torch

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, EODataset, register
from eokit.datasets.catalog._util import image_tensor, mask_tensor, read_json
from eokit.errors import DatasetError
from eokit.tasktype import TaskType

S2_KEY = re.compile(r"^(\d{2})(A?) - (.+)$")
DATE_SUFFIX = re.compile(r"^(.*)_(\d{4}-\d{2}-\d{2}(?:_[\d-]+)?)$")
RGBN = {"Red": "R", "Green": "G", "Blue": "B", "NearInfrared": "N", "NIR": "N"}
RGBN_ORDER = ("R", "G", "B", "N")
S2_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")

EUROSAT_FIX = {"B8A": "B09", "B09": "B10", "B10": "B11", "B11": "B12", "B12": "B8A"}
BRICK_KILN_FIX = dict(
    zip(
        S2_ORDER,
        ("B01", "B02", "B03", "B04", "B05", "B07", "B8A", "B08", "B11", "B12", "TCI_R", "TCI_G", "TCI_B"),
        strict=True,
    )
)

BIGEARTHNET_43 = (
    "Continuous urban fabric", "Discontinuous urban fabric", "Industrial or commercial units",
    "Road and rail networks and associated land", "Port areas", "Airports",
    "Mineral extraction sites", "Dump sites", "Construction sites", "Green urban areas",
    "Sport and leisure facilities", "Non-irrigated arable land", "Permanently irrigated land",
    "Rice fields", "Vineyards", "Fruit trees and berry plantations", "Olive groves", "Pastures",
    "Annual crops associated with permanent crops", "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas", "Broad-leaved forest", "Coniferous forest", "Mixed forest",
    "Natural grassland", "Moors and heathland", "Sclerophyllous vegetation",
    "Transitional woodland/shrub", "Beaches, dunes, sands", "Bare rock", "Sparsely vegetated areas",
    "Burnt areas", "Inland marshes", "Peatbogs", "Salt marshes", "Salines", "Intertidal flats",
    "Water courses", "Water bodies", "Coastal lagoons", "Estuaries", "Sea and ocean",
)
LCZ_17 = (
    "Compact high-rise", "Compact mid-rise", "Compact low-rise", "Open high-rise", "Open mid-rise",
    "Open low-rise", "Lightweight low-rise", "Large low-rise", "Sparsely built", "Heavy industry",
    "Dense trees", "Scattered trees", "Bush, scrub", "Low plants", "Bare rock or paved",
    "Bare soil or sand", "Water",
)
EUROSAT_10 = (
    "AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture",
    "PermanentCrop", "Residential", "River", "SeaLake",
)
FORESTNET_12 = (
    "Oil palm plantation", "Timber plantation", "Other large-scale plantations",
    "Grassland shrubland", "Small-scale agriculture", "Small-scale mixed plantation",
    "Small-scale oil palm plantation", "Mining", "Fish pond", "Logging", "Secondary forest", "Other",
)


def registry_name(task: str) -> str:
    """eokit's name for a GEO-Bench task folder: ``m-SA-crop-type`` -> ``m_sa_crop_type``."""
    return task.lower().replace("-", "_")


def _band_name(key: str, task: str, s2_keys: bool = True) -> str:
    m = S2_KEY.match(key)
    if s2_keys and m and not re.search(r"\b(VV|VH|HH|HV)\b", m.group(3)):
        num, a = m.group(1), m.group(2)
        name = "B8A" if a else f"B{num}"
        if task == "m_eurosat":
            name = EUROSAT_FIX.get(name, name)
        elif task == "m_brick_kiln":
            name = BRICK_KILN_FIX.get(name, name)
        return name
    return RGBN.get(key, key)


def _order(name: str) -> tuple[int, int, str]:
    if name in S2_ORDER:
        return (0, S2_ORDER.index(name), name)
    if name in RGBN_ORDER:
        return (1, RGBN_ORDER.index(name), name)
    return (2, 0, name)


class GeoBenchTask(EODataset):
    """Base reader for one GEO-Bench v1.0 task folder (subclasses set ``spec`` and ``kind``)."""

    kind: ClassVar[str]  # "classification" | "multilabel" | "segmentation"
    s2_keys: ClassVar[bool] = False  # "NN - Name" keys are Sentinel-2 bands (-> B01..B12, B8A)
    task_name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    ignore_index = None

    def __init__(self, root: str | Path | None = None, split: str = "train", *,
                 partition: str = "default", **kwargs: Any) -> None:
        self.partition = partition
        if root is None:
            root = self._default_root()
        super().__init__(root, split, **kwargs)

    @classmethod
    def _default_root(cls) -> Path | None:
        """``$EOKIT_DATA/geobench/<benchmark>_v1.0/<task>``, else the v0.9.1 release's folder names."""
        from eokit.env import data_root

        primary = cls.spec.path()
        if primary.exists():
            return primary
        bench = primary.parent.name.replace("_v1.0", "_v0.9.1")
        for name in (cls.task_name, *cls.aliases):
            candidate = data_root() / "geobench" / bench / name
            if candidate.exists():
                return candidate
        return None

    def _index(self) -> list[str]:
        part = self.root / f"{self.partition}_partition.json"
        if not part.exists():
            found = sorted(p.name for p in self.root.glob("*_partition.json"))
            raise DatasetError(
                f"{self.spec.name}: partition file {str(part)!r} not found; present: {found}"
            )
        key = "valid" if self.split == "val" else self.split
        names = read_json(part, "GEO-Bench partition file").get(key)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DatasetError(f"{str(part)!r} has no {key!r} list of sample names")
        if self.kind == "classification":
            self._labels: dict[str, Any] = self._label_map()
        elif self.kind == "multilabel":
            self._labels = self._label_stats()
        return list(names)

    def _label_map(self) -> dict[str, int]:
        path = self.root / "label_map.json"
        if not path.exists():
            raise DatasetError(
                f"{self.spec.name}: {str(path)!r} is missing; GEO-Bench stores classification labels "
                "there (label -> sample names); eokit does not unpickle the per-file 'pickle' attribute"
            )
        out: dict[str, int] = {}
        for label, names in read_json(path, "GEO-Bench label map").items():
            if not isinstance(names, list) or not str(label).lstrip("-").isdigit():
                raise DatasetError(f"{str(path)!r} maps {label!r} to {names!r}; expected '<class index>': [names]")
            for n in names:
                out[str(n)] = int(label)
        return out

    def _label_stats(self) -> dict[str, list[float]]:
        path = self.root / "label_stats.json"
        if not path.exists():
            raise DatasetError(f"{self.spec.name}: {str(path)!r} (multi-hot labels per sample) is missing")
        return read_json(path, "GEO-Bench label statistics")

    def band_stats(self) -> dict[str, dict[str, float]]:
        """``band_stats.json`` keyed by eokit band names (mean, std, min, max, percentiles)."""
        raw = read_json(self.root / "band_stats.json", "GEO-Bench band statistics")
        return {_band_name(k, self.spec.name, self.s2_keys): v for k, v in raw.items()}

    def describe(self, item: str) -> str:
        return repr(str(self.root / f"{item}.hdf5"))

    def _load(self, name: str) -> Sample:
        path = self.root / f"{name}.hdf5"
        if not path.exists():
            part = self.root / f"{self.partition}_partition.json"
            raise DatasetError(f"{self.spec.name}: sample file {str(path)!r} listed in {str(part)!r} is missing")
        bands: dict[tuple[str, str | None], np.ndarray] = {}
        label = None
        with h5py.File(path, "r") as f:  # datasets only: the 'pickle' attribute is never read
            for key in f:
                obj = f[key]
                if not isinstance(obj, h5py.Dataset):
                    continue
                if key == "label" or key.startswith("label_"):
                    label = np.asarray(obj)
                    continue
                arr = np.asarray(obj)
                base, date = key, None
                m = DATE_SUFFIX.match(key)
                if m:
                    base, date = m.group(1), m.group(2)
                bname = _band_name(base, self.spec.name, self.s2_keys)
                if arr.ndim == 3:  # multi-band dataset (e.g. NEON hyperspectral), H x W x n
                    for i in range(arr.shape[2]):
                        bands[(f"{bname}_{i:03d}", date)] = arr[:, :, i]
                elif arr.ndim == 2:
                    bands[(bname, date)] = arr
                else:
                    raise DatasetError(f"{str(path)!r}: dataset {key!r} has shape {arr.shape}, not HxW")
        if not bands:
            raise DatasetError(f"{str(path)!r} holds no band datasets")
        names = sorted({b for b, _ in bands}, key=_order)
        dates = sorted({d for _, d in bands}, key=lambda d: d or "")
        shape = max((a.shape for a in bands.values()), key=lambda s: s[0] * s[1])
        frames = []
        for d in dates:
            layers = []
            for b in names:
                a = bands.get((b, d))
                if a is None:
                    raise DatasetError(f"{str(path)!r}: band {b!r} is missing for date {d}")
                if a.shape != shape:
                    a = _resize(a, shape)
                layers.append(a.astype(np.float32))
            frames.append(np.stack(layers))
        image = frames[0] if len(frames) == 1 else np.stack(frames)
        sample: Sample = {
            "image": image_tensor(image),
            "bands": tuple(names),
            "sensor": self.spec.sensor,
            "crs": None,
            "transform": None,
            "bounds": None,
            "time": dates[0] if len(dates) == 1 else None,
            "id": name,
            "path": str(path),
        }
        if len(dates) > 1:
            sample["dates"] = list(dates)
        if self.kind == "segmentation":
            if label is None:
                raise DatasetError(f"{str(path)!r} has no 'label' dataset (segmentation task)")
            if label.shape != shape:
                raise DatasetError(
                    f"{str(path)!r}: label is {label.shape} but the bands are {shape}; "
                    "labels must share the image grid"
                )
            sample["mask"] = mask_tensor(label)
        elif self.kind == "classification":
            if name not in self._labels:
                raise DatasetError(f"{self.spec.name}: sample {name!r} is not in label_map.json")
            sample["label"] = torch.tensor(self._labels[name], dtype=torch.int64)
        else:
            if name not in self._labels:
                raise DatasetError(f"{self.spec.name}: sample {name!r} is not in label_stats.json")
            sample["label"] = torch.tensor(self._labels[name], dtype=torch.float32)
        return sample


def _resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from scipy.ndimage import zoom

    return zoom(a.astype(np.float32), (shape[0] / a.shape[0], shape[1] / a.shape[1]), order=1)


GEOBENCH_CITATION = (
    "Lacoste et al., GEO-Bench: Toward Foundation Models for Earth Monitoring, NeurIPS 2023 "
    "Datasets and Benchmarks"
)


def _task(
    name: str,
    kind: str,
    sensor: str | None,
    bands: tuple[str, ...],
    classes: tuple[str, ...],
    gsd: float,
    tags: set[str],
    size: str,
    license: str,
) -> type[GeoBenchTask]:
    bench = "segmentation_v1.0" if kind == "segmentation" else "classification_v1.0"
    spec = DatasetSpec(
        name=registry_name(name),
        task=TaskType.parse(kind if kind in ("classification", "multilabel") else "segmentation"),
        sensor=sensor,
        bands=bands,
        classes=classes,
        splits=("train", "val", "test"),
        folder=f"geobench/{bench}/{name}",
        layout="<sample>.hdf5 (one dataset per band"
        + (", plus 'label'" if kind == "segmentation" else "")
        + "), default_partition.json and <frac>x_train_partition.json, band_stats.json"
        + {"classification": ", label_map.json", "multilabel": ", label_stats.json"}.get(kind, ""),
        downloads=(),
        license=license,
        citation=GEOBENCH_CITATION,
        size=size,
        tags=frozenset(tags | ({"pixelwise"} if kind == "segmentation" else set())),
        gsd=gsd,
        split_policy="official GEO-Bench partitions (default_partition.json; pass partition= for "
        "the 0.01x..1.00x train-size sweeps)",
        description=f"GEO-Bench v1.0 task {name}; download with `geobench-download` (Hugging Face "
        "recursix/geo-bench-1.0) into $EOKIT_DATA/geobench",
        homepage="https://github.com/ServiceNow/geo-bench",
    )
    cls = type(
        "GeoBench_" + re.sub(r"\W", "_", name),
        (GeoBenchTask,),
        {
            "spec": spec,
            "kind": kind,
            "task_name": name,
            "aliases": {"m-chesapeake-landcover": ("m-chesapeake-lancover",),
                        "m-cashew-plant": ("m-cashew-plantation",)}.get(name, ()),
            "s2_keys": (sensor or "").startswith("sentinel2") or name in ("m-brick-kiln", "m-so2sat"),
            "__doc__": f"GEO-Bench v1.0 {name} ({kind}).",
        },
    )
    return register(cls)


S2_13 = S2_ORDER
S2_12 = tuple(b for b in S2_ORDER if b != "B10")
RGB = ("R", "G", "B")
APACHE = "Apache-2.0 (GEO-Bench); source dataset licences apply"

_task("m-bigearthnet", "multilabel", "sentinel2_l2a", S2_12, BIGEARTHNET_43, 10.0,
      {"gsd>=10", "multispectral"}, "22,000 patches 120x120", "CDLA-Permissive-1.0 (BigEarthNet)")
_task("m-brick-kiln", "classification", None,
      tuple(BRICK_KILN_FIX.values()), ("no brick kiln", "brick kiln"), 10.0,
      {"gsd>=10", "multispectral"}, "17,061 patches 64x64", "CC BY-SA 4.0")
_task("m-eurosat", "classification", "sentinel2_l1c", S2_13, EUROSAT_10, 10.0,
      {"gsd>=10", "multispectral"}, "4,000 patches 64x64", "MIT (EuroSAT)")
_task("m-forestnet", "classification", None, (), FORESTNET_12, 15.0,
      {"gsd>=10", "multispectral"}, "8,446 patches 332x332 (Landsat-8)", "CC BY 4.0")
_task("m-pv4ger", "classification", "rgb", RGB, ("no solar pv", "solar pv"), 0.1,
      {"gsd<10", "rgbn"}, "13,812 patches 320x320", "MIT")
_task("m-so2sat", "classification", None, (), LCZ_17, 10.0,
      {"gsd>=10", "multispectral", "sar"}, "21,964 patches 32x32", "CC BY 4.0")
_task("m-cashew-plant", "segmentation", "sentinel2_l1c", S2_13,
      ("no data", "well-managed plantation", "poorly-managed plantation", "non-plantation",
       "residential", "background", "uncertain"), 10.0,
      {"gsd>=10", "multispectral"}, "1,800 patches 256x256", "CC BY 4.0")
_task("m-chesapeake-landcover", "segmentation", "naip", RGBN_ORDER,
      ("no data", "water", "tree canopy / forest", "low vegetation / field", "barren land",
       "impervious (other)", "impervious (road)"), 1.0,
      {"gsd<10", "rgbn"}, "4,000 patches 256x256", "CDLA-Permissive-1.0")
_task("m-nz-cattle", "segmentation", "rgb", RGB, ("background", "cattle"), 0.1,
      {"gsd<10", "rgbn"}, "1,328 patches 500x500", "CC BY 4.0")
_task("m-NeonTree", "segmentation", None, (), ("background", "tree crown"), 0.1,
      {"gsd<10", "rgbn", "hyperspectral"}, "1,270 patches 400x400", "CC0 1.0")
_task("m-pv4ger-seg", "segmentation", "rgb", RGB, ("background", "solar pv"), 0.1,
      {"gsd<10", "rgbn"}, "3,806 patches 320x320", "MIT")
_task("m-SA-crop-type", "segmentation", "sentinel2_l1c", S2_13,
      ("background", "lucerne/medics", "planted pastures (perennial)", "fallow", "wine grapes",
       "weeds", "small grain grazing", "wheat", "canola", "rooibos"), 10.0,
      {"gsd>=10", "multispectral"}, "5,000 patches 256x256", "CC BY 4.0")
