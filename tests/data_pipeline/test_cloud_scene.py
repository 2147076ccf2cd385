"""``eokit mask`` / eokit.data.cloud_scene.mask_scene on the mirror's real Landsat 8 and Sentinel-2 scenes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from eokit.cli.main import cli, main
from eokit.data.cloud import cloud_mask, qa_cloud_mask
from eokit.data.cloud_scene import guess_qa_rules, is_qa_file, mask_scene
from eokit.errors import BandError, ConfigError, MissingDependencyError
from eokit.io import is_cog, open_band_files, open_raster
from eokit.sensors import get_sensor
from eokit.viz import map_classes

L8 = "scenes/landsat8_LC80200392015216"


def test_mask_cli_landsat8_qa_and_reflectance(mirror: Path, tmp_path: Path) -> None:
    scene = mirror / L8
    files = [str(scene / f"l8_B{i}.tif") for i in range(1, 8)]
    out = tmp_path / "l8_mask.tif"
    # the BQA file among the scene files is found by name; pre-collection rules from the MTL
    assert main(["mask", *files, str(scene / "l8_BQA.tif"), "--sensor", "landsat8", "-o", str(out)]) == 0
    assert is_cog(out)[0]
    qa = open_raster(scene / "l8_BQA.tif").read(dtype=None).array[0]
    with rasterio.open(out) as ds:
        mask = ds.read(1)
        ref = rasterio.open(scene / "l8_B4.tif")
        assert (ds.crs, ds.transform, ds.shape, ds.nodata) == (ref.crs, ref.transform, ref.shape, 255)
        assert ds.tags()["EOKIT_CLOUD_METHOD"] == "qa"
        assert map_classes(ds.tags()) == ["clear", "cloud"]  # the class tag as `eokit predict` writes it
        assert ds.tags()["EOKIT_QA_RULES"] == "landsat8_precollection_bqa_cloud"
    np.testing.assert_array_equal(mask == 1, qa_cloud_mask(qa))
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    # without the QA band, auto falls back to the reflectance test (JSON summary)
    res = CliRunner().invoke(cli, ["mask", *files, "--sensor", "landsat8", "-o", str(tmp_path / "r.tif"), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["method"] == "reflectance" and 0.04 < summary["cloud_fraction"] < 0.08
    with rasterio.open(tmp_path / "r.tif") as ds:
        refl = ds.read(1) == 1
    assert float(((mask == 1) == refl).mean()) > 0.95


@pytest.mark.slow
def test_mask_blocks_equal_one_whole_scene_read(mirror: Path, tmp_path: Path) -> None:
    """Block-wise s2cloudless (halo for the disk average + dilation) equals the whole-scene mask (OSCD, L1C)."""
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        if os.environ.get("EOKIT_REQUIRE_DATA") == "1":
            pytest.fail("lightgbm (eokit's 'cloud' extra) is missing; run `make cloud-deps`")
        pytest.skip("lightgbm (eokit's 'cloud' extra) is not installed")
    files = sorted((mirror / "change_detection/oscd_sentinel2/images/rennes/imgs_1").glob("*_B*.tif"))
    out = tmp_path / "oscd.tif"
    try:
        res = mask_scene(files, out, sensor="sentinel2_l1c", resampling="bilinear", block=32, average_over=2,
                         dilation_size=1)
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    assert res.method == "s2cloudless"
    stack = open_band_files(files, sensor="sentinel2_l1c", resampling="bilinear")
    chip = stack.read()
    img = get_sensor("sentinel2_l1c").to_reflectance(chip.array)
    whole = cloud_mask(img, chip.bands, "sentinel2_l1c", "s2cloudless", average_over=2, dilation_size=1)
    with rasterio.open(out) as ds:
        got = ds.read(1)
    assert got.shape == whole.shape == (res.height, res.width)
    np.testing.assert_array_equal(got == 1, whole)
    assert res.cloud_fraction == pytest.approx(float(whole.mean()))
    # --reference B04: the 10 m grid (the first band in the sensor's order, B01, is at 60 m)
    out10 = tmp_path / "oscd10.tif"
    assert main(["mask", *map(str, files), "--sensor", "sentinel2_l1c", "--resampling", "bilinear",
                 "--reference", "B04", "--method", "reflectance", "-o", str(out10)]) == 0
    with rasterio.open(out10) as ds, rasterio.open(next(f for f in files if f.name.endswith("_B04.tif"))) as b4:
        assert (ds.shape, ds.transform) == (b4.shape, b4.transform)


def test_mask_bad_input_names_the_fix(mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s2 = sorted((mirror / "scenes/sentinel2_18SVG_20160112").glob("s2_B*.tif"))
    out = tmp_path / "s2.tif"
    # the mirror's S2 scene lacks B02/B04/B08: neither s2cloudless nor the reflectance test can run
    with pytest.raises(BandError, match="s2cloudless"):
        mask_scene(s2, out, sensor="sentinel2_l1c", method="s2cloudless", resampling="bilinear")
    with pytest.raises(BandError, match="needs blue and red"):
        mask_scene(s2, out, sensor="sentinel2_l1c", method="reflectance", resampling="bilinear")
    with pytest.raises(ConfigError, match="no cloud method can judge"):
        mask_scene(s2, out, sensor="sentinel2_l1c", resampling="bilinear")
    l8 = mirror / L8
    with pytest.raises(ConfigError, match="--qa FILE"):
        mask_scene([l8 / "l8_B4.tif"], out, sensor="landsat8", method="qa")
    with pytest.raises(ConfigError, match="trained on Sentinel-2 L1C"):
        mask_scene([l8 / "l8_B4.tif"], out, sensor="landsat8", method="s2cloudless")
    assert not out.exists()
    assert main(["mask", str(l8 / "l8_B4.tif"), "--sensor", "landsat8", "--method", "qa", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "--qa FILE" in err


def test_qa_file_names_and_rules(tmp_path: Path) -> None:
    assert is_qa_file("l8_BQA.tif") and is_qa_file("LC08_X_QA_PIXEL.TIF") and is_qa_file("a_18_qmask.tif")
    assert not is_qa_file("l8_B4.tif") and not is_qa_file("aqua_B1.tif")
    assert guess_qa_rules(tmp_path / "x_QA_PIXEL.TIF") == "landsat_c2_qa_pixel_cloud"
    assert guess_qa_rules(tmp_path / "x_BQA.TIF") == "landsat8_precollection_bqa_cloud"
    (tmp_path / "x_MTL.txt").write_text('GROUP = L1_METADATA_FILE\n  COLLECTION_NUMBER = 01\n')
    assert guess_qa_rules(tmp_path / "x_BQA.TIF") == "landsat_c1_bqa_cloud"
