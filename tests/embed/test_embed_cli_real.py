"""`eokit embed` on the mirror's Sentinel-2 scene: store (GeoPandas, DuckDB) and field COG agree."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform_bounds

from eokit.cli.main import main
from eokit.embed import read_embeddings, unit_int8


@pytest.fixture(scope="module")
def s2_scene(mirror):
    folder = mirror / "scenes" / "sentinel2_18SVG_20160112"
    if not (folder / "s2_B05.tif").exists():
        pytest.skip(f"{folder} lacks s2_B05.tif")
    return str(folder / "s2_B[018][5-7A].tif")  # B05, B06, B07, B8A: the 20 m band files


@pytest.mark.slow
def test_embed_cli_on_real_sentinel2(tmp_path, s2_scene, capsys):
    out, field = tmp_path / "s2.parquet", tmp_path / "s2.tif"
    rc = main(["embed", "mobilecnn", s2_scene, "-o", str(out), "--field", str(field), "--chip", "192",
               "--bands", "B05,B06,B07,B8A", "--sensor", "sentinel2_l1c", "--seed", "1", "--workers", "0"])
    assert rc in (0, None), capsys.readouterr().err
    gpd = pytest.importorskip("geopandas")
    gdf = gpd.read_parquet(out)
    # 967x973 px at 192 px: a 6 x 6 chip grid whose edge chips (7 and 13 px inside) are skipped
    assert len(gdf) == 25 and gdf.crs.to_epsg() == 4326
    duckdb = pytest.importorskip("duckdb")
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{out}'").fetchone()[0] == 25
    with rasterio.open(s2_scene.replace("s2_B[018][5-7A].tif", "s2_B05.tif")) as ds:
        w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
    minx, miny, maxx, maxy = gdf.total_bounds
    assert w - 1e-6 <= minx < maxx <= e + 1e-6 and s - 1e-6 <= miny < maxy <= n + 1e-6
    store = read_embeddings(out)
    assert store.meta["bands"] == ["B05", "B06", "B07", "B8A"] and store.meta["model"] == "mobilecnn.random"
    assert np.isfinite(store.vectors).all() and store.vectors.std() > 0
    with rasterio.open(field) as ds:
        assert ds.count == store.dim and ds.crs.to_epsg() == 32618 and ds.shape == (6, 6)
        cube = ds.read()
    assert (cube[:, 5, :] == -128).all() and (cube[:, :, 5] == -128).all()
    codes = unit_int8(store.vectors)
    for k, (r, c) in enumerate(zip(store.table["row"], store.table["col"], strict=True)):
        np.testing.assert_array_equal(cube[:, r // 192, c // 192], codes[k])
    # the same seed gives the same weights: a second run is comparable with the first
    again = tmp_path / "again.parquet"
    assert main(["embed", "mobilecnn", s2_scene, "-o", str(again), "--chip", "480", "--bands",
                 "B05,B06,B07,B8A", "--sensor", "sentinel2_l1c", "--seed", "1"]) in (0, None)
    store.check_compatible(read_embeddings(again).meta)


def test_embed_cli_bad_input_exits_2(tmp_path, s2_scene, capsys):
    rc = main(["embed", "mobilecnn", s2_scene, "-o", str(tmp_path / "x.parquet"), "--bands", "B05,B11",
               "--sensor", "sentinel2_l1c"])
    err = capsys.readouterr().err
    assert rc == 2 and "sentinel2_18SVG_20160112" in err and "B11" in err
    rc = main(["embed", "mobilecnn", s2_scene, "-o", str(tmp_path / "x.parquet"), "--bands", "B05",
               "--sensor", "sentinel2_l1c", "--bbox", "10,45,10.1,45.1"])
    assert rc == 2 and "does not overlap" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()
