"""Honest scores: per-test-sample outcomes, bootstrap confidence intervals, paired comparisons.

An evaluation keeps, per test sample, the *sufficient statistics* of its metrics
(:class:`Outcomes`): the (target, prediction) pair of a classified sample, the confusion
matrix of a segmentation/change chip, the per-label TP/FP/FN of a multi-label sample, the
(target, prediction) values of a regression sample. Every stored bench metric is a function
of their sum, so a bootstrap replicate is one weighted sum and one vectorised metric
evaluation (:func:`metrics_from_sums`; equal to :func:`eokit.tasks.metrics.score` on the full
sample, checked in tests/bench/test_stats.py).

Bootstrap (:func:`replicates`): replicate ``b`` draws ``S`` seeds with replacement from the
entry's ``S`` seeds and, for each drawn seed, ``n`` test samples with replacement (images or
chips, never pixels); its value is the mean over the drawn seeds of the metric. The draws
depend only on ``(seed, n_boot, S, n)``, so two entries evaluated on the same test set are
resampled identically: their replicates are *paired*, and ``P(A beats B)`` is the fraction of
replicates in which A's metric is better (:func:`p_better`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eokit.errors import ConfigError, MetricError
from eokit.tasktype import TaskType

OUTCOMES_SCHEMA = 1
"""Version of the stored :class:`Outcomes` layout (the results store ignores other versions)."""
MIN_TEST_SAMPLES = 20
"""An evaluation with fewer test samples (images, chips) is not ranked."""
N_BOOT = 1000
CI_LEVEL = 0.95
SIGNIFICANT = 0.975
"""``P(A beats B) > 0.975`` (or ``< 0.025``) marks a difference as significant (two-sided 5 %)."""

KINDS = ("pairs", "confusion", "multilabel", "values")
PERFECT = {"accuracy": 1.0, "f1_macro": 1.0, "f1_micro": 1.0, "map_macro": 1.0, "miou": 1.0,
           "pixel_accuracy": 1.0, "f1_change": 1.0, "iou_change": 1.0, "precision_change": 1.0,
           "recall_change": 1.0, "r2": 1.0, "rmse": 0.0, "mae": 0.0}
"""The perfect value of every stored bench metric (the high normalisation bound)."""


@dataclass(frozen=True)
class Outcomes:
    """Per-test-sample sufficient statistics of one evaluation (one seed, one condition).

    ``kind`` and ``data``: ``pairs`` (n, 2) int [target, prediction] of a classification;
    ``confusion`` (n, k*k) int, one confusion matrix per chip (row = target class, ignored
    pixels left out); ``multilabel`` (n, 3k) int, TP | FP | FN per label; ``values`` (n, 2)
    float [target, prediction] of a regression.
    """

    task: str
    kind: str
    k: int
    data: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"outcomes kind {self.kind!r} is not one of {KINDS}")

    @property
    def n(self) -> int:
        """Test samples (images or chips)."""
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        """Length of one sample's sufficient-statistic vector."""
        return {"pairs": self.k * self.k, "confusion": self.k * self.k, "multilabel": 3 * self.k,
                "values": 5}[self.kind]

    def stats(self) -> np.ndarray:
        """(n, width) float64 sufficient statistics; metrics are functions of their column sums."""
        if self.kind == "pairs":
            s = np.zeros((self.n, self.width))
            s[np.arange(self.n), self.data[:, 0] * self.k + self.data[:, 1]] = 1.0
            return s
        if self.kind == "values":
            y, p = self.data[:, 0].astype(float), self.data[:, 1].astype(float)
            e = p - y
            return np.stack([np.ones_like(y), y, y * y, e * e, np.abs(e)], 1)
        return self.data.astype(np.float64)

    def sums(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Column sums of :meth:`stats` over all samples (``(width,)``) or per row of resample indices ``idx`` (B, n)."""
        if idx is None:
            return self.stats().sum(0)
        b = idx.shape[0]
        if self.kind == "pairs":  # sparse: one confusion cell per sample
            cells = (self.data[:, 0] * self.k + self.data[:, 1])[idx]
            off = np.arange(b)[:, None] * self.width
            return np.bincount((cells + off).ravel(), minlength=b * self.width).reshape(b, self.width).astype(float)
        counts = np.bincount((idx + np.arange(b)[:, None] * self.n).ravel(), minlength=b * self.n)
        return counts.reshape(b, self.n).astype(float) @ self.stats()

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.save(buf, self.data, allow_pickle=False)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, task: str, kind: str, k: int, blob: bytes) -> Outcomes:
        return cls(task, kind, int(k), np.load(io.BytesIO(blob), allow_pickle=False))


def outcomes_of(task: TaskType | str, y: np.ndarray, pred: np.ndarray, num_classes: int, *,
                ignore_index: int | None = None, threshold: float = 0.5) -> Outcomes:
    """The :class:`Outcomes` of predictions ``pred`` (as bench scores them) against targets ``y``."""
    t = TaskType.parse(task)
    y, pred = np.asarray(y), np.asarray(pred)
    if t == TaskType.CLASSIFICATION:
        return Outcomes(t.value, "pairs", int(num_classes), np.stack([y, pred], 1).astype(np.int64))
    if t == TaskType.MULTILABEL:
        yt, pp = y > 0.5, pred >= threshold
        data = np.concatenate([yt & pp, ~yt & pp, yt & ~pp], 1).astype(np.int64)
        return Outcomes(t.value, "multilabel", int(y.shape[1]), data)
    if t == TaskType.REGRESSION:
        y, pred = y.reshape(len(y), -1)[:, 0].astype(float), pred.reshape(len(pred), -1)[:, 0].astype(float)
        ok = np.isfinite(y)
        return Outcomes(t.value, "values", 0, np.stack([y[ok], pred[ok]], 1))
    if t in (TaskType.SEGMENTATION, TaskType.CHANGE_DETECTION):
        k = max(int(num_classes), 2)
        n = len(y)
        yy, pp = y.reshape(n, -1).astype(np.int64), pred.reshape(n, -1).astype(np.int64)
        valid = yy != ignore_index if ignore_index is not None else np.ones_like(yy, dtype=bool)
        chip = np.broadcast_to(np.arange(n)[:, None], yy.shape)
        cells = chip[valid] * (k * k) + yy[valid] * k + pp[valid]
        conf = np.bincount(cells, minlength=n * k * k).reshape(n, k * k)
        return Outcomes(t.value, "confusion", k, conf.astype(np.int64))
    raise ConfigError(f"task {t.value!r} has no bench outcomes; bench keeps them for "
                      "classification, multilabel, regression, segmentation and change_detection")


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def _macro(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean over the present classes (the convention of eokit.tasks.metrics)."""
    n = present.sum(-1)
    return _div((values * present).sum(-1), n)


def metrics_from_sums(task: str, kind: str, k: int, sums: np.ndarray) -> dict[str, np.ndarray]:
    """Every stored bench metric (``STORED_METRICS`` names) from summed statistics ``sums`` (..., width).

    Multi-label ``map_macro`` is not a function of per-sample counts and has no entry.
    """
    s = np.asarray(sums, dtype=float)
    if kind in ("pairs", "confusion"):
        c = s.reshape(*s.shape[:-1], k, k)
        tp = np.diagonal(c, axis1=-2, axis2=-1)
        rows, cols = c.sum(-1), c.sum(-2)
        total = rows.sum(-1)
        present = (rows + cols) > 0
        acc = _div(tp.sum(-1), total)
        f1 = _macro(_div(2 * tp, rows + cols), present)
        if task == TaskType.CLASSIFICATION.value:
            return {"accuracy": acc, "f1_macro": f1}
        if task == TaskType.SEGMENTATION.value:
            return {"miou": _macro(_div(tp, rows + cols - tp), present), "pixel_accuracy": acc}
        tp1, fp1, fn1 = c[..., 1, 1], cols[..., 1] - c[..., 1, 1], rows[..., 1] - c[..., 1, 1]
        return {"f1_change": _div(2 * tp1, 2 * tp1 + fp1 + fn1), "iou_change": _div(tp1, tp1 + fp1 + fn1),
                "precision_change": _div(tp1, tp1 + fp1), "recall_change": _div(tp1, tp1 + fn1)}
    if kind == "multilabel":
        tp, fp, fn = (s[..., i * k:(i + 1) * k].sum(-1) for i in range(3))
        return {"f1_micro": _div(2 * tp, 2 * tp + fp + fn)}
    n, sy, syy, see, sae = (s[..., i] for i in range(5))
    sst = syy - _div(sy * sy, n)
    return {"rmse": np.sqrt(_div(see, n)), "mae": _div(sae, n), "r2": 1.0 - _div(see, sst)}


def metric_value(o: Outcomes, metric: str, idx: np.ndarray | None = None) -> np.ndarray:
    """``metric`` of the outcomes (a 0-d array), or per resample row of ``idx`` (B,)."""
    values = metrics_from_sums(o.task, o.kind, o.k, o.sums(idx))
    if metric not in values:
        raise MetricError(f"metric {metric!r} has no per-sample form for {o.task} outcomes; "
                          f"these do: {sorted(values)}")
    return values[metric]


def rank_reason(runs: Sequence[Outcomes], metric: str | None = None) -> str:
    """Why an evaluation on this test set cannot be ranked on ``metric``, or '' when it can.

    (A metric without a per-sample form, e.g. multi-label ``map_macro``, is still ranked: it just
    has no test-sample CI.)"""
    if not runs:
        return "no per-sample outcomes"
    o = runs[0]
    if o.n == 0:
        return "empty test split"
    if o.n < MIN_TEST_SAMPLES:
        return f"only {o.n} test samples (< {MIN_TEST_SAMPLES})"
    s = o.stats().sum(0)
    if o.kind in ("pairs", "confusion"):
        rows = s.reshape(o.k, o.k).sum(1)
        if rows.sum() == 0:
            return "no labelled pixel in the test split"
        if (rows > 0).sum() < 2:
            return f"the test split holds one class only (class {int(np.argmax(rows))})"
    elif o.kind == "multilabel":
        pos = s[: o.k] + s[2 * o.k:]
        empty = np.flatnonzero(pos == 0)
        if empty.size:
            return (f"{empty.size} of {o.k} labels have no positive test sample "
                    f"(label {', '.join(str(int(i)) for i in empty[:5])}{' …' if empty.size > 5 else ''})")
    elif o.kind == "values" and np.nanstd(o.data[:, 0]) == 0:
        return "every test target has the same value"
    if metric == "f1_change" and o.kind == "confusion" and s.reshape(o.k, o.k)[1].sum() == 0:
        return "no changed pixel in the test split"
    return ""


def chance_value(o: Outcomes, metric: str) -> float:
    """The metric of the best input-blind predictor on this test set (the low normalisation bound).

    Classification, segmentation and change: the best constant class (the majority class for
    accuracy; the 'change' class for change F1); multi-label: every label positive; regression:
    the mean of the test targets (r2 = 0, rmse = their standard deviation).
    """
    s = o.stats().sum(0)
    if o.kind in ("pairs", "confusion"):
        rows = s.reshape(o.k, o.k).sum(1)
        cands = np.zeros((o.k, o.k, o.k))
        for c in range(o.k):
            cands[c, :, c] = rows
        vals = metrics_from_sums(o.task, o.kind, o.k, cands.reshape(o.k, -1))
    elif o.kind == "multilabel":
        pos = s[: o.k] + s[2 * o.k:]
        cand = np.concatenate([pos, o.n - pos, np.zeros(o.k)])
        vals = metrics_from_sums(o.task, o.kind, o.k, cand)
    else:
        y = o.data[:, 0].astype(float)
        e = y.mean() - y
        cand = np.array([o.n, y.sum(), (y * y).sum(), (e * e).sum(), np.abs(e).sum()])
        vals = metrics_from_sums(o.task, o.kind, o.k, cand)
    if metric not in vals:
        raise MetricError(f"metric {metric!r} has no chance level for {o.task} outcomes")
    v = np.atleast_1d(vals[metric])
    return float(v.min() if PERFECT.get(metric, 1.0) == 0.0 else v.max())


def _draws(n_boot: int, n_seeds: int, n: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(seed slots (B, S), per slot sample indices (B, n)); the same for every entry with this (S, n)."""
    rng = np.random.default_rng(seed)
    slots = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    return slots, [rng.integers(0, n, size=(n_boot, n)) for _ in range(n_seeds)]


def replicates(runs: Sequence[Outcomes], metric: str, *, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """(n_boot,) bootstrap replicates of the seed-mean ``metric`` (see the module docstring)."""
    if not runs:
        raise MetricError(f"no outcomes to bootstrap {metric!r} from")
    n = runs[0].n
    if any(o.n != n for o in runs):
        raise MetricError(f"the seeds' outcomes differ in test samples ({sorted({o.n for o in runs})}); "
                          "a bootstrap over test samples needs one test set")
    if n == 0:
        raise MetricError(f"{metric}: no test samples to bootstrap")
    first = runs[0]
    if any((o.task, o.kind, o.k) != (first.task, first.kind, first.k) for o in runs):
        raise MetricError(f"the seeds' outcomes of {metric!r} differ in task, kind or class count")
    slots, idx = _draws(n_boot, len(runs), n, seed)
    out = np.zeros(n_boot)
    for j, ix in enumerate(idx):
        sums = np.empty((n_boot, first.width))
        for s, o in enumerate(runs):  # replicate b of slot j resamples seed slots[b, j]
            pick = slots[:, j] == s
            if pick.any():
                sums[pick] = o.sums(ix[pick])
        values = metrics_from_sums(first.task, first.kind, first.k, sums)
        if metric not in values:
            raise MetricError(f"metric {metric!r} has no per-sample form for {first.task} outcomes; "
                              f"these do: {sorted(values)}")
        out += values[metric]
    return out / len(runs)


def point_value(runs: Sequence[Outcomes], metric: str) -> float:
    """The seed-mean of ``metric`` on the full test set."""
    return float(np.mean([metric_value(o, metric) for o in runs]))


def ci(reps: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates."""
    a = (1 - level) / 2 * 100
    lo, hi = np.nanpercentile(reps, [a, 100 - a])
    return float(lo), float(hi)


def p_better(a: np.ndarray, b: np.ndarray, *, higher_is_better: bool = True) -> float:
    """P(A beats B) from paired replicates (ties count half)."""
    if a.shape != b.shape:
        raise MetricError(f"paired replicates differ in shape: {a.shape} vs {b.shape}")
    d = a - b if higher_is_better else b - a
    return float((d > 0).mean() + 0.5 * (d == 0).mean())


def mark(p: float) -> str:
    """'*' when ``p`` is significant either way (> 0.975 or < 0.025), else ''."""
    return "*" if np.isfinite(p) and (p > SIGNIFICANT or p < 1 - SIGNIFICANT) else ""


# -- tables over stored outcomes (one row per job x condition, as ResultsStore.outcomes returns) -----

ENTRY_KEYS = ("model", "protocol", "fraction")


def _clean(outcomes: pd.DataFrame | None) -> pd.DataFrame:
    if outcomes is None or outcomes.empty:
        return pd.DataFrame(columns=["dataset", *ENTRY_KEYS, "seed", "reason", "outcomes"])
    keep = (outcomes["corruption"].fillna("none") == "none") & (outcomes["severity"].fillna(0) == 0)
    return outcomes[keep]


def not_ranked(outcomes: pd.DataFrame | None, metrics: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{dataset: reason}`` of the datasets whose test set cannot rank models (see :func:`rank_reason`),
    or on which an evaluation could not be scored at all (its stored reason)."""
    out: dict[str, str] = {}
    c = _clean(outcomes)
    for ds, sub in c.groupby("dataset", sort=True):
        failed = sub[sub["outcomes"].isna() & (sub["reason"] != "")]
        if len(failed):
            r = failed.iloc[0]
            out[str(ds)] = f"{r['reason']} ({r['model']} · {r['protocol']})"
            continue
        runs = [o for o in sub["outcomes"] if o is not None]
        why = rank_reason(runs[:1], (metrics or {}).get(str(ds)))
        if why:
            out[str(ds)] = why
    return out


def chance_references(outcomes: pd.DataFrame | None, metrics: Mapping[str, str]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{dataset: {metric: (min, max)}}`` fixed from the test labels: chance level and perfect value.

    Higher-is-better metrics map (chance, perfect) to (0, 1); lower-is-better ones (rmse, mae)
    are given as (perfect, chance) = (0, rmse of the mean predictor), which ``normalise`` maps to (1, 0).
    """
    refs: dict[str, dict[str, tuple[float, float]]] = {}
    c = _clean(outcomes)
    for ds, sub in c.groupby("dataset", sort=True):
        runs = [o for o in sub["outcomes"] if o is not None]
        met = metrics.get(str(ds))
        if not runs or met is None or met not in PERFECT:
            continue
        try:
            lo = chance_value(runs[0], met)
        except MetricError:
            continue
        hi = PERFECT[met]
        refs[str(ds)] = {met: (min(lo, hi), max(lo, hi))}
    return refs


def entry_replicates(outcomes: pd.DataFrame | None, metrics: Mapping[str, str], *, n_boot: int = N_BOOT,
                     seed: int = 0) -> tuple[pd.DataFrame, dict[tuple[Any, ...], np.ndarray]]:
    """Per (entry, dataset) on clean test data: the ranked metric's seed-mean, its 95 % bootstrap CI,
    test samples and seeds; and the replicates themselves, keyed ``(model, protocol, fraction, dataset)``.

    Every (entry, dataset) is resampled with ``default_rng(seed)``: entries with the same test set and
    number of seeds get the same draws, so their replicates are paired.
    """
    cols = [*ENTRY_KEYS, "dataset", "metric", "value", "ci_lo", "ci_hi", "n_test", "n_seeds"]
    recs: list[dict[str, Any]] = []
    reps: dict[tuple[Any, ...], np.ndarray] = {}
    c = _clean(outcomes)
    c = c[c["outcomes"].notna()] if len(c) else c
    for key, sub in c.groupby([*ENTRY_KEYS, "dataset"], sort=True):
        met = metrics.get(str(key[-1]))
        if met is None:
            continue
        runs = [o for _, o in sorted(zip(sub["seed"], sub["outcomes"], strict=True), key=lambda t: t[0])]
        try:
            r = replicates(runs, met, n_boot=n_boot, seed=seed)
            point = point_value(runs, met)
        except MetricError:
            continue  # e.g. map_macro: no per-sample form; the row keeps its seed statistics
        reps[tuple(key)] = r
        lo, hi = ci(r)
        recs.append(dict(zip([*ENTRY_KEYS, "dataset"], key, strict=True), metric=met, value=point, ci_lo=lo,
                         ci_hi=hi, n_test=runs[0].n, n_seeds=len(runs)))
    return pd.DataFrame.from_records(recs, columns=cols), reps
