"""The CLI commands of the foundation on the real Landsat 8 scene."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from click.testing import CliRunner
from PIL import Image

from eokit.cli.main import cli, main
from eokit.io import is_cog


def test_version_and_info_json(mirror: Path, capsys) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["--version"])
    assert out.exit_code == 0 and "eokit, version" in out.output
    tif = mirror / "scenes/landsat8_LC80200392015216/l8_B8.tif"
    res = runner.invoke(cli, ["info", str(tif), "--json"])
    d = json.loads(res.output)
    assert (d["width"], d["height"], d["crs"], d["res"]) == (1254, 1207, "EPSG:32616", [15.0, 15.0])
    lon = [p[0] for p in d["footprint_wgs84"]["coordinates"][0]]
    assert -88 < min(lon) < max(lon) < -87


def test_ndvi_cog_and_quicklook(mirror: Path, tmp_path: Path) -> None:
    l8 = mirror / "scenes/landsat8_LC80200392015216"
    out = tmp_path / "ndvi.tif"
    assert main(["index", "NDVI", str(l8 / "l8_B4.tif"), str(l8 / "l8_B5.tif"), "--sensor", "landsat8",
                 "-o", str(out)]) == 0
    assert is_cog(out)[0]
    with rasterio.open(out) as ds, rasterio.open(l8 / "l8_B4.tif") as red, rasterio.open(l8 / "l8_B5.tif") as nir:
        ndvi = ds.read(1)
        r = red.read(1) * 2e-5 - 0.1
        n = nir.read(1) * 2e-5 - 0.1
        np.testing.assert_allclose(ndvi, (n - r) / (n + r), rtol=1e-5, atol=1e-6)
        assert ds.crs == red.crs and ds.transform == red.transform and ds.descriptions == ("NDVI",)
    png = tmp_path / "ql.png"
    assert main(["quicklook", str(l8 / "l8_B4.tif"), str(l8 / "l8_B3.tif"), str(l8 / "l8_B2.tif"),
                 "--sensor", "landsat8", "--map", str(out), "-o", str(png)]) == 0
    img = np.asarray(Image.open(png))
    assert img.shape[0] > 603 and img.shape[1] == 2 * 627 + 8 and img[:603].std() > 20  # + legends below
