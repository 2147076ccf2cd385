"""The temporal protocol: pixel time-series models trained briefly from scratch, scored like classification.

Time-series classification datasets (pixel series (N, T, C), e.g. ``tempcnn_formosat2``) are
benchmarked as classification (one class per series: the same stored metrics, chance level
and statistics). Two kinds of entries score them:

- the raw-feature baselines on the flattened series (``raw_pixels``: T x C values;
  ``spectral_indices``: each index over time) with the pooled protocols (kNN, linear,
  random forest), as for every classification dataset;
- the ``temporal`` protocol: a series encoder (``tempcnn``, ``ltae``,
  ``temporal_transformer``; any ``ArchSpec.input == "series"`` model) + linear head,
  trained end to end on the training series (per-band standardisation from the training
  split, light augmentation: noise, gain, a small time shift), then scored on the test series.

:func:`train_series_model` and :func:`predict_series` are also what
``benchmarks/train_timeseries.py`` uses.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import ConfigError, ModelError
from eokit.tasktype import TaskType

log = logging.getLogger(__name__)

PROTOCOL = "temporal"


@dataclass(frozen=True)
class Augment:
    """Training-time augmentation of standardised series (B, T, C): Gaussian ``noise`` (std),
    a per-series gain ``1 + N(0, gain)``, a random shift by up to ``shift`` dates (edges repeated)
    and a per-series, per-channel ``offset`` N(0, offset) added at every date (a field-level shift
    of the level of each band, as between fields of one class)."""

    noise: float = 0.03
    gain: float = 0.05
    shift: int = 2
    offset: float = 0.0

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, t, c = x.shape
        if self.shift:
            s = torch.randint(-self.shift, self.shift + 1, (b,), generator=g)
            idx = (torch.arange(t)[None] - s[:, None]).clamp(0, t - 1)
            x = torch.gather(x, 1, idx[..., None].expand(b, t, c))
        if self.gain:
            x = x * (1 + self.gain * torch.randn(b, 1, 1, generator=g))
        if self.offset:
            x = x + self.offset * torch.randn(b, 1, c, generator=g)
        if self.noise:
            x = x + self.noise * torch.randn(x.shape, generator=g)
        return x


def series_array(image: np.ndarray, where: str = "the dataset") -> np.ndarray:
    """(N, T, C) pixel series from (N, T, C) or (N, T, C, 1, 1) arrays; ConfigError otherwise."""
    if image.ndim == 5 and image.shape[-2:] == (1, 1):
        return image[..., 0, 0]
    if image.ndim != 3:
        raise ConfigError(f"{where}: the temporal protocol takes pixel time series (N, T, C), got shape "
                          f"{tuple(image.shape)}")
    return image


class Standardise:
    """Per-band mean/std of training series (N, T, C), over observed dates only."""

    def __init__(self, x: np.ndarray, mask: np.ndarray | None = None) -> None:
        v = x.reshape(-1, x.shape[-1]).astype(np.float64)
        if mask is not None:
            v = v[mask.reshape(-1)]
        self.mean = v.mean(0).astype(np.float32)
        self.std = np.maximum(v.std(0), 1e-6).astype(np.float32)

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x - self.mean) / self.std).astype(np.float32))


def _time(v: np.ndarray | None, idx: Any) -> torch.Tensor | None:
    return None if v is None else torch.as_tensor(v[idx])


def train_series_model(
    model: nn.Module, x: torch.Tensor, y: np.ndarray, *, epochs: int, lr: float = 1e-3, batch_size: int = 32,
    seed: int = 0, weight_decay: float = 1e-4, augment: Augment | None = Augment(),
    doy: np.ndarray | None = None, mask: np.ndarray | None = None,
    val: tuple[torch.Tensor, np.ndarray] | None = None, val_time: tuple[Any, Any] = (None, None),
    on_epoch: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """Train ``model(x, dates=, time_mask=) -> logits`` with AdamW + cosine schedule, cross-entropy.

    ``x`` (N, T, C) standardised; with ``val`` = (x_val, y_val) the weights of the epoch with the
    best validation accuracy are kept (ties: the later epoch), and ``on_epoch(epoch, val_acc)``
    is called.
    """
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    n = len(yt)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * -(-n // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            b = perm[i:i + batch_size]
            if len(b) < 2:  # BatchNorm needs two series
                b = torch.cat([b, perm[:1]])
            xb = augment(x[b], g) if augment is not None else x[b]
            logits = model(xb, dates=_time(doy, b), time_mask=_time(mask, b))
            loss = F.cross_entropy(logits, yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if val is not None:
            acc = float((predict_series(model, val[0], *val_time).argmax(1) == val[1]).mean())
            if on_epoch:
                on_epoch(epoch, acc)
            if best is None or acc >= best[0]:
                best = (acc, copy.deepcopy(model.state_dict()))
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    return model


def predict_series(model: nn.Module, x: torch.Tensor, doy: np.ndarray | None = None,
                   mask: np.ndarray | None = None, batch_size: int = 256) -> np.ndarray:
    """Logits (N, K) of ``model`` on standardised series ``x`` (eval mode, no gradients)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            sl = slice(i, i + batch_size)
            out.append(model(x[sl], dates=_time(doy, sl), time_mask=_time(mask, sl)))
    return torch.cat(out).numpy()


def build_series_model(arch: str, bands: tuple[str, ...], sensor: str | None, num_classes: int, seed: int,
                       options: dict[str, Any] | None = None) -> nn.Module:
    """``create_model(arch, task='timeseries_classification')`` with seeded initialisation."""
    from eokit.models import create_model, get_arch

    if get_arch(arch).input != "series":
        raise ModelError(f"the temporal protocol trains pixel time-series encoders; {arch!r} is an image "
                         "backbone (series encoders: tempcnn, ltae, temporal_transformer)")
    torch.manual_seed(seed)
    return create_model(arch, task=TaskType.TIMESERIES_CLASSIFICATION, bands=bands, sensor=sensor,
                        num_classes=num_classes, **(options or {}))


def run_temporal(arch: str, options: dict[str, Any], train: Any, test: Any, idx: np.ndarray, seed: int,
                 num_classes: int, *, epochs: int = 30, lr: float = 2e-3, batch_size: int = 32,
                 keep: dict[tuple[str, int], Any] | None = None) -> dict[str, float]:
    """Train ``arch`` on ``train`` (SplitArrays, items ``idx``) and score ``test``: the stored metrics.

    Runs on one torch thread (as in a bench worker): these models are too small for a second
    thread to pay for its synchronisation, which on a busy CPU costs more than it gains.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_temporal(arch, options, train, test, idx, seed, num_classes, epochs=epochs, lr=lr,
                             batch_size=batch_size, keep=keep)
    finally:
        torch.set_num_threads(threads)


def _run_temporal(arch: str, options: dict[str, Any], train: Any, test: Any, idx: np.ndarray, seed: int,
                  num_classes: int, *, epochs: int, lr: float, batch_size: int,
                  keep: dict[tuple[str, int], Any] | None) -> dict[str, float]:
    from eokit.bench.protocols import CLEAN, bench_scores
    from eokit.bench.stats import outcomes_of

    xtr = series_array(train.image, "train split")[idx]
    xte = series_array(test.image, "test split")
    mtr = getattr(train, "time_mask", None)
    norm = Standardise(xtr, mtr[idx] if mtr is not None else None)
    model = build_series_model(arch, tuple(train.bands), train.sensor, num_classes, seed, options)
    dtr, dte = getattr(train, "doy", None), getattr(test, "doy", None)
    mte = getattr(test, "time_mask", None)
    train_series_model(model, norm(xtr), train.target()[idx], epochs=epochs, lr=lr, batch_size=batch_size,
                       seed=seed, doy=dtr[idx] if dtr is not None else None,
                       mask=mtr[idx] if mtr is not None else None)
    pred = predict_series(model, norm(xte), dte, mte).argmax(1)
    y = test.target()
    res = bench_scores(TaskType.CLASSIFICATION, y, pred, num_classes)
    if keep is not None:
        keep[CLEAN] = outcomes_of(TaskType.CLASSIFICATION, y, pred, num_classes)
    return res


def grouped_holdout(y: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices: per class, about ``fraction`` of its groups (e.g. field polygons) go to val.

    Samples of one group never straddle the split, so validation measures what the test split of
    a dataset like TempCNN's (no polygon in both) measures; a class with one group stays in train.
    """
    rng = np.random.default_rng(seed)
    val: list[int] = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        g = rng.permutation(np.unique(groups[members]))
        k = round(len(g) * fraction) if len(g) > 1 else 0
        val.extend(members[np.isin(groups[members], g[:k])].tolist())
    v = np.sort(np.asarray(val, dtype=np.int64))
    return np.setdiff1d(np.arange(len(y)), v), v
