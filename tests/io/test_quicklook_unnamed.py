"""`eokit quicklook` on files whose bands have no names: first three as RGB (or grey), with a note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from PIL import Image
from rasterio.transform import from_origin

from eokit.cli.main import cli


def make_unnamed(path: Path, count: int) -> np.ndarray:
    """A uint16 raster with ``count`` bands and no band descriptions; band k is a ramp scaled by k."""
    ramp = np.add.outer(np.arange(16), np.arange(20)).astype("uint16")
    data = np.stack([ramp * (k + 1) for k in range(count)])
    data[-1, :8] = 0  # the last band differs in its top half, so grey/RGB choices show
    with rasterio.open(path, "w", driver="GTiff", width=20, height=16, count=count, dtype="uint16",
                       crs="EPSG:32631", transform=from_origin(0, 160, 10, 10)) as ds:
        ds.write(data)
    return data


@pytest.mark.parametrize("count", [3, 4])
def test_unnamed_bands_show_first_three(tmp_path: Path, count: int) -> None:
    p = tmp_path / f"b{count}.tif"
    make_unnamed(p, count)
    out = tmp_path / "x.png"
    res = CliRunner().invoke(cli, ["quicklook", str(p), "--no-legend", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "showing the first three" in res.stderr and "--bands" in res.stderr
    assert ("of 4" in res.stderr) == (count == 4)
    img = np.asarray(Image.open(out))
    assert img.shape == (16, 20, 3)
    if count == 4:  # band 4 (zeroed top) is not shown: all three channels keep the ramp on top
        assert (img[:8].reshape(-1, 3).max(axis=0) > 0).all()
    else:  # band 3 is blue: its zeroed top half is black in blue only
        assert img[:8, :, 2].max() == 0 and img[:8, :, 0].max() > 0


def test_single_band_is_grey(tmp_path: Path) -> None:
    p = tmp_path / "b1.tif"
    make_unnamed(p, 1)
    out = tmp_path / "g.png"
    res = CliRunner().invoke(cli, ["quicklook", str(p), "--no-legend", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "grey" in res.stderr and "--bands" in res.stderr
    img = np.asarray(Image.open(out)).astype(int)
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all() and img.max() > 0


def test_explicit_bands_still_strict(tmp_path: Path) -> None:
    p = tmp_path / "b3.tif"
    make_unnamed(p, 3)
    res = CliRunner().invoke(cli, ["quicklook", str(p), "--bands", "3,2,1", "-o", str(tmp_path / "o.png")])
    assert res.exit_code == 0 and "note" not in res.stderr
    res = CliRunner().invoke(cli, ["quicklook", str(p), "--bands", "red,green,blue", "-o", str(tmp_path / "e.png")])
    assert res.exit_code != 0 and "red" in str(res.exception)


def test_colour_interpretation_orders_rgb(mirror: Path, tmp_path: Path) -> None:
    """rasterio's RGBA.uint16.tif marks band 1 blue and band 3 red: the quicklook follows the file."""
    from eokit.viz import stretch

    p = mirror / "scenes/rasterio_landsat7_rgb/RGBA.uint16.tif"
    out = tmp_path / "rgba.png"
    res = CliRunner().invoke(cli, ["quicklook", str(p), "--no-legend", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "showing 3, 2, 1 as R,G,B from the file's colour interpretation" in res.stderr
    with rasterio.open(p) as ds:
        data = ds.read([3, 2, 1]).astype("float32")
    img = np.asarray(Image.open(out)).transpose(2, 0, 1)
    np.testing.assert_array_equal(img, stretch(data, np.ones(data.shape[1:], bool)))
