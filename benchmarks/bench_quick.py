"""Wall time and CPU split of `eokit bench --suite quick`, cold and warm.

cold: an empty EOKIT_CACHE and a new output folder: reads the mirror, decodes the data
      arrays, extracts every feature set, runs every protocol, writes the report.
warm: the same cache and the same output folder (results store) again: plans, finds every
      result stored, writes the leaderboard and the report.
--rerun adds a run on the warm cache into a new output folder (every protocol runs again,
      no backbone runs for feature extraction).
--compare first runs the cold suite with EOKIT_MALLOC_TUNING=0 (glibc's defaults plus
      Dask's MALLOC_TRIM_THRESHOLD_=65536 in the workers, as before the fix) and prints the ratios.

CPU figures come from getrusage(RUSAGE_CHILDREN) around each subprocess (eokit and the Dask
worker processes it reaps). sys_fraction = system CPU / (user + system CPU) of the cold run.

Usage: EOKIT_DATA=../shared/data python benchmarks/bench_quick.py [--workers 2] [--suite quick]
Prints a table; the last line is JSON {"cold_s", "warm_s", "rows", "sys_fraction", ...}.
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
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Run:
    wall: float
    user: float
    sys: float
    minflt: int
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def sys_fraction(self) -> float:
        return self.sys / max(self.user + self.sys, 1e-9)


def run(suite: str, out: Path, cache: Path, workers: int, tuning: bool = True) -> Run:
    """Run ``eokit bench`` in a subprocess; its wall time and the CPU time of it and its workers."""
    env = {**os.environ, "EOKIT_CACHE": str(cache), "EOKIT_MALLOC_TUNING": "1" if tuning else "0"}
    cmd = [sys.executable, "-m", "eokit.cli.main", "bench", "--suite", suite, "--out", str(out),
           "--workers", str(workers)]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"eokit bench failed with exit code {proc.returncode}")
    timings = out / "timings.json"
    stages = json.loads(timings.read_text()) if timings.exists() else {}
    return Run(dt, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt, stages)


def _rows(out: Path) -> int:
    from eokit.bench.store import ResultsStore

    return len(ResultsStore(out / "results.duckdb").frame())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", default=None, help="keep outputs in this folder instead of a temp dir")
    ap.add_argument("--rerun", action="store_true", help="also rerun every protocol on the warm cache")
    ap.add_argument("--compare", action="store_true",
                    help="first run the cold suite with the allocator tuning off (EOKIT_MALLOC_TUNING=0)")
    args = ap.parse_args()

    load0 = os.getloadavg()[0]
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="eokit-bench-quick-") as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        if args.compare:
            runs["cold untuned"] = run(args.suite, base / "untuned", base / "cache-untuned", args.workers, False)
        runs["cold"] = run(args.suite, base / "cold", base / "cache", args.workers)
        rows = _rows(base / "cold")
        runs["warm"] = run(args.suite, base / "cold", base / "cache", args.workers)
        if _rows(base / "cold") != rows:
            raise SystemExit("the warm run changed the number of stored rows")
        if args.rerun:
            runs["rerun"] = run(args.suite, base / "rerun", base / "cache", args.workers)
    load1 = os.getloadavg()[0]

    print(f"{'run':<14}{'wall s':>9}{'user s':>9}{'sys s':>9}{'sys frac':>10}{'minor faults':>14}")
    for name, r in runs.items():
        print(f"{name:<14}{r.wall:>9.1f}{r.user:>9.1f}{r.sys:>9.1f}{r.sys_fraction:>10.3f}{r.minflt:>14,}")
    cold = runs["cold"]
    if cold.stages:
        print("cold stages (wall s): " + ", ".join(f"{k} {v:.1f}" for k, v in cold.stages.items()))
    print(f"suite {args.suite!r}: {rows} rows, {args.workers} Dask workers, {os.cpu_count()} CPUs, "
          f"load average {load0:.1f} before / {load1:.1f} after (other processes share the CPUs; "
          "user/sys CPU and page faults are less sensitive to that than wall time)")
    result: dict[str, object] = {"cold_s": round(cold.wall, 1), "warm_s": round(runs["warm"].wall, 1),
                                 "rows": rows, "sys_fraction": round(cold.sys_fraction, 3),
                                 "cold_cpu_s": round(cold.user + cold.sys, 1), "minor_faults": cold.minflt,
                                 "stages": cold.stages}
    if "rerun" in runs:
        result["rerun_s"] = round(runs["rerun"].wall, 1)
    if args.compare:
        before = runs["cold untuned"]
        ratios = {"sys_s": before.sys / max(cold.sys, 1e-9), "minor_faults": before.minflt / max(cold.minflt, 1),
                  "cpu_s": (before.user + before.sys) / max(cold.user + cold.sys, 1e-9),
                  "wall_s": before.wall / max(cold.wall, 1e-9)}
        print("untuned / tuned: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
        result["untuned"] = {"cold_s": round(before.wall, 1), "sys_fraction": round(before.sys_fraction, 3),
                             "cold_cpu_s": round(before.user + before.sys, 1), "minor_faults": before.minflt}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
