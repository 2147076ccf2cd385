"""Kill -9 a training run after its first epoch's checkpoint; the restart continues and finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml


@pytest.mark.slow
def test_resume_after_kill(mirror: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = {
        "name": "resume", "seed": 0,
        "task": {"type": "classification"},
        "model": {"backbone": "mobilecnn", "options": {"width": 0.5}},
        "data": {"dataset": "image_folder", "root": str(mirror / "classification" / "eurosat_ms_subset"),
                 "options": {"sensor": "sentinel2_l1c"}, "batch_size": 8, "crop_size": 32,
                 "max_samples": {"train": 32, "val": 8, "test": 8}},
        "trainer": {"max_epochs": 2, "limit_val_batches": 1, "limit_test_batches": 1, "progress_bar": False,
                    "threads": 1},
        "output_dir": str(out),
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "eokit.cli.main", "train", str(path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    last = out / "lightning" / "last.ckpt"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 150
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last.exists(), f"no checkpoint before the kill: {proc.stderr.read().decode()[-2000:]}"
    assert alive, "the run finished before it could be killed"
    state = torch.load(last, map_location="cpu", weights_only=True)  # a complete, weights-only checkpoint
    assert state["epoch"] == 0
    assert not (out / "metrics.json").exists()

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["resumed"] is True and summary["start_epoch"] >= 1 and summary["epochs"] == 2
    report = json.loads((out / "metrics.json").read_text())
    assert report["start_epoch"] >= 1 and "oa" in report["test"]
    assert (out / "checkpoint" / "model.safetensors").exists()
