"""`eokit pretrain` end to end on real mirror data (tiny budgets), resume, and its typed errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from eokit.errors import CurationError, LeakageError, PretrainError
from eokit.models import create_backbone
from eokit.pretrain.config import parse_pretrain_config
from eokit.pretrain.module import CKPT_KEY, check_resume
from eokit.pretrain.run import pretrain
from eokit.sensors.catalog import register_sensor

TINY = {"widths": [8, 16, 16, 32], "blocks": [1, 1, 1, 1]}
RGB = {"name": "eurosat_rgb", "loader": "eurosat_rgb", "kwargs": {"root": "classification/eurosat_rgb"},
       "max_items": 24, "labels": True}
L8 = {"name": "landsat8", "kind": "scenes", "band_files": "scenes/landsat8_LC80200392015216/l8_B[1-7].tif",
      "sensor": "landsat8", "windows": 16, "size": 32,
      "qa": {"file": "scenes/landsat8_LC80200392015216/l8_BQA.tif", "rules": "landsat8_precollection_bqa_cloud"}}


def config(tmp_path: Path, **over: object) -> dict:
    cfg = {"name": "t", "method": "contrastive", "method_options": {"size": 32},
           "backbone": {"arch": "eokit_small", "options": TINY}, "sources": [RGB, L8],
           "trainer": {"max_steps": 3, "batch_size": 8, "checkpoint_every_n_steps": 1, "progress_bar": False,
                       "warmup_steps": 1},
           "output_dir": str(tmp_path / "run")}
    cfg.update(over)
    return cfg


@pytest.mark.slow
def test_pretrain_contrastive_multisensor_end_to_end(mirror: Path, tmp_path: Path) -> None:
    cfg = parse_pretrain_config(config(tmp_path, method_options={"size": 32, "soft_targets": True}))
    r = pretrain(cfg)
    assert r.steps == 3 and r.images_seen > 0 and not r.resumed
    info = json.loads((r.output_dir / "weights.json").read_text())
    assert {g["sensor"] for g in info["groups"]} == {"rgb", "landsat8"}
    from eokit.datasets.download import file_digest

    assert info["sha256"] == file_digest(r.weights)
    splits = json.loads((r.output_dir / "splits.json").read_text())["sources"]
    assert len(splits["eurosat_rgb"]) == 24 and splits["landsat8"]
    assert (r.output_dir / "curation.md").exists()
    # one set of weights takes every sensor it was trained on, loaded as an ordinary eokit backbone
    for bands, sensor in ((["R", "G", "B"], "rgb"), (["B2", "B3", "B4", "B5"], "landsat8")):
        bb = create_backbone("eokit_small", bands=bands, sensor=sensor, weights=f"file:{r.weights}", **TINY)
        out = bb(torch.rand(2, len(bands), 32, 32))
        assert out.pooled.shape == (2, 32) and torch.isfinite(out.pooled).all()
    trained = create_backbone("eokit_small", bands=["R"], sensor="rgb", weights=f"file:{r.weights}", **TINY)
    fresh = create_backbone("eokit_small", bands=["R"], sensor="rgb", **TINY)
    assert not torch.equal(trained.state_dict()["net.stem.bias"], fresh.state_dict()["net.stem.bias"])


@pytest.mark.slow
def test_pretrain_resumes_after_kill_9(mirror: Path, tmp_path: Path) -> None:
    cfg = config(tmp_path, sources=[RGB])
    cfg["trainer"] = {**cfg["trainer"], "max_steps": 400}
    path = tmp_path / "cfg.yaml"
    import yaml

    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "EOKIT_DATA": str(mirror)}
    proc = subprocess.Popen([sys.executable, "-m", "eokit.cli.main", "pretrain", str(path), "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    last = tmp_path / "run" / "lightning" / "last.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and not (last.exists() and last.stat().st_size > 0):
        time.sleep(0.2)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last.exists(), "no resume checkpoint was written before the kill"
    step = int(torch.load(last, map_location="cpu", weights_only=True)["global_step"])
    assert 1 <= step < 400
    cfg["trainer"]["max_steps"] = step + 2
    r = pretrain(parse_pretrain_config(cfg))
    assert r.resumed and r.steps == step + 2


def test_resume_of_another_method_is_refused() -> None:
    ckpt = {CKPT_KEY: {"method": "mae", "arch": "dofa_tiny"}}
    with pytest.raises(PretrainError, match="holds a 'mae' run of 'dofa_tiny'.*resume: false"):
        check_resume(ckpt, "contrastive", "eokit_small", "last.ckpt")
    with pytest.raises(PretrainError, match="not written by eokit pretrain"):
        check_resume({}, "contrastive", "eokit_small", "last.ckpt")
    check_resume(ckpt, "mae", "dofa_tiny", "last.ckpt")


def test_pretrain_refuses_evaluation_splits(mirror: Path, tmp_path: Path) -> None:
    with pytest.raises(PretrainError, match="reads split 'test'.*training splits only"):
        pretrain(parse_pretrain_config(config(tmp_path, sources=[{**RGB, "split": "test"}])))


def test_pretrain_refuses_what_the_suite_evaluates(mirror: Path, tmp_path: Path) -> None:
    # a folder whose 'train' part is the quick suite's EuroSAT MS *test* folder
    src = {"name": "ms_test_folder", "kind": "folder", "kwargs": {
        "root": "classification/eurosat_ms_subset/test", "sensor": "sentinel2_l1c"}}
    with pytest.raises(LeakageError, match="evaluated by the suite"):
        pretrain(parse_pretrain_config(config(tmp_path, sources=[src])))
    assert not (tmp_path / "run" / "weights.safetensors").exists()


def _raster(path: Path, data: np.ndarray, nodata: float | None = None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[-1], height=data.shape[-2], count=data.shape[0],
                       dtype=data.dtype, crs="EPSG:32633", transform=from_origin(500000, 5000000, 10, 10),
                       nodata=nodata) as dst:
        dst.write(data)
    return path


def test_pretrain_no_valid_window_is_a_curation_error(tmp_path: Path) -> None:
    path = _raster(tmp_path / "empty.tif", np.zeros((4, 96, 96), np.uint16), nodata=0)
    src = {"name": "empty", "kind": "scenes", "paths": str(path), "sensor": "sentinel2_l1c",
           "band_names": ["B02", "B03", "B04", "B08"], "windows": 4, "size": 32}
    with pytest.raises(CurationError, match="empty"):
        pretrain(parse_pretrain_config(config(tmp_path, sources=[src], exclude_suite=None)))


def test_pretrain_band_without_wavelength_is_refused(tmp_path: Path) -> None:
    from eokit.sensors import Band, Sensor
    from eokit.sensors.catalog import SENSORS

    sensor = Sensor("test_no_wavelength", (Band("X1", 0.0, 0.0, 10.0), Band("X2", 0.0, 0.0, 10.0)))
    register_sensor(sensor, overwrite=True)
    try:
        path = _raster(tmp_path / "x.tif", np.full((2, 64, 64), 300.0, np.float32))
        src = {"name": "nowave", "kind": "scenes", "paths": str(path), "sensor": "test_no_wavelength",
               "windows": 3, "size": 32}
        with pytest.raises(PretrainError, match="no centre wavelength"):
            pretrain(parse_pretrain_config(config(tmp_path, sources=[src], exclude_suite=None)))
    finally:
        SENSORS.pop("test_no_wavelength", None)


def test_unknown_method_fails_before_reading_data(tmp_path: Path) -> None:
    with pytest.raises(PretrainError, match="unknown pretraining method 'byol'"):
        pretrain(parse_pretrain_config(config(tmp_path, method="byol", sources=[{**RGB, "kwargs": {
            "root": "/nonexistent"}}])))
