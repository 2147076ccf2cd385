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
    make_references,
    normalise,
    primary_metrics,
    robustness_summary,
    robustness_table,
)
from eokit.bench.groups import GROUPS, capability_groups

OVERALL = "Overall"
EFFICIENCY_COLUMNS = ("params", "gflops", "throughput_ips", "peak_mem_mb")


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
) -> Summary:
    """Normalise, score per dataset and per capability group, and gather robustness and efficiency tables.

    ``references`` default to the min/max over the seed-means of ``reference_models``
    (default every model) per dataset, as GEO-Bench does when no normaliser is shipped.
    """
    df = df.copy()
    clean_scored = df[(df["corruption"] == "none") & (df["protocol"] != "efficiency")]
    metrics = primary_metrics(clean_scored) if not clean_scored.empty else {}
    refs = dict(references) if references else make_references(df, models=reference_models)
    rows = normalise(df, refs)
    groups = dict(groups) if groups is not None else capability_groups(sorted(metrics))
    all_groups = {OVERALL: sorted(metrics), **{g: list(groups[g]) for g in GROUPS if g in groups},
                  **{g: list(v) for g, v in groups.items() if g not in GROUPS}}
    cap = capability_scores(rows, all_groups, n_boot=n_boot, seed=seed) if metrics else pd.DataFrame(
        columns=[*ENTRY, "group", "score", "error", "n_datasets", "reason"])
    raw = dataset_scores(df).rename(columns={"score": "value", "error": "value_error"})
    norm = dataset_scores(rows)
    datasets = raw.merge(norm[[*ENTRY, "dataset", "score", "error"]], on=[*ENTRY, "dataset"], how="left")
    rob = robustness_table(df)
    rob_mean = robustness_summary(rob)
    eff = efficiency_table(df)

    top = _top_fraction(cap)
    lb = _leaderboard(top, rob, eff)
    notes = []
    if not top.empty:
        missing = top[top["reason"] != ""].assign(why=lambda t: t["reason"].str.split(" (of ", regex=False).str[0])
        for (m, p, f, why), sub in missing.groupby(["model", "protocol", "fraction", "why"], sort=True):
            names = ", ".join(g for g in all_groups if g in set(sub["group"]))
            notes.append(f"{_fmt_entry(m, p)} (fraction {f:g}) has no score for {names}: {why}")
    return Summary(rows, lb, cap, datasets, rob, rob_mean, eff, norm, all_groups, refs, metrics, notes)


def _top_fraction(cap: pd.DataFrame) -> pd.DataFrame:
    """Capability rows at each protocol's largest label fraction."""
    if cap.empty:
        return cap
    top = cap.groupby("protocol")["fraction"].transform("max")
    return cap[cap["fraction"] == top]


def _leaderboard(cap: pd.DataFrame, rob: pd.DataFrame, eff: pd.DataFrame) -> pd.DataFrame:
    cols = [*ENTRY, "score", "error", "n_datasets", "reason"]
    if cap.empty:
        return pd.DataFrame(columns=cols)
    overall = cap[cap["group"] == OVERALL][cols].copy()
    wide = cap[cap["group"] != OVERALL].pivot_table(
        index=list(ENTRY), columns="group", values="score", aggfunc="first", dropna=False
    )
    order = [g for g in GROUPS if g in wide.columns] + [g for g in wide.columns if g not in GROUPS]
    wide = wide[order]
    wide.columns = [f"group:{c}" for c in wide.columns]
    lb = overall.merge(wide.reset_index(), on=list(ENTRY), how="left")
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
