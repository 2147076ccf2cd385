"""Fixed per-dataset normalisation bounds (documented in docs/bench.md).

Per dataset and ranked metric, ``(min, max)`` of the metric's value:

- **low** (score 0), ``references.low: chance`` (default): the chance level on the test labels,
  i.e. the metric of the best input-blind predictor (majority class for accuracy and mIoU, every
  pixel 'change' for change F1, every label positive for multi-label F1, the mean target for
  regression: r2 = 0, rmse = the targets' standard deviation). It comes from the per-sample
  outcomes in the results store (:func:`eokit.bench.stats.chance_value`); a dataset without
  stored outcomes (an older store, a CSV) falls back to the metric's floor, 0.
  ``low: <model>`` takes that model's best clean entry instead (e.g. ``raw_pixels``).
- **high** (score 1), ``references.high: perfect`` (default): the metric's perfect value (1, or
  0 for rmse/mae). ``best`` (the best ``role: reference`` model) or ``model``
  (``references.model``) are used only when that value clears ``low`` by at least
  ``MIN_SPREAD`` of the way to perfect; otherwise ``high`` stays the perfect value.

The bounds never depend on how close the ranked entries are to each other, so a small gap between
two models stays a small gap (the old min-max over the run's own entries could collapse to a tiny
range and turn it into -13). They are written beside the results (``references.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from eokit.bench.config import SuiteConfig
from eokit.bench.stats import PERFECT, chance_references
from eokit.errors import ConfigError

Refs = dict[str, dict[str, tuple[float, float]]]
MIN_SPREAD = 0.1
"""A 'best'/'model' high bound is used only if it lies this fraction of the way from low to perfect."""


def _best_values(df: pd.DataFrame, models: list[str], lower: bool = False) -> pd.Series:
    """Per (dataset, metric): best over the given models' entries at the largest fraction of the seed-mean."""
    from eokit.bench.aggregate import ranked_rows

    rows = ranked_rows(df)
    rows = rows[rows["model"].isin(models)]
    if rows.empty:
        return pd.Series(dtype=float)
    top = rows.groupby("dataset")["fraction"].transform("max")
    rows = rows[rows["fraction"] == top]
    means = rows.groupby(["dataset", "metric", "model", "protocol"])["value"].mean().groupby(["dataset", "metric"])
    return means.min() if lower else means.max()


def fixed_references(df: pd.DataFrame, outcomes: pd.DataFrame | None = None, *, low: str | None = "chance",
                     high: str = "perfect", high_models: list[str] | None = None) -> Refs:
    """``{dataset: {metric: (min, max)}}`` by the rules of the module docstring."""
    from eokit.bench.aggregate import higher_is_better, primary_metrics, ranked_rows

    rows = ranked_rows(df)
    if rows.empty:
        return {}
    metrics = primary_metrics(rows)
    chance = chance_references(outcomes, metrics)
    refs: Refs = {}
    for ds, met in metrics.items():
        up = higher_is_better(met)
        perfect = PERFECT.get(met, 1.0 if up else 0.0)
        if low == "chance" or not low:
            if ds in chance and met in chance[ds]:
                a, b = chance[ds][met]
                lo = a if up else b
            elif up and perfect == 1.0:
                lo = 0.0  # no stored test labels: the metric's floor
            else:
                continue
        else:
            low_vals = _best_values(df, [low], lower=not up)
            if (ds, met) not in low_vals.index:
                continue
            lo = float(low_vals[(ds, met)])
        hi = perfect
        if high in ("best", "model") and high_models:
            best = _best_values(df, high_models, lower=not up)
            if (ds, met) in best.index:
                cand = float(best[(ds, met)])
                if (cand - lo) * (1 if up else -1) >= MIN_SPREAD * abs(perfect - lo):
                    hi = cand
        refs[ds] = {met: (min(lo, hi), max(lo, hi))}
    return refs


def compute_references(df: pd.DataFrame, suite: SuiteConfig, outcomes: pd.DataFrame | None = None) -> Refs:
    """The suite's references (``suite.references``) for result rows ``df`` and stored ``outcomes``."""
    cfg = suite.references
    roles = {m.name: m.role for m in suite.models}
    if cfg.high == "model":
        if not cfg.model:
            raise ConfigError("references.high is 'model' but references.model is not set; name a model of the suite")
        high_models = [cfg.model]
    else:
        high_models = [m for m, r in roles.items() if r == "reference"] or \
            [m for m in set(df["model"]) if roles.get(m, "model") != "baseline" and m != cfg.low]
    return fixed_references(df, outcomes, low=cfg.low, high=cfg.high, high_models=high_models)


def write_references(refs: Mapping[str, Mapping[str, tuple[float, float]]], path: str | Path) -> Path:
    from eokit.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({d: {m: list(v) for m, v in r.items()} for d, r in refs.items()}, indent=2))
    return path
