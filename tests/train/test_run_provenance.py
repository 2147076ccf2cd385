"""A training run and an evaluation say which copy of the data they read and which split list they used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from eokit.cli.main import main

FAST = {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1, "limit_test_batches": 1,
        "progress_bar": False, "threads": 1}


def test_train_and_evaluate_name_root_and_split(mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = {"name": "prov", "task": "classification", "model": {"backbone": "mobilecnn", "options": {"width": 0.25}},
           "data": {"dataset": "eurosat_rgb", "max_samples": {"train": 16, "val": 8, "test": 8}, "batch_size": 8},
           "trainer": FAST, "output_dir": str(tmp_path / "run")}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0, capsys.readouterr().err[-3000:]
    data = json.loads((tmp_path / "run" / "metrics.json").read_text())["data"]
    assert Path(data["root"]).is_dir() and data["root"].endswith("eurosat_rgb")
    assert "published list" in data["split_origin"] or "seeded" in data["split_origin"]
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tmp_path / "run" / "checkpoint"), "eurosat_rgb", "--max-samples", "8",
                 "-o", str(out), "-q"]) == 0
    res = json.loads(out.read_text())
    assert (res["root"], res["split_origin"], res["samples"]) == (data["root"], data["split_origin"], 8)
