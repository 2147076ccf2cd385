"""OpenSARShip read from the mirror's official scene zips (counts from what the files say)."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from rasterio.io import MemoryFile

from eokit.datasets.catalog.sar import (
    OPENSARSHIP_CATEGORIES,
    OpenSARShip,
    OpenSARShipLength,
    read_ship_xml,
    scene_splits,
)
from eokit.errors import DatasetError
from eokit.tasktype import TaskType


@pytest.fixture()
def root(mirror: Path) -> Path:
    return mirror / "sar" / "opensarship_s1"


def _ship_xml(zf: zipfile.ZipFile) -> bytes:
    return zf.read(next(n for n in zf.namelist() if n.endswith("Ship.xml")))


def _facts(root: Path) -> dict[str, dict]:
    """Per scene, what its zip says: <ship> count, chip names, typo, dual-pol, AIS lengths (regex, no XML parser)."""
    out = {}
    for z in sorted(root.rglob("*.zip")):
        with zipfile.ZipFile(z) as zf:
            text = _ship_xml(zf).decode()
            chips = [n for n in zf.namelist() if re.search(r"(^|/)Patch_Cal/[^/]+\.tif$", n)]
        scene = re.sub(r"\(\d+\)$", "", z.stem)
        out[scene] = {"ships": text.count("<ship>"), "chips": chips, "typo": "<\\ShipList>" in text,
                      "dual": "_1SDV_" in scene, "zip": z,
                      "lengths": [float(v) for v in re.findall(r"<Length>([^<]*)</Length>", text)],
                      "mt": re.findall(r"<Length_overall>([^<]*)</Length_overall>", text)}
    return out


def test_reads_every_chip_and_survives_the_shiplist_typo(root: Path) -> None:
    facts = _facts(root)
    assert sum(f["typo"] for f in facts.values()) == 4  # the upstream `<\ShipList>` of 4 packages
    every = OpenSARShip(root, "all", bands=("VV",), categories="all")
    assert len(every) == sum(f["ships"] for f in facts.values()) == sum(len(f["chips"]) for f in facts.values())
    per_scene = Counter(c.scene for c in every.items)
    assert per_scene == {s: f["ships"] for s, f in facts.items()}
    names = Counter(re.sub(r"_x\d+_y\d+\.tif$", "", n.rsplit("/", 1)[-1]) for f in facts.values() for n in f["chips"])
    got = Counter(c.category for c in every.items)
    assert sum(got.values()) == sum(names.values()) and set(got) <= set(OPENSARSHIP_CATEGORIES)
    assert got["Cargo"] == names["Cargo"] and got["Tanker"] == names["Tanker"]
    assert got["Search and Rescue vessel"] == names["Search"]  # Patch_Cal truncates this one name
    dual = OpenSARShip(root, "all")
    assert len(dual) == sum(f["ships"] for f in facts.values() if f["dual"])


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_chip_values_and_labels(root: Path) -> None:
    ds = OpenSARShip(root, "test")
    assert ds.spec.task == TaskType.CLASSIFICATION and ds.spec.classes == ("Cargo", "Tanker", "Other")
    s = ds[0]
    item = ds.items[0]
    with zipfile.ZipFile(item.zip_path) as zf, MemoryFile(zf.read(item.member)) as mem, mem.open() as src:
        raw = src.read()
    assert s["image"].shape == raw.shape and raw.shape[0] == 2 and s["bands"] == ("VV", "VH")
    assert np.array_equal(s["image"].numpy(), raw[[1, 0]]) and s["sensor"] == "sentinel1_grd_linear"
    want = {"Cargo": 0, "Tanker": 1}.get(item.category, 2)
    assert int(s["label"]) == want and s["id"].endswith(item.member.rsplit("/", 1)[-1][:-4])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s["time"])
    vv = OpenSARShip(root, "all", bands=("VV",))
    assert vv[0]["image"].shape[0] == 1 and vv[0]["bands"] == ("VV",)
    same = next(i for i, c in enumerate(vv.items) if c.member == item.member and c.zip_path == item.zip_path)
    assert np.array_equal(vv[same]["image"].numpy()[0], raw[1])  # stored VH, VV: VV is the second band
    with pytest.raises(DatasetError, match="bands must be VV and/or VH"):
        OpenSARShip(root, "all", bands=("HH",))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_dual_pol_chips_store_vh_then_vv(root: Path) -> None:
    """The sample's VV band is the package's Patch_Uint8 *_vv image, and VH is the weaker (cross-pol) one."""
    ds = OpenSARShip(root, "all")
    checked, co_above_cross, matched = 0, 0, 0
    for i, item in enumerate(ds.items[:40]):
        stem = item.member.rsplit("/", 1)[-1][:-4]
        with zipfile.ZipFile(item.zip_path) as zf:
            visual = {p: [n for n in zf.namelist() if n.endswith(f"Patch_Uint8/Visual_{stem}_{p}.tif")] for p in ("vv", "vh")}
            if not all(visual.values()):
                continue
            ref = {}
            for p, names in visual.items():
                with MemoryFile(zf.read(names[0])) as mem, mem.open() as src:
                    ref[p] = src.read(1).astype(np.float64)
        x = ds[i]["image"].numpy().astype(np.float64)
        if ref["vv"].shape != x.shape[1:]:
            continue
        corr = [[np.corrcoef(x[b].ravel(), ref[p].ravel())[0, 1] for p in ("vv", "vh")] for b in (0, 1)]
        matched += corr[0][0] > corr[0][1] and corr[1][1] > corr[1][0]
        co_above_cross += bool(np.median(x[0]) > np.median(x[1]))  # VV above VH over sea
        checked += 1
    assert checked >= 10 and co_above_cross >= 0.9 * checked and matched >= 0.8 * checked, (
        checked, co_above_cross, matched)


def test_splits_are_by_scene(root: Path) -> None:
    parts = {s: OpenSARShip(root, s, bands=("VV",)) for s in ("train", "val", "test")}
    scenes = {s: {c.scene for c in ds.items} for s, ds in parts.items()}
    assert not scenes["train"] & scenes["val"] and not scenes["train"] & scenes["test"]
    assert not scenes["val"] & scenes["test"] and all(scenes.values())
    assert sum(len(ds) for ds in parts.values()) == len(OpenSARShip(root, "all", bands=("VV",)))
    again = OpenSARShip(root, "test", bands=("VV",))
    assert [c.member for c in again.items] == [c.member for c in parts["test"].items]
    assert scene_splits({"a": 10, "b": 10, "c": 10, "d": 10, "e": 10}, seed=0) == scene_splits(
        {"e": 10, "d": 10, "c": 10, "b": 10, "a": 10}, seed=0)  # order of the input does not matter
    split = scene_splits({f"s{i}": 10 for i in range(10)}, seed=0)
    assert Counter(split.values()) == {"train": 6, "val": 2, "test": 2}


def test_length_regression_targets(root: Path) -> None:
    facts = _facts(root)
    ds = OpenSARShipLength(root, "all", bands=("VV",))
    assert ds.spec.task == TaskType.REGRESSION
    known = sum(1 for f in facts.values() for v in f["lengths"] if v > 0)
    assert len(ds) == known < sum(f["ships"] for f in facts.values())  # AIS length 0 = unknown: left out
    s = ds[len(ds) - 1]
    assert s["target"].dtype.is_floating_point and float(s["target"]) == ds.items[-1].facts["ais_length"] > 0
    mt = OpenSARShipLength(root, "all", bands=("VV",), length_source="marinetraffic")
    na = sum(v == "NA" for f in facts.values() for v in f["mt"])  # MarineTraffic writes NA when unknown
    assert na and len(mt) == sum(f["ships"] for f in facts.values()) - na


def test_broken_packages_are_named(root: Path, tmp_path: Path) -> None:
    assert len(read_ship_xml(b"<ShipList><ship/><ship/><\\ShipList>", "x")) == 2
    src = next(z for z in sorted(root.rglob("*.zip")) if "84AB" in z.name)
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    xml = next(n for n in members if n.endswith("Ship.xml"))
    broken = tmp_path / "broken"
    broken.mkdir()
    with zipfile.ZipFile(broken / src.name, "w") as out:
        for n, data in members.items():
            out.writestr(n, data.replace(b"</ship>", b"</shp>", 1) if n == xml else data)
    with pytest.raises(DatasetError, match=r"84AB.zip':Ship.xml is not well-formed XML"):
        OpenSARShip(broken, "all")
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    with zipfile.ZipFile(orphan / src.name, "w") as out:
        for n, data in members.items():
            out.writestr(n, data)
        out.writestr("Patch_Cal/Cargo_x1_y2.tif", b"")
    with pytest.raises(DatasetError, match=r"chip 'Patch_Cal/Cargo_x1_y2.tif' has no <ship> with Center_x=1"):
        OpenSARShip(orphan, "all")
    (tmp_path / "none").mkdir()
    with pytest.raises(DatasetError, match=r"no scene packages \(\*.zip\)"):
        OpenSARShip(tmp_path / "none", "all")
