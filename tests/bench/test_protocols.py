"""Protocols: the linear probe and kNN equal scikit-learn run directly; the decoder learns; fractions are stratified."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from eokit.bench import protocols as P
from eokit.bench.data import IGNORE_INDEX, balanced_subset, fraction_indices, stratified_holdout
from eokit.errors import MetricError

CLEAN = ("none", 0)


@pytest.fixture(scope="module")
def features() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed feature set: 4 Gaussian classes in 32-d, overlapping enough that accuracy < 1."""
    rng = np.random.default_rng(42)
    centres = rng.normal(scale=0.3, size=(4, 32))
    y = rng.integers(0, 4, 400)
    x = centres[y] + rng.normal(size=(400, 32)) + 5.0
    return x[:300], y[:300], x[300:], y[300:]


def test_linear_probe_matches_sklearn(features) -> None:
    xtr, ytr, xte, yte = features
    res = P.run_pooled("linear", "classification", xtr, ytr, {CLEAN: (xte, yte)}, seed=0, num_classes=4)[CLEAN]
    scaler = StandardScaler().fit(xtr)
    ref = LogisticRegression(**P.LINEAR_PROBE).fit(scaler.transform(xtr), ytr)
    acc = float((ref.predict(scaler.transform(xte)) == yte).mean())
    assert res["accuracy"] == pytest.approx(acc)
    assert 0.5 < acc < 1.0


def test_knn_matches_sklearn(features) -> None:
    xtr, ytr, xte, yte = features
    scaler = StandardScaler().fit(xtr)
    for k in (5, 20):
        res = P.run_pooled(f"knn{k}", "classification", xtr, ytr, {CLEAN: (xte, yte)}, 0, 4)[CLEAN]
        ref = KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(scaler.transform(xtr), ytr)
        assert res["accuracy"] == pytest.approx(float((ref.predict(scaler.transform(xte)) == yte).mean()))


def test_multilabel_and_regression_probes() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    x = rng.normal(scale=2.0, size=(4, 16))[y] + rng.normal(size=(300, 16))
    xtr, ytr, xte, yte = x[:200], y[:200], x[200:], y[200:]
    mtr = np.eye(4)[ytr]
    mtr[:, 3] = 0  # a label never positive in training predicts 0
    mte = np.eye(4)[yte]
    for proto in ("linear", "knn5", "random_forest"):
        out = P.run_pooled(proto, "multilabel", xtr, mtr, {CLEAN: (xte, mte)}, 0, 4)[CLEAN]
        assert 0.7 < out["f1_micro"] <= 1.0
    r = P.run_pooled("linear", "regression", xtr, xtr[:, 0] * 2.0, {CLEAN: (xte, xte[:, 0] * 2.0)}, 0, 0)[CLEAN]
    assert r["r2"] > 0.99


def test_decoder_learns_a_dense_task() -> None:
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(24, 3, 16, 16)).astype(np.float32)
    mask = (maps[:, 0] > 0).astype(np.int64)  # label = sign of channel 0: linear per pixel
    out = P.run_decoder("segmentation", [maps[:16]], mask[:16], {CLEAN: ([maps[16:]], mask[16:])}, seed=0,
                        num_classes=2, epochs=40, lr=0.01)
    assert out[CLEAN]["miou"] > 0.8
    m2 = maps + (mask[:, None] * 2.0)
    fused = P.fuse_change([maps], [m2])
    ch = P.run_decoder("change_detection", [f[:16] for f in fused], mask[:16], {CLEAN: ([f[16:] for f in fused], mask[16:])},
                       seed=0, num_classes=2, epochs=40, lr=0.01)
    assert ch[CLEAN]["f1_change"] > 0.8


def test_a_test_split_without_labelled_pixels_fails_the_job_clearly(monkeypatch) -> None:
    from eokit.bench import runner

    rng = np.random.default_rng(1)
    maps = rng.normal(size=(6, 3, 8, 8)).astype(np.float32)
    mask = (maps[:, 0] > 0).astype(np.int64)
    empty = np.full_like(mask[4:], IGNORE_INDEX)
    with pytest.raises(MetricError, match="0 labelled pixels"):
        P.run_decoder("segmentation", [maps[:4]], mask[:4], {CLEAN: ([maps[4:]], empty)}, seed=0,
                      num_classes=2, epochs=1)

    def no_pixels(*a, **k):
        raise MetricError("metrics miou are undefined: 0 labelled pixels seen")

    monkeypatch.setattr(runner, "eval_job", no_pixels)
    job = runner.Job("eval", "m", "d", "decoder", 1.0, 0, (("k", (CLEAN,)),))
    # not a crash and not 0.0: no rows, and the reason goes to the outcomes table
    res = runner.run_job({"name": "s"}, job)
    assert dict(res) == {"k": []}
    (rec,) = res.outcomes["k"]
    assert rec["reason"] == "metrics miou are undefined: 0 labelled pixels seen" and rec["data"] is None
    assert (rec["suite"], rec["dataset"], rec["model"], rec["corruption"]) == ("s", "d", "m", "none")


def test_fractions_are_stratified_and_seeded() -> None:
    y = np.repeat(np.arange(5), [40, 30, 20, 8, 2])
    idx = fraction_indices(y, 0.1, seed=3, task="classification")
    counts = np.bincount(y[idx], minlength=5)
    assert counts.tolist() == [4, 3, 2, 1, 1]  # ceil(10 %) per class, at least one each
    assert np.array_equal(idx, fraction_indices(y, 0.1, seed=3, task="classification"))
    assert not np.array_equal(idx, fraction_indices(y, 0.1, seed=4, task="classification"))
    assert len(fraction_indices(y, 1.0, 0, "classification")) == len(y)
    sub = balanced_subset(y, 20, seed=0)
    assert np.bincount(y[sub], minlength=5).tolist() == [5, 5, 4, 4, 2]
    tr, te = stratified_holdout(y, len(y), 0.25, seed=0)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(y)
    assert np.bincount(y[te], minlength=5).tolist() == [10, 8, 5, 2, 0]
