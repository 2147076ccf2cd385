"""Window samplers: reproducibility, DDP partitions, grid edge coverage, tile alignment, vector centring."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from eokit.data import (
    GridWindowSampler,
    RandomWindowSampler,
    SceneCollection,
    VectorWindowSampler,
    grid_offsets,
)
from eokit.errors import ConfigError, NoOverlapError, WindowError


def test_random_reproducible_per_epoch(mixed_coll: SceneCollection) -> None:
    a = RandomWindowSampler(mixed_coll, 32, 50, seed=7)
    b = RandomWindowSampler(mixed_coll, 32, 50, seed=7)
    assert list(a) == list(b) and len(list(a)) == len(a) == 50
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first  # a new epoch, a new draw
    b.set_epoch(1)
    assert list(a) == list(b)  # ... reproducible across processes/ranks
    a.set_epoch(0)
    assert list(a) == first
    assert list(RandomWindowSampler(mixed_coll, 32, 50, seed=8)) != first
    for w in first:  # every window lies inside its scene, on the scene's own pixel grid
        g = mixed_coll[w.scene].grid
        assert 0 <= w.col <= g.width - 32 and 0 <= w.row <= g.height - 32 and (w.width, w.height) == (32, 32)
    assert {w.scene for w in first} == {0, 1, 2}
    assert pickle.loads(pickle.dumps(first[0])) == first[0]  # lightweight descriptors


@pytest.mark.parametrize("length", [60, 61])
def test_ddp_rank_partitions_disjoint_and_covering(mixed_coll: SceneCollection, length: int) -> None:
    full = RandomWindowSampler(mixed_coll, 16, length, seed=3, rank=0, world_size=1)
    full.set_epoch(2)
    ranks = [RandomWindowSampler(mixed_coll, 16, length, seed=3, rank=r, world_size=3) for r in range(3)]
    for s in ranks:
        s.set_epoch(2)
    parts = [list(s) for s in ranks]
    assert len({len(p) for p in parts}) == 1 and all(len(p) == len(s) for p, s in zip(parts, ranks, strict=True))
    # interleaving the rank slices gives back the single-process epoch (padded by wrap-around)
    merged = [parts[i % 3][i // 3] for i in range(3 * len(parts[0]))]
    fw = list(full)
    assert merged[:length] == fw and merged[length:] == fw[: len(merged) - length]
    # positions are partitioned: each of the epoch's windows goes to exactly one rank
    assert sum(len(p) for p in parts) - length == len(merged) - length < 3
    with pytest.raises(ConfigError, match="rank 3 is not in range"):
        RandomWindowSampler(mixed_coll, 16, 10, rank=3, world_size=3)


def test_grid_covers_edges(mixed_coll: SceneCollection) -> None:
    assert grid_offsets(96, 32, 24) == [0, 24, 48, 64]
    assert grid_offsets(627, 256, 256) == [0, 256, 371]
    assert grid_offsets(20, 32, 16) == [0]
    sampler = GridWindowSampler(mixed_coll, 32, stride=24)
    windows = list(sampler)
    for i, scene in enumerate(mixed_coll):
        cover = np.zeros(scene.grid.shape, dtype=int)
        for w in (w for w in windows if w.scene == i):
            assert w.col + w.width <= scene.grid.width and w.row + w.height <= scene.grid.height
            cover[w.row : w.row + w.height, w.col : w.col + w.width] += 1
        assert cover.min() >= 1  # right and bottom edges included
    assert len(windows) == 3 * 16
    two = [list(GridWindowSampler(mixed_coll, 32, stride=24, rank=r, world_size=2)) for r in range(2)]
    assert sorted(two[0] + two[1]) == sorted(windows)
    shuffled = GridWindowSampler(mixed_coll, 32, stride=24, shuffle=True, seed=1)
    assert sorted(shuffled) == sorted(windows) and list(shuffled) != windows


def test_grid_on_real_landsat(mirror: Path) -> None:
    coll = SceneCollection.from_paths([mirror / "scenes" / "landsat8_LC80200392015216" / "l8_B4.tif"])
    windows = list(GridWindowSampler(coll, 256))
    assert sorted({w.col for w in windows}) == [0, 256, 371] and sorted({w.row for w in windows}) == [0, 256, 347]


def test_tile_aligned_windows_stay_in_one_block(mixed_coll: SceneCollection) -> None:
    sampler = RandomWindowSampler(mixed_coll, 16, 200, seed=0, align="tile")
    for w in sampler:
        bh, bw = mixed_coll[w.scene].block_shape
        assert (bh, bw) == (32, 32)
        assert w.col // bw == (w.col + w.width - 1) // bw and w.row // bh == (w.row + w.height - 1) // bh
    with pytest.raises(WindowError, match="no scene is large enough"):
        RandomWindowSampler(mixed_coll, 500, 10)


def test_vector_centred_windows(mixed: dict, mixed_coll: SceneCollection) -> None:
    sampler = VectorWindowSampler(mixed_coll, mixed["points"], 16, keep_inside=False)
    windows = list(sampler)
    # centre_a -> A only; overlap -> A and B; far -> dropped
    assert sorted(w.scene for w in windows) == [0, 0, 1]
    to32 = Transformer.from_crs(32631, 32632, always_xy=True)
    for w in windows:
        scene = mixed_coll[w.scene]
        x, y = mixed["overlap"] if w.scene == 1 or (w.col, w.row) != (40, 40) else mixed["a_centre"]
        if scene.crs.to_epsg() == 32632:
            x, y = to32.transform(x, y)
        col, row = ~scene.grid.transform * (x, y)
        assert (w.col + 8, w.row + 8) == (int(np.floor(col)), int(np.floor(row)))
    assert [w.scene for w in VectorWindowSampler(mixed_coll, mixed["points"], 16, scenes="first")] == [0, 0]
    import geopandas as gpd

    far = gpd.read_file(mixed["points"]).iloc[[2]]
    with pytest.raises(NoOverlapError, match="none of the 1 features"):
        VectorWindowSampler(mixed_coll, far, 16)
    # polygons: centred on each polygon's representative point, shifted inside the scene
    polys = list(VectorWindowSampler(mixed_coll.subset([0]), mixed["polygons"], 64))
    assert all(0 <= w.col <= 32 and 0 <= w.row <= 32 for w in polys) and len(polys) == 2
