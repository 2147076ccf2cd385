"""SceneCollection: indexing by footprint and time, queries, native CRS kept, errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform_bounds

from eokit.data import SceneCollection
from eokit.errors import ConfigError, EmptyCollectionError


def test_eurosat_mixed_utm_zones_stay_native(mirror: Path) -> None:
    root = mirror / "classification" / "eurosat_ms_subset"
    coll = SceneCollection.from_paths(str(root / "**" / "*.tif"), sensor="sentinel2_l1c")
    assert len(coll) == 270
    assert len(coll.crs_set) >= 5  # several UTM zones, none warped
    for scene in coll.scenes[:20]:
        with rasterio.open(scene.path) as ds:
            assert scene.crs == ds.crs and scene.grid.transform == ds.transform
    # a footprint query in lon/lat finds the scene it was taken from (and its neighbours only)
    target = coll[17]
    hits = coll.query(bounds=target.footprint.centroid.buffer(1e-4).bounds)
    assert target.path in [s.path for s in hits]
    assert all(s.footprint.intersects(target.footprint.centroid.buffer(1e-4)) for s in hits)
    # the same query given in the scene's own UTM CRS
    w, s, e, n = target.bounds
    native = coll.query(bounds=(w + 100, s + 100, e - 100, n - 100), crs=target.crs)
    assert target.path in [x.path for x in native]


def test_query_bounds_and_time(mixed: dict, mixed_coll: SceneCollection) -> None:
    names = [Path(s.path).name for s in mixed_coll]
    assert names == ["S2_20230604_A.tif", "S2_20230620_B.tif", "scene_tagged.tif"]
    # times: filename regex for A and B, TIFFTAG_DATETIME for the third
    assert [s.time for s in mixed_coll] == [datetime(2023, 6, 4), datetime(2023, 6, 20), datetime(2023, 7, 1, 10, 30)]
    june = mixed_coll.query(start="2023-06-01", end="2023-06-30")
    assert [Path(s.path).name for s in june] == names[:2]
    assert len(mixed_coll.query(start="2023-06-20", end="2023-06-20")) == 1  # a date means the whole day
    # the overlap point (in A's UTM zone) hits both A (32631) and B (32632)
    x, y = mixed["overlap"]
    both = mixed_coll.query(bounds=(x - 5, y - 5, x + 5, y + 5), crs="EPSG:32631")
    assert {s.crs.to_epsg() for s in both} == {32631, 32632}
    # bounds + time together
    only_b = mixed_coll.query(bounds=(x - 5, y - 5, x + 5, y + 5), crs="EPSG:32631", start="2023-06-10")
    assert [Path(s.path).name for s in only_b] == ["S2_20230620_B.tif"]
    # A's own bounds in lon/lat
    a = mixed_coll[0]
    lonlat = transform_bounds(a.crs, "EPSG:4326", *a.bounds)
    assert mixed_coll[0].path in [s.path for s in mixed_coll.query(bounds=lonlat)]


def test_no_match_and_empty_collections(mixed: dict, mixed_coll: SceneCollection, tmp_path: Path) -> None:
    with pytest.raises(EmptyCollectionError, match="matched none of the 3 scenes"):
        mixed_coll.query(bounds=(100.0, 10.0, 101.0, 11.0))
    with pytest.raises(EmptyCollectionError, match="Widen the bounds or time range"):
        mixed_coll.query(start="2020-01-01", end="2020-12-31")
    with pytest.raises(EmptyCollectionError, match="no raster files match"):
        SceneCollection.from_paths(str(tmp_path / "*.tif"))
    with pytest.raises(EmptyCollectionError, match="at least one raster"):
        SceneCollection([])
    assert mixed_coll.query_indexes(start="2030-01-01") == []


def test_filename_regex_groups_and_errors(mixed: dict) -> None:
    paths = [mixed["a"], mixed["b"]]
    coll = SceneCollection.from_paths(paths, pattern=r"S2_(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})")
    assert [s.time for s in coll] == [datetime(2023, 6, 4), datetime(2023, 6, 20)]
    coll = SceneCollection.from_paths(paths, pattern=r"S2_(?P<date>\d{6})", date_format="%Y%m")
    assert coll[0].time == datetime(2023, 6, 1)
    with pytest.raises(ConfigError, match="does not match date_format"):
        SceneCollection.from_paths(paths, pattern=r"S2_(?P<date>\d{8})", date_format="%d/%m/%Y")
    with pytest.raises(ConfigError, match="no 'date' or 'year' named group"):
        SceneCollection.from_paths(paths, pattern=r"S2_(\d{8})")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        SceneCollection.from_paths(paths, pattern=r"S2_(?P<date>")


def test_band_file_scenes_landsat_s2_oscd(mirror: Path) -> None:
    l8 = mirror / "scenes" / "landsat8_LC80200392015216"
    s2 = mirror / "scenes" / "sentinel2_18SVG_20160112"
    coll = SceneCollection.from_band_files(
        [[l8 / f"l8_B{i}.tif" for i in (2, 3, 4, 5)], [s2 / f"s2_{b}.tif" for b in ("B05", "B06", "B8A")]],
        pattern=r"_(?P<date>20\d{6})", times=["2015-08-04", None],
    )
    assert coll[0].bands == ("B2", "B3", "B4", "B5") and coll[0].crs.to_epsg() == 32616
    assert coll[0].time == datetime(2015, 8, 4)
    assert coll[1].time == datetime(2016, 1, 12)  # the date is in the folder name: the full path is searched
    assert coll[1].crs.to_epsg() == 32618
    with rasterio.open(l8 / "l8_B4.tif") as ds:
        ref = ds.read(1, window=((100, 132), (200, 232)))
    chip = coll.source(0).read((200, 100, 32, 32), bands=["B4"], dtype=None)
    np.testing.assert_array_equal(chip.array[0], ref)

    oscd = mirror / "change_detection" / "oscd_sentinel2" / "images"
    groups, times = [], []
    for city in ("bercy", "paris", "rennes", "aguasclaras"):
        dates = dict(line.split(": ") for line in (oscd / city / "dates.txt").read_text().split("\n") if ": " in line)
        for k, d in (("imgs_1", "date_1"), ("imgs_2", "date_2")):
            groups.append(sorted((oscd / city / k).glob("*_B0[2348].tif")))
            times.append(dates[d].strip())
    pairs = SceneCollection.from_band_files(groups, times=times)
    assert len(pairs) == 8 and pairs.crs_set == {"EPSG:4326"}
    paris = pairs.query(bounds=pairs[2].footprint.bounds)
    assert {pairs[2].path, pairs[3].path} <= {s.path for s in paris}  # both dates of the city
    assert pairs[2].time < pairs[3].time
    later = pairs.query(bounds=pairs[2].footprint.bounds, start=pairs[3].time)
    assert pairs[2].path not in {s.path for s in later} and pairs[3].path in {s.path for s in later}


def test_collection_pickles_without_tree(mixed_coll: SceneCollection) -> None:
    import pickle

    mixed_coll.query_indexes(bounds=(0, 0, 10, 50))  # builds the tree
    clone = pickle.loads(pickle.dumps(mixed_coll))
    assert clone._tree is None and len(clone) == 3
    assert clone.query_indexes(bounds=mixed_coll[0].footprint.bounds) == mixed_coll.query_indexes(
        bounds=mixed_coll[0].footprint.bounds)
