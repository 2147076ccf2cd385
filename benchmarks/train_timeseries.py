"""Temporal models on the TempCNN Formosat-2 pixel time series, beside a random forest.

The official split of the mirror (``timeseries/tempcnn_formosat2``: 260 train / 260 test series,
149 dates x NIR/R/G, 13 classes, no polygon in both). Models: eokit's registered series
encoders ``tempcnn`` (the paper's flatten variant, ``n_dates=149``), ``ltae`` and
``temporal_transformer``, each + a linear head, trained from scratch with a fixed recipe per
model (``RECIPES``: epochs, learning rate, weight decay, dropout; AdamW + one-cycle;
augmentation ``AUGMENT``: Gaussian noise, per-series gain, a shift of a few dates, per-series
band offsets; per-channel standardisation from the training split) on the whole training
split, then scored once on the test split. Input per date (``--inputs indices``, the default):
the 3 bands + the normalised-difference indices of ``INDICES`` (NDVI, GNDVI, NGRDI), as the
TempCNN paper feeds NDVI; ``--inputs raw``: the 3 bands only. Ensemble rows
(``<model>_ensemble``: the mean softmax of that model's seeds; ``temporal_ensemble``: of every
temporal run) are temporal models of their own, listed with their members. Beside them: a
random forest (500 trees) on the same 447 raw values.

The recipes were chosen on validation only: ``--validate`` holds out about 25 % of the
training *polygons* of each class (``eokit.bench.temporal.grouped_holdout``; a per-pixel
split would leak, since pixels of one field are near-duplicates and the test split shares no
field with train), trains on the rest and prints validation accuracy; the test split is not
read in that mode.

Prints a table (OA and macro-F1, mean ± std over seeds), then one JSON line:
``{"best_oa", "best_model", "rf_oa", "per_model": {name: {"oa", "oa_std", "f1_macro", ...}}}``.

    nice -n 10 python benchmarks/train_timeseries.py [--seeds 0 1 2] [--validate [--val-seed 1]]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads stall on a shared CPU
import sys
import time

import numpy as np
import torch

AUGMENT = {"noise": 0.1, "gain": 0.15, "shift": 6, "offset": 0.2}
INDICES = {  # name -> (a, b): (a - b) / (a + b) per date from the Formosat-2 bands (B4 NIR, B3 red, B2 green)
    "NDVI": ("B4", "B3"),
    "GNDVI": ("B4", "B2"),
    "NGRDI": ("B2", "B3"),
}


def with_indices(x: np.ndarray, bands: tuple[str, ...]) -> np.ndarray:
    """(N, T, C) series + one channel per spectral index of ``INDICES``, computed per date."""
    extra = []
    for a, b in INDICES.values():
        va, vb = x[..., bands.index(a)], x[..., bands.index(b)]
        extra.append((va - vb) / np.maximum(va + vb, 1e-6))
    return np.concatenate([x, np.stack(extra, -1).astype(x.dtype)], -1)


def index_bands() -> tuple[object, ...]:
    """Band objects for the index channels (they are no band of the sensor)."""
    from eokit.sensors import Band

    return tuple(Band(name, center_nm=0.0, bandwidth_nm=0.0, gsd=8.0) for name in INDICES)
RECIPES = {  # name -> (arch, options, epochs, lr, weight decay): chosen with --validate, never on test
    "tempcnn": ("tempcnn", {"n_dates": 149, "dropout": 0.5}, 80, 1e-3, 1e-2),
    "ltae": ("ltae", {"dropout": 0.3}, 60, 2e-3, 1e-2),
    "temporal_transformer": ("temporal_transformer", {"dropout": 0.2}, 60, 1e-3, 1e-2),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=None, help="dataset folder (default $EOKIT_DATA/timeseries/tempcnn_formosat2)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--validate", action="store_true",
                    help="score on a polygon-grouped validation part of train (the test split is not read)")
    ap.add_argument("--val-fraction", type=float, default=0.25)
    ap.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--val-seed", type=int, default=0, help="which polygon-grouped validation fold (--validate)")
    ap.add_argument("--inputs", choices=["raw", "indices"], default="indices",
                    help="per-date channels: the 3 bands, or the bands + the spectral indices of INDICES")
    ap.add_argument("--augment", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override AUGMENT entries (noise, gain, shift, offset)")
    ap.add_argument("--weight-decay", type=float, default=None, help="override every recipe's weight decay")
    ap.add_argument("--no-rf", action="store_true", help="skip the random forest (validation runs)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from sklearn.ensemble import RandomForestClassifier

    from eokit.bench.temporal import (
        Augment,
        Standardise,
        build_series_model,
        grouped_holdout,
        predict_series,
        train_series_model,
    )
    from eokit.datasets import get_dataset
    from eokit.env import data_root
    from eokit.tasks.metrics import score

    root = args.root or str(data_root() / "timeseries" / "tempcnn_formosat2")
    train_ds = get_dataset("tempcnn_formosat2", root=root, split="train")
    bands, sensor = tuple(train_ds.spec.bands), str(train_ds.spec.sensor)
    k = len(train_ds.spec.classes)
    if args.validate:
        tr_idx, va_idx = grouped_holdout(train_ds.labels, train_ds.polygons, args.val_fraction, args.val_seed)
        xtr, ytr = train_ds.series[tr_idx], train_ds.labels[tr_idx]
        xte, yte = train_ds.series[va_idx], train_ds.labels[va_idx]
        where = f"validation (fold {args.val_seed}: {len(va_idx)} series of held-out polygons)"
    else:
        test_ds = get_dataset("tempcnn_formosat2", root=root, split="test")
        xtr, ytr, xte, yte = train_ds.series, train_ds.labels, test_ds.series, test_ds.labels
        where = "test"
    log(f"train {xtr.shape}, scored on {where} {xte.shape}, {k} classes")

    def metrics(pred: np.ndarray) -> dict[str, float]:
        s = score("classification", yte, pred, num_classes=k)
        return {"oa": float(s["oa"]), "f1_macro": float(s["f1_macro"])}

    augment = {**AUGMENT}
    for kv in args.augment:
        key, value = kv.split("=")
        augment[key] = type(AUGMENT[key])(float(value))
    log(f"inputs {args.inputs}, augment {augment}")

    results: dict[str, list[dict[str, float]]] = {}
    probs: dict[str, list[np.ndarray]] = {}  # name -> per-seed softmax outputs on the scored split
    t0 = time.perf_counter()
    for seed in [] if args.no_rf else args.seeds:
        rf = RandomForestClassifier(n_estimators=500, random_state=seed, n_jobs=args.threads)
        rf.fit(xtr.reshape(len(xtr), -1), ytr)
        results.setdefault("random_forest", []).append(metrics(rf.predict(xte.reshape(len(xte), -1))))
        log(f"random_forest seed {seed}: {results['random_forest'][-1]}")
    model_bands: tuple[object, ...] = bands
    if args.inputs == "indices":
        xtr, xte = with_indices(xtr, bands), with_indices(xte, bands)
        model_bands = bands + index_bands()
    norm = Standardise(xtr)
    for name in args.models:
        arch, options, epochs, lr, wd = RECIPES[name]
        for seed in args.seeds:
            model = build_series_model(arch, model_bands, sensor, k, seed, options)
            ts = time.perf_counter()
            train_series_model(model, norm(xtr), ytr, epochs=args.epochs or epochs, lr=lr,
                               weight_decay=wd if args.weight_decay is None else args.weight_decay,
                               batch_size=args.batch_size, seed=seed, augment=Augment(**augment))
            p = torch.softmax(torch.from_numpy(predict_series(model, norm(xte))), 1).numpy()
            probs.setdefault(name, []).append(p)
            m = metrics(p.argmax(1))
            m["seconds"] = time.perf_counter() - ts
            results.setdefault(name, []).append(m)
            log(f"{name} seed {seed}: {m}")
    # ensembles (mean of the members' softmax outputs): each model's seeds, and every temporal run
    members: dict[str, list[str]] = {}
    if len(args.seeds) > 1:
        for name in args.models:
            members[f"{name}_ensemble"] = [f"{name} seed {s}" for s in args.seeds]
            results[f"{name}_ensemble"] = [metrics(np.mean(probs[name], 0).argmax(1))]
    if len(args.models) > 1:
        members["temporal_ensemble"] = [f"{n} seed {s}" for n in args.models for s in args.seeds]
        results["temporal_ensemble"] = [metrics(np.mean([p for n in args.models for p in probs[n]], 0).argmax(1))]

    per_model = {}
    print(f"scored on {where}")
    print(f"{'model':<30} {'OA':>15} {'macro-F1':>15}  seeds")
    for name, runs in results.items():
        oa = np.array([r["oa"] for r in runs])
        f1 = np.array([r["f1_macro"] for r in runs])
        per_model[name] = {"oa": round(float(oa.mean()), 4), "oa_std": round(float(oa.std()), 4),
                           "f1_macro": round(float(f1.mean()), 4), "f1_macro_std": round(float(f1.std()), 4),
                           "seeds": len(runs)}
        if name in members:
            per_model[name]["members"] = members[name]
        elif name != "random_forest":
            per_model[name]["seconds_per_run"] = round(float(np.mean([r["seconds"] for r in runs])), 1)
        print(f"{name:<30} {oa.mean():.3f} ± {oa.std():.3f}   {f1.mean():.3f} ± {f1.std():.3f}  {len(runs)}")
    temporal = {n: v for n, v in per_model.items() if n != "random_forest"}
    best = max(temporal, key=lambda n: temporal[n]["oa"]) if temporal else None
    out = {"best_oa": temporal[best]["oa"] if best else None, "best_model": best,
           "rf_oa": per_model["random_forest"]["oa"] if "random_forest" in per_model else None,
           "per_model": per_model, "scored_on": where.split()[0], "inputs": args.inputs, "augment": augment,
           "seeds": args.seeds, "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time(), 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
