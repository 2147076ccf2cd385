"""`eokit bench` from the command line: leaderboard, report.html, exports; bad suites exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bench_tiny import tiny_suite_dict

from eokit.cli.main import main


@pytest.mark.slow
def test_bench_cli_writes_report_and_leaderboard(tmp_path: Path, mirror: Path, cache: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    d = tiny_suite_dict(seeds=(0, 1, 2))
    d["robustness"]["corruptions"] = ["clouds"]
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(suite), "--out", str(out), "--workers", "0"]) == 0
    cap = capsys.readouterr()
    assert "leaderboard" in cap.out and "raw_pixels" in cap.out and "cnn" in cap.out
    assert "computed" in cap.err
    for name in ("results.duckdb", "results.parquet", "results.csv", "report.html", "references.json", "groups.json"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text()
    assert "raw_pixels" in html and "<img" in html
    # honest scores: a CI on every ranked figure and the pairwise comparisons, in the terminal and the page
    assert "Overall [95% CI]" in cap.out and "P(A beats B)" in cap.out
    assert 'id="pairwise"' in html and "<th>accuracy [95% CI]</th>" in html
    # a second run finds everything stored and still writes the report
    assert main(["bench", "--suite", str(suite), "--out", str(out), "--workers", "0"]) == 0
    assert "0 computed" in capsys.readouterr().err


def test_bench_cli_small_test_set_is_not_ranked(tmp_path: Path, mirror: Path, cache: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    d = tiny_suite_dict(seeds=(0,), robustness=False)
    d["datasets"][0]["test"]["max_items"] = 12
    d["protocols"] = ["linear"]
    d["fractions"] = [1.0]
    d["efficiency"] = {"enabled": False}
    suite = tmp_path / "small.yaml"
    suite.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(suite), "--out", str(out), "--workers", "0", "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "eurosat_ms: not ranked: only 12 test samples (< 20)" in text
    assert "[95% CI]" in text and "0.000 ± 0.000" not in text


def test_bench_cli_bad_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "models": [], "datasets": [], "protocols": ["knn7"]}))
    assert main(["bench", "--suite", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "protocols.0" in err and "'knn5'" in err
    assert main(["bench", "--suite", "quik", "--out", str(tmp_path / "o")]) == 2
    assert "Did you mean 'quick'" in capsys.readouterr().err


def test_bench_cli_missing_data(tmp_path: Path, mirror: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tiny_suite_dict(robustness=False)
    d["datasets"][0]["kwargs"]["root"] = "classification/not_here"
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump(d))
    assert main(["bench", "--suite", str(suite), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "no dataset could be loaded" in err and "not_here" in err
