"""kill -9 a running `eokit bench` and restart it: nothing stored is recomputed or lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from bench_tiny import tiny_suite_dict

from eokit.bench.store import ResultsStore

CELL = ["dataset", "model", "protocol", "fraction", "seed", "corruption", "severity", "metric"]


def _cmd(suite: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "eokit.cli.main", "bench", "--suite", str(suite), "--out", str(out),
            "--workers", "0", "--no-report"]


@pytest.mark.slow
def test_kill_and_resume(tmp_path: Path, mirror: Path) -> None:
    d = tiny_suite_dict(seeds=(0, 1, 2, 3), robustness=False)
    d["efficiency"] = {"enabled": False}
    d["baselines"] = False
    d["models"].append({"name": "raw_pixels", "kind": "raw_pixels"})
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    env = {**os.environ, "EOKIT_CACHE": str(tmp_path / "cache"), "EOKIT_DATA": str(mirror),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_cmd(suite, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    store_path = out / "results.duckdb"
    deadline = time.monotonic() + 240
    stored: set[str] = set()
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if store_path.exists():
                stored = ResultsStore(store_path).done_jobs()
                if len(stored) >= 3:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed:\n" + proc.stdout.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)  # mid-run, possibly mid-write
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = ResultsStore(store_path).frame()
    jobs_before = ResultsStore(store_path).done_jobs()
    assert len(jobs_before) >= 3

    done = subprocess.run(_cmd(suite, out), env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    m = re.search(r"(\d+) jobs: (\d+) already stored, (\d+) computed", done.stderr)
    assert m, done.stderr[-2000:]
    total, already, computed = map(int, m.groups())
    assert already == len(jobs_before) and computed == total - already and already < total
    after = ResultsStore(store_path).frame()
    assert len(ResultsStore(store_path).done_jobs()) == total
    assert not after.duplicated(CELL).any()
    # every row stored before the kill is still there, unchanged (same value, same timestamp)
    merged = before.merge(after, on=[*CELL, "job_key"], suffixes=("_before", "_after"))
    assert len(merged) == len(before)
    assert (merged["value_before"] == merged["value_after"]).all()
    assert (merged["time_before"] == merged["time_after"]).all()
