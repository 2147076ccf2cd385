"""`eokit bench` stores a run card beside its results and renders it in report.html."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from bench_tiny import tiny_suite_dict

from eokit.bench.store import git_sha
from eokit.cli.main import main


@pytest.mark.slow
def test_bench_writes_and_renders_the_run_card(tmp_path: Path, mirror: Path, cache: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(tiny_suite_dict(robustness=False, seeds=(0,))))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(suite), "-o", str(out), "--workers", "0", "-q"]) == 0
    capsys.readouterr()
    card = json.loads((out / "runcard.json").read_text())
    assert card["command"] == f"eokit bench --suite {suite} -o {out} --workers 0 -q"
    assert card["machine"]["git_sha"] == git_sha() and card["seeds"] == [0]
    stages = card["stages"]
    for stage in ("data loading", "feature extraction", "protocol knn5", "protocol linear", "efficiency", "report"):
        assert stages[stage] > 0, stage
    assert card["stage_clock"] == "wall" and card["wall_s"] >= sum(v for k, v in stages.items() if k != "report")
    # split lists: stored beside the results, hashed; the train list is what the run used (40 items)
    train = card["data"]["eurosat_ms"]["train"]
    listed = (out / train["list"]).read_bytes()
    assert hashlib.sha256(listed).hexdigest() == train["sha256"] and len(listed.splitlines()) == 40
    assert card["data"]["eurosat_ms"]["root"].endswith("classification/eurosat_ms_subset")
    assert set(card["models"]) == {"cnn", "cnn.rgb", "raw_pixels", "spectral_indices"}
    assert len(card["models"]["cnn"]["state_dict_sha256"]) == 16 and card["models"]["cnn"]["init_seed"] == 0
    assert card["protocols"]["linear"]["fractions"] == [0.5, 1.0]
    assert (out / "runs" / f"{card['run_id']}.json").is_file()
    page = (out / "report.html").read_text()
    section = page[page.index('id="run-card"'):]
    assert git_sha() in section and 'data-stage="feature extraction"' in section
    # a second run (everything stored) keeps the first run's card in runs/
    assert main(["bench", "--suite", str(suite), "-o", str(out), "--workers", "0", "-q"]) == 0
    assert len(list((out / "runs").glob("*.json"))) == 2
