"""Wall time of `eokit bench --suite quick` from an empty cache (cold) and from a warm cache.

cold: empty EOKIT_CACHE and empty output folder — reads the mirror, builds the data
      arrays, extracts every feature set, runs every protocol, writes the report.
warm: the same cache (data arrays + features on disk), a new output folder — every
      protocol runs again, no backbone runs for feature extraction.

Usage: EOKIT_DATA=../shared/data python benchmarks/bench_quick.py [--workers 2] [--suite quick]
Prints a table; the last line is JSON {"cold_s": ..., "warm_s": ..., "rows": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(suite: str, out: Path, cache: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its worker processes)."""
    env = {**os.environ, "EOKIT_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "eokit.cli.main", "bench", "--suite", suite, "--out", str(out),
           "--workers", str(workers)]
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"eokit bench failed with exit code {proc.returncode}")
    return dt, _children_cpu() - cpu0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", default=None, help="keep outputs in this folder instead of a temp dir")
    args = ap.parse_args()
    from eokit.bench.store import ResultsStore

    with tempfile.TemporaryDirectory(prefix="eokit-bench-quick-") as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        cache = base / "cache"
        cold, cold_cpu = run(args.suite, base / "cold", cache, args.workers)
        warm, warm_cpu = run(args.suite, base / "warm", cache, args.workers)
        rows = len(ResultsStore(base / "cold" / "results.duckdb").frame())
        rows_warm = len(ResultsStore(base / "warm" / "results.duckdb").frame())
    load = os.getloadavg()[0]
    print(f"{'run':<8}{'wall s':>10}{'cpu s':>10}{'rows':>8}")
    print(f"{'cold':<8}{cold:>10.1f}{cold_cpu:>10.1f}{rows:>8}")
    print(f"{'warm':<8}{warm:>10.1f}{warm_cpu:>10.1f}{rows_warm:>8}")
    print(f"suite {args.suite!r}, {args.workers} Dask workers, {os.cpu_count()} CPUs, load average {load:.1f} "
          "(cpu s = user+sys of eokit and its workers; on an idle machine wall ~ cpu / workers)")
    print(json.dumps({"cold_s": round(cold, 1), "warm_s": round(warm, 1), "rows": rows}))


if __name__ == "__main__":
    main()
