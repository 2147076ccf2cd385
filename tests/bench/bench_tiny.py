"""The tiny benchmark suite the tests run (real mirror data, seconds on a CPU)."""

from __future__ import annotations

from typing import Any


def tiny_suite_dict(name: str = "tiny", seeds: tuple[int, ...] = (0, 1), robustness: bool = True) -> dict[str, Any]:
    """A suite that runs in seconds: 13-band EuroSAT MS subset at 32 px, a slim CNN and the baselines."""
    d: dict[str, Any] = {
        "name": name,
        "models": [{"name": "cnn", "arch": "mobilecnn", "options": {"width": 0.25}}],
        "datasets": [{
            "name": "eurosat_ms",
            "spec": "eurosat_ms",
            "loader": "image_folder",
            "kwargs": {"root": "classification/eurosat_ms_subset", "sensor": "sentinel2_l1c",
                       "name": "eurosat_ms_subset"},
            "train": {"split": "train", "max_items": 40},
            "test": {"split": "test", "max_items": 20},
            "size": 32,
        }],
        "protocols": ["knn5", "linear"],
        "fractions": [0.5, 1.0],
        "seeds": list(seeds),
        "efficiency": {"batch_size": 4, "repeats": 1},
    }
    if robustness:
        d["robustness"] = {"corruptions": ["gaussian_noise", "haze"], "severities": [1, 3],
                           "protocols": ["linear"], "fractions": [1.0], "seeds": [0]}
    return d
