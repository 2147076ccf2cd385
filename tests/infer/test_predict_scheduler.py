"""``predict_scenes(scheduler=ADDR)`` maps scenes on a running Dask cluster (loopback), by checkpoint path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from infer_helpers import smooth_scene, write_scene

from eokit.infer import PredictOptions, predict_scenes

BANDS = ("B2", "B3", "B4", "B5")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from eokit.models import create_model
    from eokit.train import save_checkpoint

    torch.manual_seed(0)
    model = create_model("unet", task="segmentation", bands=list(BANDS), num_classes=3, sensor="landsat8",
                         base_channels=8, depth=2)
    meta = {"model": model.config, "task": {"name": "segmentation", "num_classes": 3},
            "contract": replace(model.data_contract, classes=("a", "b", "c"))}
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "checkpoint", model, meta)


def test_existing_scheduler_maps_like_this_process(ckpt: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    scenes = [str(write_scene(tmp_path / f"t{i}.tif", smooth_scene(80, 100, seed=i), bands=BANDS))
              for i in range(3)]
    opts = PredictOptions.of(crop=64, stride=48)
    here = predict_scenes(str(ckpt), scenes, tmp_path / "here", opts, n_workers=0)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        assert addr.startswith("tcp://127.0.0.1:")
        seen: list[str] = []
        remote = predict_scenes(str(ckpt), scenes, tmp_path / "there", opts, scheduler=addr,
                                on_done=lambda r: seen.append(r["scene"]))
        ran = {str(t[0]) for t in cluster.scheduler.transition_log}
        assert cluster.status.name == "running"  # the driver closed its client, not the cluster
    assert {f"predict-{i}-t{i}" for i in range(3)} <= ran  # the scenes were tasks of that scheduler
    assert [Path(r["path"]).parent.name for r in remote] == ["there"] * 3 and sorted(seen) == sorted(scenes)
    assert all(r["tiles"] == h["tiles"] > 0 for r, h in zip(remote, here, strict=True))
    for i in range(3):
        with rasterio.open(tmp_path / "here" / f"t{i}.tif") as a, rasterio.open(tmp_path / "there" / f"t{i}.tif") as b:
            assert np.array_equal(a.read(), b.read()) and a.transform == b.transform
