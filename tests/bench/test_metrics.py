"""Benchmark metrics against scikit-learn on the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from eokit.bench import metrics as M


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_classification(rng: np.random.Generator) -> None:
    y = rng.integers(0, 6, 500)
    p = np.where(rng.random(500) < 0.6, y, rng.integers(0, 6, 500))
    out = M.classification_metrics(y, p, 6)
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert out["f1_macro"] == pytest.approx(skm.f1_score(y, p, average="macro"))


def test_multilabel(rng: np.random.Generator) -> None:
    y = (rng.random((200, 7)) < 0.3).astype(float)
    y[:, 6] = 0  # a label absent from the test set is left out of the AP mean, as sklearn warns
    s = np.clip(y * 0.4 + rng.random((200, 7)) * 0.7, 0, 1)
    s[:50, 0] = 0.5  # ties
    out = M.multilabel_metrics(y, s)
    assert out["f1_micro"] == pytest.approx(skm.f1_score(y, s >= 0.5, average="micro"))
    aps = [skm.average_precision_score(y[:, j], s[:, j]) for j in range(6)]
    assert out["map_macro"] == pytest.approx(np.mean(aps))


def test_segmentation_and_change(rng: np.random.Generator) -> None:
    y = rng.integers(0, 4, (5, 16, 16))
    y[0, :4] = M.IGNORE_INDEX
    p = np.where(rng.random(y.shape) < 0.7, y, rng.integers(0, 4, y.shape))
    p[y == M.IGNORE_INDEX] = 0
    keep = y.ravel() != M.IGNORE_INDEX
    out = M.segmentation_metrics(y, p, 4)
    assert out["miou"] == pytest.approx(skm.jaccard_score(y.ravel()[keep], p.ravel()[keep], average="macro"))
    assert out["pixel_accuracy"] == pytest.approx(skm.accuracy_score(y.ravel()[keep], p.ravel()[keep]))
    yb, pb = (y > 1).astype(int), (p > 1).astype(int)
    yb[y == M.IGNORE_INDEX] = M.IGNORE_INDEX
    ch = M.change_metrics(yb, pb)
    assert ch["f1_change"] == pytest.approx(skm.f1_score(yb.ravel()[keep], pb.ravel()[keep]))
    assert ch["iou_change"] == pytest.approx(skm.jaccard_score(yb.ravel()[keep], pb.ravel()[keep]))
    assert ch["precision_change"] == pytest.approx(skm.precision_score(yb.ravel()[keep], pb.ravel()[keep]))


def test_regression(rng: np.random.Generator) -> None:
    y = rng.normal(size=100)
    p = y + rng.normal(scale=0.5, size=100)
    out = M.regression_metrics(y, p)
    assert out["r2"] == pytest.approx(skm.r2_score(y, p))
    assert out["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert out["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
