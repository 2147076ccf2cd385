"""A realistic, seeded grid of benchmark result rows and per-sample outcomes for the report tests (no model is run).

Every clean evaluation gets synthetic per-test-sample outcomes whose metric is close to the entry's
quality; the stored value of the ranked metric is the outcomes' exact metric, as `eokit bench` stores it.
``tiny_rgb`` has 12 test samples only: it must come out "not ranked".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eokit.bench.stats import Outcomes, metrics_from_sums, outcomes_of
from eokit.bench.store import outcome_record
from eokit.transforms.corruptions import CORRUPTIONS

POOLED = {"eurosat_rgb": "accuracy", "eurosat_ms": "accuracy", "bigearthnet_s2": "f1_micro"}
DENSE = {"m_cashew_plant": "miou", "oscd": "f1_change"}
SMALL = {"tiny_rgb": "accuracy"}  # 12 test samples: not ranked
MODELS = {  # name -> (quality 0..1, params, gflops, img/s, peak MB)
    "resnet50_ssl4eo": (0.85, 23.5e6, 4.1, 95.0, 410.0),
    "vit_small_dino": (0.78, 21.7e6, 4.6, 70.0, 380.0),
    "resnet18_random": (0.35, 11.2e6, 1.8, 240.0, 190.0),
    "raw_pixels": (0.20, None, None, None, None),
    "spectral_indices": (0.30, None, None, None, None),
}
FLOOR = {"accuracy": 0.35, "f1_micro": 0.3, "miou": 0.2, "f1_change": 0.1}
CEIL = {"accuracy": 0.97, "f1_micro": 0.8, "miou": 0.7, "f1_change": 0.6}
TASK = {"accuracy": "classification", "f1_micro": "multilabel", "miou": "segmentation",
        "f1_change": "change_detection"}


def _targets(ds: str, metric: str) -> np.ndarray:
    """The dataset's fixed test targets (the same for every model and seed)."""
    rng = np.random.default_rng(sum(map(ord, ds)))
    if metric == "accuracy":
        return rng.integers(0, 10, 12 if ds in SMALL else 300)
    if metric == "f1_micro":
        return (rng.random((120, 5)) < 0.3).astype(float)
    if metric == "miou":
        return rng.integers(0, 3, (40, 16, 16))
    return (rng.random((40, 16, 16)) < 0.1).astype(np.int64)


def _outcomes(metric: str, y: np.ndarray, v: float, rng: np.random.Generator) -> Outcomes:
    """Predictions of quality about ``v`` on targets ``y``, as outcomes."""
    v = float(np.clip(v, 0.02, 0.99))
    if metric == "accuracy":
        right = rng.random(len(y)) < v
        return outcomes_of("classification", y, np.where(right, y, (y + rng.integers(1, 10, len(y))) % 10), 10)
    if metric == "f1_micro":
        pos = y > 0.5
        p = np.where(pos, rng.random(y.shape) < v, rng.random(y.shape) < (1 - v) * pos.mean() / (1 - pos.mean()))
        return outcomes_of("multilabel", y, p.astype(float), 5)
    if metric == "miou":
        a = 2 * v / (1 + v)
        pred = np.where(rng.random(y.shape) < a, y, (y + rng.integers(1, 3, y.shape)) % 3)
        return outcomes_of("segmentation", y, pred, 3, ignore_index=-1)
    pos = y == 1
    p = np.where(pos, rng.random(y.shape) < v, rng.random(y.shape) < (1 - v) * pos.mean() / (1 - pos.mean()))
    return outcomes_of("change_detection", y, p.astype(np.int64), 2, ignore_index=-1)


def grid(suite: str = "quick") -> tuple[dict[str, list[dict]], dict[str, list[dict[str, Any]]]]:
    """({job_key: rows}, {job_key: outcome records}): one job per (model, dataset, protocol, fraction)."""
    rng = np.random.default_rng(0)
    jobs: dict[str, list[dict]] = {}
    outs: dict[str, list[dict[str, Any]]] = {}

    def add(model: str, ds: str, protocol: str, fraction: float, seed: int, metrics: dict[str, float],
            corruption: str = "none", severity: int = 0, outcomes: Outcomes | None = None) -> None:
        key = f"{suite}/{model}/{ds}/{protocol}/{fraction:g}"
        base = {"suite": suite, "dataset": ds, "model": model, "protocol": protocol, "fraction": fraction,
                "seed": seed, "corruption": corruption, "severity": severity, "config_hash": "c0ffee12"}
        jobs.setdefault(key, []).extend([{**base, "metric": m, "value": float(v)} for m, v in metrics.items()])
        if outcomes is not None:
            outs.setdefault(key, []).append(outcome_record(base, outcomes))

    for model, (q, params, gflops, ips, mem) in MODELS.items():
        for ds, metric in {**POOLED, **DENSE, **SMALL}.items():
            if model == "vit_small_dino" and ds == "oscd":
                continue  # a missing dataset: no Multi-Temporal / Pixel-wise score
            protocols = ["knn5", "linear"] if ds not in DENSE else ["decoder"]
            if model in ("raw_pixels", "spectral_indices") and ds in DENSE:
                continue
            if model in ("raw_pixels", "spectral_indices"):
                protocols = ["linear"]
            y = _targets(ds, metric)
            for protocol in protocols:
                for fraction in (0.1, 1.0):
                    for seed in (0, 1, 2):
                        bonus = 0.04 if protocol == "linear" else 0.0
                        qq = np.clip(q + bonus - (0.12 if fraction < 1 else 0) + rng.normal(0, 0.02), 0, 1)
                        o = _outcomes(metric, y, FLOOR[metric] + (CEIL[metric] - FLOOR[metric]) * qq, rng)
                        exact = {k: float(x) for k, x in metrics_from_sums(o.task, o.kind, o.k, o.sums()).items()}
                        v = exact[metric]
                        extra = {"f1_macro": exact["f1_macro"]} if metric == "accuracy" else {}
                        add(model, ds, protocol, fraction, seed, {metric: v, **extra}, outcomes=o)
                        if ds == "eurosat_ms" and protocol == "linear" and fraction == 1.0:
                            for c_i, c in enumerate(CORRUPTIONS):
                                for sev in (1, 3, 5):
                                    fragile = 0.6 if model == "vit_small_dino" else 1.0
                                    drop = (0.015 + 0.006 * c_i) * sev * fragile * (1 + rng.normal(0, 0.1))
                                    add(model, ds, protocol, fraction, seed, {metric: max(v - drop, 0.05)}, c, sev)
            if params is not None:
                add(model, ds, "efficiency", 1.0, 0, {"params": params, "gflops": gflops * (1.3 if "ms" in ds else 1),
                                                      "throughput_ips": ips, "peak_mem_mb": mem})
    return jobs, outs


def job_rows(suite: str = "quick") -> dict[str, list[dict]]:
    """{job_key: rows} of :func:`grid`."""
    return grid(suite)[0]
