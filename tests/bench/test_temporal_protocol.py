"""Time series in `eokit bench`: the Formosat-2 pixel series scored by the temporal protocol
(series encoders trained from scratch) and the raw-feature baselines, with the bench statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eokit.bench.config import parse_suite
from eokit.bench.data import load_split
from eokit.bench.runner import plan, run_suite
from eokit.bench.store import ResultsStore


def temporal_suite(epochs: int = 4) -> dict[str, Any]:
    return {
        "name": "tiny_temporal",
        "models": [
            {"name": "cnn", "arch": "mobilecnn", "options": {"width": 0.25}},  # an image backbone: not planned
            {"name": "tempcnn", "arch": "tempcnn", "options": {"filters": 16, "hidden": 32}},
            {"name": "ltae", "arch": "ltae", "options": {"d_model": 32, "heads": 4}},
        ],
        "datasets": [{"name": "formosat2", "loader": "tempcnn_formosat2",
                      "kwargs": {"root": "timeseries/tempcnn_formosat2"}}],
        "protocols": ["linear", {"name": "random_forest", "seeds": [0]},
                      {"name": "temporal", "epochs": epochs, "lr": 0.003, "batch_size": 32}],
        "fractions": [1.0],
        "seeds": [0],
        "efficiency": {"batch_size": 4, "repeats": 1},
    }


def test_formosat2_series_are_bench_arrays(mirror: Path, cache: Path) -> None:
    suite = parse_suite(temporal_suite())
    train = load_split(suite.datasets[0], "train")
    test = load_split(suite.datasets[0], "test")
    assert train.series and train.image.shape == (260, 149, 3) and test.image.shape == (260, 149, 3)
    assert train.task == "classification" and train.num_classes == 13  # one class per series
    assert np.bincount(train.target()).tolist() == [20] * 13
    again = load_split(suite.datasets[0], "train")  # cached arrays round-trip
    assert again.image.shape == train.image.shape and again.doy is None and again.time_mask is None


def test_temporal_protocol_in_a_suite(mirror: Path, cache: Path, tmp_path: Path) -> None:
    suite = parse_suite(temporal_suite())
    p = plan(suite)
    kinds = {(j.model, j.protocol): j.kind for j in p.jobs}
    assert kinds[("tempcnn", "temporal")] == "temporal" and kinds[("ltae", "temporal")] == "temporal"
    assert ("tempcnn", "linear") not in kinds  # series encoders are trained, not probed
    assert {("raw_pixels", "random_forest"), ("spectral_indices", "random_forest")} <= set(kinds)
    # no probe of baselines alone on series: it would leave every image entry of that protocol unranked
    assert ("raw_pixels", "linear") not in kinds and ("spectral_indices", "knn5") not in kinds
    assert not [k for k in kinds if k[0] in ("cnn", "cnn.rgb")]  # image backbones: not planned on series
    assert not p.skipped
    from eokit.bench.features import applicable

    train = load_split(suite.datasets[0], "train")
    assert "image backbone" in (applicable(suite.models[0], train) or "")

    summary = run_suite(suite, tmp_path / "out", workers=0)
    assert summary.failed == []
    df = ResultsStore(tmp_path / "out").frame()
    acc = df[df["metric"] == "accuracy"].set_index(["model", "protocol"])["value"]
    chance = 1 / 13
    assert acc[("tempcnn", "temporal")] > 2 * chance and acc[("ltae", "temporal")] > 2 * chance
    assert acc[("raw_pixels", "random_forest")] > 0.5  # the RF on the 447 raw values (0.7 with 500 trees)
    assert acc[("spectral_indices", "random_forest")] > 2 * chance
    eff = df[df["protocol"] == "efficiency"].pivot_table(index="model", columns="metric", values="value")
    assert eff.loc["tempcnn", "params"] > 0 and eff.loc["tempcnn", "throughput_ips"] > 0
    # per-series outcomes are stored, so the bench statistics (CIs, chance level) cover it
    outcomes = ResultsStore(tmp_path / "out").outcomes()
    assert {"tempcnn", "ltae", "raw_pixels"} <= set(outcomes["model"])


def test_temporal_protocol_refuses_image_backbones() -> None:
    from eokit.bench.temporal import build_series_model
    from eokit.errors import ModelError

    with pytest.raises(ModelError, match="image backbone"):
        build_series_model("mobilecnn", ("B4", "B3", "B2"), "formosat2", 13, 0)
