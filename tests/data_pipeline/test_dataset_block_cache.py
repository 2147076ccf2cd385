"""SceneDataset with the shared block cache: identical values with 2 DataLoader workers, the 'auto' rule."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from torch.utils.data import DataLoader

from eokit.data import RandomWindowSampler, SceneCollection, SceneDataset, collate_samples
from eokit.data.samplers import windows_of
from eokit.errors import ConfigError
from eokit.io.blockcache import BlockCache


def _scene(path: Path, seed: int, compress: str | None = "deflate") -> None:
    """3-band uint16 170x200 px, 32-px tiles (partial edge tiles), nodata 0 in one corner."""
    arr = np.random.default_rng(seed).integers(1, 60000, (3, 170, 200), dtype=np.uint16)
    arr[:, :5, :5] = 0
    profile = {"driver": "GTiff", "width": 200, "height": 170, "count": 3, "dtype": "uint16", "nodata": 0,
               "crs": "EPSG:32631", "transform": from_origin(500_000 + 3000 * seed, 5_000_000, 10, 10),
               "tiled": True, "blockxsize": 32, "blockysize": 32}
    if compress:
        profile["compress"] = compress
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)


@pytest.fixture(scope="module")
def tiled_coll(tmp_path_factory: pytest.TempPathFactory) -> SceneCollection:
    root = tmp_path_factory.mktemp("tiled")
    paths = [root / f"S2_2023060{i + 1}_t{i}.tif" for i in range(2)]
    for i, p in enumerate(paths):
        _scene(p, i)
    return SceneCollection.from_paths([str(p) for p in paths], pattern=r"S2_(?P<date>\d{8})_")


def _touches(coll: SceneCollection, windows: list) -> int:
    """Band blocks the windows touch (32-px tiles, 3 bands)."""
    return sum(((w.row + w.height - 1) // 32 - w.row // 32 + 1) * ((w.col + w.width - 1) // 32 - w.col // 32 + 1)
               * 3 for w in windows)


def test_block_cache_two_workers_identical_and_shared(tiled_coll: SceneCollection) -> None:
    cached = SceneDataset(tiled_coll, block_cache=True)
    plain = SceneDataset(tiled_coll, block_cache=False)
    assert isinstance(cached.block_cache, BlockCache) and plain.block_cache is None
    sampler = RandomWindowSampler(tiled_coll, 48, 24, seed=0)
    windows = windows_of(sampler)
    loader = DataLoader(cached, sampler=sampler, batch_size=4, num_workers=2, collate_fn=collate_samples)
    got = list(loader)
    for k, batch in enumerate(got):
        want = [plain[w] for w in windows[4 * k:4 * k + 4]]
        torch.testing.assert_close(batch["image"], torch.stack([s["image"] for s in want]), rtol=0, atol=0)
        assert torch.equal(batch["valid"], torch.stack([s["valid"] for s in want]))
        assert batch["id"] == [s["id"] for s in want]
    st = cached.block_cache.stats()
    assert st["hits"] + st["misses"] == _touches(tiled_coll, windows)  # the workers' reads, counted in one place
    assert st["hits"] > 0

    # the blocks the workers decoded serve this process: reading every window again decodes nothing
    misses = st["misses"]
    for k, w in enumerate(windows):
        assert torch.equal(cached[w]["image"], got[k // 4]["image"][k % 4])
    assert cached.block_cache.stats()["misses"] == misses
    assert cached.block_cache.misses == 0


def test_block_cache_auto_rule(tiled_coll: SceneCollection, tmp_path: Path) -> None:
    assert isinstance(SceneDataset(tiled_coll).block_cache, BlockCache)  # compressed tiles: on
    raw = tmp_path / "S2_20230601_raw.tif"
    _scene(raw, 0, compress=None)
    plain_coll = SceneCollection.from_paths([str(raw)], pattern=r"S2_(?P<date>\d{8})_")
    assert SceneDataset(plain_coll).block_cache is None  # uncompressed: a read is a copy already
    assert isinstance(SceneDataset(plain_coll, block_cache=True).block_cache, BlockCache)
    bounded = SceneDataset(tiled_coll, block_cache=64 * 2**10)
    assert bounded.block_cache is not None and bounded.block_cache.nbytes <= 64 * 2**10
    with pytest.raises(ConfigError, match="block_cache must be"):
        SceneDataset(tiled_coll, block_cache="always")


def test_block_cache_bound_fits_the_collection(tiled_coll: SceneCollection) -> None:
    cache = SceneDataset(tiled_coll).block_cache
    assert cache is not None
    # 2 scenes x 6 x 7 tiles x 3 bands, each in a slot of a 32x32 uint16 block (rounded to a page)
    assert cache.n_slots >= 2 * 6 * 7 * 3
    assert cache.nbytes < 2 * 6 * 7 * 3 * (4096 + 32) + 2**20 + 8192
    assert os.path.exists(cache.path)


def test_block_cache_two_workers_evicting_stay_exact(tiled_coll: SceneCollection) -> None:
    """A cache far smaller than the windows' blocks: workers evict each other's blocks all the time."""
    small = SceneDataset(tiled_coll, block_cache=8192 + 12 * (4096 + 32))
    plain = SceneDataset(tiled_coll, block_cache=False)
    assert small.block_cache is not None and small.block_cache.n_slots == 12
    sampler = RandomWindowSampler(tiled_coll, 40, 32, seed=3)
    windows = windows_of(sampler)
    loader = DataLoader(small, sampler=sampler, batch_size=4, num_workers=2, collate_fn=collate_samples)
    for k, batch in enumerate(loader):
        want = torch.stack([plain[w]["image"] for w in windows[4 * k:4 * k + 4]])
        assert torch.equal(batch["image"], want)
    st = small.block_cache.stats()
    assert st["used_slots"] <= 12 and st["used_bytes"] <= 12 * 32 * 32 * 2
    assert st["hits"] + st["misses"] == _touches(tiled_coll, windows)
