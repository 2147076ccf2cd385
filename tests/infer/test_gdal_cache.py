"""The GDAL block cache of scene streaming: sized from the scene's blocks, or as asked."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eokit.errors import ConfigError
from eokit.infer import RunOptions
from eokit.infer.plan import AUTO_GDAL_CACHE_MAX_MB, DEFAULT_GDAL_CACHE_MB, gdal_cache_mb
from eokit.io import block_row_bytes, open_raster


def _tif(path, width: int, bands: int, block: int, dtype: str = "uint16") -> str:
    prof = dict(driver="GTiff", width=width, height=block * 2, count=bands, dtype=dtype, crs="EPSG:32632",
                transform=from_origin(0, 0, 10, 10), tiled=True, blockxsize=block, blockysize=block,
                compress="deflate")
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(np.zeros((bands, block * 2, width), dtype))
    return str(path)


def _fake(width: int, count: int, block_rows: int, dtype: str = "uint16") -> SimpleNamespace:
    ds = SimpleNamespace(block_shapes=[(block_rows, 512)], width=width, count=count, dtypes=[dtype])
    return SimpleNamespace(dataset=ds)


def test_block_row_bytes_of_a_file_and_of_band_files(tmp_path) -> None:
    one = open_raster(_tif(tmp_path / "a.tif", 1024, 3, 256))
    assert block_row_bytes(one) == 256 * 1024 * 3 * 2
    stack = SimpleNamespace(sources=[one, open_raster(_tif(tmp_path / "b.tif", 512, 1, 256, "float32"))])
    assert block_row_bytes(stack) == 256 * 1024 * 3 * 2 + 256 * 512 * 4
    assert block_row_bytes(SimpleNamespace(collection=SimpleNamespace(sources=[one, one]))) == 2 * 256 * 1024 * 6
    assert block_row_bytes(object()) == 0  # unknown: no dataset


def test_auto_cache_holds_two_block_rows_when_they_fit() -> None:
    # the benchmark's scene: 13 bands uint16, 4096 wide, 512-row blocks: 2 x 52 MiB + 16
    assert gdal_cache_mb(_fake(4096, 13, 512)) == 2 * 52 + 16
    assert gdal_cache_mb(_fake(256, 1, 256)) == DEFAULT_GDAL_CACHE_MB  # small scenes keep the default
    big = _fake(16384, 13, 512)  # two rows (416 MiB) do not fit: a smaller cache would only cost memory
    assert 2 * block_row_bytes(big) / 2**20 > AUTO_GDAL_CACHE_MAX_MB
    assert gdal_cache_mb(big) == DEFAULT_GDAL_CACHE_MB
    assert gdal_cache_mb(big, 300) == 300  # asked for: kept


def test_gdal_cache_option_is_checked() -> None:
    assert RunOptions().gdal_cache_mb is None
    assert RunOptions(gdal_cache_mb=128).gdal_cache_mb == 128
    with pytest.raises(ConfigError, match="gdal_cache_mb 0 must be a whole number of MiB"):
        RunOptions(gdal_cache_mb=0)
