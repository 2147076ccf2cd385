"""Per-dataset min-max references for score normalisation (GEO-Bench-2 style).

The choice (documented in docs/bench.md):

- **min** (score 0) = the ``references.low`` model of the suite (default the
  ``raw_pixels`` baseline): its best clean entry on the dataset, i.e. the
  highest seed-mean of the ranked metric over its protocols at the largest
  label fraction. A model that does not beat raw pixels scores <= 0.
- **max** (score 1) = the best reference model: ``references.high: best``
  takes the highest such value over the models with ``role: reference`` (or
  over every non-baseline model when the suite marks none);
  ``high: model`` takes ``references.model``.
- When max <= min (nothing beats raw pixels), max becomes the best value of
  *any* entry on that dataset, so the scale stays defined.

The references are computed from the run's own rows, so they always exist and
match the data subset the suite used; they are also written beside the results
(``references.json``) for comparison across runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from eokit.bench.config import SuiteConfig
from eokit.errors import ConfigError

Refs = dict[str, dict[str, tuple[float, float]]]


def _best_values(df: pd.DataFrame, models: list[str]) -> pd.Series:
    """Per (dataset, metric): max over the given models' entries at the largest fraction of the seed-mean."""
    from eokit.bench.aggregate import ranked_rows

    rows = ranked_rows(df)
    rows = rows[rows["model"].isin(models)]
    if rows.empty:
        return pd.Series(dtype=float)
    top = rows.groupby("dataset")["fraction"].transform("max")
    rows = rows[rows["fraction"] == top]
    means = rows.groupby(["dataset", "metric", "model", "protocol"])["value"].mean()
    return means.groupby(["dataset", "metric"]).max()


def compute_references(df: pd.DataFrame, suite: SuiteConfig) -> Refs:
    """``{dataset: {metric: (min, max)}}`` following the rules in the module docstring."""
    roles = {m.name: m.role for m in suite.models}
    low_name = suite.references.low
    if suite.references.high == "model":
        if not suite.references.model:
            raise ConfigError("references.high is 'model' but references.model is not set; name a model of the suite")
        high_models = [suite.references.model]
    else:
        high_models = [m for m, r in roles.items() if r == "reference"] or \
            [m for m in set(df["model"]) if roles.get(m, "model") != "baseline" and m != low_name]
    low = _best_values(df, [low_name] if low_name else [])
    high = _best_values(df, high_models)
    anything = _best_values(df, sorted(set(df["model"])))
    refs: Refs = {}
    for (ds, met), hi in high.items():
        lo = low.get((ds, met))
        if lo is None:
            continue
        if hi <= lo:
            hi = float(anything.get((ds, met), hi))
        refs.setdefault(str(ds), {})[str(met)] = (float(lo), float(max(hi, lo)))
    return refs


def write_references(refs: Refs, path: str | Path) -> Path:
    from eokit.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({d: {m: list(v) for m, v in r.items()} for d, r in refs.items()}, indent=2))
    return path
