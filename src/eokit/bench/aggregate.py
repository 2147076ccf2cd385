"""Aggregation of benchmark rows into scores, as GEO-Bench-2 does it.

1. ``normalise``: per dataset, min-max normalisation of the ranked metric
   against reference values: ``(v - min) / (max - min)`` (for lower-is-better
   metrics ``(max - v) / (max - min)``), so the low reference scores 0 and the
   high reference 1.
2. ``dataset_scores``: per (entry, dataset), score = interquartile mean (IQM,
   25 % trimmed mean) over seeds, error = trimmed standard error (the
   standard error of the values left after trimming 25 % at each end).
3. ``capability_scores``: per (entry, group), a stratified bootstrap: seeds
   are resampled with replacement within each dataset, the resampled values of
   all the group's datasets are pooled and their IQM taken; score = mean of the
   bootstrap distribution, error = its standard deviation. An entry lacking a
   dataset of the group gets no score, and a reason.

An *entry* is a leaderboard row: by default (model, protocol, fraction).
Only clean rows (corruption 'none') enter these scores; robustness is
summarised separately by ``robustness_table``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from eokit.errors import ConfigError

ENTRY: tuple[str, ...] = ("model", "protocol", "fraction")
# The metric a dataset is ranked on, in order of preference (matches bench.config.PRIMARY_METRIC).
METRIC_PREFERENCE: tuple[str, ...] = (
    "miou", "f1_change", "f1_micro", "accuracy", "r2", "map", "map_50", "f1_macro", "rmse",
)
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "loss", "error", "nll"})
EFFICIENCY_PROTOCOL = "efficiency"
EFFICIENCY_METRICS = ("params", "gflops", "throughput_ips", "peak_mem_mb")
NON_SCORE_PROTOCOLS = frozenset({EFFICIENCY_PROTOCOL})

Reference = Mapping[str, "tuple[float, float] | Mapping[str, tuple[float, float]]"]


# -- robust statistics -------------------------------------------------------
def iqm(values: Iterable[float]) -> float:
    """Interquartile mean: the mean after cutting 25 % at each end (``scipy.stats.trim_mean(x, 0.25)``)."""
    x = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    x = x[np.isfinite(x)]
    return float(stats.trim_mean(x, 0.25)) if x.size else float("nan")


def trimmed_se(values: Iterable[float]) -> float:
    """Standard error (ddof=1) of the values left after trimming ``int(0.25 n)`` at each end; NaN if < 2 left."""
    x = np.sort(np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float))
    x = x[np.isfinite(x)]
    k = int(0.25 * x.size)
    kept = x[k : x.size - k]
    return float(stats.sem(kept, ddof=1)) if kept.size >= 2 else float("nan")


def higher_is_better(metric: str) -> bool:
    return metric.lower() not in LOWER_IS_BETTER


# -- selection ---------------------------------------------------------------
def clean(df: pd.DataFrame) -> pd.DataFrame:
    """Rows measured on clean input, excluding efficiency rows."""
    keep = (df["corruption"].fillna("none") == "none") & (df["severity"].fillna(0) == 0)
    return df[keep & ~df["protocol"].isin(NON_SCORE_PROTOCOLS)]


def primary_metrics(df: pd.DataFrame, metric: str | Mapping[str, str] | None = None) -> dict[str, str]:
    """``{dataset: metric}``: the ranked metric of each dataset (given, or the first of METRIC_PREFERENCE present)."""
    out: dict[str, str] = {}
    rows = df[~df["protocol"].isin(NON_SCORE_PROTOCOLS)]
    for ds, sub in rows.groupby("dataset", sort=True):
        present = set(sub["metric"])
        if isinstance(metric, str):
            choice = metric
        elif isinstance(metric, Mapping) and ds in metric:
            choice = metric[ds]
        else:
            choice = next((m for m in METRIC_PREFERENCE if m in present), None) or sorted(present)[0]
        if choice not in present:
            raise ConfigError(f"dataset {ds!r} has no metric {choice!r}; its metrics are {sorted(present)}")
        out[str(ds)] = choice
    return out


def ranked_rows(df: pd.DataFrame, metric: str | Mapping[str, str] | None = None) -> pd.DataFrame:
    """Clean rows of each dataset's ranked metric."""
    c = clean(df)
    if c.empty:
        return c
    pm = primary_metrics(c, metric)
    return c[c["metric"] == c["dataset"].map(pm)]


# -- normalisation -------------------------------------------------------------
def _ref_for(references: Reference, dataset: str, metric: str) -> tuple[float, float] | None:
    ref = references.get(dataset)
    if ref is None:
        return None
    if isinstance(ref, Mapping):
        r = ref.get(metric)
        return None if r is None else (float(r[0]), float(r[1]))
    return float(ref[0]), float(ref[1])


def normalise(df: pd.DataFrame, references: Reference, *, column: str = "score") -> pd.DataFrame:
    """A copy of ``df`` with ``column`` = value min-max normalised per (dataset, metric).

    ``references`` is ``{dataset: {metric: (min, max)}}`` or ``{dataset: (min, max)}``
    (the pair then applies to every metric of the dataset). Rows without a
    reference get NaN. A degenerate range (max == min) maps values >= max to 1
    and the rest to 0.
    """
    out = df.copy()
    scores = np.full(len(out), np.nan)
    for i, (ds, met, v) in enumerate(zip(out["dataset"], out["metric"], out["value"], strict=True)):
        ref = _ref_for(references, ds, met)
        if ref is None or not np.isfinite(v):
            continue
        lo, hi = ref
        if hi < lo:
            raise ConfigError(f"reference for dataset {ds!r}, metric {met!r}: min {lo} > max {hi}")
        if hi - lo <= 1e-12:
            good = v >= hi if higher_is_better(met) else v <= lo
            scores[i] = 1.0 if good else 0.0
        elif higher_is_better(met):
            scores[i] = (v - lo) / (hi - lo)
        else:
            scores[i] = (hi - v) / (hi - lo)
    out[column] = scores
    return out


def make_references(
    df: pd.DataFrame, models: Sequence[str] | None = None, metric: str | Mapping[str, str] | None = None
) -> dict[str, dict[str, tuple[float, float]]]:
    """``{dataset: {metric: (min, max)}}`` over the seed-means of ``models`` (default: every model) on clean rows."""
    rows = ranked_rows(df, metric)
    if models is not None:
        rows = rows[rows["model"].isin(list(models))]
    refs: dict[str, dict[str, tuple[float, float]]] = {}
    means = rows.groupby(["dataset", "metric", *ENTRY], dropna=False)["value"].mean().reset_index()
    for (ds, met), sub in means.groupby(["dataset", "metric"]):
        v = sub["value"].to_numpy(float)
        v = v[np.isfinite(v)]
        if v.size:
            refs.setdefault(str(ds), {})[str(met)] = (float(v.min()), float(v.max()))
    return refs


def _score_col(df: pd.DataFrame) -> str:
    return "score" if "score" in df.columns else "value"


# -- per-dataset and capability scores ----------------------------------------
def dataset_scores(
    df: pd.DataFrame, *, by: Sequence[str] = ENTRY, metric: str | Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Per (entry, dataset): ``score`` = IQM over seeds, ``error`` = trimmed SE, ``n_seeds``, ``metric``.

    Uses the ``score`` column when present (after ``normalise``), else ``value``.
    """
    col = _score_col(df)
    rows = ranked_rows(df, metric)
    keys = [*by, "dataset"]
    cols = [*keys, "metric", "score", "error", "n_seeds"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    per_seed = rows.groupby([*keys, "metric", "seed"], dropna=False)[col].mean().reset_index()
    out = (
        per_seed.groupby([*keys, "metric"], dropna=False)[col]
        .agg(score=iqm, error=trimmed_se, n_seeds="count")
        .reset_index()
    )
    return out[cols].sort_values(keys).reset_index(drop=True)


def _bootstrap_iqm(per_dataset: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """IQM of the pooled resample, per bootstrap replicate (seeds resampled within each dataset)."""
    draws = [v[rng.integers(0, v.size, size=(n_boot, v.size))] for v in per_dataset]
    pooled = np.concatenate(draws, axis=1)
    return stats.trim_mean(pooled, 0.25, axis=1)


def pooled_replicates(per_dataset: Sequence[np.ndarray]) -> np.ndarray:
    """IQM across datasets of per-dataset bootstrap replicates (each (B,)): the group's replicates."""
    return np.asarray(stats.trim_mean(np.stack(per_dataset, 1), 0.25, axis=1))


def capability_scores(
    df: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    by: Sequence[str] = ENTRY,
    metric: str | Mapping[str, str] | None = None,
    replicates: Mapping[tuple[Any, ...], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per (entry, group): stratified-bootstrap IQM score and error, or NaN with a ``reason``.

    Columns: entry keys, ``group``, ``score``, ``error``, ``ci_lo``, ``ci_hi`` (95 %
    percentile interval), ``n_datasets``, ``reason`` ('' when scored). A group's datasets
    are those of its members that any entry with the same non-model keys (e.g. protocol
    and fraction) was run on. Each (entry, group) draws from a fresh
    ``numpy.random.default_rng(seed)``: replicate b draws, for each dataset in
    sorted order, ``n_d`` seed indices with ``rng.integers(0, n_d, (n_boot, n_d))``.

    ``replicates`` (``{(*entry, dataset): (B,) normalised replicates}``, from a bootstrap over
    test samples and seeds, :func:`eokit.bench.stats.entry_replicates`) replace the seed-only
    bootstrap where every dataset of the group has them: score = IQM over the datasets of their
    seed IQMs, error and CI from the IQM across datasets of the replicates.
    """
    if n_boot < 100:
        raise ConfigError(f"n_boot={n_boot}: use at least 100 bootstrap resamples")
    col = _score_col(df)
    rows = ranked_rows(df, metric)
    cols = [*by, "group", "score", "error", "ci_lo", "ci_hi", "n_datasets", "reason"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    reps = replicates or {}
    scope = [k for k in by if k != "model"]
    per_seed = rows.groupby([*by, "dataset", "seed"], dropna=False)[col].mean().reset_index()
    records: list[dict[str, Any]] = []
    for key, sub in per_seed.groupby(list(by), dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        # the datasets any entry of the same scope (e.g. protocol and fraction) was run on
        same = np.ones(len(rows), dtype=bool)
        for k in scope:
            v = dict(zip(by, key, strict=True))[k]
            same &= (rows[k] == v).to_numpy() | (rows[k].isna().to_numpy() & pd.isna(v))
        present = set(rows.loc[same, "dataset"])
        by_ds = {d: g[col].to_numpy(float) for d, g in sub.groupby("dataset")}
        for group, members in groups.items():
            datasets = sorted(d for d in members if d in present)
            if not datasets:
                continue  # the group is not covered by these results at all
            missing = [d for d in datasets if d not in by_ds or not np.isfinite(by_ds[d]).any()]
            rec: dict[str, Any] = dict(zip(by, key, strict=True))
            rec.update(group=group, n_datasets=len(datasets))
            if missing:
                rec.update(score=np.nan, error=np.nan, ci_lo=np.nan, ci_hi=np.nan,
                           reason=f"no result on {', '.join(missing)} (of {len(datasets)} datasets in the group)")
            elif all((*key, d) in reps for d in datasets):
                boot = pooled_replicates([reps[(*key, d)] for d in datasets])
                point = stats.trim_mean([iqm(by_ds[d]) for d in datasets], 0.25)
                lo, hi = np.nanpercentile(boot, [2.5, 97.5])
                rec.update(score=float(point), error=float(np.nanstd(boot)), ci_lo=float(lo), ci_hi=float(hi),
                           reason="")
            else:
                vals = [by_ds[d][np.isfinite(by_ds[d])] for d in datasets]
                boot = _bootstrap_iqm(vals, n_boot, np.random.default_rng(seed))
                lo, hi = np.percentile(boot, [2.5, 97.5])
                rec.update(score=float(boot.mean()), error=float(boot.std()), ci_lo=float(lo), ci_hi=float(hi),
                           reason="")
            records.append(rec)
    return pd.DataFrame.from_records(records, columns=cols)


# -- efficiency and robustness --------------------------------------------------
def efficiency_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per model: the median over datasets of each efficiency metric (rows with protocol 'efficiency')."""
    eff = df[df["protocol"] == EFFICIENCY_PROTOCOL]
    if eff.empty:
        return pd.DataFrame(columns=["model"])
    wide = eff.groupby(["model", "metric"])["value"].median().unstack("metric").reset_index()
    wide.columns.name = None
    return wide


def robustness_table(df: pd.DataFrame, *, by: Sequence[str] = ENTRY,
                     metric: str | Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per (entry, dataset, corruption, severity): mean over seeds of the ranked metric, the clean value and the drop.

    Columns: entry keys, dataset, metric, corruption, severity, value, clean,
    drop (= clean - value for higher-is-better metrics, value - clean otherwise).
    """
    keep = ~df["protocol"].isin(NON_SCORE_PROTOCOLS)
    rows = df[keep]
    cols = [*by, "dataset", "metric", "corruption", "severity", "value", "clean", "drop"]
    corrupted = rows[rows["corruption"] != "none"]
    if corrupted.empty:
        return pd.DataFrame(columns=cols)
    pm = primary_metrics(rows, metric)
    rows = rows[rows["metric"] == rows["dataset"].map(pm)]
    keys = [*by, "dataset", "metric"]
    means = rows.groupby([*keys, "corruption", "severity"], dropna=False)["value"].mean().reset_index()
    clean_v = means[means["corruption"] == "none"][[*keys, "value"]].rename(columns={"value": "clean"})
    cor = means[means["corruption"] != "none"].merge(clean_v, on=keys, how="left")
    sign = np.where(cor["metric"].map(higher_is_better), 1.0, -1.0)
    cor["drop"] = sign * (cor["clean"] - cor["value"])
    return cor[cols].sort_values([*keys, "corruption", "severity"]).reset_index(drop=True)


def robustness_summary(rob: pd.DataFrame, *, by: Sequence[str] = ENTRY) -> pd.DataFrame:
    """Mean over corruptions, per (entry, dataset, severity), of value and drop (the 'mean' robustness curve)."""
    if rob.empty:
        return rob
    keys = [*by, "dataset", "metric", "severity"]
    out = rob.groupby(keys, dropna=False)[["value", "clean", "drop"]].mean().reset_index()
    out["corruption"] = "mean"
    return out
