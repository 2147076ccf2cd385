"""The leaderboard as a rich table in the terminal."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import pandas as pd
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from eokit.bench.aggregate import higher_is_better
from eokit.report.summary import EFFICIENCY_COLUMNS, OVERALL, Summary, summarise

SHORT = {"Core": "Core", "Multi-Spectral-Dependent": "MS", "Multi-Temporal": "MT", "Pixel-wise": "Pix",
         "Classification": "Cls", "Detection": "Det", "<10 m": "<10m", ">=10 m": ">=10m", "RGB/NIR": "RGBN"}
EFF_LABELS = {"params": "params M", "gflops": "GFLOPs", "throughput_ips": "img/s", "peak_mem_mb": "peak MB"}


def _f(v: Any, digits: int = 3) -> str:
    ok = isinstance(v, int | float) and math.isfinite(v)
    return f"{v:.{digits}f}" if ok else "–"


def _ci(r: dict[str, Any], key: str = "score", lo: str = "ci_lo", hi: str = "ci_hi") -> str:
    """``value [lo, hi]`` (95 % CI), or ``value ± error`` where no CI is known."""
    v = r.get(key)
    if not (isinstance(v, int | float) and math.isfinite(v)):
        return "–"
    a, b = r.get(lo), r.get(hi)
    if isinstance(a, int | float) and isinstance(b, int | float) and math.isfinite(a) and math.isfinite(b):
        return f"{v:.3f} [{a:.3f}, {b:.3f}]"
    return f"{v:.3f} ± {_f(r.get('error'))}"


def _group_cell(group: str) -> Callable[[dict[str, Any]], str]:
    """A capability group's score ± half its 95 % CI width (compact; the report gives [lo, hi])."""
    def cell(r: dict[str, Any]) -> str:
        v, lo, hi = r.get(f"group:{group}"), r.get(f"group_lo:{group}"), r.get(f"group_hi:{group}")
        if not (isinstance(v, int | float) and math.isfinite(v)):
            return "–"
        if isinstance(lo, int | float) and isinstance(hi, int | float) and math.isfinite(lo) and math.isfinite(hi):
            return f"{v:.3f}±{(hi - lo) / 2:.3f}"
        return f"{v:.3f}"
    return cell


def _eff(col: str) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        if not (isinstance(v, int | float) and math.isfinite(v)):
            return "–"
        return f"{v / 1e6:.1f}" if col == "params" else f"{v:.2f}" if col == "gflops" else f"{v:.0f}"
    return fmt


# (header, justification, cell text of a leaderboard record)
_Column = tuple[str, JustifyMethod, Callable[[dict[str, Any]], str]]


def _cell(key: str, fmt: Callable[[Any], str]) -> Callable[[dict[str, Any]], str]:
    """The cell text of column ``key`` in a record, formatted by ``fmt``."""
    return lambda r: fmt(r[key])


MAX_NOTES = 4
"""Notes printed one per line; more are summarised in one line (the HTML report lists them all)."""


def leaderboard_table(s: Summary, *, title: str = "eokit leaderboard", width: int = 80) -> Table:
    """A rich Table of the leaderboard: the overall score [95 % CI] always; then, as far as ``width``
    allows, the robustness drop, efficiency and the capability-group scores (± half their CI width)."""
    lb = s.leaderboard
    recs = lb.to_dict("records")
    base: list[_Column] = [
        ("#", "right", lambda r: str(r["rank"])),
        ("model", "left", lambda r: str(r["model"])),
        ("protocol", "left", lambda r: str(r["protocol"])),
        ("frac", "right", lambda r: f"{r['fraction']:g}"),
        (f"{OVERALL} [95% CI]", "right", _ci),
    ]
    if "n_datasets" in lb.columns:  # entries of protocols that run on fewer datasets rank on fewer
        base.insert(4, ("ds", "right", lambda r: str(int(r["n_datasets"])) if _finite(r["n_datasets"]) else "–"))
    optional: list[_Column] = []
    if "robustness_drop" in lb.columns:
        optional.append(("rob. drop", "right", lambda r: _f(r["robustness_drop"])))
    for c in EFFICIENCY_COLUMNS:
        if c in lb.columns:
            optional.append((EFF_LABELS[c], "right", _cell(c, _eff(c))))
    for g in (c for c in lb.columns if c.startswith("group:")):
        optional.append((SHORT.get(g[6:], g[6:]), "right", _group_cell(g[6:])))

    def col_width(col: _Column) -> int:
        return max([len(col[0])] + [len(col[2](r)) for r in recs]) + 3

    used = sum(col_width(c) for c in base) + 1
    cols = list(base)
    for col in optional:
        w = col_width(col)
        if used + w <= width:
            cols.append(col)
            used += w
    table = Table(title=title, header_style="bold")
    for name, just, _ in cols:
        table.add_column(name, justify=just, no_wrap=True)
    for r in recs:
        table.add_row(*(fn(r) for _, _, fn in cols))
    table.caption = None if len(cols) == len(base) + len(optional) else \
        "more columns (capability groups, efficiency) in the HTML report"
    return table


def print_leaderboard(results: pd.DataFrame | Summary, *, console: Console | None = None,
                      title: str = "eokit leaderboard", **kwargs: Any) -> Summary:
    """Print the leaderboard of ``results`` (result rows or a Summary); returns the Summary."""
    s = results if isinstance(results, Summary) else summarise(results, **kwargs)
    con = console or Console()
    if not (s.leaderboard.empty and not s.superres.empty):  # an SR-only run has no leaderboard
        con.print(leaderboard_table(s, title=title, width=con.width))
    per = dataset_table(s)
    if per is not None:
        con.print(per)
    for sr in superres_tables(s):
        con.print(sr)
    for line in pairwise_lines(s):
        con.print(line, highlight=False)
    for table in modality_tables(s):
        con.print(table)
    if len(s.notes) <= MAX_NOTES:
        for note in s.notes:
            con.print(f"[yellow]note:[/yellow] {escape(note)}")
    else:  # one line; every note is in the HTML report
        models = sorted({n.split(" · ")[0] for n in s.notes})
        con.print(f"[yellow]note:[/yellow] {len(s.notes)} entries lack a score for some groups (datasets they "
                  f"cannot run on), of {escape(', '.join(models))}: see the report's notes")
    return s


def dataset_table(s: Summary) -> Table | None:
    """Per ranked dataset, the raw metric first: its chance level and the best entry's value [95 % CI]."""
    ds = s.datasets
    if ds.empty:
        return None
    top = ds[ds["fraction"] == ds.groupby(["protocol"])["fraction"].transform("max")]
    table = Table(title="per dataset: raw metric [95% CI] of the best entry", header_style="bold")
    cols: list[tuple[str, JustifyMethod]] = [("dataset", "left"), ("metric", "left"), ("n test", "right"),
                                             ("chance", "right"), ("best entry", "left"), ("value [95% CI]", "right")]
    for name, just in cols:
        table.add_column(name, justify=just)
    for d, sub in top.groupby("dataset", sort=True):
        metric = s.metrics.get(str(d), "")
        if str(d) in s.not_ranked or sub["value"].notna().sum() == 0:
            continue
        up = higher_is_better(metric)
        best = sub.loc[sub["value"].idxmax() if up else sub["value"].idxmin()]
        ref = s.references.get(str(d), {}).get(metric)
        chance = "–" if ref is None else f"{(ref[0] if up else ref[1]):.3f}"
        n = best.get("n_test")
        table.add_row(str(d), metric, "–" if not _finite(n) else f"{int(n)}", chance,
                      f"{best['model']} · {best['protocol']}", _ci(dict(best), "value"))
    return table if table.row_count else None


def superres_tables(s: Summary) -> list[Table]:
    """The SR-in-the-loop tables: fidelity and downstream score per SR model, and their rank correlations."""
    if s.superres.empty:
        return []
    table = Table(title="super-resolution in the loop: fidelity vs downstream (fixed task model)",
                  header_style="bold")
    for name in ("dataset", "SR model", "PSNR", "SSIM", "SAM°", "task mIoU", "task OA"):
        table.add_column(name, justify="left" if name in ("dataset", "SR model") else "right")
    for r in s.superres.to_dict("records"):
        table.add_row(str(r["dataset"]), str(r["model"]), _f(r["psnr"], 2), _f(r["ssim"]), _f(r["sam"], 2),
                      _f(r["task_miou"]), _f(r["task_oa"]))
    out = [table]
    if not s.superres_corr.empty:
        corr = Table(title="rank correlation of fidelity with task mIoU across SR models", header_style="bold")
        for name in ("dataset", "fidelity", "models", "Spearman", "Kendall", "note"):
            corr.add_column(name, justify="left" if name in ("dataset", "fidelity", "note") else "right")
        for r in s.superres_corr.to_dict("records"):
            corr.add_row(str(r["dataset"]), str(r["fidelity"]), str(r["n_models"]), _f(r["spearman"]),
                         _f(r["kendall"]), escape(str(r["reason"])))
        out.append(corr)
    return out


def modality_tables(s: Summary) -> list[Table]:
    """The missing-modality protocol, one table per dataset: per model and removed modality, the metric
    [95 % CI] and its drop from all modalities [95 % CI] (paired bootstrap); ``P>0``: P(drop > 0)."""
    out = []
    for ds, sub in s.modality.groupby("dataset", sort=True):
        metric = ", ".join(sorted({str(m) for m in sub["metric"]}))
        table = Table(title=f"missing modality, {ds}: {metric} [95% CI], drop from all modalities",
                      header_style="bold")
        cols: list[tuple[str, JustifyMethod]] = [
            ("model", "left"), ("removed", "left"), ("missing is", "left"), ("value [95% CI]", "right"),
            ("drop [95% CI]", "right"), ("P>0", "right")]
        for name, just in cols:
            table.add_column(name, justify=just)
        for r in sub.to_dict("records"):
            removed = r["missing"] != "none"
            table.add_row(str(r["model"]), str(r["missing"]) if removed else "– (all)", str(r["policy"]) or "–",
                          _ci(r, "value"), _ci(r, "drop", "drop_lo", "drop_hi") if removed else "",
                          _f(r["p_drop"]) if removed else "")
        out.append(table)
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, numbers.Real) and math.isfinite(float(v))  # numpy scalars included


def pairwise_lines(s: Summary) -> list[str]:
    """The overall pairwise comparisons of the headline entries, one line each (plain text)."""
    pw = s.pairwise[s.pairwise["scope"] == OVERALL] if not s.pairwise.empty else s.pairwise
    if pw.empty:
        return []
    width = max(len(str(a)) for a in pw["a"])
    lines = ["P(A beats B), paired bootstrap over test samples and seeds (* = significant at 5 %):"]
    for r in pw.to_dict("records"):
        lines.append(f"  {r['a']!s:<{width}}  vs  {r['b']}: P = {r['p']:.3f} {r['mark']}".rstrip())
    return lines
