"""eokit.pretrain.curation on real mirror chips (EuroSAT MS, Landsat 8 + BQA, BigEarthNet S1) and synthetic arrays."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.windows import Window

from eokit.data.cloud import qa_cloud_mask
from eokit.errors import CurationError, PretrainError
from eokit.io import open_band_files, open_raster
from eokit.pretrain.chips import Chip
from eokit.pretrain.curation import (
    CurationConfig,
    curate,
    near_duplicates,
    signature,
)
from eokit.sensors import get_sensor

EUROSAT_FILE_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A")
L8 = "scenes/landsat8_LC80200392015216"


def _chip(image: np.ndarray, *, source: str = "synthetic", place: str = "p0", sensor: str = "landsat8",
          bands: tuple[str, ...] = ("B2", "B3", "B4", "B5", "B6", "B7"), ident: str = "x",
          qa_cloud: np.ndarray | None = None) -> Chip:
    return Chip(image=image.astype(np.float32), sensor=sensor, bands=bands, source=source, place=place,
                ident=ident, qa_cloud=qa_cloud)


def _eurosat_chips(mirror: Path, n: int = 24) -> list[Chip]:
    files = sorted((mirror / "classification" / "eurosat_ms_subset" / "train").glob("*/*.tif"))[:n]
    chips = []
    for f in files:
        with rasterio.open(f) as ds:
            img = ds.read().astype(np.float32) * 1e-4
        chips.append(Chip(img, "sentinel2_l1c", EUROSAT_FILE_BANDS, "eurosat_ms:train", f.stem, f"eurosat_ms:{f.name}"))
    return chips


def _landsat_chips(mirror: Path, size: int = 96) -> list[Chip]:
    scene = mirror / L8
    stack = open_band_files([scene / f"l8_B{i}.tif" for i in (2, 3, 4, 5, 6, 7)], sensor="landsat8")
    qa_src = open_raster(scene / "l8_BQA.tif")
    sensor = get_sensor("landsat8")
    chips = []
    for row in range(0, stack.grid.height - size + 1, size):
        for col in range(0, stack.grid.width - size + 1, size):
            win = Window(col, row, size, size)
            chip = stack.read(win)
            img = sensor.to_reflectance(chip.array).astype(np.float32)
            img[:, ~chip.valid] = np.nan
            qa = qa_src.read(win, dtype=None).array[0]
            chips.append(Chip(img, "landsat8", chip.bands, "landsat8_scene", "LC80200392015216",
                              f"landsat8:{row}:{col}", qa_cloud=qa_cloud_mask(qa)))
    return chips


@pytest.mark.slow
def test_curate_real_chips_report(mirror: Path, tmp_path: Path) -> None:
    eurosat = _eurosat_chips(mirror)
    landsat = _landsat_chips(mirror)
    s1_dir = mirror / "multilabel" / "bigearthnet_examples" / "BigEarthNet-S1-Example"
    s1 = []
    for folder in sorted(s1_dir.iterdir()):
        vv, vh = (open_raster(next(folder.glob(f"*_{p}.tif"))).read().array[0] for p in ("VV", "VH"))
        s1.append(Chip(np.stack([vv, vh]).astype(np.float32), "sentinel1_grd_db", ("VV", "VH"), "bigearthnet_s1",
                       folder.name, f"bigearthnet_s1:{folder.name}"))
    rgb = []
    for f in sorted((mirror / "classification" / "eurosat_rgb").glob("*/*.jpg"))[::3000]:
        img = np.asarray(Image.open(f)).transpose(2, 0, 1).astype(np.float32) / 255
        rgb.append(Chip(img, "rgb", ("R", "G", "B"), "eurosat_rgb:train", f.stem, f"eurosat_rgb:{f.name}"))
    # one Landsat chip twice: the copy is a duplicate
    chips = [*eurosat, *landsat, dataclasses.replace(landsat[0], ident="landsat8:copy"), *s1, *rgb]
    res = curate(chips, CurationConfig(max_cloud=0.2))
    rep = res.report
    src = rep.sources
    assert src["landsat8_scene"].cloud_methods == {"qa": len(landsat) + 1}
    methods = src["eurosat_ms:train"].cloud_methods
    assert methods in ({"s2cloudless": len(eurosat)}, {"reflectance": len(eurosat)})  # without the 'cloud' extra
    assert src["bigearthnet_s1"].cloud_methods == {"none": len(s1)} and src["bigearthnet_s1"].kept == len(s1)
    assert src["eurosat_rgb:train"].cloud_methods == {"untested": len(rgb)} and src["eurosat_rgb:train"].kept == 9
    # the cloudy Landsat crop: the chips over 20 % high-confidence cloud (by the BQA) are dropped
    cloudy = sum(float(c.qa_cloud.mean()) > 0.2 for c in landsat)  # type: ignore[union-attr]
    assert cloudy >= 1 and src["landsat8_scene"].dropped["cloud"] == cloudy
    assert src["landsat8_scene"].dropped["duplicate"] >= 1
    for s in src.values():
        assert s.seen == s.kept + sum(s.dropped.values())
    kept_ids = {id(c) for c in res.kept}
    assert [id(c) for c in res.kept] == [id(c) for c in chips if id(c) in kept_ids]  # input order
    json_path, md_path = rep.write(tmp_path / "run")
    data = json.loads(json_path.read_text())
    assert data["seen"] == len(chips) and data["kept"] == len(res.kept)
    assert data["config"]["max_cloud"] == 0.2
    md = md_path.read_text()
    assert "| landsat8_scene |" in md and "qa (" in md and "| **all** |" in md
    assert not list((tmp_path / "run").glob(".*"))


def test_nodata_and_cloud_thresholds_synthetic() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.02, 0.2, size=(6, 16, 16))
    holes = base.copy()
    holes[:, :4] = np.nan  # 25 % nodata
    qa = np.zeros((16, 16), bool)
    qa[:5] = True  # 31 % cloud
    chips = [_chip(base, ident="a"), _chip(holes, ident="b"), _chip(base + 0.3 * rng.random((6, 16, 16)),
                                                                    ident="c", qa_cloud=qa)]
    res = curate(chips, CurationConfig(max_nodata=0.1, max_cloud=0.3, dedup_threshold=None))
    assert [c.ident for c in res.kept] == ["a"]
    assert res.report.dropped() == {"nodata": 1, "cloud": 1, "duplicate": 0, "balance": 0}
    res = curate(chips, CurationConfig(max_nodata=0.3, max_cloud=0.35, dedup_threshold=None))
    assert [c.ident for c in res.kept] == ["a", "b", "c"]
    # every 2nd pixel: rows 0, 2, 4 of 0..7 are cloud -> 0.375 > 0.35
    res = curate(chips, CurationConfig(max_nodata=0.3, max_cloud=0.35, dedup_threshold=None, cloud_stride=2))
    assert [c.ident for c in res.kept] == ["a", "b"]


def test_zero_kept_raises_with_counts_and_fix() -> None:
    img = np.full((6, 8, 8), np.nan)
    chips = [_chip(img, source="scene_a", ident="a"), _chip(img, source="scene_b", ident="b")]
    with pytest.raises(CurationError) as err:
        curate(chips, CurationConfig())
    msg = str(err.value)
    assert "scene_a: 1 seen, 1 nodata" in msg and "scene_b" in msg and "raise max_nodata (now 0.1)" in msg


def test_config_errors_name_the_value() -> None:
    with pytest.raises(PretrainError, match="max_cloud=1.5"):
        CurationConfig(max_cloud=1.5)
    with pytest.raises(PretrainError, match="balance='country'"):
        CurationConfig(balance="country")
    with pytest.raises(PretrainError, match="cloud_method='fmask'"):
        CurationConfig(cloud_method="fmask")
    assert CurationConfig.from_dict({"max_cloud": 0.3, "balance": "place"}) == CurationConfig(max_cloud=0.3,
                                                                                             balance="place")
    assert CurationConfig.from_dict(None) == CurationConfig()
    with pytest.raises(PretrainError, match="unknown curation setting.*max_clouds.*max_cloud"):
        CurationConfig.from_dict({"max_clouds": 0.3})
    with pytest.raises(PretrainError, match="give numbers"):
        CurationConfig.from_dict({"max_cloud": "lots"})
    chips = [_chip(np.ones((6, 8, 8)) * 0.1)]
    with pytest.raises(PretrainError, match="use cloud_method: auto"):
        curate(chips, CurationConfig(cloud_method="qa"))


def test_near_duplicates_and_signature() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((13, 64, 64))
    shifted = a * 1.02 + 0.001  # the same chip, brightened a little: a duplicate
    other = rng.random((13, 64, 64))
    assert float(signature(a) @ signature(shifted)) > 0.99
    assert abs(float(signature(a) @ signature(other))) < 0.3
    assert signature(rng.random((3, 5, 7))).shape == (3 * 64,)  # smaller than the thumbnail
    bands = tuple(f"B{i}" for i in range(13))
    chips = [_chip(x, sensor="sentinel2_l1c", bands=bands, ident=str(i))
             for i, x in enumerate([a, other, shifted, a])]
    assert near_duplicates(chips, 0.98) == [2, 3]
    # another sensor's identical pixels are not compared
    chips.append(_chip(a, sensor="sentinel2_l2a", bands=bands, ident="l2a"))
    assert near_duplicates(chips, 0.98) == [2, 3]


@pytest.mark.slow
def test_near_duplicates_of_30000_chips_in_seconds() -> None:
    """Blocked comparison of 30,000 signatures of 13 x 8 x 8 (random chips plus one planted duplicate)."""
    rng = np.random.default_rng(3)
    bands = tuple(f"B{i}" for i in range(13))
    images = rng.random((30_000, 13, 8, 8), dtype=np.float32)
    images[5] = images[3] * 1.01
    chips = [_chip(img, sensor="sentinel2_l1c", bands=bands, ident=str(i)) for i, img in enumerate(images)]
    t0 = time.perf_counter()
    dups = near_duplicates(chips, 0.98)
    took = time.perf_counter() - t0
    assert dups == [5]
    assert took < 60, took  # 3 to 8 s on a shared 2-core machine


def test_balance_caps_are_seeded_and_deterministic() -> None:
    rng = np.random.default_rng(2)
    chips = []
    for place, n in (("a", 10), ("b", 4), ("c", 2)):
        for i in range(n):
            chips.append(_chip(0.05 * rng.random((6, 8, 8)), place=place, ident=f"{place}{i}"))
    for i in range(3):
        chips.append(_chip(rng.random((2, 8, 8)), sensor="sentinel1_grd_db", bands=("VV", "VH"), place="s",
                           source="s1", ident=f"s{i}"))
    cfg = CurationConfig(balance="place", max_per_place=3, dedup_threshold=None)
    kept = [c.ident for c in curate(chips, cfg).kept]
    assert kept == [c.ident for c in curate(chips, cfg).kept]  # same seed, same chips
    assert sum(k.startswith("a") for k in kept) == 3 and sum(k.startswith("c") for k in kept) == 2
    other = [c.ident for c in curate(chips, CurationConfig(balance="place", max_per_place=3, seed=7,
                                                           dedup_threshold=None)).kept]
    assert other != kept
    # sensor: the median count per sensor caps the larger sensor (16 landsat8, 3 sentinel1 -> cap 10)
    res = curate(chips, CurationConfig(balance="sensor", dedup_threshold=None))
    assert sum(c.sensor == "landsat8" for c in res.kept) == 10 and res.report.dropped()["balance"] == 6
    # sensor+place: place cap (median within the sensor: 4) then the sensor cap
    res = curate(chips, CurationConfig(balance="sensor+place", dedup_threshold=None))
    assert sum(c.place == "a" for c in res.kept) <= 4
    assert res.report.sources["synthetic"].dropped["balance"] + res.report.sources["synthetic"].kept == 16
