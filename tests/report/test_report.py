"""Report content, atomic writing, the rich leaderboard and the `eokit report` CLI."""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from eokit.bench.store import ResultsStore, load_outcomes, load_results
from eokit.cli.main import main
from eokit.report import Summary, print_leaderboard, summarise, write_report
from eokit.report import html as report_html

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def summary(bench_dir: Path) -> Summary:
    return summarise(load_results(bench_dir), n_boot=200, outcomes=load_outcomes(bench_dir))


def test_summary_ranks_and_explains(summary: Summary) -> None:
    lb = summary.leaderboard
    assert list(lb["rank"]) == list(range(1, len(lb) + 1))
    scored = lb.dropna(subset=["score"])
    assert scored["score"].is_monotonic_decreasing
    assert (lb.iloc[0]["model"], lb.iloc[0]["protocol"]) == ("resnet50_ssl4eo", "linear")
    # baselines are in the table, below the pretrained backbones
    pos = {(m, p): i for i, (m, p) in enumerate(zip(lb["model"], lb["protocol"], strict=True))}
    assert pos[("raw_pixels", "linear")] > pos[("vit_small_dino", "linear")]
    # the entry lacking oscd has no overall score and the reason names the dataset
    vit_dec = lb[(lb["model"] == "vit_small_dino") & (lb["protocol"] == "decoder")].iloc[0]
    assert math.isnan(vit_dec["score"]) and "oscd" in vit_dec["reason"]
    assert any("vit_small_dino" in n and "oscd" in n for n in summary.notes)
    # efficiency columns come from rows with protocol 'efficiency'
    r50 = lb[lb["model"] == "resnet50_ssl4eo"].iloc[0]
    assert r50["params"] == 23.5e6 and r50["throughput_ips"] == 95.0
    # robustness: only entries run under corruption have a drop
    assert lb.loc[lb["protocol"] == "linear", "robustness_drop"].notna().all()
    assert lb.loc[lb["protocol"] == "knn5", "robustness_drop"].isna().all()


def test_summary_is_honest(summary: Summary) -> None:
    """Every ranked figure has a CI around it; a 12-sample test set is not ranked; pairwise marks."""
    assert summary.not_ranked == {"tiny_rgb": "only 12 test samples (< 20)"}
    assert "tiny_rgb: not ranked: only 12 test samples (< 20)" in summary.notes
    assert "tiny_rgb" not in summary.groups["Overall"] and "tiny_rgb" not in summary.references
    scored = summary.leaderboard.dropna(subset=["score"])
    assert ((scored["ci_lo"] <= scored["score"]) & (scored["score"] <= scored["ci_hi"])).all()
    assert ((scored["ci_hi"] - scored["ci_lo"]) > 0.005).all()  # test-sample noise, not '± 0.000'
    ds = summary.datasets
    ranked = ds[ds["dataset"] != "tiny_rgb"]
    assert ranked["ci_lo"].notna().all() and (ranked["reason"] == "").all()
    assert ((ranked["ci_lo"] <= ranked["value"] + 1e-9) & (ranked["value"] <= ranked["ci_hi"] + 1e-9)).all()
    assert (ranked["score"].between(-0.5, 1.0)).all()  # fixed bounds: no -13
    tiny = ds[ds["dataset"] == "tiny_rgb"]
    assert len(tiny) and (tiny["reason"] == "only 12 test samples (< 20)").all()
    # the chance level of an accuracy dataset is its majority-class share, the high bound perfect
    lo, hi = summary.references["eurosat_rgb"]["accuracy"]
    assert hi == 1.0 and 0.1 <= lo < 0.2
    pw = summary.pairwise
    overall = pw[pw["scope"] == "Overall"]
    # the 5 headline entries: 4 pooled-feature entries compared overall (the decoder entry covers other datasets)
    assert len(overall) == 6 and set(pw["scope"]) >= {"Overall", "eurosat_rgb", "bigearthnet_s2"}
    assert overall["p"].between(0, 1).all()
    top = overall.iloc[0]  # rank 1 vs rank 2
    assert top["a"] == "resnet50_ssl4eo · linear" and top["p"] > 0.5
    assert (overall["mark"] == "*").any()


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_page(cli_report: tuple[Path, str]) -> None:
    out, stdout = cli_report
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count('class="lb-row"') == 11
    imgs = _images(page)
    assert len(imgs) == 4 and all(i.startswith(PNG_MAGIC) and len(i) > 5000 for i in imgs)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from the network
    names = sorted(p.name for p in out.parent.iterdir() if not p.name.endswith(".lock"))
    assert names == ["report.html", "results.duckdb"]  # no temp file
    assert 'id="pairwise"' in page and "P(A beats B)" in page
    assert "not ranked: only 12 test samples (&lt; 20)" in page
    assert re.search(r"\d\.\d{3} <span class=\"err\">\[\d\.\d{3}, \d\.\d{3}\]</span>", page)
    assert "eokit leaderboard" in stdout and "resnet50_ssl4eo" in stdout and f"report written to {out}" in stdout


def test_report_reads_every_source(bench_dir: Path) -> None:
    ref = report_html._frame(load_results(bench_dir)).drop(columns="time")
    for src in (ResultsStore(bench_dir), bench_dir, bench_dir / "results.duckdb", bench_dir / "results.parquet",
                bench_dir / "results.csv"):
        got = report_html._frame(src).drop(columns="time")
        pd.testing.assert_frame_equal(got, ref, check_dtype=False)


def test_report_without_robustness_or_efficiency(tmp_path: Path) -> None:
    rows = [{"suite": "s", "dataset": "eurosat_rgb", "model": m, "protocol": "linear", "fraction": 1.0,
             "seed": s, "corruption": "none", "severity": 0, "metric": "accuracy", "value": v + s / 100}
            for m, v in (("a", 0.8), ("b", 0.6)) for s in range(3)]
    out = write_report(pd.DataFrame(rows), tmp_path / "small.html", n_boot=100)
    page = out.read_text()
    assert page.count('class="lb-row"') == 2 and 'id="robustness"' not in page and 'id="efficiency"' not in page
    assert len(_images(page)) == 1  # the capability chart


def test_write_is_atomic(bench_dir: Path, summary: Summary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.html"
    out.write_text("previous report")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_html, "render_html", boom)
    with pytest.raises(RuntimeError):
        write_report(bench_dir, out, summary=summary)
    assert out.read_text() == "previous report" and list(tmp_path.iterdir()) == [out]


def test_rich_leaderboard(summary: Summary) -> None:
    wide = Console(record=True, width=220)
    print_leaderboard(summary, console=wide)
    text = wide.export_text()
    for name in ("resnet50_ssl4eo", "vit_small_dino", "raw_pixels", "spectral_indices", "Overall [95% CI]",
                 "Core", "params M", "rob. drop"):
        assert name in text
    assert "no score for Overall" in text and "oscd" in text
    assert "tiny_rgb: not ranked: only 12 test samples (< 20)" in text
    # the raw metric per dataset, with its chance level and CI; tiny_rgb is not in it
    assert "per dataset: raw metric" in text
    assert re.search(r"eurosat_rgb +│ accuracy +│ +300 │ +0\.1\d\d │ resnet50_ssl4eo · linear +│ 0\.[89]\d\d \[", text)
    assert "tiny_rgb  " not in text.split("per dataset: raw metric")[1]
    assert "P(A beats B)" in text and re.search(r"resnet50_ssl4eo · linear +vs +\S+ · \S+: P = \d\.\d{3}", text)
    narrow = Console(record=True, width=80)
    print_leaderboard(summary, console=narrow)
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert re.search(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", text) and "resnet50_ssl4eo" in text
    assert "± 0.000" not in text


def test_cli_report(bench_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pq = bench_dir / "results.parquet"
    assert main(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "x.html")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["report", str(pq), "--suite", "full", "-o", str(tmp_path / "y.html")]) == 2
    assert "suites are ['quick']" in capsys.readouterr().err
    empty = tmp_path / "empty"
    ResultsStore(empty)
    assert main(["report", str(empty)]) == 2
    assert "no result rows" in capsys.readouterr().err
    bad = tmp_path / "refs.json"
    bad.write_text("{not json")
    assert main(["report", str(pq), "--references", str(bad), "-o", str(tmp_path / "z.html")]) == 2
    assert "refs.json" in capsys.readouterr().err
    small = tmp_path / "small.csv"
    load_results(pq).query("dataset == 'eurosat_rgb' and corruption == 'none'").to_csv(small, index=False)
    refs = tmp_path / "refs.yaml"
    refs.write_text("eurosat_rgb: {accuracy: [0.0, 1.0]}\n")
    out = tmp_path / "w.html"
    assert main(["report", str(small), "--references", str(refs), "-o", str(out), "--quiet", "--n-boot", "100"]) == 0
    assert "normalised with fixed bounds 0.000 (score 0) – 1.000 (score 1)" in out.read_text()


def test_cli_uses_bench_sidecars(bench_dir: Path, tmp_path: Path) -> None:
    """references.json / groups.json beside the results (as `eokit bench` writes them) drive the report."""
    import json

    from eokit.bench.groups import read_groups, write_groups

    folder = tmp_path / "run"
    folder.mkdir()
    load_results(bench_dir).query("dataset == 'eurosat_rgb' and corruption == 'none'").to_csv(
        folder / "results.csv", index=False)
    (folder / "references.json").write_text(json.dumps({"eurosat_rgb": {"accuracy": [0.1, 0.9]}}))
    write_groups({"My-Group": ["eurosat_rgb"]}, folder / "groups.json")
    assert read_groups(folder / "groups.json") == {"My-Group": ["eurosat_rgb"]}
    assert main(["report", str(folder / "results.csv"), "--quiet", "--n-boot", "100"]) == 0
    page = (folder / "report.html").read_text()
    assert "fixed bounds 0.100 (score 0) – 0.900 (score 1)" in page and "My-Group" in page and ">Core<" not in page
    (folder / "groups.json").write_text("[1, 2]")
    assert main(["report", str(folder), "--quiet"]) == 2
