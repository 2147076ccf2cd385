"""Normalisation references from the run's rows, and the efficiency measurements."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from bench_tiny import tiny_suite_dict

from eokit.bench.config import parse_suite
from eokit.bench.efficiency import EFFICIENCY_METRICS, count_flops, measure
from eokit.bench.references import compute_references


def _rows(values: dict[tuple[str, str, float], list[float]]) -> pd.DataFrame:
    recs = []
    for (model, protocol, fraction), vals in values.items():
        for seed, v in enumerate(vals):
            recs.append({"suite": "s", "dataset": "d", "model": model, "protocol": protocol, "fraction": fraction,
                         "seed": seed, "corruption": "none", "severity": 0, "metric": "accuracy", "value": v})
    return pd.DataFrame(recs)


def test_references_hand_computed() -> None:
    d = tiny_suite_dict()
    d["models"] = [{"name": "a", "arch": "mobilecnn", "role": "reference"},
                   {"name": "b", "arch": "mobilecnn"}]
    suite = parse_suite(d)
    df = _rows({
        ("raw_pixels", "linear", 1.0): [0.40, 0.50],        # mean 0.45
        ("raw_pixels", "knn5", 1.0): [0.50, 0.52],          # mean 0.51 <- min reference (best raw entry)
        ("raw_pixels", "linear", 0.1): [0.90, 0.90],        # smaller fraction: ignored
        ("a", "linear", 1.0): [0.70, 0.80],                 # mean 0.75 <- max reference (role reference)
        ("b", "linear", 1.0): [0.95, 0.95],                 # not a reference model
    })
    assert compute_references(df, suite) == {"d": {"accuracy": (pytest.approx(0.51), pytest.approx(0.75))}}
    # nothing beats raw pixels: max falls back to the best entry of any model
    df2 = _rows({("raw_pixels", "linear", 1.0): [0.6, 0.6], ("a", "linear", 1.0): [0.5, 0.5],
                 ("b", "linear", 1.0): [0.55, 0.55]})
    assert compute_references(df2, suite) == {"d": {"accuracy": (pytest.approx(0.6), pytest.approx(0.6))}}


class _Conv:
    """A one-layer 'extractor' with known FLOPs: 2 * Cin * Cout * k * k * H * W."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Conv2d(4, 8, 3, padding=1, bias=False)

    def extract(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        with torch.inference_mode():
            y = self.model(x)
        return y.mean((2, 3)), [y]


def test_efficiency_metrics() -> None:
    ex = _Conv()
    x = np.random.default_rng(0).normal(size=(4, 4, 32, 32)).astype(np.float32)
    assert count_flops(ex.extract, torch.from_numpy(x[:1])) == 2 * 4 * 8 * 9 * 32 * 32
    out = measure(ex, x, repeats=2)
    assert set(out) == set(EFFICIENCY_METRICS)
    assert out["params"] == 4 * 8 * 9
    assert out["gflops"] == pytest.approx(2 * 4 * 8 * 9 * 32 * 32 / 1e9)
    assert out["throughput_ips"] > 0 and out["peak_mem_mb"] >= 0
