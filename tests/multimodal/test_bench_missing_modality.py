"""The missing-modality protocol of ``eokit bench``: suite section, planning, the drop table with paired
bootstrap CIs, and a run from the CLI on the real Sen1Floods11 S1 + S2 chip (terminal + HTML report)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from eokit.bench.config import parse_suite
from eokit.bench.modality import MISSING_MODALITY, condition, modality_table, plan_jobs, removed
from eokit.bench.stats import Outcomes
from eokit.errors import ConfigError

FUSION_OPTS = {"encoder": "mobilecnn", "encoder_kwargs": {"width": 0.25}, "head": "fcn"}
S1S2 = {"name": "sen1floods11_s1s2", "loader": "sen1floods11",
        "kwargs": {"root": "segmentation/sen1floods11_sample", "modalities": ["s1", "s2"]}, "holdout": 0.35, "tile": 64}


def _tiny() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("bench_tiny_mm", Path(__file__).parents[1] / "bench" / "bench_tiny.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.tiny_suite_dict(seeds=(0,), robustness=False)


def _section(**kw: Any) -> dict[str, Any]:
    return {"datasets": [S1S2], "models": [
        {"name": "early", "arch": "fusion_early", "options": FUSION_OPTS},
        {"name": "late", "arch": "fusion_late", "options": {**FUSION_OPTS, "modality_dropout": 0.3}}],
        "epochs": 1, "seeds": [0], **kw}


def test_modality_section_is_validated() -> None:
    s = parse_suite({**_tiny(), "modality": _section(epochs=3)})
    assert s.modality is not None and s.modality.epochs == 3 and s.modality.datasets[0].name == "sen1floods11_s1s2"
    with pytest.raises(ConfigError, match=r"modality.epoch: unknown key 'epoch'.*'epochs'"):
        parse_suite({**_tiny(), "modality": {**_section(), "epoch": 3}})
    with pytest.raises(ConfigError, match=r"duplicate model names \['early'\]"):
        parse_suite({**_tiny(), "modality": {**_section(), "models": _section()["models"][:1] * 2}})
    assert condition("s1") == ("without_s1", 1) and removed("without_s1") == "s1" and removed("none") is None


def _confusions(n: int, correct: float, seed: int) -> Outcomes:
    """n chips of 100 pixels, 2 classes, ``correct`` share right on average."""
    rng = np.random.default_rng(seed)
    data = np.zeros((n, 4), dtype=np.int64)
    for i in range(n):
        ok = rng.binomial(100, correct)
        data[i] = [ok // 2, 50 - ok // 2, 50 - (ok - ok // 2), ok - ok // 2]
    return Outcomes("segmentation", "confusion", 2, data)


def test_modality_table_reports_the_drop_with_paired_cis() -> None:
    rows, outs = [], []
    for cond, acc in (("none", 0.9), ("without_s1", 0.9), ("without_s2", 0.6)):
        for seed in (0, 1):
            o = _confusions(30, acc, seed + (7 if cond == "without_s1" else 0))
            base = {"suite": "q", "dataset": "d", "model": "late", "protocol": MISSING_MODALITY, "fraction": 1.0,
                    "seed": seed, "corruption": cond, "severity": 0 if cond == "none" else 1}
            rows.append({**base, "metric": "miou", "value": 0.0})
            outs.append({**base, "outcomes": o, "reason": ""})
    rows.append({**rows[0], "protocol": "decoder", "model": "cnn"})  # another protocol: not in the table
    t = modality_table(pd.DataFrame(rows), pd.DataFrame(outs), fusions={"late": "late"}, n_boot=300)
    assert list(t["missing"]) == ["none", "s1", "s2"] and set(t["model"]) == {"late"}
    assert list(t["policy"]) == ["", "dropped", "dropped"] and (t["n_seeds"] == 2).all() and (t["n_test"] == 30).all()
    clean, s1, s2 = t.to_dict("records")
    assert np.isnan(clean["drop"]) and clean["ci_lo"] <= clean["value"] <= clean["ci_hi"]
    assert s2["drop"] == pytest.approx(clean["value"] - s2["value"]) and s2["drop"] > 0.2
    assert 0 < s2["drop_lo"] <= s2["drop"] <= s2["drop_hi"] and s2["p_drop"] == 1.0  # paired: clearly lower
    assert s1["drop_lo"] < 0 < s1["drop_hi"] and 0 < s1["p_drop"] < 1  # no real drop: the CI holds 0
    assert modality_table(pd.DataFrame(rows[-1:]), None).empty


def test_single_modal_dataset_is_rejected(mirror: Path, cache: Path) -> None:
    one = {**S1S2, "name": "s2_only", "kwargs": {"root": "segmentation/sen1floods11_sample"}}
    s = parse_suite({**_tiny(), "modality": {**_section(), "datasets": [one]}})
    with pytest.raises(ConfigError, match=r"'s2_only' has 0 modalities.*modalities: \[s1, s2\]"):
        plan_jobs(s)


@pytest.mark.slow
def test_bench_cli_missing_modality_in_terminal_and_html(tmp_path: Path, mirror: Path, cache: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from eokit.bench.store import ResultsStore
    from eokit.cli.main import main

    d = {**_tiny(), "protocols": ["linear"], "fractions": [1.0], "efficiency": {"enabled": False},
         "modality": _section()}
    suite = tmp_path / "mm.yaml"
    suite.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(suite), "--out", str(out), "--workers", "0"]) == 0
    cap = capsys.readouterr()
    assert "missing modality" in cap.out and "dropped" in cap.out and "zeroed" in cap.out
    html = (out / "report.html").read_text()
    assert 'id="missing-modality"' in html and "sen1floods11_s1s2" in html
    df = ResultsStore(out / "results.duckdb").frame()
    mine = df[df["protocol"] == MISSING_MODALITY]
    assert set(mine["corruption"]) == {"none", "without_s1", "without_s2"} and set(mine["model"]) == {"early", "late"}
    assert set(mine["metric"]) == {"miou", "pixel_accuracy"} and mine["value"].between(0, 1).all()
    lb = html.split('id="leaderboard"')[1].split("</table>")[0] if 'id="leaderboard"' in html else ""
    assert "early" not in lb and "late" not in lb  # the fusion models are not leaderboard entries
    card = json.loads((out / "runcard.json").read_text())  # the run card records the protocol and its split lists
    assert card["modality"]["epochs"] == 1 and card["data"]["sen1floods11_s1s2"]["test"]["samples"] >= 20
    assert (out / card["data"]["sen1floods11_s1s2"]["test"]["list"]).is_file()
    # `eokit report OUT` rebuilds the table, with what each fusion did with the missing modality
    assert main(["report", str(out), "-o", str(tmp_path / "again.html")]) == 0
    again = capsys.readouterr().out
    assert "missing modality, sen1floods11_s1s2" in again and "zeroed" in again and "dropped" in again
