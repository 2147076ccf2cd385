"""``eokit train`` on the real Sen1Floods11 S1 + S2 chip with a fusion model, end to end from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from eokit.cli.main import main
from eokit.errors import ModalityError
from eokit.models.fusion import fusion_backbone
from eokit.train import load_checkpoint

FAST = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1, "progress_bar": False,
        "log_every_n_steps": 1}


@pytest.mark.slow
def test_eokit_train_sen1floods11_s1_s2_late_fusion(mirror: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    cfg = {
        "name": "s1s2", "seed": 0,
        "task": {"type": "segmentation", "options": {"ignore_index": -1}},
        "model": {"backbone": "fusion_late", "head": "unet",
                  "options": {"encoder": "mobilecnn", "encoder_kwargs": {"width": 0.5}, "modality_dropout": 0.3}},
        "data": {"dataset": "sen1floods11", "root": str(mirror / "segmentation" / "sen1floods11_sample"),
                 "options": {"modalities": ["s1", "s2"]}, "val_split": None, "test_split": None,
                 "batch_size": 2, "crop_size": 64},
        "trainer": FAST, "output_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0, capsys.readouterr().err[-3000:]
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["data"]["modalities"] == {"s1": ["VV", "VH"], "s2": [
        "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]}
    assert 0.0 <= report["val"]["miou"] <= 1.0
    model, ck = load_checkpoint(tmp_path / "run" / "checkpoint")
    assert ck["model"]["backbone"] == "fusion_late"
    assert ck["model"]["backbone_kwargs"]["modalities"]["s1"] == {"bands": ["VV", "VH"], "sensor": "sentinel1_grd_db"}
    bb = fusion_backbone(model)
    assert set(bb.encoders) == {"s1", "s2"} and bb.modality_dropout == 0.3 and not model.training
    x = torch.randn(1, 15, 64, 64)
    with torch.no_grad():
        full = model(x)
        s2_only = model(x[:, 2:], bands=list(ck["model"]["bands"])[2:])  # S1 missing: dropped
    assert full.shape == s2_only.shape == (1, 2, 64, 64)
    with pytest.raises(ModalityError, match="'dem'"), bb.absent("dem"):
        pass


@pytest.mark.slow
def test_eokit_train_bigearthnet_s1_s2_cross_attention(mirror: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    root = mirror / "multilabel" / "bigearthnet_examples"
    cfg = {
        "name": "ben", "seed": 0, "task": {"type": "multilabel"},
        "model": {"backbone": "fusion_cross_attention",
                  "options": {"encoder": "mobilecnn", "encoder_kwargs": {"width": 0.5}}},
        "data": {"dataset": "bigearthnet_s1s2", "root": str(root),
                 "options": {"layout": "v1", "s2_dir": "BigEarthNet-S2-Example", "s1_dir": "BigEarthNet-S1-Example",
                             "splits_dir": "splits", "missing": "skip"},
                 "val_split": None, "val_fraction": 0.25, "batch_size": 2, "crop_size": 64},
        "trainer": FAST, "output_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0, capsys.readouterr().err[-3000:]
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(report["data"]["modalities"]) == {"s1", "s2"} and len(report["data"]["modalities"]["s2"]) == 12
    assert "f1_micro" in report["val"]
    model, _ = load_checkpoint(tmp_path / "run" / "checkpoint")
    bb = fusion_backbone(model)
    assert bb.fusion == "cross_attention" and list(bb.cross) == [str(len(bb.feature_info) - 1)]
    with torch.no_grad():
        assert model(torch.randn(2, 14, 64, 64)).shape == (2, 19)
