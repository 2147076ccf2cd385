"""`eokit predict` on real mirror scenes with a real checkpoint, Dask over two scenes, and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from infer_helpers import noisy_scene, write_scene

from eokit.cli.main import main
from eokit.infer import PredictOptions, predict_scenes
from eokit.io import is_cog

L8_BANDS = ["B2", "B3", "B4", "B5"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A small U-Net checkpoint in eokit's format (safetensors + config.json)."""
    import torch

    from eokit.models import create_model
    from eokit.train import save_checkpoint

    torch.manual_seed(0)
    model = create_model("unet", task="segmentation", bands=L8_BANDS, num_classes=3, sensor="landsat8")
    folder = tmp_path_factory.mktemp("ckpt") / "checkpoint"
    meta = {"model": model.config, "task": {"name": "segmentation", "num_classes": 3},
            "contract": replace(model.data_contract, classes=("water", "land", "cloud"))}
    return save_checkpoint(folder, model, meta)


def test_cli_maps_the_real_landsat_scene(mirror, checkpoint, tmp_path, capsys) -> None:
    scene = str(mirror / "scenes/landsat8_LC80200392015216/l8_B[1-7].tif")
    out = tmp_path / "l8_map.tif"
    assert main(["predict", str(checkpoint), scene, "-o", str(out), "--dry-run", "--crop", "128",
                 "--stride", "112"]) == 0
    text = capsys.readouterr().out
    assert "627x603 px scene, crop 128, stride 112" in text and "memory estimate" in text and not out.exists()
    assert main(["predict", str(checkpoint), scene, "-o", str(out), "--crop", "128", "--stride", "112"]) == 0
    assert is_cog(out)[0]
    with rasterio.open(out) as ds, rasterio.open(mirror / "scenes/landsat8_LC80200392015216/l8_B4.tif") as ref:
        assert ds.crs == ref.crs and ds.transform == ref.transform and ds.shape == ref.shape
        cls = ds.read(1)
        assert ds.descriptions == ("class", "confidence") and set(np.unique(cls)) <= {0, 1, 2}
    assert "tiles/s" in capsys.readouterr().out


def test_dry_run_reads_the_scene_as_the_map_does(mirror, checkpoint, tmp_path, capsys) -> None:
    """Band files on two grids (B8 is 15 m): the dry run resamples onto --reference as the run would."""
    scene = str(mirror / "scenes/landsat8_LC80200392015216/l8_B[2-8].tif")
    out = tmp_path / "plan.tif"
    assert main(["predict", str(checkpoint), scene, "-o", str(out), "--dry-run", "--resampling", "bilinear",
                 "--reference", "B4", "--crop", "128", "--stride", "112"]) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "627x603 px scene" in text and "memory estimate" in text and not out.exists()
    assert main(["predict", str(checkpoint), scene, "-o", str(out), "--dry-run"]) == 2  # without: the grid error
    assert "--resampling bilinear" in capsys.readouterr().err


def test_cli_several_scenes_here_with_the_old_output_spelling(checkpoint, tmp_path, capsys) -> None:
    """--workers 0 maps several scenes in this process; the deprecated --output still sets the kind."""
    scenes = [str(write_scene(tmp_path / f"s{i}.tif", noisy_scene(70, 90, seed=i), bands=tuple(L8_BANDS)))
              for i in range(2)]
    out = tmp_path / "maps"
    assert main(["predict", str(checkpoint), *scenes, "-o", str(out), "--workers", "0", "-q", "--crop", "64",
                 "--stride", "48", "--output", "probabilities", "--prob-dtype", "uint16"]) == 0
    captured = capsys.readouterr()
    assert "--output is deprecated; use --output-kind" in captured.err
    for i in range(2):
        with rasterio.open(out / f"s{i}.tif") as ds:
            assert ds.descriptions == ("water", "land", "cloud") and ds.dtypes[0] == "uint16"
    assert main(["predict", str(checkpoint), scenes[0], "-o", str(tmp_path / "x.tif"), "--crop", "64",
                 "--stride", "96"]) == 2
    assert "stride 96 is larger than crop 64" in capsys.readouterr().err


def test_cli_missing_bands_and_sentinel2(mirror, checkpoint, tmp_path, capsys) -> None:
    s2 = str(mirror / "scenes/sentinel2_18SVG_20160112/s2_B*.tif")
    assert main(["predict", str(checkpoint), s2, "-o", str(tmp_path / "x.tif"), "--resampling", "bilinear",
                 "--reference", "B05"]) == 2
    err = capsys.readouterr().err
    assert "that the model needs not found" in err and "'B2'" in err and not (tmp_path / "x.tif").exists()


def test_dask_local_cluster_two_scenes(tmp_path) -> None:
    """Two scenes on a LocalCluster of 2 worker processes (an in-memory model shipped to them)."""
    import torch
    from torch import nn

    from eokit.infer import DataContract
    from eokit.io.raster import close_all

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 1))
    ctr = DataContract(bands=tuple(L8_BANDS), mean=(1000.0,) * 4, std=(500.0,) * 4, classes=("a", "b", "c"))
    scenes = [write_scene(tmp_path / f"scene{i}.tif", noisy_scene(150, 170, seed=i), bands=tuple(L8_BANDS))
              for i in range(2)]
    close_all()
    out = tmp_path / "maps"
    done: list[dict] = []
    results = predict_scenes(model, [str(s) for s in scenes], out,
                             PredictOptions.of(crop=64, stride=48),
                             n_workers=2, contract=ctr, on_done=done.append)
    assert [Path(r["path"]).name for r in results] == ["scene0.tif", "scene1.tif"] and len(done) == 2
    local = tmp_path / "local.tif"
    from eokit.infer import predict_scene

    predict_scene(model, scenes[1], local, PredictOptions.of(crop=64, stride=48), contract=ctr)
    for i in range(2):
        assert is_cog(out / f"scene{i}.tif")[0]
        with rasterio.open(out / f"scene{i}.tif") as ds, rasterio.open(scenes[i]) as src:
            assert ds.transform == src.transform and ds.crs == src.crs
    with rasterio.open(out / "scene1.tif") as a, rasterio.open(local) as b:
        assert (a.read() == b.read()).all()  # the worker's map is the one made in this process


def test_kill_9_leaves_no_file(tmp_path) -> None:
    scene = write_scene(tmp_path / "s.tif", noisy_scene(300, 300))
    out, flag = tmp_path / "map.tif", tmp_path / "started"
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from infer_helpers import ConvNet, contract
        from eokit.infer import PredictOptions, predict_scene

        class Slow(ConvNet):
            calls = 0
            def forward(self, x):
                Slow.calls += 1
                if Slow.calls == 4:
                    open({str(flag)!r}, "w").close()
                time.sleep(0.1)
                return super().forward(x)

        predict_scene(Slow(), {str(scene)!r}, {str(out)!r}, PredictOptions.of(crop=64, stride=48, batch_size=2),
                      contract=contract(3))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 120
        while not flag.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert flag.exists(), "the prediction did not start"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    assert any(p.name.startswith(".map.tif.") for p in tmp_path.iterdir())  # the partial file is hidden beside it
