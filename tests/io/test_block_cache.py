"""The shared decoded-block cache: values, sharing across DataLoader workers, LRU bound, staleness."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eokit.errors import ConfigError
from eokit.io import open_raster
from eokit.io.blockcache import BlockCache


def write_tiled(path: Path, seed: int = 0, *, bands: int = 3, height: int = 170, width: int = 200,
                block: int = 32, compress: str | None = "deflate", mtime: int | None = None) -> np.ndarray:
    """A small tiled GeoTIFF (partial edge blocks: 170x200 px in 32-px tiles) and its pixels."""
    arr = np.random.default_rng(seed).integers(1, 60000, (bands, height, width), dtype=np.uint16)
    profile = {"driver": "GTiff", "width": width, "height": height, "count": bands, "dtype": "uint16",
               "crs": "EPSG:32631", "transform": from_origin(500_000, 5_000_000, 10, 10), "tiled": True,
               "blockxsize": block, "blockysize": block}
    if compress:
        profile["compress"] = compress
    tmp = path.with_name(path.name + ".tmp")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(arr)
    os.replace(tmp, path)
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return arr


@pytest.fixture()
def tiled(tmp_path: Path) -> tuple[Path, np.ndarray]:
    p = tmp_path / "tiled.tif"
    return p, write_tiled(p)


def test_block_cache_values_match_direct_reads(tiled: tuple[Path, np.ndarray]) -> None:
    path, arr = tiled
    src = open_raster(path)
    rng = np.random.default_rng(1)
    with BlockCache(8 << 20, 32 * 32 * 2) as cache:
        for _ in range(40):
            w, h = rng.integers(1, 90, 2)
            col, row = rng.integers(0, 200 - w + 1), rng.integers(0, 170 - h + 1)
            for dtype in ("float32", None):
                got = src.read((col, row, w, h), cache=cache, dtype=dtype).array
                want = arr[:, row:row + h, col:col + w]
                assert got.dtype == (np.float32 if dtype else np.uint16)
                np.testing.assert_array_equal(got, want.astype(got.dtype))
            sub = src.read((col, row, w, h), cache=cache, bands=["3", "1"]).array
            np.testing.assert_array_equal(sub, want[[2, 0]].astype(np.float32))
        assert cache.hits > 0 and cache.misses > 0
        st = cache.stats()
        assert st["hits"] == cache.hits and st["misses"] == cache.misses
        # every band block of the file at most once: 6 x 7 blocks x 3 bands
        assert st["used_slots"] <= 6 * 7 * 3


def test_block_cache_lru_eviction_keeps_bound(tiled: tuple[Path, np.ndarray]) -> None:
    path, arr = tiled
    src = open_raster(path)
    slot = 32 * 32 * 2
    cache = BlockCache(4096 + 64 + 3 * (4096 + 32), slot)  # room for exactly 3 one-band blocks
    assert cache.n_slots == 3

    def block(bc: int) -> np.ndarray:  # the first band of block (0, bc)
        return src.read((bc * 32, 0, 32, 32), cache=cache, bands=["1"], dtype=None).array[0]

    for bc in (0, 1, 2):
        block(bc)
    assert (cache.hits, cache.misses) == (0, 3)
    block(0)  # a hit: block 0 is now the most recently used
    assert cache.hits == 1
    block(3)  # evicts the least recently used: block 1
    np.testing.assert_array_equal(block(0), arr[0, :32, :32])
    assert cache.hits == 2
    misses = cache.misses
    np.testing.assert_array_equal(block(1), arr[0, :32, 32:64])
    assert cache.misses == misses + 1
    for _ in range(30):  # many more blocks than slots: the bound holds
        c = int(np.random.default_rng(_).integers(0, 140))
        np.testing.assert_array_equal(src.read((c, 40, 60, 50), cache=cache, dtype=None).array,
                                      arr[:, 40:90, c:c + 60])
    assert len(cache) <= 3
    assert cache.used_bytes() <= 3 * slot
    assert os.path.getsize(cache.path) <= 4096 + 64 + 3 * (4096 + 32)
    cache.close()


def test_block_cache_does_not_serve_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "scene.tif"
    old = write_tiled(path, seed=0, mtime=1_600_000_000_000_000_000)
    src = open_raster(path)
    with BlockCache(8 << 20, 32 * 32 * 2) as cache:
        np.testing.assert_array_equal(src.read((10, 20, 50, 40), cache=cache, dtype=None).array,
                                      old[:, 20:60, 10:60])
        new = write_tiled(path, seed=1, mtime=1_700_000_000_000_000_000)  # same size, new content
        assert not np.array_equal(new, old)
        np.testing.assert_array_equal(src.read((10, 20, 50, 40), cache=cache, dtype=None).array,
                                      new[:, 20:60, 10:60])


def test_block_cache_pickles_to_the_same_slab_and_is_removed_on_close(tiled: tuple[Path, np.ndarray]) -> None:
    path, arr = tiled
    src = open_raster(path)
    cache = BlockCache(8 << 20, 32 * 32 * 2)
    src.read((0, 0, 64, 64), cache=cache)
    other = pickle.loads(pickle.dumps(cache))  # what a spawn-started worker gets
    assert len(other) == len(cache) == 2 * 2 * 3
    np.testing.assert_array_equal(src.read((5, 5, 40, 40), cache=other, dtype=None).array, arr[:, 5:45, 5:45])
    assert other.misses == 0 and other.stats()["hits"] == 2 * 2 * 3
    other.close()
    assert os.path.exists(cache.path)  # only the creating process removes the slab
    cache.close()
    assert not os.path.exists(cache.path)
    with pytest.raises(ConfigError, match="is gone"):
        pickle.loads(pickle.dumps(cache))


def test_block_cache_rejects_a_bound_without_room(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="raise max_bytes"):
        BlockCache(1000, 512 * 512 * 2, folder=str(tmp_path))


def test_block_cache_sweeps_slabs_of_dead_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    left = tmp_path / f"eokit-blocks-{dead.stdout.strip()}-abc"
    left.write_bytes(b"x")
    alive = tmp_path / f"eokit-blocks-{os.getpid()}-def"
    alive.write_bytes(b"x")
    with BlockCache(1 << 20, 4096, folder=str(tmp_path)) as cache:
        assert not left.exists()  # its process is gone
        assert alive.exists() and Path(cache.path).exists()
    assert not Path(cache.path).exists()


def test_block_cache_serves_band_files_of_a_stack(tmp_path: Path) -> None:
    from eokit.io import open_band_files

    files, arrays = [], []
    for i, name in enumerate(("B02", "B03", "B04")):
        p = tmp_path / f"T31_{name}.tif"
        arrays.append(write_tiled(p, seed=10 + i, bands=1)[0])
        files.append(p)
    stack = open_band_files(files)
    with BlockCache(8 << 20, 32 * 32 * 2) as cache:
        for window in ((0, 0, 64, 64), (30, 100, 70, 50), (5, 7, 40, 33)):
            got = stack.read(window, cache=cache, bands=["B04", "B02"]).array
            c, r, w, h = window
            np.testing.assert_array_equal(got, np.stack([arrays[2], arrays[0]])[:, r:r + h, c:c + w])
        assert cache.hits > 0 and len(cache) > 0


def test_block_cache_thrashing_reads_directly(tiled: tuple[Path, np.ndarray]) -> None:
    """A full cache that hits < 15 % of lookups stops storing; reads stay exact."""
    path, arr = tiled
    src = open_raster(path)
    rng = np.random.default_rng(7)
    with BlockCache(4096 + 64 + 4 * (4096 + 32), 32 * 32 * 2) as cache:
        for _ in range(300):
            c, r = int(rng.integers(0, 150)), int(rng.integers(0, 120))
            np.testing.assert_array_equal(src.read((c, r, 50, 50), cache=cache, dtype=None).array,
                                          arr[:, r:r + 50, c:c + 50])
        st = cache.stats()
        assert cache.bypasses >= 1 and st["direct_reads"] > 0
        assert st["hits"] < 0.15 * (st["hits"] + st["misses"])
        assert st["used_slots"] <= 4


def test_block_cache_full_shared_memory_stores_nothing(tiled: tuple[Path, np.ndarray],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """When the folder has no room for a slot's pages the block stays out (no SIGBUS later)."""
    path, arr = tiled

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    src = open_raster(path)
    with BlockCache(8 << 20, 32 * 32 * 2) as cache:
        for _ in range(2):
            np.testing.assert_array_equal(src.read((20, 30, 70, 60), cache=cache, dtype=None).array,
                                          arr[:, 30:90, 20:90])
        assert len(cache) == 0 and cache.hits == 0


def test_block_cache_band_asked_twice_is_stored_once(tiled: tuple[Path, np.ndarray]) -> None:
    path, arr = tiled
    src = open_raster(path)
    with BlockCache(8 << 20, 32 * 32 * 2) as cache:
        got = src.read((0, 0, 32, 32), cache=cache, bands=["2", "2"], dtype=None).array
        np.testing.assert_array_equal(got, arr[[1, 1], :32, :32])
        assert len(cache) == 1
