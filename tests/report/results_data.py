"""A realistic, seeded grid of benchmark result rows for the report tests (no model is run)."""

from __future__ import annotations

import numpy as np

from eokit.transforms.corruptions import CORRUPTIONS

POOLED = {"eurosat_rgb": "accuracy", "eurosat_ms": "accuracy", "bigearthnet_s2": "f1_micro"}
DENSE = {"m_cashew_plant": "miou", "oscd": "f1_change"}
MODELS = {  # name -> (quality 0..1, params, gflops, img/s, peak MB)
    "resnet50_ssl4eo": (0.85, 23.5e6, 4.1, 95.0, 410.0),
    "vit_small_dino": (0.78, 21.7e6, 4.6, 70.0, 380.0),
    "resnet18_random": (0.35, 11.2e6, 1.8, 240.0, 190.0),
    "raw_pixels": (0.20, None, None, None, None),
    "spectral_indices": (0.30, None, None, None, None),
}
FLOOR = {"accuracy": 0.35, "f1_micro": 0.3, "miou": 0.2, "f1_change": 0.1}
CEIL = {"accuracy": 0.97, "f1_micro": 0.8, "miou": 0.7, "f1_change": 0.6}


def job_rows(suite: str = "quick") -> dict[str, list[dict]]:
    """{job_key: rows} — one job per (model, dataset, protocol, fraction): all its seeds and corruptions."""
    rng = np.random.default_rng(0)
    jobs: dict[str, list[dict]] = {}

    def add(model: str, ds: str, protocol: str, fraction: float, seed: int, metrics: dict[str, float],
            corruption: str = "none", severity: int = 0) -> None:
        key = f"{suite}/{model}/{ds}/{protocol}/{fraction:g}"
        jobs.setdefault(key, []).extend([
            {"suite": suite, "dataset": ds, "model": model, "protocol": protocol, "fraction": fraction,
             "seed": seed, "corruption": corruption, "severity": severity, "metric": m, "value": float(v),
             "config_hash": "c0ffee12"}
            for m, v in metrics.items()
        ])

    for model, (q, params, gflops, ips, mem) in MODELS.items():
        for ds, metric in {**POOLED, **DENSE}.items():
            if model == "vit_small_dino" and ds == "oscd":
                continue  # a missing dataset: no Multi-Temporal / Pixel-wise score
            protocols = ["knn5", "linear"] if ds in POOLED else ["decoder"]
            if model in ("raw_pixels", "spectral_indices") and ds in DENSE:
                continue
            if model in ("raw_pixels", "spectral_indices"):
                protocols = ["linear"]
            for protocol in protocols:
                for fraction in (0.1, 1.0):
                    for seed in (0, 1, 2):
                        bonus = 0.04 if protocol == "linear" else 0.0
                        qq = np.clip(q + bonus - (0.12 if fraction < 1 else 0) + rng.normal(0, 0.02), 0, 1)
                        v = FLOOR[metric] + (CEIL[metric] - FLOOR[metric]) * qq
                        extra = {"f1_macro": v - 0.03} if metric == "accuracy" else {}
                        add(model, ds, protocol, fraction, seed, {metric: v, **extra})
                        if ds == "eurosat_ms" and protocol == "linear" and fraction == 1.0:
                            for c_i, c in enumerate(CORRUPTIONS):
                                for sev in (1, 3, 5):
                                    fragile = 0.6 if model == "vit_small_dino" else 1.0
                                    drop = (0.015 + 0.006 * c_i) * sev * fragile * (1 + rng.normal(0, 0.1))
                                    add(model, ds, protocol, fraction, seed, {metric: max(v - drop, 0.05)}, c, sev)
            if params is not None:
                add(model, ds, "efficiency", 1.0, 0, {"params": params, "gflops": gflops * (1.3 if "ms" in ds else 1),
                                                      "throughput_ips": ips, "peak_mem_mb": mem})
    return jobs
