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
    from eokit.bench.stats import ENTRY_KEYS, ci, entry_replicates

    metrics = {**{d: "accuracy" for d in CLASSIFICATION}, "dubai_aerial": "miou"}
    rows, reps = entry_replicates(ResultsStore(out / "results.duckdb").outcomes(), metrics)
    rows = rows[rows["fraction"] == 1.0]
    assert list(ENTRY_KEYS) == ["model", "protocol", "fraction"], ENTRY_KEYS

    def cell(model: str, dataset: str, protocol: str) -> dict:
        r = rows[(rows["model"] == model) & (rows["dataset"] == dataset) & (rows["protocol"] == protocol)]
        if r.empty:
            raise SystemExit(f"no result for {model} / {dataset} / {protocol} in {out}")
        r = r.iloc[0]
        return {"value": float(r["value"]), "ci": [float(r["ci_lo"]), float(r["ci_hi"])], "n_test": int(r["n_test"]),
                "reps": reps[(model, protocol, 1.0, dataset)]}

    plan = [(ds, proto) for ds in CLASSIFICATION for proto in ("knn20", "linear")] + [("dubai_aerial", "decoder")]
    per, targets = {}, {}
    print(f"{'dataset':13} {'protocol':8} {'n test':>6}  " + "  ".join(f"{k + ' [95% CI]':>22}" for k in MODELS)
          + "  ssl-random [95% CI]   ssl-raw [95% CI]")
    for ds, proto in plan:
        c = {k: cell(m, ds, proto) for k, m in MODELS.items()}
        diffs = {k: c["ssl"]["reps"] - c[k]["reps"] for k in ("random", "raw")}  # paired bootstrap draws
        gaps = {k: (c["ssl"]["value"] - c[k]["value"], ci(d)) for k, d in diffs.items()}
        per[f"{ds}/{proto}"] = {k: round(v["value"], 4) for k, v in c.items()} | {
            f"ci_{k}": [round(x, 4) for x in v["ci"]] for k, v in c.items()} | {"n_test": c["ssl"]["n_test"]}
        targets[f"{ds}/{proto}: >= +0.10 over random and raw"] = bool(min(g[0] for g in gaps.values()) >= 0.10)
        print(f"{ds:13} {proto:8} {c['ssl']['n_test']:6d}  " + "  ".join(
            f"{v['value']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]" for v in c.values()) + "  " + "  ".join(
            f"{g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for g, (lo, hi) in gaps.values()))
    rgb_lin = per["eurosat_rgb/linear"]["ssl"]
    targets["eurosat_rgb linear >= 0.85"] = rgb_lin >= 0.85
    print("95 % CIs: bootstrap over test samples (and seeds 0-2), paired between entries (eokit.bench.stats)")
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
