"""SAR ship chips: OpenSARShip (Sentinel-1 IW, AIS-labelled), read from its per-scene zips in place.

Each official package ``<scene>.zip`` holds ``Patch_Cal/<Category>_x<cx>_y<cy>.tif`` (calibrated
sigma0, float32; VH+VV for dual-pol scenes, VV for single-pol ones) and ``Ship.xml`` with one
``<ship>`` per chip (SAR geometry, the matched AIS record, MarineTraffic facts). A chip is joined
to its ``<ship>`` by its centre pixel (``Center_x``/``Center_y`` = the ``x``/``y`` of its name).
Four of the published ``Ship.xml`` files close with the typo ``<\\ShipList>``; it is read as
``</ShipList>``. Nothing is extracted: members are read from the zips.

Band order: a dual-pol ``Patch_Cal`` chip stores **VH first, then VV** (its first band matches
the package's ``Patch_Uint8/*_vh.tif`` and is ~9 dB below the second over sea, as cross-pol is);
samples name and order bands as asked (default ``('VV', 'VH')``).

Two datasets share the reader: ``opensarship`` (ship category, classification) and
``opensarship_length`` (AIS ship length in metres, regression). Splits are by scene, so no
scene has chips in two splits (see :func:`scene_splits`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, EODataset, register
from eokit.datasets.catalog._util import image_tensor
from eokit.errors import DatasetError
from eokit.sensors import get_sensor, match_bands
from eokit.tasktype import TaskType

#: the categories in the chips' file names, as the packages spell them
OPENSARSHIP_CATEGORIES = (
    "Cargo", "Tanker", "Other Type", "Passenger", "Tug", "Law Enforcement", "Search and Rescue vessel",
)  # fmt: skip
#: the default classes: the two large categories and the rest together
OPENSARSHIP_CLASSES = ("Cargo", "Tanker", "Other")
#: band order of a dual-pol Patch_Cal chip as stored
FILE_BANDS_DUAL = ("VH", "VV")
SCENE_FRACTIONS: dict[str, float] = {"train": 0.6, "val": 0.2, "test": 0.2}
CHIP_NAME = re.compile(r"(?:^|/)Patch_Cal/(?P<cat>[^/]+)_x(?P<x>\d+)_y(?P<y>\d+)\.tif$")
CITATION = (
    "Huang et al., OpenSARShip: A Dataset Dedicated to Sentinel-1 Ship Interpretation, IEEE JSTARS 11(1), 2018"
)
LICENSE = "'Distribution: Open' (OpenSARShip ReadMe.pdf, SJTU; no formal licence text): research use, cite Huang et al."


@dataclasses.dataclass(frozen=True)
class ShipChip:
    """One chip of a scene zip and the facts of its ``<ship>`` entry."""

    zip_path: Path
    member: str
    scene: str
    category: str
    center: tuple[int, int]
    facts: dict[str, Any] = dataclasses.field(hash=False, compare=False)


def read_ship_xml(data: bytes, where: str) -> list[ET.Element]:
    """The ``<ship>`` elements of a Ship.xml; the upstream closing typo ``<\\ShipList>`` is accepted."""
    text = data.decode("utf-8", errors="replace").replace("<\\ShipList>", "</ShipList>")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise DatasetError(f"{where} is not well-formed XML ({exc}); re-download the scene package") from exc
    return root.findall("ship")


def _num(ship: ET.Element, path: str) -> float | None:
    text = ship.findtext(path)
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def chip_category(name: str) -> str:
    """The category of a chip file name; upstream truncations (``Patch_Cal/Search_x..`` for
    'Search and Rescue vessel') are read as the one category they begin."""
    if name in OPENSARSHIP_CATEGORIES:
        return name
    hits = [c for c in OPENSARSHIP_CATEGORIES if c.startswith(name)]
    return hits[0] if len(hits) == 1 else name


def _facts(ship: ET.Element) -> dict[str, Any]:
    t = (ship.findtext("SARShipInformation/Time_UTC") or "").strip()
    try:
        time = datetime.strptime(t, "%Y/%m/%d.%H:%M:%S").isoformat() if t else None
    except ValueError:
        time = None
    code = _num(ship, "AISShipInformation/Ship_Type")
    mmsi = (ship.findtext("AISShipInformation/MMSI") or "").strip()
    return {
        "time": time,
        "mmsi": mmsi or None,
        "ais_type": int(code) if code is not None else None,
        "ais_length": _num(ship, "AISShipInformation/Length"),
        "ais_width": _num(ship, "AISShipInformation/Width"),
        "mt_length": _num(ship, "MarineTrafficInformation/Length_overall"),
        "elaborated_type": (ship.findtext("MarineTrafficInformation/Elaborated_type") or "").strip() or None,
        "incidence": _num(ship, "SARShipInformation/Incidence"),
        "lon": _num(ship, "SARShipInformation/Center_longitude"),
        "lat": _num(ship, "SARShipInformation/Center_latitude"),
    }


def scene_chips(zip_path: Path) -> list[ShipChip]:
    """Every ``Patch_Cal`` chip of one scene package, joined to its Ship.xml entry (cached per file state)."""
    st = zip_path.stat()
    return list(_scene_chips(zip_path, st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=256)
def _scene_chips(zip_path: Path, mtime_ns: int, size: int) -> tuple[ShipChip, ...]:
    scene = re.sub(r"\(\d+\)$", "", zip_path.stem)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = zf.namelist()
            xml = [n for n in names if n.rsplit("/", 1)[-1] == "Ship.xml"]
            if len(xml) != 1:
                raise DatasetError(f"{str(zip_path)!r} holds {len(xml)} Ship.xml files, not 1; not an OpenSARShip package")
            ships = read_ship_xml(zf.read(xml[0]), f"{str(zip_path)!r}:{xml[0]}")
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{str(zip_path)!r} is not a readable zip ({exc}); re-download the scene package") from exc
    by_center: dict[tuple[int, int], ET.Element] = {}
    for ship in ships:
        cx, cy = _num(ship, "SARShipInformation/Center_x"), _num(ship, "SARShipInformation/Center_y")
        if cx is None or cy is None:
            raise DatasetError(f"{str(zip_path)!r}:{xml[0]}: a <ship> has no Center_x/Center_y")
        key = (int(cx), int(cy))
        if key in by_center:
            raise DatasetError(f"{str(zip_path)!r}:{xml[0]}: two <ship> entries share the centre {key}")
        by_center[key] = ship
    chips = []
    for name in names:
        m = CHIP_NAME.search(name)
        if m is None:
            continue
        key = (int(m["x"]), int(m["y"]))
        if key not in by_center:
            raise DatasetError(
                f"{str(zip_path)!r}: chip {name!r} has no <ship> with Center_x={key[0]}, Center_y={key[1]} in "
                f"{xml[0]}; the package is inconsistent"
            )
        chips.append(ShipChip(zip_path, name, scene, chip_category(m["cat"]), key, _facts(by_center[key])))
    if not chips:
        raise DatasetError(f"{str(zip_path)!r} has no Patch_Cal/<Category>_x<cx>_y<cy>.tif chips")
    return tuple(chips)


def scene_splits(
    chips_per_scene: Mapping[str, int], fractions: Mapping[str, float] = SCENE_FRACTIONS, seed: int = 0
) -> dict[str, str]:
    """Assign whole scenes to splits so that each split's chip count follows ``fractions``.

    Scenes are taken in ``sha256(f"{seed}:{scene}")`` order; each goes to the split furthest
    below its share of the chips assigned so far (eokit's split rule, weighted by chips). A
    scene's chips never fall in two splits; the result depends only on the scene names, their
    chip counts and the seed.
    """
    names = list(fractions)
    counts = dict.fromkeys(names, 0)
    total = 0
    out: dict[str, str] = {}
    for scene in sorted(chips_per_scene, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest()):
        n = chips_per_scene[scene]
        total += n
        best = max(names, key=lambda s: (fractions[s] * total - counts[s], -names.index(s)))
        counts[best] += n
        out[scene] = best
    return out


class _OpenSARShip(EODataset):
    """The shared reader; subclasses say what the target is."""

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        *,
        bands: Sequence[str] = ("VV", "VH"),
        seed: int = 0,
        fractions: Mapping[str, float] = SCENE_FRACTIONS,
        **kwargs: Any,
    ) -> None:
        """``bands``: ``('VV', 'VH')`` keeps the dual-pol scenes, ``('VV',)`` every scene (VV of all);
        any order or subset of VV/VH, resolved with :func:`eokit.sensors.match_bands`.
        ``seed``/``fractions``: the scene split (train/val/test chip shares)."""
        sensor = get_sensor(self.spec.sensor or "sentinel1_grd_linear")
        bands = tuple(sensor.canonical(b) for b in bands)
        if not bands or len(set(bands)) != len(bands) or not set(bands) <= {"VV", "VH"}:
            raise DatasetError(
                f"{self.spec.name}: bands must be VV and/or VH, e.g. ('VV', 'VH') or ('VV',) (every scene), not {bands}"
            )
        if set(fractions) != {"train", "val", "test"} or abs(sum(fractions.values()) - 1) > 1e-6:
            raise DatasetError(f"{self.spec.name}: fractions must give train/val/test shares summing to 1, not {fractions}")
        self.bands = bands
        self.seed = seed
        self.fractions = dict(fractions)
        super().__init__(root, split, **kwargs)

    def _keep(self, chip: ShipChip) -> bool:
        return True

    def _index(self) -> list[ShipChip]:
        zips = sorted(self.root.rglob("*.zip"))
        if not zips:
            raise DatasetError(
                f"{self.spec.name}: no scene packages (*.zip) under {str(self.root)!r} (layout: {self.spec.layout})"
            )
        chips = [c for z in zips for c in scene_chips(z)]
        self.scene_bands: dict[str, tuple[str, ...]] = {}
        for z in zips:  # bands of a scene's chips, in file order: 1SDV dual-pol, 1SSV single-pol
            scene = re.sub(r"\(\d+\)$", "", z.stem)
            self.scene_bands[scene] = FILE_BANDS_DUAL if "_1SDV_" in scene else ("VV",)
        chips = [c for c in chips if set(self.bands) <= set(self.scene_bands[c.scene]) and self._keep(c)]
        per_scene: dict[str, int] = {}
        for c in chips:
            per_scene[c.scene] = per_scene.get(c.scene, 0) + 1
        self.scene_split = scene_splits(per_scene, self.fractions, self.seed)
        if self.split == "all":
            return chips
        return [c for c in chips if self.scene_split[c.scene] == self.split]

    def describe(self, item: ShipChip) -> str:
        return f"{str(item.zip_path)!r}:{item.member}"

    def _read(self, item: ShipChip) -> np.ndarray:
        with zipfile.ZipFile(item.zip_path) as zf:
            data = zf.read(item.member)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with MemoryFile(data) as mem, mem.open() as src:
                array = src.read()
        want = len(self.scene_bands[item.scene])
        if array.shape[0] != want:
            raise DatasetError(
                f"{self.describe(item)} has {array.shape[0]} bands; a chip of this scene has {want} "
                f"({'/'.join(self.scene_bands[item.scene])})"
            )
        where = f"{self.describe(item)} (bands {self.scene_bands[item.scene]})"
        idx = match_bands(self.bands, self.scene_bands[item.scene], self.spec.sensor, where=where)
        return array[idx]

    def _sample(self, item: ShipChip) -> Sample:
        facts = item.facts
        return {
            "image": image_tensor(self._read(item)),
            "bands": self.bands,
            "sensor": self.spec.sensor,
            "category": item.category,
            "scene": item.scene,
            "mmsi": facts["mmsi"],
            "ais_type": facts["ais_type"],
            "incidence": facts["incidence"],
            "time": facts["time"],
            "crs": None, "transform": None, "bounds": None,
            "path": f"{item.zip_path}!/{item.member}",
            "id": f"{item.scene}/{item.member.rsplit('/', 1)[-1].removesuffix('.tif')}",
        }


_COMMON: dict[str, Any] = {
    "sensor": "sentinel1_grd_linear",
    "bands": ("VV", "VH"),
    "splits": ("train", "val", "test", "all"),
    "folder": "opensarship",
    "layout": "<any folder>/<S1 product>.zip, each: [<scene>/]Patch_Cal/<Category>_x<cx>_y<cy>.tif "
    "(sigma0 float32, VV+VH or VV), [<scene>/]Ship.xml (one <ship> per chip), Patch/, Patch_RGB/, "
    "Patch_Uint8/, ReadMe.pdf",
    "license": LICENSE,
    "citation": CITATION,
    "tags": frozenset({"gsd>=10", "sar"}),
    "gsd": 10.0,
    "split_policy": "by scene: whole scenes to train/val/test so chip counts follow 60/20/20 (scenes in "
    "sha256(seed:scene) order, each to the split furthest below its share; seed 0); 'all' = every chip",
    "homepage": "https://opensar.sjtu.edu.cn/",
    "mirror": "sar/opensarship_s1",
    "mirror_part": "8 of the official per-scene packages: 351 chips of ~11,000",
}


@register
class OpenSARShip(_OpenSARShip):
    """OpenSARShip ship-type classification: ``label`` = Cargo / Tanker / Other (the rest).

    ``categories='all'`` keeps the seven categories of the file names
    (:data:`OPENSARSHIP_CATEGORIES`) as classes instead.
    """

    spec = DatasetSpec(
        name="opensarship",
        task=TaskType.CLASSIFICATION,
        classes=OPENSARSHIP_CLASSES,
        size="15 MB for the 8 scene packages of the mirror: 351 chips (171 dual-pol VV/VH) of 33-85 px; "
        "the full release has ~11,000 chips",
        description="Sentinel-1 IW ship chips labelled by their matched AIS record",
        **_COMMON,
    )
    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"coarse": OPENSARSHIP_CLASSES, "all": OPENSARSHIP_CATEGORIES}

    def __init__(self, *args: Any, categories: str = "coarse", **kwargs: Any) -> None:
        if categories not in self.GROUPS:
            raise DatasetError(f"opensarship: categories must be 'coarse' or 'all', not {categories!r}")
        self.categories = categories
        if categories == "all":
            self.spec = dataclasses.replace(type(self).spec, classes=OPENSARSHIP_CATEGORIES)  # type: ignore[misc]
        super().__init__(*args, **kwargs)

    def class_of(self, category: str) -> int:
        """The class index of a file-name category (DatasetError for an unknown one)."""
        if category not in OPENSARSHIP_CATEGORIES:
            raise DatasetError(f"opensarship: unknown ship category {category!r}; known: {OPENSARSHIP_CATEGORIES}")
        if self.categories == "all":
            return OPENSARSHIP_CATEGORIES.index(category)
        return OPENSARSHIP_CLASSES.index(category) if category in OPENSARSHIP_CLASSES[:2] else 2

    def _keep(self, chip: ShipChip) -> bool:
        self.class_of(chip.category)  # an unknown category is an error, not a silent "Other"
        return True

    def _load(self, item: ShipChip) -> Sample:
        sample = self._sample(item)
        sample["label"] = torch.tensor(self.class_of(item.category), dtype=torch.int64)
        return sample


@register
class OpenSARShipLength(_OpenSARShip):
    """OpenSARShip ship-length regression: ``target`` = ship length in metres (float32 scalar).

    ``length_source='ais'`` (default) uses the matched AIS record's ``Length`` and leaves out
    chips whose AIS length is 0 or missing; ``'marinetraffic'`` uses ``Length_overall``.
    """

    spec = DatasetSpec(
        name="opensarship_length",
        task=TaskType.REGRESSION,
        size="15 MB for the 8 scene packages of the mirror: 351 chips, of which those with a known AIS length",
        description="target: ship length in metres (AIS Length of the matched record; sample['target'])",
        **_COMMON,
    )
    SOURCES: ClassVar[dict[str, str]] = {"ais": "ais_length", "marinetraffic": "mt_length"}

    def __init__(self, *args: Any, length_source: str = "ais", **kwargs: Any) -> None:
        if length_source not in self.SOURCES:
            raise DatasetError(f"opensarship_length: length_source must be 'ais' or 'marinetraffic', not {length_source!r}")
        self.length_key = self.SOURCES[length_source]
        super().__init__(*args, **kwargs)

    def _keep(self, chip: ShipChip) -> bool:
        value = chip.facts[self.length_key]
        return value is not None and np.isfinite(value) and value > 0

    def _load(self, item: ShipChip) -> Sample:
        sample = self._sample(item)
        sample["target"] = torch.tensor(float(item.facts[self.length_key]), dtype=torch.float32)
        return sample
