"""Everything a report shows, computed once from the result rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from eokit.bench.aggregate import (
    ENTRY,
    capability_scores,
    dataset_scores,
    efficiency_table,
    higher_is_better,
    normalise,
    pooled_replicates,
    primary_metrics,
    robustness_summary,
    robustness_table,
)
from eokit.bench.groups import GROUPS, capability_groups
from eokit.bench.modality import MISSING_MODALITY, TABLE_COLUMNS, modality_table
from eokit.bench.modality import split_rows as split_modality
from eokit.bench.references import fixed_references
from eokit.bench.stats import entry_replicates, mark, not_ranked, p_better
from eokit.bench.superres import CORR_COLUMNS as SR_CORR_COLUMNS
from eokit.bench.superres import TABLE_COLUMNS as SR_TABLE_COLUMNS
from eokit.bench.superres import split_rows as split_superres
from eokit.bench.superres import superres_tables

OVERALL = "Overall"
EFFICIENCY_COLUMNS = ("params", "gflops", "throughput_ips", "peak_mem_mb")
HEADLINE = 5
"""Leaderboard entries compared pairwise."""
PAIRWISE_COLUMNS = ("scope", "a", "b", "p", "mark")


@dataclass
class Summary:
    """Tables behind the leaderboard, charts and per-dataset sections."""

    rows: pd.DataFrame  # all rows, with 'score' (normalised) added
    leaderboard: pd.DataFrame  # one row per entry at the top label fraction, best first
    capability: pd.DataFrame  # long: entry x group (incl. Overall)
    datasets: pd.DataFrame  # per entry x dataset: raw IQM +- SE and normalised score
    robustness: pd.DataFrame  # per entry x dataset x corruption x severity
    robustness_mean: pd.DataFrame  # mean over corruptions
    efficiency: pd.DataFrame  # per model
    fractions: pd.DataFrame  # per entry x dataset at every label fraction (normalised IQM)
    groups: dict[str, list[str]]
    references: dict[str, dict[str, tuple[float, float]]]
    metrics: dict[str, str]
    notes: list[str] = field(default_factory=list)
    not_ranked: dict[str, str] = field(default_factory=dict)  # dataset -> why it is not ranked
    pairwise: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PAIRWISE_COLUMNS)))
    # pairwise: per scope (Overall or a dataset), P(a beats b) from a paired bootstrap, '*' if significant
    superres: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SR_TABLE_COLUMNS)))
    superres_corr: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SR_CORR_COLUMNS)))
    # superres: the SR-in-the-loop protocol (eokit.bench.superres): per dataset x SR model, and the rank
    # correlations between fidelity and downstream score
    modality: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(TABLE_COLUMNS)))
    # modality: the missing-modality protocol, per dataset x model x removed modality (eokit.bench.modality)


def _fmt_entry(model: str, protocol: str) -> str:
    return f"{model} · {protocol}"


def summarise(
    df: pd.DataFrame,
    *,
    references: Mapping[str, Any] | None = None,
    reference_models: Sequence[str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    outcomes: pd.DataFrame | None = None,
    fusions: Mapping[str, str] | None = None,
) -> Summary:
    """Normalise, score per dataset and per capability group, and gather robustness and efficiency tables.

    ``outcomes`` (``ResultsStore.outcomes()``: per-test-sample outcomes) give every ranked figure a
    95 % CI from a bootstrap over test samples and seeds, the chance levels of the default
    references, the pairwise comparisons and the datasets that are not ranked (too small or
    degenerate test sets, left out of every aggregate). Without them, CIs come from a bootstrap
    over seeds only and nothing is marked not ranked.
    Missing-modality rows (``eokit.bench.modality``) go to ``Summary.modality``, not the leaderboard;
    ``fusions`` (``{model: fusion type}``) names what each model does with a missing modality.
    ``references`` default to fixed bounds (:func:`eokit.bench.references.fixed_references`:
    chance level to perfect value); ``reference_models`` take the best of those models as the
    high bound where it clears chance by a meaningful margin.
    """
    df, sr_rows = split_superres(df.copy())  # the SR protocol's rows get their own tables
    sr_table, sr_corr = superres_tables(sr_rows)
    modality = modality_table(df, outcomes, fusions=fusions, n_boot=n_boot, seed=seed)
    df = split_modality(df)[0]
    if outcomes is not None and not outcomes.empty:
        outcomes = outcomes[outcomes["protocol"] != MISSING_MODALITY]
    if df.empty and not sr_rows.empty:
        return _superres_only(sr_rows, sr_table, sr_corr)
    clean_scored = df[(df["corruption"] == "none") & (df["protocol"] != "efficiency")]
    metrics = primary_metrics(clean_scored) if not clean_scored.empty else {}
    excluded = not_ranked(outcomes, metrics)
    ranked_df = df[~df["dataset"].isin(list(excluded))]
    rank_metrics = {d: m for d, m in metrics.items() if d not in excluded}
    if references:
        refs = {str(d): dict(v) for d, v in references.items()}
    elif reference_models:
        refs = fixed_references(ranked_df, outcomes, high="best", high_models=list(reference_models))
    else:
        refs = fixed_references(ranked_df, outcomes)
    rows = normalise(df, refs)
    rows_ranked = rows[~rows["dataset"].isin(list(excluded))]
    groups = dict(groups) if groups is not None else capability_groups(sorted(rank_metrics))
    all_groups = {OVERALL: sorted(rank_metrics), **{g: list(groups[g]) for g in GROUPS if g in groups},
                  **{g: list(v) for g, v in groups.items() if g not in GROUPS}}
    intervals, reps = entry_replicates(outcomes, rank_metrics, n_boot=n_boot, seed=seed)
    norm_reps = _normalised_replicates(reps, rank_metrics, refs)
    cap = capability_scores(rows_ranked, all_groups, n_boot=n_boot, seed=seed, replicates=norm_reps) \
        if rank_metrics else pd.DataFrame(columns=[*ENTRY, "group", "score", "error", "ci_lo", "ci_hi",
                                                   "n_datasets", "reason"])
    raw = dataset_scores(df).rename(columns={"score": "value", "error": "value_error"})
    norm = dataset_scores(rows_ranked)  # not-ranked datasets get no normalised score
    datasets = raw.merge(norm[[*ENTRY, "dataset", "score", "error"]], on=[*ENTRY, "dataset"], how="left")
    datasets = _with_intervals(datasets, intervals, refs)
    datasets["reason"] = datasets["dataset"].map(lambda d: excluded.get(str(d), ""))
    rob = robustness_table(ranked_df)
    rob_mean = robustness_summary(rob)
    eff = efficiency_table(df)

    top = _top_fraction(cap)
    lb = _leaderboard(top, rob, eff)
    pairwise = _pairwise(lb, all_groups[OVERALL], norm_reps, reps, rank_metrics)
    notes = [f"{d}: not ranked: {why}" for d, why in excluded.items()]
    if not top.empty:
        missing = top[top["reason"] != ""].assign(why=lambda t: t["reason"].str.split(" (of ", regex=False).str[0])
        for (m, p, f, why), sub in missing.groupby(["model", "protocol", "fraction", "why"], sort=True):
            names = ", ".join(g for g in all_groups if g in set(sub["group"]))
            notes.append(f"{_fmt_entry(m, p)} (fraction {f:g}) has no score for {names}: {why}")
    return Summary(rows, lb, cap, datasets, rob, rob_mean, eff, norm, all_groups, refs, metrics, notes,
                   excluded, pairwise, sr_table, sr_corr, modality)


def _superres_only(sr_rows: pd.DataFrame, table: pd.DataFrame, corr: pd.DataFrame) -> Summary:
    """The Summary of a run that holds only SR-protocol rows: empty leaderboard, the SR tables."""
    empty = pd.DataFrame(columns=[*ENTRY, "rank", "score", "ci_lo", "ci_hi", "error", "n_datasets"])
    none = pd.DataFrame(columns=[*ENTRY, "dataset", "score", "error", "value", "value_error", "reason"])
    return Summary(sr_rows.assign(score=np.nan), empty, empty.assign(group=[]), none, pd.DataFrame(),
                   pd.DataFrame(), pd.DataFrame(), none, {OVERALL: []}, {}, {},
                   ["no leaderboard: this run holds only the super-resolution protocol's rows"], {},
                   superres=table, superres_corr=corr)


def _normalise_values(v: np.ndarray, metric: str, ref: tuple[float, float]) -> np.ndarray:
    lo, hi = ref
    if hi - lo <= 1e-12:
        return np.full_like(v, np.nan, dtype=float)
    return (v - lo) / (hi - lo) if higher_is_better(metric) else (hi - v) / (hi - lo)


def _normalised_replicates(reps: Mapping[tuple[Any, ...], np.ndarray], metrics: Mapping[str, str],
                           refs: Mapping[str, Mapping[str, tuple[float, float]]]) -> dict[tuple[Any, ...], np.ndarray]:
    out = {}
    for key, r in reps.items():
        ds = str(key[-1])
        ref = refs.get(ds, {}).get(metrics.get(ds, ""))
        if ref is not None:
            out[key] = _normalise_values(r, metrics[ds], ref)
    return out


def _with_intervals(datasets: pd.DataFrame, intervals: pd.DataFrame,
                    refs: Mapping[str, Mapping[str, tuple[float, float]]]) -> pd.DataFrame:
    """Per-dataset rows + the raw metric's bootstrap CI, test samples and the CI in normalised units."""
    iv = intervals[[*ENTRY, "dataset", "ci_lo", "ci_hi", "n_test"]]
    out = datasets.merge(iv, on=[*ENTRY, "dataset"], how="left")
    lo, hi = np.full(len(out), np.nan), np.full(len(out), np.nan)
    for i, (d, m, a, b) in enumerate(zip(out["dataset"], out["metric"], out["ci_lo"], out["ci_hi"], strict=True)):
        ref = refs.get(str(d), {}).get(str(m))
        if ref is not None and np.isfinite(a):
            x = _normalise_values(np.array([a, b], dtype=float), str(m), ref)
            lo[i], hi[i] = np.nanmin(x), np.nanmax(x)
    out["score_lo"], out["score_hi"] = lo, hi
    return out


def _pairwise(lb: pd.DataFrame, overall: Sequence[str], norm_reps: Mapping[tuple[Any, ...], np.ndarray],
              reps: Mapping[tuple[Any, ...], np.ndarray], metrics: Mapping[str, str]) -> pd.DataFrame:
    """P(a beats b) for the headline entries (the best ``HEADLINE`` leaderboard rows), overall and per dataset."""
    head = lb.dropna(subset=["score"]).head(HEADLINE)
    keys = [(r["model"], r["protocol"], r["fraction"]) for r in head.to_dict("records")]
    recs: list[dict[str, Any]] = []

    def add(scope: str, a: tuple[Any, ...], b: tuple[Any, ...], ra: np.ndarray, rb: np.ndarray, up: bool) -> None:
        if ra.shape != rb.shape:
            return
        p = p_better(ra, rb, higher_is_better=up)
        recs.append({"scope": scope, "a": _fmt_entry(a[0], a[1]), "b": _fmt_entry(b[0], b[1]), "p": p,
                     "mark": mark(p)})

    # overall: entries scored on the same datasets (e.g. two pooled-feature protocols), IQM across them
    covered = {k: tuple(d for d in overall if (*k, d) in norm_reps) for k in keys}
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if covered[a] and covered[a] == covered[b]:
                add(OVERALL, a, b, pooled_replicates([norm_reps[(*a, d)] for d in covered[a]]),
                    pooled_replicates([norm_reps[(*b, d)] for d in covered[b]]), True)
    for d in overall:
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                ra, rb = reps.get((*a, d)), reps.get((*b, d))
                if ra is not None and rb is not None:
                    add(d, a, b, ra, rb, higher_is_better(metrics[d]))
    return pd.DataFrame.from_records(recs, columns=list(PAIRWISE_COLUMNS))


def _top_fraction(cap: pd.DataFrame) -> pd.DataFrame:
    """Capability rows at each protocol's largest label fraction."""
    if cap.empty:
        return cap
    top = cap.groupby("protocol")["fraction"].transform("max")
    return cap[cap["fraction"] == top]


def _leaderboard(cap: pd.DataFrame, rob: pd.DataFrame, eff: pd.DataFrame) -> pd.DataFrame:
    cols = [*ENTRY, "score", "error", "ci_lo", "ci_hi", "n_datasets", "reason"]
    if cap.empty:
        return pd.DataFrame(columns=cols)
    overall = cap[cap["group"] == OVERALL][cols].copy()
    lb = overall
    # per group: 'group:G' (score), 'group_lo:G' and 'group_hi:G' (its 95 % CI)
    for value, prefix in (("score", "group"), ("ci_lo", "group_lo"), ("ci_hi", "group_hi")):
        wide = cap[cap["group"] != OVERALL].pivot_table(
            index=list(ENTRY), columns="group", values=value, aggfunc="first", dropna=False
        )
        order = [g for g in GROUPS if g in wide.columns] + [g for g in wide.columns if g not in GROUPS]
        wide = wide[order]
        wide.columns = [f"{prefix}:{c}" for c in wide.columns]
        lb = lb.merge(wide.reset_index(), on=list(ENTRY), how="left")
    if not rob.empty:
        drop = rob.groupby(list(ENTRY), dropna=False)["drop"].mean().rename("robustness_drop").reset_index()
        lb = lb.merge(drop, on=list(ENTRY), how="left")
    if not eff.empty:
        lb = lb.merge(eff[[c for c in eff.columns if c == "model" or c in EFFICIENCY_COLUMNS]], on="model",
                      how="left")
    lb["_s"] = lb["score"].fillna(-np.inf)
    lb = lb.sort_values(["_s", "model", "protocol"], ascending=[False, True, True]).drop(columns="_s")
    lb.insert(0, "rank", np.arange(1, len(lb) + 1))
    return lb.reset_index(drop=True)
