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


def test_references_relative_to_models_hand_computed() -> None:
    """``low: raw_pixels, high: best`` (the old default): used only while the spread is meaningful."""
    d = tiny_suite_dict()
    d["references"] = {"low": "raw_pixels", "high": "best"}
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
    # nothing beats raw pixels: max is the perfect value, never a range collapsed onto the entries
    df2 = _rows({("raw_pixels", "linear", 1.0): [0.6, 0.6], ("a", "linear", 1.0): [0.5, 0.5],
                 ("b", "linear", 1.0): [0.55, 0.55]})
    assert compute_references(df2, suite) == {"d": {"accuracy": (pytest.approx(0.6), 1.0)}}


def _outcomes(dataset: str, models: dict[str, float], n: int = 1200, k: int = 30) -> pd.DataFrame:
    """Stored-outcome records (as ResultsStore.outcomes returns) of classifiers with given accuracies."""
    from eokit.bench.stats import outcomes_of

    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    recs = []
    for model, acc in models.items():
        pred = np.where(np.arange(n) < round(acc * n), y, (y + 1) % k)
        recs.append({"dataset": dataset, "model": model, "protocol": "linear", "fraction": 1.0, "seed": 0,
                     "corruption": "none", "severity": 0, "reason": "",
                     "outcomes": outcomes_of("classification", y, pred, k)})
    return pd.DataFrame(recs)


def test_default_references_are_chance_and_perfect() -> None:
    """The issue's 30-class case: raw accuracies 0.454, 0.392, 0.329, 0.325 kept their order and spread
    (they were normalised to 1.000 and 0.000 x 3 by bounds collapsed onto the entries)."""
    from eokit.bench.aggregate import normalise

    suite = parse_suite(tiny_suite_dict())
    accs = {"raw_pixels": 0.454, "cnn": 0.392, "cnn.rgb": 0.329, "spectral_indices": 0.325}
    df = _rows({(m, "linear", 1.0): [a] for m, a in accs.items()})
    outs = _outcomes("d", accs)
    refs = compute_references(df, suite, outs)
    lo, hi = refs["d"]["accuracy"]
    majority = np.bincount(outs["outcomes"][0].data[:, 0]).max() / 1200
    assert hi == 1.0 and lo == pytest.approx(majority) and 0.03 < lo < 0.06
    scores = normalise(df, refs).set_index("model")["score"]
    assert list(scores.sort_values(ascending=False).index) == list(accs)  # order kept
    assert scores["raw_pixels"] == pytest.approx((0.454 - lo) / (1 - lo))
    assert 0.1 < scores["raw_pixels"] - scores["spectral_indices"] < 0.15  # 0.129 raw gap, ~0.13 normalised
    assert scores.between(0, 1).all()
    # without stored outcomes (an exported CSV): floor 0, perfect 1
    assert compute_references(df, suite) == {"d": {"accuracy": (0.0, 1.0)}}


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
