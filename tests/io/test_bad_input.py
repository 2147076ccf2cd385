"""Every bad input gets a typed error (EokitError + builtin) naming the file, the value and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from eokit.errors import (
    BandError,
    DTypeError,
    EokitError,
    MissingCRSError,
    RasterError,
    StacError,
    WindowError,
)
from eokit.io import GridSpec, open_raster, open_stac_item, write_cog


def test_not_a_raster(tmp_path: Path) -> None:
    p = tmp_path / "notes.tif"
    p.write_text("this is not a GeoTIFF")
    with pytest.raises(RasterError, match="notes.tif") as exc:
        open_raster(p)
    assert isinstance(exc.value, OSError) and isinstance(exc.value, EokitError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RasterError, match="does not exist"):
        open_raster(tmp_path / "nope.tif")


def test_truncated_file(tmp_path: Path, mirror: Path) -> None:
    src = mirror / "scenes/landsat8_LC80200392015216/l8_B8.tif"
    p = tmp_path / "truncated.tif"
    data = src.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(RasterError, match="truncated.tif"):
        open_raster(p).read()


def test_corrupt_pixels(tmp_path: Path, mirror: Path) -> None:
    p = tmp_path / "corrupt.tif"
    shutil.copy(mirror / "scenes/rasterio_landsat7_rgb/RGB.byte.tif", p)
    with rasterio.open(p) as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_0_5", "TIFF", bidx=1))
    raw = bytearray(p.read_bytes())
    raw[offset : offset + 64] = b"\xff" * 64  # garbage in a compressed (packbits/LZW) block
    # make the strip unreadable by pointing past the end of file instead, if the block is raw
    p.write_bytes(bytes(raw[: offset + 16]))
    with pytest.raises(RasterError, match="corrupt.tif"):
        open_raster(p).read()


def test_missing_crs(tmp_path: Path, mirror: Path) -> None:
    label = next((mirror / "change_detection/oscd_sentinel2/labels").glob("*/cm/*-cm.tif"))
    src = open_raster(label)
    assert src.crs is None
    src.read((0, 0, 8, 8))  # pixel windows still work
    with pytest.raises(MissingCRSError, match="no CRS") as exc:
        src.read(bounds=(0, 0, 1, 1), bounds_crs="EPSG:4326")
    assert isinstance(exc.value, ValueError) and str(label) in str(exc.value)


def test_band_not_present(mirror: Path) -> None:
    src = open_raster(mirror / "scenes/landsat8_LC80200392015216/l8_B4.tif", sensor="landsat8", band_names=["B4"])
    with pytest.raises(BandError, match=r"\['B5'\] not found in .*l8_B4.tif.*\['B4'\]") as exc:
        src.read(bands=["B5"])
    assert isinstance(exc.value, KeyError)


def test_window_outside_raster(mirror: Path) -> None:
    src = open_raster(mirror / "scenes/landsat8_LC80200392015216/l8_B4.tif")
    with pytest.raises(WindowError, match="outside .*l8_B4.tif.*boundless=True"):
        src.read((5000, 5000, 10, 10))
    with pytest.raises(WindowError, match="reaches outside"):
        src.read((620, 0, 16, 16))
    assert src.read((620, 0, 16, 16), boundless=True).valid[:, :7].all()


def test_unsupported_dtype(tmp_path: Path) -> None:
    p = tmp_path / "complex.tif"
    with rasterio.open(p, "w", driver="GTiff", width=4, height=4, count=1, dtype="complex64") as ds:
        ds.write(np.ones((1, 4, 4), "complex64"))
    src = open_raster(p)  # complex (SLC) opens, but a read must choose how to make it real
    with pytest.raises(DTypeError, match=r"complex\.tif.*complex64.*complex_mode=.*amplitude") as exc:
        src.read()
    assert isinstance(exc.value, TypeError)
    p64 = tmp_path / "int64.tif"
    with rasterio.open(p64, "w", driver="GTiff", width=4, height=4, count=1, dtype="int64") as ds:
        ds.write(np.ones((1, 4, 4), "int64"))
    with pytest.raises(DTypeError, match="int64.*gdal_translate"):
        open_raster(p64)
    grid = GridSpec.from_bounds("EPSG:4326", (0, 0, 1, 1), 0.25)
    with pytest.raises(DTypeError):
        write_cog(tmp_path / "out.tif", np.ones((4, 4), "complex64"), grid)
    assert not (tmp_path / "out.tif").exists()


def test_unreadable_stac_asset(tmp_path: Path) -> None:
    item = {
        "type": "Feature", "id": "broken", "stac_version": "1.0.0", "properties": {}, "links": [], "geometry": None,
        "assets": {"B04": {"href": str(tmp_path / "missing_B04.tif"), "type": "image/tiff", "roles": ["data"]}},
    }
    p = tmp_path / "item.json"
    p.write_text(json.dumps(item))
    with pytest.raises(StacError, match=r"asset 'B04' of STAC item 'broken'.*missing_B04.tif"):
        open_stac_item(p)
    p.write_text("{not json")
    with pytest.raises(StacError, match="not valid JSON"):
        open_stac_item(p)


def test_cli_prints_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from eokit.cli.main import main

    p = tmp_path / "bad.tif"
    p.write_text("x")
    assert main(["info", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open") and "bad.tif" in err


def test_stac_item_malformed(tmp_path: Path) -> None:
    p = tmp_path / "odd.json"
    p.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(StacError, match="odd.json.*not valid JSON"):
        open_stac_item(p)
    p.write_text("[1, 2]")
    with pytest.raises(StacError, match="odd.json.*not a STAC Item"):
        open_stac_item(p)
    p.write_text(json.dumps({"type": "Feature", "id": "x", "assets": {"B04": {"hraf": "b.tif"}}}))
    with pytest.raises(StacError, match=r"odd.json.*\['B04'\] have no 'href'"):
        open_stac_item(p)
    with pytest.raises(StacError, match="cannot read STAC item"):
        open_stac_item(tmp_path)
