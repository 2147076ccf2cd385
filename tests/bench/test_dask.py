"""The grid on a Dask LocalCluster of 2 worker processes gives the same rows as in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from bench_tiny import tiny_suite_dict

from eokit.bench.config import parse_suite
from eokit.bench.runner import run_suite
from eokit.bench.store import ResultsStore

CELL = ["dataset", "model", "protocol", "fraction", "seed", "corruption", "severity", "metric"]


def _rows(out: Path) -> pd.DataFrame:
    df = ResultsStore(out).frame()
    df = df[df["protocol"] != "efficiency"]  # timings differ run to run
    return df[[*CELL, "value", "job_key"]].sort_values(CELL).reset_index(drop=True)


@pytest.mark.slow
def test_local_cluster_matches_in_process(tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tiny_suite_dict(seeds=(0, 1))
    d["robustness"]["corruptions"] = ["haze"]
    d["robustness"]["severities"] = [3]
    d["efficiency"] = {"enabled": False}
    d["baselines"] = False
    d["models"].append({"name": "raw_pixels", "kind": "raw_pixels"})
    suite = parse_suite(d)
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache_a"))
    a = run_suite(suite, tmp_path / "inproc", workers=0)
    # a fresh cache: the workers extract the features themselves
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache_b"))
    b = run_suite(suite, tmp_path / "dask", workers=2)
    assert a.failed == [] and b.failed == []
    assert b.computed == a.computed == a.total_jobs
    assert b.feature_jobs == a.feature_jobs == 2
    assert "cluster" not in a.stage_seconds and 0 < b.stage_seconds["cluster"] < b.stage_seconds["grid"]
    assert json.loads((tmp_path / "dask" / "timings.json").read_text())["cluster"] == round(b.stage_seconds["cluster"], 3)
    assert b.run_card["stages"]["cluster start"] == round(b.stage_seconds["cluster"], 3)  # also in the report's table
    assert "cluster start" not in a.run_card["stages"]
    assert any((tmp_path / "cache_b" / "bench" / "features").iterdir())
    pd.testing.assert_frame_equal(_rows(tmp_path / "inproc"), _rows(tmp_path / "dask"))
    # the run card's model hashes come from the workers' feature tasks, equal to the in-process ones
    assert b.run_card["models"] == a.run_card["models"]
    assert all(m.get("state_dict_sha256", "").isalnum() for m in b.run_card["models"].values() if m["kind"] == "backbone")


def test_existing_scheduler_address(tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``scheduler='tcp://...'`` uses a running cluster (here a loopback LocalCluster started by the test)."""
    from distributed import LocalCluster

    d = tiny_suite_dict(seeds=(0,), robustness=False)
    d["protocols"] = ["linear"]
    d["fractions"] = [1.0]
    d["models"] = []
    d["baselines"] = True
    d["efficiency"] = {"enabled": False}
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        s = run_suite(parse_suite(d), tmp_path / "out", scheduler=cluster.scheduler_address)
    assert s.failed == [] and s.computed == s.total_jobs == 2  # raw_pixels + spectral_indices
    assert 0 < s.stage_seconds["cluster"] < s.stage_seconds["grid"]  # connecting to the scheduler
    assert set(ResultsStore(tmp_path / "out").frame()["model"]) == {"raw_pixels", "spectral_indices"}


def test_feature_order_largest_share_first() -> None:
    """Feature shares are handed out by the pixels they read (test shares once per condition)."""
    from types import SimpleNamespace

    from eokit.bench.runner import CLEAN, Job, feature_order

    def job(model: str, dataset: str, conds: int = 1) -> Job:
        entries = tuple((f"{model}-{dataset}-{i}", ((CLEAN if i == 0 else ("haze", i)),)) for i in range(conds))
        return Job("eval", model, dataset, "knn5", 1.0, 0, entries)

    info = {"small": {"n_train": 100, "n_test": 50, "shape": [13, 64, 64]},
            "large": {"n_train": 1000, "n_test": 100, "shape": [3, 64, 64]},
            "robust": {"n_train": 300, "n_test": 100, "shape": [3, 32, 32]}}
    groups = {("a", "small"): [job("a", "small")], ("a", "large"): [job("a", "large")],
              ("b", "large"): [job("b", "large")], ("a", "robust"): [job("a", "robust", conds=4)]}
    order = feature_order(SimpleNamespace(info=info), groups)  # type: ignore[arg-type]
    ranked = sorted(order, key=order.get, reverse=True)
    assert ranked[:2] == [("a", "large", "train"), ("b", "large", "train")]  # suite order among equals
    assert ranked.index(("a", "robust", "test")) < ranked.index(("a", "robust", "train"))  # 4 conditions x 100
    assert ranked[-1] == ("a", "small", "test")
    assert sorted(order.values()) == list(range(1, len(order) + 1))
