"""The runner on a tiny real-data suite: rows, exports, feature-cache reuse, adding seeds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from bench_tiny import tiny_suite_dict

from eokit.bench import features as F
from eokit.bench.config import parse_suite
from eokit.bench.runcard import StageClock, build_run_card
from eokit.bench.runner import plan, report_context, run_suite
from eokit.bench.store import ResultsStore

CELL = ["dataset", "model", "protocol", "fraction", "seed", "corruption", "severity", "metric"]


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Iterator[dict[str, Any]]:
    """One in-process run of the tiny suite; the tests below re-use its feature cache."""
    root = tmp_path_factory.mktemp("bench")
    old = os.environ.get("EOKIT_CACHE")
    os.environ["EOKIT_CACHE"] = str(root / "cache")
    try:
        calls0 = F.STATS["backbone_calls"]
        suite = parse_suite(tiny_suite_dict())
        summary = run_suite(suite, root / "out", workers=0)
        yield {"root": root, "suite": suite, "summary": summary, "calls": F.STATS["backbone_calls"] - calls0,
               "df": ResultsStore(root / "out").frame()}
    finally:
        if old is None:
            os.environ.pop("EOKIT_CACHE", None)
        else:
            os.environ["EOKIT_CACHE"] = old


def _no_backbone(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the backbone ran although its features are cached")


def test_rows_cover_the_grid(first: dict[str, Any]) -> None:
    df, summary = first["df"], first["summary"]
    assert summary.failed == []
    assert summary.computed == summary.total_jobs == len(plan(first["suite"]).job_keys)
    assert first["calls"] > 0
    assert not df.duplicated(CELL).any()
    models = set(df["model"])
    assert models == {"cnn", "raw_pixels", "spectral_indices", "cnn.rgb"}  # baselines always present
    clean = df[(df["corruption"] == "none") & (df["protocol"] != "efficiency")]
    grid = clean.groupby(["model", "protocol", "fraction", "seed"]).size()
    assert len(grid) == 4 * 2 * 2 * 2 and (grid == 2).all()  # accuracy + f1_macro per cell
    assert clean["value"].between(0, 1).all()
    # robustness: linear probe, fraction 1, seed 0, 2 corruptions x 2 severities, every model
    rob = df[df["corruption"] != "none"]
    assert set(rob["protocol"]) == {"linear"} and set(rob["seed"]) == {0} and set(rob["fraction"]) == {1.0}
    assert rob.groupby("model").size().eq(2 * 2 * 2).all()
    # efficiency in every leaderboard row's model
    eff = df[df["protocol"] == "efficiency"].pivot_table(index="model", columns="metric", values="value")
    assert set(eff.index) == models
    assert set(eff.columns) == {"params", "gflops", "throughput_ips", "peak_mem_mb"}
    assert eff.loc["cnn", "params"] > 0 and eff.loc["cnn", "gflops"] > 0 and (eff["throughput_ips"] > 0).all()
    assert eff.loc["raw_pixels", "params"] == 0
    # provenance columns
    assert (df["config_hash"] == plan(first["suite"]).suite.config_hash()).all()  # the effective suite
    assert (df["eokit_version"] != "").all() and (df["git_sha"] != "").all() and df["time"].notna().all()


def test_exports_match_the_store(first: dict[str, Any]) -> None:
    out = first["root"] / "out"
    df = first["df"]
    pq = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    assert len(pq) == len(csv) == len(df)
    assert sorted(pq["value"].round(12)) == sorted(df["value"].round(12))


def test_second_run_reuses_cached_features(first: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh results folder, the same feature cache: every row again, and the backbone never runs."""
    monkeypatch.setenv("EOKIT_CACHE", str(first["root"] / "cache"))
    monkeypatch.setattr(F, "_forward", _no_backbone)
    no_eff = first["suite"].model_copy(update={"efficiency": first["suite"].efficiency.model_copy(update={"enabled": False})})
    summary = run_suite(no_eff, first["root"] / "out2", workers=0)
    assert summary.failed == [] and summary.computed == first["summary"].total_jobs - 4  # 4 efficiency jobs
    a = first["df"][first["df"]["protocol"] != "efficiency"].set_index(CELL)["value"].sort_index()
    df2 = ResultsStore(first["root"] / "out2").frame()
    b = df2[df2["protocol"] != "efficiency"].set_index(CELL)["value"].sort_index()
    pd.testing.assert_series_equal(a, b)


def test_adding_a_seed_and_a_protocol_computes_only_new_jobs(first: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_CACHE", str(first["root"] / "cache"))
    monkeypatch.setattr(F, "_forward", _no_backbone)
    d = tiny_suite_dict(seeds=(0, 1, 2))
    d["protocols"] = ["knn5", "linear", "knn20"]
    d["efficiency"] = {"enabled": False}
    bigger = parse_suite(d)
    small = tiny_suite_dict()
    small["efficiency"] = {"enabled": False}
    out = first["root"] / "out3"
    run_suite(parse_suite(small), out, workers=0)
    before = ResultsStore(out).frame()
    summary = run_suite(bigger, out, workers=0)
    assert summary.done_before == first["summary"].total_jobs - 4
    # new: knn20 for all 3 seeds x 2 fractions, knn5/linear for seed 2, per model (4)
    assert summary.computed == 4 * (3 * 2 + 2 * 2)
    after = ResultsStore(out).frame()
    old = after[after["job_key"].isin(set(before["job_key"]))]
    pd.testing.assert_frame_equal(old.sort_values(CELL).reset_index(drop=True),
                                  before.sort_values(CELL).reset_index(drop=True))
    assert not after.duplicated(CELL).any()


def test_outcomes_are_stored_with_their_rows(first: dict[str, Any]) -> None:
    """One outcome record per stored entry and condition; its metric is the row's value, exactly."""
    from eokit.bench.stats import metric_value

    out = ResultsStore(first["root"] / "out").outcomes()
    df = first["df"]
    evals = df[(df["protocol"] != "efficiency") & (df["metric"] == "accuracy")]
    assert len(out) == len(evals) and set(out["job_key"]) == set(evals["job_key"])
    assert (out["reason"] == "").all() and (out["n"] == 20).all() and (out["kind"] == "pairs").all()
    merged = out.merge(evals, on=["job_key", "corruption", "severity"])
    for o, v in zip(merged["outcomes"], merged["value"], strict=True):
        assert float(metric_value(o, "accuracy")) == pytest.approx(v, abs=1e-6)  # torchmetrics: float32


def test_a_dataset_nothing_scores_is_named(first: dict[str, Any], mirror: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A segmentation dataset in a suite of pooled probes only: the plan says why it has no score."""
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path))
    d = tiny_suite_dict(robustness=False)
    d["datasets"].append({"name": "dubai", "loader": "dubai_aerial_landcover",
                          "kwargs": {"root": "segmentation/dubai_aerial_landcover"},
                          "train": {"split": "train", "max_items": 2}, "test": {"split": "test", "max_items": 2},
                          "tile": 64})
    p = plan(parse_suite(d))
    why = {ds: reason for m, ds, reason in p.skipped if m == "*"}
    assert set(why) == {"dubai"}  # eurosat_ms is scored
    assert "'decoder'" in why["dubai"] and "['knn5', 'linear']" in why["dubai"]
    card = build_run_card(p, StageClock())  # the run card (and so the report) says it too
    assert card["data"]["dubai"]["unscored"] == why["dubai"] and "unscored" not in card["data"]["eurosat_ms"]
    assert card["data"]["dubai"]["root"].endswith("segmentation/dubai_aerial_landcover")
    df = first["df"]  # eurosat_ms scored; dubai with efficiency rows only: in no capability group
    ghost = df[df["protocol"] == "efficiency"].assign(dataset="dubai")
    _, groups = report_context(pd.concat([df, ghost], ignore_index=True), p)
    assert groups and all(members == ["eurosat_ms"] for members in groups.values())
    d["protocols"].append("decoder")
    assert not [ds for m, ds, _ in plan(parse_suite(d)).skipped if m == "*"]
