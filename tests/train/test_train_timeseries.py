"""``eokit train`` on the TempCNN Formosat-2 pixel time series (real mirror data), end to end from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from eokit.cli.main import main
from eokit.train import load_checkpoint

FAST = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1, "limit_test_batches": 1,
        "progress_bar": False, "log_every_n_steps": 1, "threads": 1}


@pytest.mark.parametrize(("arch", "options"), [("tempcnn", {"n_dates": 149, "filters": 8, "hidden": 16}),
                                               ("ltae", {"d_model": 16, "heads": 4})])
def test_eokit_train_tempcnn_formosat2(arch: str, options: dict, mirror: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    cfg = {
        "name": f"formosat2-{arch}", "seed": 0,
        "task": {"type": "timeseries_classification"},
        "model": {"backbone": arch, "options": options},
        "data": {"dataset": "tempcnn_formosat2", "val_split": None, "val_fraction": 0.2, "batch_size": 16,
                 "augment": []},
        "trainer": FAST, "output_dir": str(tmp_path / "run"),
    }
    copy = mirror / "timeseries" / "tempcnn_formosat2"
    if arch == "tempcnn":  # an explicit root; ltae names the dataset only and is read from the mirror's copy
        cfg["data"]["root"] = str(copy)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0, capsys.readouterr().err[-3000:]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["data"]["root"] == str(copy)  # the run says which copy it read
    assert report["data"]["train"] == 208 and report["data"]["val"] == 52 and report["data"]["test"] == 260
    assert {"oa", "f1_macro", "kappa"} <= set(report["val"]) and 0.0 <= report["test"]["oa"] <= 1.0
    assert report["data"]["bands"] == ["B4", "B3", "B2"] and report["data"]["sensor"] == "formosat2"
    model, ck = load_checkpoint(summary["checkpoint"])
    assert ck["task"]["name"] == "timeseries_classification" and ck["model"]["backbone"] == arch
    assert ck["contract"]["bands"] == ["B4", "B3", "B2"] and len(ck["contract"]["classes"]) == 13
    with torch.no_grad():  # the reloaded classifier takes a (B, T, C) series
        assert model(torch.zeros(2, 149, 3)).shape == (2, 13)


def test_train_config_names_a_series_model_for_images(mirror: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    cfg = {"task": {"type": "segmentation"}, "model": {"backbone": "tempcnn"},
           "data": {"dataset": "sen1floods11", "root": str(mirror / "segmentation" / "sen1floods11_sample"),
                    "val_split": None, "test_split": None, "crop_size": 32},
           "trainer": FAST, "output_dir": str(tmp_path / "run")}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tempcnn encodes a pixel time series" in err and "temporal='ltae'" in err
