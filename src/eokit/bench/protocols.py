"""Evaluation protocols.

- On pooled frozen features: kNN (k = 5, 20; cosine on standardised
  features), linear probe (L-BFGS logistic regression for classes, one per
  label for multi-label; ridge for regression) and a random forest.
- On frozen feature maps (dense tasks): a light decoder (1×1 projections of
  every scale, summed at the finest scale, 1×1 classifier) trained for a few
  epochs on CPU; change detection feeds ``[|a-b|, a, b]`` of the two dates.
- Full fine-tuning: backbone + linear head trained end to end for a few epochs.

Each protocol fits once on the training subset and scores every evaluation
condition (clean and corrupted test features) with the same fitted model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eokit.bench.config import POOLED_TASKS, STORED_METRICS
from eokit.bench.data import IGNORE_INDEX
from eokit.bench.stats import Outcomes, outcomes_of
from eokit.errors import ConfigError
from eokit.tasks.metrics import score
from eokit.tasktype import TaskType

Cond = tuple[str, int]  # (corruption, severity); ('none', 0) is clean
CLEAN: Cond = ("none", 0)
LINEAR_PROBE = {"solver": "lbfgs", "max_iter": 500, "C": 1.0}
"""scikit-learn LogisticRegression settings of the linear probe (standardised features)."""


def bench_scores(task: TaskType | str, y: np.ndarray, pred: np.ndarray, num_classes: int) -> dict[str, float]:
    """The stored bench metrics (``STORED_METRICS``) of predictions ``pred`` against ``y``.

    Computed by :func:`eokit.tasks.metrics.score`, the implementation ``eokit evaluate`` uses;
    raises MetricError when nothing valid is there to score (empty split, no labelled pixel).
    """
    task = TaskType.parse(task)
    if task not in STORED_METRICS:
        raise ConfigError(f"task {task.value!r} has no bench metrics; bench scores {', '.join(STORED_METRICS)}")
    k = int(np.asarray(y).shape[1]) if task == TaskType.MULTILABEL else num_classes if task.classes else None
    values = score(task, y, pred, num_classes=k, ignore_index=IGNORE_INDEX if task.dense else None)
    return {stored: float(values[name]) for stored, name in STORED_METRICS[task].items()}


def _standardise(train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    train = np.nan_to_num(train.astype(np.float64))
    mu = train.mean(0)
    sd = train.std(0)
    sd[sd < 1e-8] = 1.0

    def apply(x: np.ndarray) -> np.ndarray:
        return (np.nan_to_num(x.astype(np.float64)) - mu) / sd

    return apply


def fit_pooled(protocol: str, task: TaskType | str, x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Fit ``protocol`` on features ``x`` and targets ``y``; return ``predict(x) -> predictions``.

    Predictions are class ids (classification), per-label scores in [0, 1]
    (multi-label) or values (regression).
    """
    import warnings

    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    scale = _standardise(x)
    xs = scale(x)
    n = len(xs)
    if protocol in ("knn5", "knn20"):
        k = min(int(protocol[3:]), n)
        if task == TaskType.CLASSIFICATION:
            m = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute").fit(xs, y)
            return lambda z: m.predict(scale(z))
        if task == TaskType.REGRESSION:
            m = KNeighborsRegressor(n_neighbors=k, metric="cosine", algorithm="brute").fit(xs, y)
            return lambda z: m.predict(scale(z))
        nn_ = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(xs)
        return lambda z: y[nn_.kneighbors(scale(z), return_distance=False)].mean(axis=1)
    if protocol == "linear":
        if task == TaskType.REGRESSION:
            m = Ridge(alpha=1.0).fit(xs, y)
            return lambda z: m.predict(scale(z))
        if task == TaskType.CLASSIFICATION:
            if len(np.unique(y)) == 1:
                const = y[0]
                return lambda z: np.full(len(z), const)
            m = LogisticRegression(**LINEAR_PROBE, random_state=seed).fit(xs, y)
            return lambda z: m.predict(scale(z))
        return _per_label(lambda: LogisticRegression(**LINEAR_PROBE, random_state=seed), xs, y, scale)
    if protocol == "random_forest":
        if task == TaskType.REGRESSION:
            m = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1).fit(xs, y)
            return lambda z: m.predict(scale(z))
        if task == TaskType.CLASSIFICATION:
            m = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1).fit(xs, y)
            return lambda z: m.predict(scale(z))
        return _per_label(lambda: RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1), xs, y, scale)
    raise ConfigError(f"protocol {protocol!r} does not work on pooled features; use knn5, knn20, linear or random_forest")


def _per_label(make: Callable[[], Any], xs: np.ndarray, y: np.ndarray, scale: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """One binary classifier per label; a label constant in training predicts that constant."""
    models: list[Any] = []
    for j in range(y.shape[1]):
        col = (y[:, j] > 0.5).astype(np.int64)
        models.append(float(col[0]) if col.min() == col.max() else make().fit(xs, col))

    def predict(z: np.ndarray) -> np.ndarray:
        zs = scale(z)
        return np.stack([np.full(len(zs), m) if isinstance(m, float) else m.predict_proba(zs)[:, 1] for m in models], 1)

    return predict


def run_pooled(protocol: str, task: TaskType | str, train_x: np.ndarray, train_y: np.ndarray,
               tests: Mapping[Cond, tuple[np.ndarray, np.ndarray]], seed: int, num_classes: int,
               keep: dict[Cond, Outcomes] | None = None) -> dict[Cond, dict[str, float]]:
    """Fit once, score every condition: ``{cond: {metric: value}}``; ``keep`` receives each
    condition's per-test-sample :class:`~eokit.bench.stats.Outcomes` (for CIs and pairwise tests).

    BLAS runs single-threaded here: these small fits are ~10x slower with
    OpenBLAS threads competing on a busy CPU (and workers already run in parallel).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        predict = fit_pooled(protocol, task, train_x, train_y, seed)
        out = {}
        for cond, (tx, ty) in tests.items():
            pred = predict(tx)
            out[cond] = bench_scores(task, ty, pred, num_classes)
            if keep is not None:
                keep[cond] = outcomes_of(task, ty, pred, num_classes)
        return out


# -- dense: light decoder on frozen maps -------------------------------------------------------------

class LightDecoder(nn.Module):
    """1×1 projection of each scale to ``hidden`` channels, summed at the finest scale, then a 1×1 classifier."""

    def __init__(self, in_channels: Sequence[int], num_classes: int, hidden: int = 32) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, hidden, 1) for c in in_channels)
        self.head = nn.Sequential(nn.BatchNorm2d(hidden), nn.ReLU(), nn.Conv2d(hidden, num_classes, 1))

    def forward(self, maps: Sequence[torch.Tensor], out_size: tuple[int, int]) -> torch.Tensor:
        size = max((m.shape[-2:] for m in maps), key=lambda s: s[0] * s[1])
        acc = None
        for proj, m in zip(self.proj, maps, strict=True):
            y = proj(m)
            if y.shape[-2:] != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            acc = y if acc is None else acc + y
        logits = self.head(acc)
        return F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)


def fuse_change(maps1: Sequence[np.ndarray], maps2: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Bi-temporal fusion per scale: ``[|a-b|, a, b]`` along channels."""
    return [np.concatenate([np.abs(a - b), a, b], axis=1) for a, b in zip(maps1, maps2, strict=True)]


def run_decoder(task: TaskType | str, train_maps: Sequence[np.ndarray], train_mask: np.ndarray,
                tests: Mapping[Cond, tuple[Sequence[np.ndarray], np.ndarray]], seed: int, num_classes: int,
                epochs: int = 30, lr: float = 3e-3, batch_size: int = 8,
                keep: dict[Cond, Outcomes] | None = None) -> dict[Cond, dict[str, float]]:
    """Train a LightDecoder on frozen maps; score every condition (per-chip outcomes into ``keep``)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    stats = [(m.astype(np.float32).mean(axis=(0, 2, 3), keepdims=True),
              m.astype(np.float32).std(axis=(0, 2, 3), keepdims=True) + 1e-6) for m in train_maps]

    def norm(maps: Sequence[np.ndarray]) -> list[torch.Tensor]:
        return [torch.from_numpy(((m.astype(np.float32) - mu) / sd).astype(np.float32)) for m, (mu, sd) in zip(maps, stats, strict=True)]

    xs = norm(train_maps)
    ys = torch.from_numpy(train_mask.astype(np.int64))
    out_size = tuple(train_mask.shape[-2:])
    dec = LightDecoder([m.shape[1] for m in xs], num_classes)
    weight = None
    if task == TaskType.CHANGE_DETECTION:
        counts = np.bincount(train_mask[train_mask >= 0].ravel(), minlength=num_classes).astype(np.float64)
        w = counts.sum() / np.maximum(counts, 1) / num_classes
        weight = torch.tensor(np.sqrt(w), dtype=torch.float32)
    opt = torch.optim.AdamW(dec.parameters(), lr=lr, weight_decay=1e-4)
    n = len(ys)
    bs = min(batch_size, n)
    dec.train()
    for _ in range(epochs):
        perm = rng.permutation(n)
        for i in range(0, n, bs):
            b = perm[i:i + bs]
            if len(b) < 2 and n >= 2:  # BatchNorm needs two items
                b = np.r_[b, perm[0]]
            logits = dec([x[b] for x in xs], out_size)
            loss = F.cross_entropy(logits, ys[b], weight=weight, ignore_index=IGNORE_INDEX)
            opt.zero_grad()
            loss.backward()
            opt.step()
    dec.eval()
    out: dict[Cond, dict[str, float]] = {}
    with torch.no_grad():
        for cond, (maps, mask) in tests.items():
            t = norm(maps)
            preds = torch.cat([dec([x[i:i + 16] for x in t], tuple(mask.shape[-2:])).argmax(1)
                               for i in range(0, len(mask), 16)]).numpy()
            out[cond] = bench_scores(task, mask, preds, num_classes)
            if keep is not None:
                keep[cond] = outcomes_of(task, mask, preds, num_classes, ignore_index=IGNORE_INDEX)
    return out


# -- full fine-tuning ---------------------------------------------------------------------------------

def run_finetune(task: TaskType | str, model: nn.Module, forward_pooled: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                 num_features: int, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 seed: int, num_classes: int, epochs: int = 3, lr: float = 1e-3, batch_size: int = 32,
                 keep: dict[Cond, Outcomes] | None = None) -> dict[str, float]:
    """Train ``model`` + a linear head end to end; return test metrics (outcomes in ``keep[CLEAN]``).

    ``forward_pooled(model, x)`` maps a raw batch to pooled features (it
    applies the model's own normalisation and band selection).
    """
    if task not in POOLED_TASKS:
        raise ConfigError(f"finetune supports {', '.join(POOLED_TASKS)}, not {task!r}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    outs = 1 if task == TaskType.REGRESSION else num_classes
    head = nn.Linear(num_features, outs)
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    x_all = torch.from_numpy(train_x)
    if task == TaskType.CLASSIFICATION:
        y_all = torch.from_numpy(train_y.astype(np.int64))
    else:
        y_all = torch.from_numpy(train_y.astype(np.float32))
    n = len(x_all)
    model.train()
    for _ in range(epochs):
        perm = rng.permutation(n)
        for i in range(0, n, batch_size):
            b = perm[i:i + batch_size]
            if len(b) < 2 and n >= 2:
                b = np.r_[b, perm[0]]
            logits = head(forward_pooled(model, x_all[b]))
            if task == TaskType.CLASSIFICATION:
                loss = F.cross_entropy(logits, y_all[b])
            elif task == TaskType.MULTILABEL:
                loss = F.binary_cross_entropy_with_logits(logits, y_all[b])
            else:
                loss = F.mse_loss(logits[:, 0], y_all[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        logits = torch.cat([head(forward_pooled(model, torch.from_numpy(test_x[i:i + 64])))
                            for i in range(0, len(test_x), 64)]).numpy()
    if task == TaskType.CLASSIFICATION:
        pred = logits.argmax(1)
    elif task == TaskType.MULTILABEL:
        pred = 1 / (1 + np.exp(-logits))
    else:
        pred = logits[:, 0]
    res = bench_scores(task, test_y, pred, num_classes)
    if keep is not None:
        keep[CLEAN] = outcomes_of(task, test_y, pred, num_classes)
    return res
