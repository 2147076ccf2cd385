"""gdal_env: scoped GDAL options; GDAL_CACHEMAX in GDAL's own units (rasterio.Env alone takes bytes)."""

from __future__ import annotations

import pytest
from rasterio._env import get_gdal_config

from eokit.env import cache_bytes, gdal_env
from eokit.errors import ConfigError


@pytest.mark.parametrize(("value", "expected"), [
    (64, 64 * 2**20), ("512MB", 512 * 2**20), ("2GB", 2 * 2**30), (200_000_000, 200_000_000), ("64", 64 * 2**20),
])
def test_cache_sizes_read_like_gdal(value: object, expected: int) -> None:
    assert cache_bytes(value) == expected


def test_percent_of_physical_memory() -> None:
    assert 0 < cache_bytes("5%") < cache_bytes("10%")


def test_gdal_env_sets_megabytes_not_bytes_and_restores() -> None:
    before = get_gdal_config("GDAL_CACHEMAX")
    with gdal_env(GDAL_CACHEMAX=64):
        assert get_gdal_config("GDAL_CACHEMAX") == 64 * 2**20  # rasterio.Env(GDAL_CACHEMAX=64) would give 64 bytes
    assert get_gdal_config("GDAL_CACHEMAX") == before


@pytest.mark.parametrize("bad", ["lots", -5, "0"])
def test_bad_cache_size_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="GDAL_CACHEMAX"):
        cache_bytes(bad)
