"""What pretraining buys: eokit_small.ssl against its random-init twin and the raw-pixel baseline.

Runs ``eokit bench`` on ``benchmarks/pretrain_eval.yaml`` (frozen features: kNN (k=20) and a linear probe on
EuroSAT RGB — the committed 16,200 / 5,400 train/test lists —, the EuroSAT MS subset and OpenSARShip; a light
decoder on the frozen maps for Dubai aerial land cover), seeds 0-2, then prints one table and one JSON line:

    {"ssl_knn", "random_knn", "raw_knn", "ssl_linear", "random_linear", "raw_linear"   (EuroSAT RGB test, accuracy)
     "dense_ssl", "dense_random", "dense_raw"                                        (Dubai, mIoU)
     "targets": {...}, "per_dataset": {...}}

Targets (issue 12): on every dataset kNN and linear >= 10 points above the random twin and above raw pixels;
linear probe on EuroSAT RGB >= 0.85.  Usage: EOKIT_DATA=../shared/data python benchmarks/pretrain_eval.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = {"ssl": "eokit_small_ssl", "random": "eokit_small.random", "raw": "raw_pixels"}
CLASSIFICATION = ("eurosat_rgb", "eurosat_ms", "opensarship")


def main() -> None:
    from eokit.bench.runner import run_suite
    from eokit.bench.store import ResultsStore

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="bench output folder (default: a temporary one)")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="pretrain_eval_"))
    t0 = time.perf_counter()
    run_suite(HERE / "pretrain_eval.yaml", out, workers=args.workers)
    df = ResultsStore(out / "results.duckdb").frame()
    df = df[(df["fraction"] == 1.0) & (df["corruption"].fillna("none").isin(["none", ""]))]

    def value(model: str, dataset: str, protocol: str, metric: str) -> tuple[float, float, int]:
        rows = df[(df["model"] == model) & (df["dataset"] == dataset) & (df["protocol"] == protocol)
                  & (df["metric"] == metric)]
        if rows.empty:
            raise SystemExit(f"no result for {model} / {dataset} / {protocol} / {metric} in {out}")
        v = rows["value"].astype(float)
        return float(v.mean()), float(v.std(ddof=0)), len(v)

    table, per = [], {}
    for ds in CLASSIFICATION:
        for proto in ("knn20", "linear"):
            cell = {k: value(m, ds, proto, "accuracy") for k, m in MODELS.items()}
            per[f"{ds}/{proto}"] = {k: round(v[0], 4) for k, v in cell.items()}
            table.append((ds, proto, "accuracy", cell))
    cell = {k: value(m, "dubai_aerial", "decoder", "miou") for k, m in MODELS.items()}
    per["dubai_aerial/decoder"] = {k: round(v[0], 4) for k, v in cell.items()}
    table.append(("dubai_aerial", "decoder", "miou", cell))

    print(f"{'dataset':14} {'protocol':9} {'metric':9} " + " ".join(f"{k:>16}" for k in MODELS) + "  ssl-random  ssl-raw")
    targets = {}
    for ds, proto, metric, c in table:
        d_rand, d_raw = c["ssl"][0] - c["random"][0], c["ssl"][0] - c["raw"][0]
        targets[f"{ds}/{proto}: +10 pts over random and raw"] = bool(d_rand >= 0.10 and d_raw >= 0.10)
        print(f"{ds:14} {proto:9} {metric:9} " + " ".join(f"{c[k][0]:8.4f} ±{c[k][1]:.4f}" for k in MODELS)
              + f"  {d_rand:+9.4f} {d_raw:+8.4f}")
    rgb_lin = per["eurosat_rgb/linear"]["ssl"]
    targets["eurosat_rgb linear >= 0.85"] = rgb_lin >= 0.85
    print("mean ± std over seeds 0-2 (n = 3 each)")
    for k, ok in targets.items():
        print(f"  {'MET' if ok else 'NOT MET'}  {k}")
    result = {
        "ssl_knn": per["eurosat_rgb/knn20"]["ssl"], "random_knn": per["eurosat_rgb/knn20"]["random"],
        "raw_knn": per["eurosat_rgb/knn20"]["raw"], "ssl_linear": rgb_lin,
        "random_linear": per["eurosat_rgb/linear"]["random"], "raw_linear": per["eurosat_rgb/linear"]["raw"],
        "dense_ssl": per["dubai_aerial/decoder"]["ssl"], "dense_random": per["dubai_aerial/decoder"]["random"],
        "dense_raw": per["dubai_aerial/decoder"]["raw"], "targets": targets, "per_dataset": per,
        "seconds": round(time.perf_counter() - t0, 1), "out": str(out),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
