"""The DuckDB results store: idempotent jobs, export, two concurrent writers, kill -9 and resume."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from eokit.bench.store import (
    COLUMNS,
    ResultRow,
    ResultsNotFoundError,
    ResultsStore,
    StoreError,
    load_results,
)
from eokit.errors import ConfigError

WRITER = Path(__file__).with_name("writer_proc.py")


def row(**kw: object) -> dict:
    base = {"suite": "quick", "dataset": "eurosat", "model": "resnet18", "protocol": "linear",
            "fraction": 1.0, "seed": 0, "metric": "accuracy", "value": 0.9}
    base.update(kw)
    return base


def test_add_is_idempotent_per_job(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)  # a folder: the file is results.duckdb inside it
    assert store.path == tmp_path / "results.duckdb"
    assert store.done_jobs() == set() and len(store) == 0
    rows = [row(seed=s, value=0.8 + s / 100) for s in range(3)]
    assert store.add_rows("j1", rows) is True
    assert store.add_rows("j1", rows) is False  # stored once only
    assert store.add_rows("j2", [ResultRow(**row(model="vit", corruption="haze", severity=3))]) is True
    assert store.add_rows("empty", []) is True  # a job with no rows still counts as done
    assert store.done_jobs() == {"j1", "j2", "empty"}
    assert store.has("j2") and not store.has("j3")
    df = store.frame()
    assert len(df) == 4 and list(df.columns) == list(COLUMNS)
    assert sorted(df["value"].round(2)) == [0.8, 0.81, 0.82, 0.9]
    r = df[df["model"] == "vit"].iloc[0]
    assert (r.corruption, r.severity, r.job_key) == ("haze", 3, "j2")
    assert r.eokit_version and r.git_sha and pd.notna(r.time)
    assert df.loc[df["model"] == "resnet18", "corruption"].eq("none").all()
    # a second handle (as a restarted run would open) sees the same
    assert ResultsStore(store.path).done_jobs() == {"j1", "j2", "empty"}
    assert len(store.frame(suite="quick")) == 4 and store.frame(suite="other").empty


def test_add_jobs_batch(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.add_rows("a", [row(seed=0)])
    written = store.add_jobs({"a": [row(seed=9)], "b": [row(seed=1), row(seed=2)], "c": []})
    assert written == {"b", "c"} and store.done_jobs() == {"a", "b", "c"}
    assert sorted(store.frame()["seed"]) == [0, 1, 2]  # job 'a' kept its first rows
    with pytest.raises(ConfigError):
        store.add_jobs({"d": [row()], "e": [row(value=None)]})
    assert not store.has("d")  # rows are validated before anything is written


def test_bad_rows_rejected_whole_job(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "s.duckdb")
    with pytest.raises(ConfigError, match="lacks \\['value'\\]"):
        store.add_rows("j", [row(), {k: v for k, v in row().items() if k != "value"}])
    with pytest.raises(ConfigError, match="severity 0"):
        store.add_rows("j", [row(corruption="haze", severity=0)])
    with pytest.raises(ConfigError, match="unknown fields \\['colour'\\]"):
        store.add_rows("j", [row(colour="red")])
    with pytest.raises(ConfigError, match="fraction"):
        store.add_rows("j", [row(fraction=0)])
    with pytest.raises(ConfigError, match="job_key"):
        store.add_rows("", [row()])
    assert store.done_jobs() == set() and len(store) == 0  # nothing half-written


def test_not_a_store(tmp_path: Path) -> None:
    bad = tmp_path / "junk.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(StoreError, match="junk.duckdb"):
        ResultsStore(bad)


def test_export_and_load(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "run")
    store.add_rows("a", [row(seed=s, value=s / 10) for s in range(5)])
    store.add_rows("b", [row(metric="params", protocol="efficiency", value=11e6)])
    pq, csv = store.export()
    assert pq == tmp_path / "run" / "results.parquet" and csv.exists()
    assert not list((tmp_path / "run").glob("*.tmp*"))
    from_pq, from_csv = pd.read_parquet(pq), pd.read_csv(csv)
    assert len(from_pq) == len(from_csv) == 6
    assert set(COLUMNS) <= set(from_pq.columns)
    ref = store.frame()
    for src in (tmp_path / "run", store.path, pq, csv):
        got = load_results(src)
        pd.testing.assert_frame_equal(
            got.drop(columns="time"), ref.drop(columns="time"), check_dtype=False
        )
    with pytest.raises(ResultsNotFoundError, match="nothing_here"):
        load_results(tmp_path / "nothing_here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultsNotFoundError, match="expected results.duckdb"):
        load_results(tmp_path / "empty")


def _writer(store: Path, start: int, stop: int, n_rows: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(store), str(start), str(stop), str(n_rows), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _events(out: str) -> list[tuple[str, int]]:
    return [(a, int(b)) for a, b in (line.split() for line in out.splitlines() if line.strip())]


def _check_integrity(path: Path, n_rows: int) -> set[str]:
    """Every stored job has all its rows, and no row belongs to an unstored job."""
    con = duckdb.connect(str(path))
    try:
        jobs = dict(con.execute("SELECT job_key, n_rows FROM jobs").fetchall())
        counts = dict(con.execute("SELECT job_key, count(*) FROM results GROUP BY job_key").fetchall())
    finally:
        con.close()
    assert set(counts) <= set(jobs), f"orphan rows of jobs {set(counts) - set(jobs)}"
    for key, n in jobs.items():
        assert n == n_rows and counts.get(key) == n_rows, f"job {key}: {counts.get(key)} rows, expected {n_rows}"
    return set(jobs)


def test_two_concurrent_writer_processes(tmp_path: Path) -> None:
    """Two processes write the same 12 jobs (opposite orders) and 4 own jobs each: all land, once."""
    path = tmp_path / "results.duckdb"
    ResultsStore(path)
    a = _writer(path, 0, 16, 40)
    b = _writer(path, -4, 12, 40, "reverse")
    outs = [p.communicate(timeout=120) for p in (a, b)]
    for p, (_, err) in zip((a, b), outs, strict=True):
        assert p.returncode == 0, err
    events = _events(outs[0][0]) + _events(outs[1][0])
    committed = Counter(k for e, k in events if e == "committed")
    assert sorted(committed) == list(range(-4, 16)) and set(committed.values()) == {1}
    stored = _check_integrity(path, 40)
    assert len(stored) == 20
    df = ResultsStore(path).frame()
    assert len(df) == 20 * 40 and not df.duplicated(["job_key", "seed"]).any()


def test_kill_9_and_resume_loses_nothing(tmp_path: Path) -> None:
    """kill -9 a writer at random moments (twice), restart: committed jobs survive, none is recomputed."""
    path = tmp_path / "results.duckdb"
    n_jobs, n_rows = 16, 2000
    rnd = random.Random(0)
    committed: set[int] = set()
    computed_twice: list[int] = []
    computed: Counter[int] = Counter()
    for round_ in range(3):
        p = _writer(path, 0, n_jobs, n_rows)
        seen_commits = 0
        kill_after = rnd.randint(2, 4)
        events: list[tuple[str, int]] = []
        assert p.stdout is not None
        if round_ < 2:
            while seen_commits < kill_after:
                line = p.stdout.readline()
                if not line:
                    break
                ev, k = line.split()
                events.append((ev, int(k)))
                seen_commits += ev == "committed"
            time.sleep(rnd.uniform(0.0, 0.08))  # land somewhere inside the next job
            p.send_signal(signal.SIGKILL)
            rest, _ = p.communicate(timeout=60)
            assert p.returncode == -signal.SIGKILL
        else:
            rest, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        events += _events(rest)
        for ev, k in events:
            if ev == "compute":
                if k in committed:
                    computed_twice.append(k)
                computed[k] += 1
            elif ev == "committed":
                committed.add(k)
        stored = _check_integrity(path, n_rows)
        # every commit the writer reported survived the kill
        assert {f"job-{k:04d}" for k in committed} <= stored
    assert computed_twice == [], f"stored jobs were recomputed after restart: {computed_twice}"
    # every job is stored in the end (a kill between the commit and its report line leaves a
    # stored job the writer never announced: the restart skips it instead of recomputing it)
    assert _check_integrity(path, n_rows) == {f"job-{k:04d}" for k in range(n_jobs)}
    df = ResultsStore(path).frame()
    assert len(df) == n_jobs * n_rows
    assert not df.duplicated(["job_key", "seed"]).any()
    # only jobs interrupted between 'compute' and 'committed' were computed more than once
    assert sum(computed.values()) <= n_jobs + 2


def test_outcomes_side_table(tmp_path: Path) -> None:
    """Per-sample outcomes land with their job, come back as Outcomes, and other schema versions are ignored."""
    import numpy as np

    from eokit.bench.stats import outcomes_of
    from eokit.bench.store import load_outcomes, outcome_record

    store = ResultsStore(tmp_path)
    o = outcomes_of("classification", np.array([0, 1, 2, 1]), np.array([0, 1, 1, 1]), 3)
    recs = [outcome_record(row(), o), outcome_record(row(corruption="haze", severity=1), reason="why")]
    assert store.add_jobs({"j": [row()]}, {"j": recs}) == {"j"}
    assert store.add_jobs({"j": [row()]}, {"j": recs}) == set()  # stored once, outcomes too
    with pytest.raises(ConfigError, match="not being stored"):
        store.add_jobs({"a": [row()]}, {"b": recs})
    df = load_outcomes(tmp_path)
    assert df is not None and len(df) == 2 and "a" not in set(df["job_key"])
    clean = df[df["corruption"] == "none"].iloc[0]
    assert clean["n"] == 4 and clean["reason"] == "" and np.array_equal(clean["outcomes"].data, o.data)
    bad = df[df["corruption"] == "haze"].iloc[0]
    assert bad["outcomes"] is None and bad["reason"] == "why" and bad["severity"] == 1
    with duckdb.connect(str(store.path)) as con:
        con.execute("UPDATE outcomes SET schema_version = 99 WHERE corruption = 'haze'")
    assert len(store.outcomes()) == 1
    assert load_outcomes(tmp_path / "results.csv") is not None  # beside the store
    assert load_outcomes(tmp_path / "other" / "results.parquet") is None


def test_rows_of_an_earlier_configuration_are_kept_but_not_pooled(tmp_path: Path) -> None:
    """A dataset whose definition changed (same names, new job key) must not pool its old rows with the new."""
    import numpy as np

    from eokit.bench.stats import outcomes_of
    from eokit.bench.store import outcome_record

    store = ResultsStore(tmp_path)
    o = outcomes_of("classification", np.array([0, 1]), np.array([0, 1]), 2)
    store.add_jobs({"old": [row(value=0.5)]}, {"old": [outcome_record(row(), o)]})
    store.add_jobs({"new": [row(value=0.9)]}, {"new": [outcome_record(row(), o)]})
    assert len(store.frame()) == 2  # nothing is lost
    now = store.frame(job_keys=["new"])
    assert list(now["value"]) == [0.9] and list(now["job_key"]) == ["new"]
    assert list(store.outcomes(job_keys=["new"])["job_key"]) == ["new"]
    (tmp_path / "out").mkdir()
    parquet, _ = store.export(tmp_path / "out", job_keys=["new"])
    assert list(pd.read_parquet(parquet)["value"]) == [0.9]
    assert store.frame(job_keys=[]).empty
