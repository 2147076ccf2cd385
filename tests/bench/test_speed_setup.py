"""Process set-up of the main job: glibc keeps freed buffers, Dask workers get it too, and the
eval jobs of every protocol share one decode of each split and one read of each feature file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench_tiny import tiny_suite_dict

from eokit import env
from eokit.bench import data as D
from eokit.bench import features as F
from eokit.bench.config import parse_suite
from eokit.bench.runner import run_suite

# allocate and free a 4 MiB buffer 40 times; print the minor page faults it cost
_CHURN = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from eokit.env import tune_allocator
    assert tune_allocator()
np.ones(1 << 20, dtype=np.float32)  # warm up
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    a = np.ones(1 << 20, dtype=np.float32)
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc_only = pytest.mark.skipif(env._glibc() is None, reason="allocator tuning applies to glibc only")


@pytest.fixture
def fresh_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env, "_TUNED", {})


def _faults(mode: str) -> int:
    """Page faults of the churn loop in a fresh interpreter started the way Dask's nanny starts a worker."""
    environ = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONPATH": os.pathsep.join(sys.path)}
    environ.pop("EOKIT_MALLOC_TUNING", None)
    out = subprocess.run([sys.executable, "-c", _CHURN, mode], env=environ, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_tune_allocator_stops_page_faults_per_buffer() -> None:
    untuned, tuned = _faults("plain"), _faults("tuned")
    # every 4 MiB buffer mmapped afresh faults its pages in again (measured 480-520 faults per buffer here,
    # fewer than its 1,024 pages where the kernel maps several pages per fault): at least 100 each
    assert untuned > 40 * 100
    assert tuned < untuned / 20


def test_tune_allocator_is_a_noop_off_glibc(fresh_tuning: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env, "_glibc", lambda: None)
    assert env.tune_allocator() is False
    assert env.allocator_env() == {}


@glibc_only
def test_tuning_switch_and_worker_environment(fresh_tuning: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_MALLOC_TUNING", "0")
    assert env.tune_allocator() is False and env.allocator_env() == {}
    monkeypatch.setattr(env, "_TUNED", {})
    monkeypatch.delenv("EOKIT_MALLOC_TUNING")
    assert env.tune_allocator() is True
    assert env.tune_allocator() is True  # idempotent
    assert env.allocator_env() == {"MALLOC_MMAP_THRESHOLD_": str(env.MMAP_THRESHOLD),
                                   "MALLOC_TRIM_THRESHOLD_": str(env.TRIM_THRESHOLD),
                                   "MALLOC_ARENA_MAX": str(env.ARENA_MAX)}


@pytest.mark.slow
@glibc_only
def test_dask_workers_start_with_the_allocator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The LocalCluster of ``run_suite`` replaces Dask's 64 KiB trim threshold in its workers."""
    from eokit.bench.runner import _client

    monkeypatch.delenv("EOKIT_MALLOC_TUNING", raising=False)
    client, cluster = _client(None, 1)
    try:
        seen = client.run(lambda: {k: os.environ.get(k) for k in env.allocator_env()})
    finally:
        client.close()
        cluster.close()
    (worker_env,) = seen.values()
    assert worker_env == env.allocator_env()


def test_protocols_share_one_decode_and_one_feature_read(tmp_path: Path, mirror: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """knn5 + linear x 2 fractions on the two baselines: each split is decoded once (while
    planning) and each feature file is read once, however many eval jobs use it."""
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))
    d = tiny_suite_dict(seeds=(0,), robustness=False)
    d["models"] = []  # raw_pixels + spectral_indices: no backbone to build, the test stays fast
    d["efficiency"] = {"enabled": False}
    suite = parse_suite(d)
    decodes, reads, feature_reads = D.STATS["decodes"], D.STATS["disk_reads"], F.STATS["feature_reads"]
    summary = run_suite(suite, tmp_path / "out", workers=0)
    assert summary.failed == [] and summary.computed == summary.total_jobs
    n_models = len(summary.plan.suite.models) if summary.plan else 0
    assert summary.total_jobs == n_models * 2 * 2  # every job is an eval job here
    assert D.STATS["decodes"] - decodes == 2  # train + test, for every protocol, fraction and model
    assert D.STATS["disk_reads"] - reads == 0  # kept in memory within the process
    feature_files = list((tmp_path / "cache" / "bench" / "features").iterdir())
    assert len(feature_files) == n_models * 2  # train + clean test per model
    assert F.STATS["feature_reads"] - feature_reads == len(feature_files)


@glibc_only
def test_release_free_memory_shrinks_rss_after_tuning() -> None:
    """Efficiency's peak-memory figure needs freed (kept) buffers returned before it measures."""
    code = """
import os
import numpy as np
from eokit.env import release_free_memory, tune_allocator

def _rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
assert tune_allocator()
blocks = [np.ones(1 << 20, dtype=np.float32) for _ in range(40)]  # 160 MiB in 4 MiB blocks
del blocks
kept = _rss_bytes()
assert release_free_memory()
print((kept - _rss_bytes()) / 2**20)
"""
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    environ.pop("EOKIT_MALLOC_TUNING", None)
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True)
    assert float(out.stdout.strip().splitlines()[-1]) > 100  # MiB given back


# four threads allocate at once; glibc's malloc_stats (stderr) lists one "Arena N:" per heap
_THREADS = """
import ctypes, sys, threading
import numpy as np
if sys.argv[1] == "tuned":
    from eokit.env import tune_allocator
    assert tune_allocator()
barrier = threading.Barrier(4)
def work():
    barrier.wait()
    for _ in range(200):
        a = [np.ones(1 << 14) for _ in range(8)]
        del a
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def _arenas(mode: str) -> int:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for k in ("EOKIT_MALLOC_TUNING", "MALLOC_ARENA_MAX"):
        environ.pop(k, None)
    out = subprocess.run([sys.executable, "-c", _THREADS, mode], env=environ, capture_output=True, text=True,
                         check=True)
    return sum(line.startswith("Arena ") for line in out.stderr.splitlines())


@glibc_only
def test_tune_allocator_caps_the_arenas_of_threads() -> None:
    """With the thresholds raised each arena keeps its freed memory: threads share ARENA_MAX heaps."""
    assert _arenas("plain") > env.ARENA_MAX  # glibc gives contending threads heaps of their own
    assert _arenas("tuned") <= env.ARENA_MAX
