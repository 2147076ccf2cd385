"""Report charts: matplotlib (Agg) figures returned as base64 PNG strings."""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np

from eokit.report.summary import OVERALL, Summary

MAX_ENTRIES = 10  # entries drawn in a chart (the best ones)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _label(model: str, protocol: str, fraction: float | None = None) -> str:
    return f"{model} · {protocol}" + (f" · {fraction:g}" if fraction is not None and fraction != 1 else "")


def _colours(s: Summary) -> dict[tuple[str, str], Any]:
    """One colour per (model, protocol), by leaderboard rank, shared by every chart."""
    plt = _plt()
    palette = [*plt.get_cmap("tab10").colors, *plt.get_cmap("Dark2").colors, *plt.get_cmap("Set1").colors]
    keys = list(dict.fromkeys(zip(s.leaderboard["model"], s.leaderboard["protocol"], strict=True)))
    extra = s.rows[["model", "protocol"]].drop_duplicates().itertuples(index=False)
    keys += [tuple(k) for k in extra if tuple(k) not in keys]
    return {k: palette[i % len(palette)] for i, k in enumerate(keys)}


def _legend_items(axes: Any) -> tuple[list, list[str]]:
    """Unique legend handles over all panels."""
    seen: dict[str, Any] = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    return list(seen.values()), list(seen)


def capability_chart(s: Summary) -> str | None:
    """Grouped bars: capability score with its 95 % CI (else ± bootstrap std) per group, one bar per entry."""
    lb = s.leaderboard.dropna(subset=["score"]).head(MAX_ENTRIES)
    if lb.empty:
        return None
    plt = _plt()
    cap = s.capability
    groups = [g for g in s.groups if g in set(cap["group"])]
    n = len(lb)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(groups) + 3), 4.2))
    colours = _colours(s)
    for i, e in enumerate(lb.itertuples()):
        sub = cap[(cap["model"] == e.model) & (cap["protocol"] == e.protocol) & (cap["fraction"] == e.fraction)]
        sub = sub.set_index("group").reindex(groups)
        x = np.arange(len(groups)) + (i - (n - 1) / 2) * width
        score = sub["score"].to_numpy(float)
        if {"ci_lo", "ci_hi"} <= set(sub.columns) and np.isfinite(sub["ci_lo"].to_numpy(float)).any():
            yerr = np.stack([score - sub["ci_lo"].to_numpy(float), sub["ci_hi"].to_numpy(float) - score])
            yerr = np.clip(np.nan_to_num(yerr), 0, None)  # the 95 % CI
        else:
            yerr = sub["error"].to_numpy(float)
        ax.bar(x, score, width, yerr=yerr, capsize=2,
               color=colours[(e.model, e.protocol)], label=_label(e.model, e.protocol, e.fraction))
    ax.set_xticks(np.arange(len(groups)), groups, rotation=25, ha="right")
    ax.set_ylabel("normalised score (IQM, 95% CI)")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_title("Capability groups")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def robustness_chart(s: Summary, dataset: str) -> str | None:
    """Metric vs severity per corruption (severity 0 = clean), plus the mean over corruptions."""
    rob = s.robustness[s.robustness["dataset"] == dataset]
    if rob.empty:
        return None
    plt = _plt()
    mean = s.robustness_mean[s.robustness_mean["dataset"] == dataset]
    corruptions = sorted(set(rob["corruption"]))
    panels = [*corruptions, "mean"]
    ncol = 4
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.1 * ncol, 2.5 * nrow), sharey=True, squeeze=False)
    colours = _colours(s)
    entries = rob[["model", "protocol", "fraction"]].drop_duplicates().head(MAX_ENTRIES)
    metric = str(rob["metric"].iloc[0])
    for p, ax in zip(panels, axes.ravel(), strict=False):
        src = mean if p == "mean" else rob[rob["corruption"] == p]
        for e in entries.itertuples(index=False):
            sub = src[(src["model"] == e.model) & (src["protocol"] == e.protocol) & (src["fraction"] == e.fraction)]
            if sub.empty:
                continue
            sub = sub.sort_values("severity")
            xs = np.r_[0, sub["severity"].to_numpy()]
            ys = np.r_[sub["clean"].iloc[0], sub["value"].to_numpy()]
            ax.plot(xs, ys, "o-", ms=3, color=colours[(e.model, e.protocol)],
                    label=_label(e.model, e.protocol, e.fraction))
        drop = src["drop"].mean()
        ax.set_title(f"{p}  (mean drop {drop:.3f})" if np.isfinite(drop) else p, fontsize=9,
                     fontweight="bold" if p == "mean" else "normal")
        ax.set_xticks(range(6))
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(metric)
    for ax in axes[-1]:
        ax.set_xlabel("severity")
    handles, labels = _legend_items(axes)
    fig.legend(handles, labels, loc="upper center", ncol=min(4, len(labels)) or 1, fontsize=8,
               bbox_to_anchor=(0.5, 1.0 + 0.12 / nrow))
    fig.suptitle(f"Robustness on {dataset}", y=1.0 + 0.2 / nrow)
    fig.tight_layout()
    return _png(fig)


EFF_AXES = (("gflops", "GFLOPs per image"), ("params", "parameters (millions)"),
            ("throughput_ips", "CPU throughput (images/s)"), ("peak_mem_mb", "peak memory (MB)"))


def efficiency_chart(s: Summary) -> str | None:
    """Score vs cost: one panel per efficiency metric present, one marker per entry (legend below)."""
    lb = s.leaderboard.dropna(subset=["score"])
    present = [(c, t) for c, t in EFF_AXES if c in lb.columns and lb[c].notna().any()]
    if lb.empty or not present:
        return None
    plt = _plt()
    ncol = min(2, len(present))
    nrow = math.ceil(len(present) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.4 * nrow), squeeze=False, sharey=True)
    colours = _colours(s)
    markers = dict(zip(sorted(set(lb["protocol"])), "osD^v<>ph*", strict=False))
    for ax, (col, title) in zip(axes.ravel(), present, strict=False):
        sub = lb.dropna(subset=[col])
        scale = 1e-6 if col == "params" else 1.0
        for e in sub.itertuples():
            ax.errorbar(getattr(e, col) * scale, e.score, yerr=e.error if np.isfinite(e.error) else None,
                        fmt=markers.get(e.protocol, "o"), ms=7, capsize=2, color=colours[(e.model, e.protocol)],
                        label=_label(e.model, e.protocol))
        positive = (sub[col] > 0).all()
        if col in ("gflops", "params") and positive and sub[col].max() / sub[col].min() > 20:
            ax.set_xscale("log")
        ax.set_xlabel(title)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(present):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{OVERALL} score")
    handles, labels = _legend_items(axes)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.02 - 0.05 * math.ceil(len(labels) / 3) / nrow))
    fig.suptitle("Efficiency vs score (efficiency measured per model; one marker per protocol)")
    fig.tight_layout()
    return _png(fig)


def fraction_chart(s: Summary) -> str | None:
    """Normalised dataset score vs label fraction (only when several fractions were run)."""
    fr = s.fractions
    if fr.empty or fr["fraction"].nunique() < 2:
        return None
    plt = _plt()
    datasets = sorted(set(fr["dataset"]))
    ncol = min(4, len(datasets))
    nrow = math.ceil(len(datasets) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.8 * nrow), squeeze=False, sharey=True)
    colours = _colours(s)
    fractions = sorted(set(fr["fraction"]))
    for ax, d in zip(axes.ravel(), datasets, strict=False):
        sub = fr[fr["dataset"] == d]
        for (m, p), g in sub.groupby(["model", "protocol"]):
            g = g.sort_values("fraction")
            ax.errorbar(g["fraction"], g["score"], yerr=g["error"].fillna(0), fmt="o-", ms=3, capsize=2,
                        color=colours[(m, p)], label=_label(m, p))
        ax.set_xscale("log")
        ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
        ax.minorticks_off()
        ax.set_title(d, fontsize=9)
        ax.set_xlabel("label fraction")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(datasets):]:
        ax.axis("off")
    axes[0][0].set_ylabel("normalised score")
    h, lab = _legend_items(axes)
    fig.legend(h, lab, loc="upper center", ncol=min(4, len(lab)) or 1, fontsize=8, bbox_to_anchor=(0.5, 1.08))
    fig.tight_layout()
    return _png(fig)


def all_charts(s: Summary) -> dict[str, str]:
    """{chart id: base64 PNG} for every chart the data supports."""
    out: dict[str, str | None] = {
        "capability": capability_chart(s),
        "efficiency": efficiency_chart(s),
        "fractions": fraction_chart(s),
    }
    for d in sorted(set(s.robustness["dataset"])) if not s.robustness.empty else []:
        out[f"robustness-{d}"] = robustness_chart(s, d)
    return {k: v for k, v in out.items() if v}

