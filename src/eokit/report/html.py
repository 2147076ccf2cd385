"""A static, self-contained HTML report (inline CSS, charts as embedded PNGs): viewable offline."""

from __future__ import annotations

import datetime as _dt
import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eokit.bench.aggregate import higher_is_better
from eokit.report.plots import all_charts
from eokit.report.summary import EFFICIENCY_COLUMNS, OVERALL, Summary, summarise

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1400px;color:#222;
padding:0 1em}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em} th,td{padding:.3em .7em;border-bottom:1px solid #e3e3e3;white-space:nowrap;
text-align:right} th{white-space:normal;background:#f4f6f8;position:sticky;top:0} td.l,th.l{text-align:left;white-space:nowrap}
tr:hover td{background:#fafbfd} .meta{color:#555;font-size:.9em} .meta code{background:#f3f3f3;padding:0 .3em}
.err{color:#888;font-size:.85em} .wrap{overflow-x:auto} td.score{white-space:nowrap;font-weight:600} .na{color:#aaa} img.chart{max-width:100%;display:block;margin:.8em 0;
border:1px solid #eee} .notes li{color:#8a5300} .best{font-weight:bold}
.notranked{color:#8a5300}
"""

METRIC_LABELS = {"params": "params (M)", "gflops": "GFLOPs", "throughput_ips": "img/s", "peak_mem_mb": "peak MB"}


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '<span class="na">–</span>'
    if isinstance(v, int | np.integer):
        return str(int(v))
    return f"{float(v):.{digits}f}"


def _pm(score: Any, err: Any, digits: int = 3) -> str:
    if score is None or not np.isfinite(score):
        return '<span class="na">–</span>'
    e = f' <span class="err">± {err:.{digits}f}</span>' if err is not None and np.isfinite(err) else ""
    return f"{score:.{digits}f}{e}"


def _fin(v: Any) -> bool:
    return v is not None and isinstance(v, int | float | np.floating) and bool(np.isfinite(v))


def _ci(v: Any, lo: Any, hi: Any, err: Any = None, digits: int = 3) -> str:
    """``value [lo, hi]`` (95 % CI); ``value ± err`` where no CI is known."""
    if not _fin(v):
        return '<span class="na">–</span>'
    if _fin(lo) and _fin(hi):
        return f'{v:.{digits}f} <span class="err">[{lo:.{digits}f}, {hi:.{digits}f}]</span>'
    return _pm(v, err, digits)


def _eff(col: str, v: Any) -> str:
    if v is None or not np.isfinite(v):
        return '<span class="na">–</span>'
    if col == "params":
        return f"{v / 1e6:.1f}"
    if col == "gflops":
        return f"{v:.2f}"
    return f"{v:.0f}"


def _leaderboard_html(s: Summary) -> str:
    lb = s.leaderboard
    if lb.empty:
        return "<p>No clean results to rank yet.</p>"
    groups = [c for c in lb.columns if c.startswith("group:")]
    effs = [c for c in EFFICIENCY_COLUMNS if c in lb.columns]
    head = ['<th>#</th><th class="l">model</th><th class="l">protocol</th><th>fraction</th>',
            f'<th>{OVERALL} score [95% CI]</th><th title="datasets in the entry\'s scope">n</th>']
    head += [f"<th>{_e(c[6:])}</th>" for c in groups]
    if "robustness_drop" in lb.columns:
        head.append('<th title="mean drop of the ranked metric under corruption">robust. drop</th>')
    head += [f"<th>{_e(METRIC_LABELS[c])}</th>" for c in effs]
    out = ['<div class="wrap"><table id="leaderboard"><thead><tr>', "".join(head), "</tr></thead><tbody>"]
    for r in lb.to_dict("records"):
        title = f' title="{_e(r["reason"])}"' if r.get("reason") else ""
        cells = [f"<td>{r['rank']}</td>", f'<td class="l">{_e(r["model"])}</td>',
                 f'<td class="l">{_e(r["protocol"])}</td>', f"<td>{r['fraction']:g}</td>",
                 f'<td class="score"{title}>{_ci(r["score"], r.get("ci_lo"), r.get("ci_hi"), r["error"])}</td>',
                 f"<td>{r['n_datasets']}</td>"]
        cells += [f"<td>{_ci(r[c], r.get('group_lo:' + c[6:]), r.get('group_hi:' + c[6:]))}</td>" for c in groups]
        if "robustness_drop" in lb.columns:
            cells.append(f"<td>{_num(r['robustness_drop'])}</td>")
        cells += [f"<td>{_eff(c, r[c])}</td>" for c in effs]
        out.append(f'<tr class="lb-row" data-model="{_e(r["model"])}">{"".join(cells)}</tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def _capability_table(s: Summary) -> str:
    cap = s.capability
    if cap.empty:
        return ""
    out = ['<div class="wrap"><table id="capability"><thead><tr><th class="l">entry</th>']
    groups = [g for g in s.groups if g in set(cap["group"])]
    out += [f"<th>{_e(g)}</th>" for g in groups] + ["</tr></thead><tbody>"]
    for (m, p, f), sub in cap.groupby(["model", "protocol", "fraction"], sort=True):
        sub = sub.set_index("group")
        cells = []
        for g in groups:
            if g not in sub.index:
                cells.append('<td><span class="na">n/a</span></td>')
            else:
                r = sub.loc[g]
                title = f' title="{_e(r["reason"])}"' if r["reason"] else ""
                cells.append(f"<td{title}>{_ci(r['score'], r.get('ci_lo'), r.get('ci_hi'), r['error'])}</td>")
        out.append(f'<tr><td class="l">{_e(m)} · {_e(p)} · {f:g}</td>{"".join(cells)}</tr>')
    out.append("</tbody></table></div>")
    return "".join(out) + _group_members_html(s)


def _group_members_html(s: Summary) -> str:
    """Each capability group: its definition (GEO-Bench-2's) and the datasets in it."""
    from eokit.bench.groups import GROUP_DEFINITIONS

    defs = {OVERALL: "every ranked dataset", **GROUP_DEFINITIONS}
    rows = "".join(
        f'<tr data-group="{_e(g)}"><td class="l"><b>{_e(g)}</b></td>'
        f'<td class="l">{_e(defs.get(g, ""))}</td><td class="l">{_e(", ".join(v))}</td></tr>'
        for g, v in s.groups.items())
    return ('<div class="wrap"><table id="group-members"><thead><tr><th class="l">group</th>'
            '<th class="l">definition</th><th class="l">datasets</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def _dataset_tables(s: Summary) -> str:
    if s.datasets.empty:
        return "<p>No per-dataset results.</p>"
    parts = []
    other = s.rows[(s.rows["corruption"] == "none") & (s.rows["protocol"] != "efficiency")]
    for d, sub in s.datasets.groupby("dataset", sort=True):
        metric = s.metrics.get(str(d), "")
        ref = s.references.get(str(d), {}).get(metric)
        extra = sorted(set(other.loc[other["dataset"] == d, "metric"]) - {metric})
        ref_txt = f" · normalised with fixed bounds {ref[0]:.3f} (score 0) – {ref[1]:.3f} (score 1)" \
            if ref and higher_is_better(metric) else \
            f" · normalised with fixed bounds {ref[1]:.3f} (score 0) – {ref[0]:.3f} (score 1)" if ref else ""
        why = s.not_ranked.get(str(d))
        status = (f'<p class="notranked" data-dataset="{_e(d)}"><b>not ranked: {_e(why)}</b> — shown for '
                  "information, left out of the leaderboard and every aggregate</p>") if why else ""
        n_test = sub["n_test"].dropna() if "n_test" in sub.columns else pd.Series(dtype=float)
        n_txt = f" · {int(n_test.max())} test samples" if len(n_test) else ""
        rows = [f'<h3 id="ds-{_e(d)}">{_e(d)}</h3>{status}<p class="meta">ranked on <code>{_e(metric)}</code>'
                f"{ref_txt}{n_txt}</p>",
                f'<div class="wrap"><table class="dataset" data-dataset="{_e(d)}"><thead><tr><th class="l">model</th>'
                f'<th class="l">protocol</th><th>fraction</th><th>{_e(metric)} [95% CI]</th>'
                f"<th>normalised [95% CI]</th><th>seeds</th>" + "".join(f"<th>{_e(m)}</th>" for m in extra)
                + "</tr></thead><tbody>"]
        sub = sub.sort_values(["fraction", "score"], ascending=[False, False])
        for r in sub.to_dict("records"):
            sel = other[(other["dataset"] == d) & (other["model"] == r["model"])
                        & (other["protocol"] == r["protocol"]) & (other["fraction"] == r["fraction"])]
            means = sel.groupby("metric")["value"].mean()
            rows.append(
                f'<tr><td class="l">{_e(r["model"])}</td><td class="l">{_e(r["protocol"])}</td>'
                f"<td>{r['fraction']:g}</td><td>{_ci(r['value'], r.get('ci_lo'), r.get('ci_hi'), r['value_error'])}</td>"
                f"<td>{_ci(r['score'], r.get('score_lo'), r.get('score_hi'), r['error'])}</td><td>{r['n_seeds']}</td>"
                + "".join(f"<td>{_num(means.get(m))}</td>" for m in extra) + "</tr>")
        rows.append("</tbody></table></div>")
        parts.append("".join(rows))
    return "".join(parts)


def _superres_html(s: Summary) -> str:
    """The SR-in-the-loop section: fidelity and downstream score per SR model, and their rank correlations."""
    head = ('<h2 id="superres">Super-resolution in the loop</h2><p class="meta">Each SR model super-resolves '
            "the low-resolution test inputs; fidelity (PSNR, SSIM, spectral angle SAM in degrees) compares the "
            "output with the original high-resolution images, and a fixed task model, trained once on the "
            "original images, is scored on the output (task mIoU, OA). <i>hr (reference)</i>: the task model on "
            "the original images. Means over seeds.</p>")
    cols = [("psnr", 2), ("ssim", 3), ("sam", 2), ("task_miou", 3), ("task_oa", 3)]
    rows = ['<div class="wrap"><table id="superres-table"><thead><tr><th class="l">dataset</th>'
            '<th class="l">SR model</th><th>PSNR</th><th>SSIM</th><th>SAM °</th><th>task mIoU</th><th>task OA</th>'
            "<th>seeds</th></tr></thead><tbody>"]
    for r in s.superres.to_dict("records"):
        rows.append(f'<tr><td class="l">{_e(r["dataset"])}</td><td class="l">{_e(r["model"])}</td>'
                    + "".join(f"<td>{_num(r[c], d)}</td>" for c, d in cols) + f"<td>{_e(r['n_seeds'])}</td></tr>")
    rows.append("</tbody></table></div>")
    corr = ['<h3 id="superres-correlation">Rank correlation of fidelity with the downstream score</h3>'
            '<p class="meta">Across SR models (the reference left out), per dataset: Spearman\'s ρ and Kendall\'s '
            "τ-b between each fidelity metric and task mIoU; SAM is negated (lower is better), so a positive value "
            "always means that higher fidelity went with a better downstream score.</p>"
            '<div class="wrap"><table id="superres-correlation-table"><thead><tr><th class="l">dataset</th>'
            '<th class="l">fidelity</th><th>SR models</th><th>Spearman ρ</th><th>Kendall τ</th><th class="l">note</th>'
            "</tr></thead><tbody>"]
    for r in s.superres_corr.to_dict("records"):
        corr.append(f'<tr><td class="l">{_e(r["dataset"])}</td><td class="l">{_e(r["fidelity"])}</td>'
                    f"<td>{_e(r['n_models'])}</td><td>{_num(r['spearman'])}</td><td>{_num(r['kendall'])}</td>"
                    f'<td class="l">{_e(r["reason"])}</td></tr>')
    corr.append("</tbody></table></div>")
    return head + "".join(rows) + "".join(corr)


def _pairwise_html(s: Summary) -> str:
    """P(A beats B) of the headline entries, overall and per dataset (paired bootstrap)."""
    pw = s.pairwise
    if pw.empty:
        return ('<p class="meta">No pairwise comparisons: they need per-sample outcomes in the results store '
                "(re-run <code>eokit bench</code>) and at least two ranked entries.</p>")
    out = ['<p class="meta">P(A beats B): the fraction of paired bootstrap replicates (the same resampled test '
           "samples and seeds for both entries) in which A scores better; <b>*</b> marks P &gt; 0.975 or "
           "P &lt; 0.025, a difference unlikely to be chance at the 5 % level. Overall compares normalised "
           "scores; a dataset row its ranked metric.</p>",
           '<div class="wrap"><table id="pairwise"><thead><tr><th class="l">scope</th><th class="l">A</th>'
           '<th class="l">B</th><th>P(A beats B)</th><th></th></tr></thead><tbody>']
    for r in pw.to_dict("records"):
        out.append(f'<tr><td class="l">{_e(r["scope"])}</td><td class="l">{_e(r["a"])}</td>'
                   f'<td class="l">{_e(r["b"])}</td><td>{r["p"]:.3f}</td><td>{_e(r["mark"])}</td></tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def _robustness_tables(s: Summary) -> str:
    rob = s.robustness
    if rob.empty:
        return ""
    parts = []
    for d, sub in rob.groupby("dataset", sort=True):
        piv = sub.groupby(["model", "protocol", "fraction", "corruption"])["drop"].mean().unstack("corruption")
        piv["mean"] = piv.mean(axis=1)
        cols = list(piv.columns)
        head = "".join(f"<th>{_e(c)}</th>" for c in cols)
        body = "".join(
            f'<tr><td class="l">{_e(m)} · {_e(p)} · {f:g}</td>'
            + "".join(f"<td>{_num(v)}</td>" for v in row) + "</tr>"
            for (m, p, f), row in zip(piv.index, piv.to_numpy(), strict=True)
        )
        parts.append(f'<p class="meta">{_e(d)}: drop from clean of the ranked metric, mean over severities</p>'
                     f'<div class="wrap"><table class="robustness" data-dataset="{_e(d)}"><thead><tr>'
                     f'<th class="l">entry</th>{head}</tr></thead><tbody>{body}</tbody></table></div>')
    return "".join(parts)


def _modality_html(s: Summary) -> str:
    """The missing-modality protocol's table (``eokit.bench.modality``)."""
    mod = s.modality
    if mod.empty:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("removed", "missing is", "metric", "value [95% CI]",
                                              "drop [95% CI]", "P(drop &gt; 0)", "n test", "seeds"))
    body = []
    for r in mod.to_dict("records"):
        removed = r["missing"] != "none"
        body.append(
            f'<tr><td class="l">{_e(r["dataset"])}</td><td class="l">{_e(r["model"])}</td>'
            f'<td class="l">{_e(r["missing"]) if removed else "– (all modalities)"}</td>'
            f'<td class="l">{_e(r["policy"]) or "–"}</td><td class="l">{_e(r["metric"])}</td>'
            f'<td>{_ci(r["value"], r["ci_lo"], r["ci_hi"])}</td>'
            f'<td>{_ci(r["drop"], r["drop_lo"], r["drop_hi"]) if removed else ""}</td>'
            f'<td>{_num(r["p_drop"]) if removed else ""}</td><td>{_e(r["n_test"])}</td><td>{_e(r["n_seeds"])}</td></tr>')
    return ('<h2 id="missing-modality">Missing modality</h2><p class="meta">Fusion models trained with every '
            "modality, tested with each one removed: early fusion zeroes the missing modality's bands (the "
            "standardised mean), late and cross-attention fusion drop it. Drop = score with all modalities − "
            "score without; [lo, hi] are 95 % bootstrap intervals over test samples and seeds (paired for the "
            "drop); P(drop &gt; 0) is the fraction of bootstrap replicates in which removing the modality lowered "
            "the score.</p>"
            f'<div class="wrap"><table class="modality"><thead><tr><th class="l">dataset</th><th class="l">model'
            f'</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _img(cid: str, b64: str, alt: str) -> str:
    return f'<img class="chart" id="chart-{_e(cid)}" alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _kv_table(rows: Sequence[tuple[str, Any]], cls: str) -> str:
    body = "".join(f'<tr><td class="l"><b>{_e(k)}</b></td><td class="l">{_e(v)}</td></tr>' for k, v in rows)
    return f'<div class="wrap"><table class="{cls}"><tbody>{body}</tbody></table></div>'


def _run_card_html(card: Mapping[str, Any]) -> str:
    """The run card (``eokit.bench.runcard``): machine, command, stage times, data, models, protocols, seeds."""
    m = card.get("machine", {})
    libs = ", ".join(f"{k} {v}" for k, v in (m.get("libraries") or {}).items())
    facts = [("run", card.get("run_id", "")), ("command", card.get("command", "")),
             ("started / finished (UTC)", f"{card.get('started', '')} / {card.get('finished', '')}"),
             ("eokit", f"{m.get('eokit_version', '?')} · git {m.get('git_sha', 'unknown')}"),
             ("suite", f"{card.get('suite', '')} · config {card.get('config_hash', '')}"),
             ("machine", f"{m.get('cpu', '?')} · {m.get('cores', '?')} cores ({m.get('cores_usable', '?')} usable)"
                         f" · {m.get('ram_gb', '?')} GB RAM · GPU: {m.get('gpu', 'none')}"),
             ("system", f"{m.get('os', '?')} · Python {m.get('python', '?')}"), ("libraries", libs),
             ("seeds", ", ".join(str(x) for x in card.get("seeds", [])))]
    stages = card.get("stages", {})
    total = card.get("wall_s")
    stage_rows = "".join(f'<tr data-stage="{_e(k)}"><td class="l">{_e(k)}</td><td>{float(v):.1f}</td></tr>'
                         for k, v in stages.items())
    if total is not None:
        stage_rows += f'<tr><td class="l"><b>bench wall time before the report</b></td><td><b>{float(total):.1f}</b></td></tr>'
    stage_html = (f'<p class="meta">Seconds per stage ({_e(card.get("stage_clock", "wall"))}).</p>'
                  f'<div class="wrap"><table id="run-stages"><thead><tr><th class="l">stage</th><th>s</th></tr>'
                  f"</thead><tbody>{stage_rows}</tbody></table></div>")
    data_rows = []
    for name, d in card.get("data", {}).items():
        root = d.get("root", d.get("skipped", ""))
        unscored = f'<br><span class="meta">not scored: {_e(d["unscored"])}</span>' if d.get("unscored") else ""
        cells = [f'<td class="l">{_e(name)}</td>', f'<td class="l">{_e(root)}{unscored}</td>']
        for part in ("train", "test"):
            r = d.get(part) or {}
            split = r.get("split", "")
            split = "+".join(split) if isinstance(split, list) else split
            listed = f" · {_e(r['list'])}" if r.get("list") else ""
            cells.append(f'<td class="l">{_e(split)}: {_e(r.get("samples", "–"))} samples, '
                         f'{_e(r.get("source_items", "–"))} items · '
                         f'<code title="{_e(r.get("sha256", ""))}">{_e(str(r.get("sha256", "–"))[:16])}</code>'
                         f"{listed}</td>")
        data_rows.append(f'<tr data-dataset="{_e(name)}">{"".join(cells)}</tr>')
    data_html = ('<div class="wrap"><table id="run-data"><thead><tr><th class="l">dataset</th><th class="l">root</th>'
                 '<th class="l">train (list sha256)</th><th class="l">test (list sha256)</th></tr></thead>'
                 f'<tbody>{"".join(data_rows)}</tbody></table></div>')
    model_rows = []
    for n, x in card.get("models", {}).items():
        seed = f" (seed {x['init_seed']})" if x.get("init_seed") is not None else ""
        model_rows.append(
            f'<tr><td class="l">{_e(n)}</td><td class="l">{_e(x.get("kind", ""))}</td>'
            f'<td class="l">{_e(x.get("arch") or "–")}</td><td class="l">{_e(x.get("weights", ""))}{_e(seed)}</td>'
            f'<td class="l"><code>{_e(x.get("state_dict_sha256", "–"))}</code> {_e(x.get("hashed_on", ""))}</td></tr>')
    model_html = ('<div class="wrap"><table id="run-models"><thead><tr><th class="l">model</th><th class="l">kind</th>'
                  '<th class="l">arch</th><th class="l">weights</th><th class="l">initial state-dict sha256</th></tr>'
                  f'</thead><tbody>{"".join(model_rows)}</tbody></table></div>')
    proto_rows = "".join(
        f'<tr><td class="l">{_e(n)}</td><td class="l">'
        f'{_e(", ".join(f"{k}={v}" for k, v in x.items() if k != "name"))}</td></tr>'
        for n, x in card.get("protocols", {}).items())
    proto_html = ('<div class="wrap"><table id="run-protocols"><thead><tr><th class="l">protocol</th>'
                  f'<th class="l">hyper-parameters</th></tr></thead><tbody>{proto_rows}</tbody></table></div>')
    return ('<h2 id="run-card">Run card</h2>' + _kv_table(facts, "run-facts") + stage_html
            + "<h3>Data</h3>" + data_html + "<h3>Models</h3>" + model_html + "<h3>Protocols</h3>" + proto_html)


def render_html(s: Summary, meta: Mapping[str, Any] | None = None, run_card: Mapping[str, Any] | None = None) -> str:
    """The report page as a string (with the run card section when ``run_card`` is given)."""
    meta = dict(meta or {})
    charts = all_charts(s)
    title = meta.pop("title", None) or f"eokit benchmark report{' — ' + str(meta['suite']) if 'suite' in meta else ''}"
    rows = s.rows
    facts = {
        "generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": len(rows),
        "models": rows["model"].nunique(),
        "datasets": rows["dataset"].nunique(),
    }
    for col in ("eokit_version", "git_sha", "config_hash"):
        if col in rows.columns:
            vals = sorted({v for v in rows[col].astype(str) if v})
            if vals:
                facts[col] = ", ".join(v[:12] for v in vals[:3]) + (" …" if len(vals) > 3 else "")
    facts.update({k: v for k, v in meta.items() if isinstance(v, str | int | float)})
    meta_html = " · ".join(f"{_e(k)}: <code>{_e(v)}</code>" for k, v in facts.items())
    notes = "".join(f"<li>{_e(n)}</li>" for n in s.notes)
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta" id="meta">{meta_html}</p>',
        "<h2 id=\"leaderboard-title\">Leaderboard</h2>",
        '<p class="meta">Score: per dataset, the ranked metric is normalised between fixed bounds, the chance '
        "level on the test labels (score 0) and the metric's perfect value (score 1); the per-dataset score is "
        "the interquartile mean over seeds, and the overall and capability scores the IQM across the group's "
        "datasets. [lo, hi] is a 95 % bootstrap interval over test samples and seeds (over seeds only, and "
        "± the bootstrap standard deviation, where no per-sample outcomes are stored). Datasets whose test set "
        "is too small or degenerate are not ranked. Entries at each protocol's largest label fraction.</p>",
        _leaderboard_html(s),
    ]
    if notes:
        body.append(f'<ul class="notes" id="notes">{notes}</ul>')
    body.append('<h2 id="pairwise-title">Pairwise comparisons</h2>')
    body.append(_pairwise_html(s))
    body.append('<h2 id="capabilities">Capability groups</h2>')
    if "capability" in charts:
        body.append(_img("capability", charts["capability"], "capability group scores"))
    body.append(_capability_table(s))
    rob_charts = [k for k in charts if k.startswith("robustness-")]
    if rob_charts or not s.robustness.empty:
        body.append('<h2 id="robustness">Robustness</h2><p class="meta">REOBench corruptions at severities '
                    "1–5 (0 = clean), ranked metric averaged over seeds; last panel: mean over corruptions.</p>")
        body += [_img(k, charts[k], k.replace("-", " ")) for k in rob_charts]
        body.append(_robustness_tables(s))
    body.append(_modality_html(s))
    if "efficiency" in charts:
        body.append('<h2 id="efficiency">Efficiency</h2>')
        body.append(_img("efficiency", charts["efficiency"], "efficiency vs score"))
    if "fractions" in charts:
        body.append('<h2 id="fractions">Label fractions</h2>')
        body.append(_img("fractions", charts["fractions"], "score vs label fraction"))
    if not s.superres.empty:
        body.append(_superres_html(s))
    body.append('<h2 id="datasets">Per-dataset results</h2>')
    body.append(_dataset_tables(s))
    if run_card:
        body.append(_run_card_html(run_card))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body) + "</body></html>\n"
    )


def _frame(results: Any) -> pd.DataFrame:
    from eokit.bench.store import ResultsStore, load_results

    if isinstance(results, pd.DataFrame):
        from eokit.bench.store import _typed

        return _typed(results.copy())
    if isinstance(results, ResultsStore):
        return results.frame()
    return load_results(results)


def _stored_outcomes(results: Any) -> pd.DataFrame | None:
    from eokit.bench.store import ResultsStore, load_outcomes

    if isinstance(results, ResultsStore):
        return results.outcomes()
    if isinstance(results, str | os.PathLike):
        return load_outcomes(results)
    return None


def write_report(
    results: pd.DataFrame | Any,
    out_html: str | os.PathLike[str],
    *,
    meta: Mapping[str, Any] | None = None,
    references: Mapping[str, Any] | None = None,
    reference_models: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    summary: Summary | None = None,
    outcomes: pd.DataFrame | None = None,
    run_card: Mapping[str, Any] | None = None,
) -> Path:
    """Write the HTML report for ``results`` (DataFrame, ResultsStore, or path) atomically; returns its path.

    Per-sample ``outcomes`` (CIs, pairwise tests, not-ranked datasets) default to those stored with
    ``results`` when it is a store or a path beside one. ``run_card``: the run's card
    (``eokit.bench.runcard``), rendered as its own section.
    """
    from eokit.io import atomic_path

    meta = dict(meta or {})
    refs = references if references is not None else meta.pop("references", None)
    if summary is None and outcomes is None:
        outcomes = _stored_outcomes(results)
    s = summary or summarise(_frame(results), references=refs, reference_models=reference_models,
                             n_boot=n_boot, seed=seed, outcomes=outcomes)
    page = render_html(s, meta, run_card)
    out = Path(out_html)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
