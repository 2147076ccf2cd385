"""Doubly robust effects with embeddings as confounders (small seeded simulations)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from eokit.embed.causal import estimate_effects, overlap_diagnostics
from eokit.errors import MissingDependencyError, OverlapError


@pytest.fixture
def doubleml():
    return pytest.importorskip("doubleml")


def _units(n: int = 600, tau: float = 2.0, seed: int = 0, separate: bool = False):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 6))
    score = 1.2 * emb[:, 0] - 0.8 * emb[:, 1]
    d = (score > 0) if separate else rng.random(n) < 1 / (1 + np.exp(-score))
    region = (emb[:, 2] > 0).astype(int)
    y = tau * d + 0.5 * tau * d * region + 2.0 * emb[:, 0] + emb[:, 1] + rng.normal(size=n)
    return pd.DataFrame({"treatment": d.astype(int), "outcome": y, "region": region}), emb


def test_effect_recovered_within_ci_and_naive_is_biased(doubleml):
    units, emb = _units()
    res = estimate_effects(units, embeddings=emb, by="region", seed=0)
    true_ate = 2.0 + 0.5 * 2.0 * units["region"].mean()
    assert res.ci[0] <= true_ate <= res.ci[1]
    assert res.ci[1] - res.ci[0] < 1.2
    naive = units.outcome[units.treatment == 1].mean() - units.outcome[units.treatment == 0].mean()
    assert abs(naive - true_ate) > 3 * abs(res.ate - true_ate)  # confounding through the images
    g = {r["group"]: r for r in res.gates}
    assert g["region=0"]["ci"][0] <= 2.0 <= g["region=0"]["ci"][1]
    assert g["region=1"]["ci"][0] <= 3.0 <= g["region=1"]["ci"][1]
    assert 0 < res.sensitivity["rv"] < 1 and res.sensitivity["theta_lower"] < res.ate
    assert res.overlap.share_in_support > 0.9 and res.n_treated == int(units.treatment.sum())


def test_no_overlap_stops_the_estimate(doubleml):
    units, emb = _units(separate=True)
    with pytest.raises(OverlapError, match="no overlap between treated and control"):
        estimate_effects(units, embeddings=emb, where="plots.parquet")
    with pytest.raises(OverlapError, match="propensity ranges do not meet"):
        overlap_diagnostics(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]))


def test_missing_doubleml_names_the_extra(monkeypatch):
    units, emb = _units(n=100)
    monkeypatch.setitem(sys.modules, "doubleml", None)
    with pytest.raises(MissingDependencyError, match=r"eokit\[causal\]"):
        estimate_effects(units, embeddings=emb)


def test_confounders_from_a_store_by_chip_id(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from eokit.embed.causal import confounders_for
    from eokit.embed.store import read_embeddings, write_embeddings
    from eokit.errors import ConfigError

    units, emb = _units(n=40)
    chips = gpd.GeoDataFrame({"chip_id": [f"c{i}" for i in range(40)], "scene_id": "s"},
                             geometry=[box(i, 0, i + 1, 1) for i in range(40)], crs="EPSG:4326")
    store = read_embeddings(write_embeddings(tmp_path / "e.parquet", (chips, emb), {"dim": 6}))
    units["chip"] = [f"c{i}" for i in range(39, -1, -1)]  # reversed order
    X = confounders_for(units, store=store, chip_column="chip", covariates=["region"])
    np.testing.assert_allclose(X[:, :6], emb[::-1], rtol=1e-6)
    np.testing.assert_array_equal(X[:, 6], units["region"])
    units.loc[0, "chip"] = "nope"
    with pytest.raises(ConfigError, match="1 chip ids of column 'chip'.*nope"):
        confounders_for(units, store=store, chip_column="chip")
