"""Spatial block vs random CV on embeddings joined to places (synthetic, seeded)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from eokit.embed.downstream import (
    block_folds,
    cross_validate,
    evaluate_downstream,
    join_places,
    spatial_blocks,
)
from eokit.errors import ConfigError, PlacesOutsideError


def _grid(n: int = 24, size: float = 0.1, dim: int = 64, seed: int = 0):
    """Chips on an n x n grid of ``size`` degrees; vectors = random Fourier features of the centre."""
    rng = np.random.default_rng(seed)
    cx, cy = np.meshgrid((np.arange(n) + 0.5) * size, (np.arange(n) + 0.5) * size)
    cx, cy = cx.ravel(), cy.ravel()
    chips = gpd.GeoDataFrame({"chip_id": [f"c{i}" for i in range(n * n)]},
                             geometry=[box(x - size / 2, y - size / 2, x + size / 2, y + size / 2)
                                       for x, y in zip(cx, cy, strict=True)], crs="EPSG:4326")
    W = rng.normal(scale=4.0, size=(2, dim))
    b = rng.uniform(0, 2 * np.pi, dim)
    vec = np.cos(np.column_stack([cx, cy]) @ W + b).astype(np.float32)
    return chips, vec, cx, cy


def test_join_points_and_polygons_mean_vector():
    chips, vec, _, _ = _grid(n=4, size=1.0, dim=3)
    places = gpd.GeoDataFrame({"y": [1.0, 2.0]},
                              geometry=[Point(0.5, 0.5), box(0.2, 0.2, 1.8, 0.8)], crs="EPSG:4326")
    X, ll = join_places(places, chips, vec)
    np.testing.assert_allclose(X[0], vec[0], rtol=1e-6)
    np.testing.assert_allclose(X[1], (vec[0] + vec[1]) / 2, rtol=1e-6)
    assert ll.shape == (2, 2)
    # places in another CRS are reprojected before the join
    X3, _ = join_places(places.iloc[:1].to_crs("EPSG:3857"), chips, vec)
    np.testing.assert_allclose(X3[0], vec[0], rtol=1e-5)


def test_places_outside_every_chip_raise_naming_them():
    chips, vec, _, _ = _grid(n=2, size=1.0, dim=3)
    places = gpd.GeoDataFrame({"y": [1.0, 2.0, 3.0]}, index=["in", "far1", "far2"],
                              geometry=[Point(0.5, 0.5), Point(50, 50), Point(-10, 3)],
                              crs="EPSG:4326")
    with pytest.raises(PlacesOutsideError, match=r"2 of 3 places.*far1, far2"):
        join_places(places, chips, vec, where="towns.gpkg")


def test_no_block_in_two_folds():
    rng = np.random.default_rng(1)
    ll = rng.uniform([5, 45], [8, 47], size=(500, 2))
    for blocks in (spatial_blocks(ll, block_size=50_000, units="m"),
                   spatial_blocks(ll, block_size=0.5, units="deg"),
                   spatial_blocks(ll, n_clusters=12)):
        folds = block_folds(blocks, 5, seed=3)
        for b in np.unique(blocks):
            assert len(np.unique(folds[blocks == b])) == 1
        assert len(np.unique(folds)) == 5
    # 50 km cells on ~230 x 220 km: a handful of blocks, not one per point
    assert 10 <= len(np.unique(spatial_blocks(ll, block_size=50_000))) <= 40
    with pytest.raises(ConfigError, match="spatial blocks for 5 folds"):
        block_folds(np.array([0, 0, 1, 1]), 5)


def test_spatial_cv_r2_below_random_cv_on_autocorrelated_target():
    chips, vec, cx, cy = _grid()
    rng = np.random.default_rng(2)
    # a smooth spatial field that the location-like embeddings can interpolate but not extrapolate
    y = np.sin(3 * cx) + np.cos(4 * cy) + np.sin(5 * cx * cy) + rng.normal(scale=0.1, size=len(cx))
    places = gpd.GeoDataFrame({"target": y}, geometry=[Point(x, yy) for x, yy in zip(cx, cy, strict=True)],
                              crs="EPSG:4326")
    (rep,) = evaluate_downstream(places, chips, "target", vectors=vec, models=("ridge",),
                                 block_size=0.6, units="deg", k=4, repeats=2, seed=0)
    assert rep.random.r2 > 0.7
    assert rep.spatial.r2 < rep.random.r2 - 0.2
    assert rep.gap_ci[0] > 0  # the leak is significant
    assert rep.spatial.ci[0] <= rep.spatial.r2 <= rep.spatial.ci[1]
    assert rep.n_blocks == 16


def test_cross_validate_rejects_bad_target():
    X = np.zeros((20, 2))
    y = np.ones(20)
    y[3] = np.nan
    with pytest.raises(ConfigError, match="1 missing"):
        cross_validate(X, y, np.arange(20) % 5, k=2)


def test_store_round_trip_feeds_the_join(tmp_path):
    from eokit.embed.store import read_embeddings, write_embeddings

    chips, vec, _, _ = _grid(n=3, size=1.0, dim=4)
    chips["scene_id"] = "s1"
    path = write_embeddings(tmp_path / "emb.parquet", (chips, vec), {"model": "m", "dim": 4})
    places = gpd.GeoDataFrame({"y": [0.0]}, geometry=[Point(1.5, 2.5)], crs="EPSG:4326")
    for src in (read_embeddings(path), path):
        X, ll = join_places(places, src)
        np.testing.assert_allclose(X[0], vec[7], rtol=1e-6)
        np.testing.assert_allclose(ll[0], [1.5, 2.5])
