"""Subprocess used by the store tests: writes jobs ``start..stop`` into a store, skipping stored ones.

Prints one line per event, flushed: ``skip K`` (already stored), ``compute K`` (about to build
its rows), ``committed K`` (add_rows returned True), ``exists K`` (another writer won the race).
"""

from __future__ import annotations

import sys

from eokit.bench.store import ResultsStore


def rows_for(k: int, n: int) -> list[dict]:
    return [
        {"suite": "t", "dataset": f"d{j % 3}", "model": f"m{k}", "protocol": "linear", "fraction": 1.0,
         "seed": j, "metric": "accuracy", "value": k + j / 10_000, "config_hash": f"h{k}"}
        for j in range(n)
    ]


def main() -> None:
    path, start, stop, n_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    order = range(start, stop) if len(sys.argv) < 6 or sys.argv[5] != "reverse" else range(stop - 1, start - 1, -1)
    store = ResultsStore(path, timeout=60)
    done = store.done_jobs()
    for k in order:
        key = f"job-{k:04d}"
        if key in done:
            print(f"skip {k}", flush=True)  # one write: a kill never splits a line
            continue
        print(f"compute {k}", flush=True)
        rows = rows_for(k, n_rows)
        event = "committed" if store.add_rows(key, rows) else "exists"
        print(f"{event} {k}", flush=True)


if __name__ == "__main__":
    main()
