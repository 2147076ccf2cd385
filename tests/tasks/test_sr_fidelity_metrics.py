"""Spectral angle (SAM) and rank correlation in eokit.tasks.metrics, checked against torchmetrics/scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torchmetrics.image import SpectralAngleMapper

from eokit.errors import MetricError
from eokit.tasks import get_task
from eokit.tasks.metrics import SpectralAngle, rank_correlation, score

RNG = np.random.default_rng(7)


def test_sam_matches_torchmetrics_and_the_formula_in_degrees() -> None:
    hr = torch.from_numpy(RNG.uniform(0.05, 1.0, (3, 5, 9, 7)))
    sr = (hr + torch.from_numpy(RNG.normal(scale=0.1, size=hr.shape))).clamp(0.01, None)
    ref = SpectralAngleMapper()(sr.float(), hr.float())  # radians, mean over pixels
    m = SpectralAngle()
    m.update(sr[:2], hr[:2])  # two batches accumulate like one
    m.update(sr[2:], hr[2:])
    assert float(m.compute()) == pytest.approx(math.degrees(float(ref)), rel=1e-4)
    p, t = sr.numpy(), hr.numpy()
    cos = (p * t).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(t, axis=1))
    assert float(m.compute()) == pytest.approx(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean(), rel=1e-9)
    got = score("super_resolution", hr, sr, data_range=1.0)
    assert got["sam"] == pytest.approx(float(m.compute()), rel=1e-6)
    assert score("super_resolution", hr, hr * 3.0, data_range=1.0)["sam"] == pytest.approx(0.0, abs=1e-5)


def test_sam_single_band_and_zero_spectra() -> None:
    one = torch.rand(2, 1, 16, 16)
    assert math.isnan(score("super_resolution", one, one, data_range=1.0)["sam"])  # no spectrum: NaN
    t = torch.ones(1, 2, 1, 2)
    p = torch.tensor([[[[0.0, 1.0]], [[0.0, 0.0]]]])  # pixel 0 all zero (no angle), pixel 1 at 45 degrees
    m = SpectralAngle()
    m.update(p, t)
    assert float(m.compute()) == pytest.approx(45.0) and int(m.n) == 1
    metrics = get_task("super_resolution", data_range=1.0).metrics()
    assert "sam" in dict(metrics.items(keep_base=True))
    with pytest.raises(MetricError, match="shape"):
        SpectralAngle().update(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


def test_rank_correlation_matches_scipy() -> None:
    a = [31.2, 28.4, 33.0, 29.9, 30.1]
    b = [0.71, 0.66, 0.70, 0.69, 0.72]
    got = rank_correlation(a, b)
    assert got["spearman"] == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-6)
    assert got["kendall"] == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-6)
    tied = rank_correlation([1.0, 2.0, 2.0, 3.0], [4.0, 1.0, 3.0, 3.0])  # ties: tau-b, average ranks
    assert tied["kendall"] == pytest.approx(stats.kendalltau([1, 2, 2, 3], [4, 1, 3, 3]).statistic, abs=1e-6)
    assert tied["spearman"] == pytest.approx(stats.spearmanr([1, 2, 2, 3], [4, 1, 3, 3]).statistic, abs=1e-6)
    assert rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx({"spearman": -1.0, "kendall": -1.0}, abs=1e-5)


@pytest.mark.parametrize(("a", "b", "match"), [
    ([1.0, 2.0], [1.0, 2.0], ">= 3 pairs"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], "one length"),
    ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], "constant"),
    ([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0], "non-finite"),
])
def test_rank_correlation_bad_input(a: list[float], b: list[float], match: str) -> None:
    with pytest.raises(MetricError, match=match):
        rank_correlation(a, b)
