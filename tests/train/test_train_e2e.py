"""``eokit train`` end to end on real mirror data, one short run per task type, then ``eokit evaluate``.

Each run: 1 epoch, 2 training batches, tiny from-scratch models, 32-64 px
crops. The runs check the CLI, the config, the data pipeline, the task's
loss/metrics and the exported checkpoint (reloaded with ``load_checkpoint``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from eokit.cli.main import main
from eokit.models import DataContract
from eokit.train import load_checkpoint

M = "{mirror}"
TINY_UNET = {"base_channels": 8, "depth": 3}
FAST = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1, "limit_test_batches": 1,
        "progress_bar": False, "log_every_n_steps": 1}

CASES = {
    "classification-eurosat": {
        "task": {"type": "classification"},
        "model": {"backbone": "mobilecnn", "options": {"width": 0.5}},
        "data": {"dataset": "image_folder", "root": f"{M}/classification/eurosat_ms_subset",
                 "options": {"sensor": "sentinel2_l1c"}, "batch_size": 8, "crop_size": 32,
                 "max_samples": {"train": 16, "val": 8, "test": 8}},
        "expect": ["oa", "f1_macro", "kappa"],
        "evaluate": ["image_folder", "--root", f"{M}/classification/eurosat_ms_subset", "--option",
                     "sensor=sentinel2_l1c", "--max-samples", "8"],
    },
    "multilabel-bigearthnet": {
        "task": {"type": "multilabel"},
        "model": {"backbone": "mobilecnn", "options": {"width": 0.5}},
        "data": {"dataset": "bigearthnet_s2", "root": f"{M}/multilabel/bigearthnet_examples",
                 "options": {"layout": "v1", "s2_dir": "BigEarthNet-S2-Example", "s1_dir": "BigEarthNet-S1-Example",
                             "splits_dir": "splits", "missing": "skip"},
                 "val_split": None, "val_fraction": 0.25, "batch_size": 2, "crop_size": 64},
        "expect": ["map", "f1_micro"],
    },
    "segmentation-sen1floods11": {
        "task": {"type": "segmentation", "options": {"ignore_index": -1}},
        "model": {"backbone": "unet", "head": "unet", "options": TINY_UNET},
        "data": {"dataset": "sen1floods11", "root": f"{M}/segmentation/sen1floods11_sample",
                 "val_split": None, "test_split": None, "batch_size": 2, "crop_size": 64},
        "expect": ["miou", "iou_per_class", "oa"],
    },
    "segmentation-chesapeake": {
        "task": {"type": "segmentation"},
        "model": {"backbone": "unet", "head": "unet", "options": TINY_UNET},
        "data": {"dataset": "m_chesapeake_landcover", "root": f"{M}/segmentation/geobench_cvpr_chesapeake_landcover",
                 "batch_size": 2, "crop_size": 64, "normalize": "dataset", "max_samples": {"val": 2, "test": 2}},
        "expect": ["miou", "oa"],
    },
    "change-oscd": {
        "task": {"type": "change_detection"},
        "model": {"backbone": "unet", "head": "unet", "options": TINY_UNET},
        "data": {"dataset": "oscd", "root": f"{M}/change_detection/oscd_sentinel2",
                 "options": {"images_dir": "images", "labels_dir": "labels",
                             "cities": ["aguasclaras", "bercy", "paris", "rennes"]},
                 "val_split": None, "val_fraction": 0.25, "test_split": None, "batch_size": 2, "crop_size": 64},
        "expect": ["f1_change", "iou_change", "miou"],
    },
    "change-levircd": {
        "task": {"type": "change_detection"},
        "model": {"backbone": "unet", "head": "unet", "options": TINY_UNET},
        "data": {"dataset": "levir_cd", "root": f"{M}/change_detection/levircd_samples_256",
                 "options": {"layout": "lists", "list_file": "demo.txt"}, "batch_size": 2, "crop_size": 64,
                 "max_samples": {"train": 4, "val": 2, "test": 2}},
        "expect": ["f1_change", "precision_change", "recall_change"],
    },
    "detection-deepforest": {
        "task": {"type": "detection"},
        "model": {"backbone": "mobilecnn", "options": {"width": 0.5}},
        "data": {"dataset": "neon_tree_crowns", "root": f"{M}/detection/deepforest_neon", "val_split": None,
                 "test_split": None, "batch_size": 1, "crop_size": 128, "augment": ["flip"]},
        "expect": ["map", "map_50"],
    },
    "superres-landsat": {
        "task": {"type": "super_resolution", "options": {"data_range": 1.0}},
        "model": {"backbone": "unet", "head": "sr", "options": TINY_UNET},
        "data": {"dataset": "landsat8_pansharpen", "root": f"{M}/scenes/landsat8_LC80200392015216",
                 "options": {"chip_size": 32, "ms_bands": ["B2", "B3", "B4"]}, "normalize": "reflectance", "batch_size": 4,
                 "max_samples": {"val": 4, "test": 4}},
        "expect": ["psnr", "ssim", "rmse"],
    },
    "segmentation-landsat-qa-cloud": {  # cloud labels decoded from the scene's own BQA band
        "task": {"type": "segmentation", "options": {"ignore_index": -1}},
        "model": {"backbone": "unet", "head": "unet", "options": TINY_UNET},
        "data": {"dataset": "raster_segmentation", "root": f"{M}/scenes/landsat8_LC80200392015216",
                 "options": {"image": "l8_B*.tif", "label": "l8_BQA.tif", "sensor": "landsat8",
                             "qa": "landsat8_precollection_bqa_cloud", "chip_size": 64},
                 "bands": ["B2", "B3", "B4", "B5", "B6", "B7", "B9", "B10"], "normalize": "dataset",
                 "batch_size": 8, "max_samples": {"train": 16, "val": 4, "test": 4}},
        "expect": ["miou", "iou_per_class"],
    },
    "image-regression-lidar": {  # one value per chip: mean height above ground of 32 px DSM chips
        "task": {"type": "regression"},
        "model": {"backbone": "unet", "options": TINY_UNET},
        "data": {"dataset": "pixel_regression", "root": f"{M}/regression/lidar_elevation_dsm_dtm_hag",
                 "options": {"pairs": [["dsm.tif", "hag.tif"]], "chip_size": 32, "image_bands": ["DSM"],
                             "reduce": "mean"},
                 "batch_size": 8, "max_samples": {"val": 4, "test": 4}},
        "expect": ["rmse", "mae", "r2"],
    },
    "pixel-regression-lidar": {
        "task": {"type": "pixel_regression"},
        "model": {"backbone": "unet", "head": "unet", "options": TINY_UNET},
        "data": {"dataset": "pixel_regression", "root": f"{M}/regression/lidar_elevation_dsm_dtm_hag",
                 "options": {"pairs": [["dsm.tif", "hag.tif"]], "chip_size": 32, "image_bands": ["DSM"]},
                 "batch_size": 4, "max_samples": {"val": 2, "test": 2}},
        "expect": ["rmse", "mae", "r2"],
    },
}


def _fill(obj, mirror: Path):
    if isinstance(obj, str):
        return obj.replace(M, str(mirror))
    if isinstance(obj, dict):
        return {k: _fill(v, mirror) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, mirror) for v in obj]
    return obj


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_eokit_train_end_to_end(case: str, mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = _fill(CASES[case], mirror)
    cfg = {"name": case, "seed": 0, "task": spec["task"], "model": spec["model"], "data": spec["data"],
           "trainer": FAST, "output_dir": str(tmp_path / "run")}
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0, capsys.readouterr().err[-3000:]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["epochs"] == 1 and report["start_epoch"] == 0
    for key in spec["expect"]:
        assert key in report["val"], f"{key} missing from {sorted(report['val'])}"
    assert all(isinstance(v, float) for v in summary["val"].values())
    if case == "superres-landsat":  # 3 MS bands in, the 1-band pan target sizes the head's output
        ckpt = json.loads((tmp_path / "run" / "checkpoint" / "config.json").read_text())
        model_cfg = ckpt.get("model", ckpt)
        assert model_cfg["head_kwargs"] == {"out_chans": 1} and len(model_cfg["bands"]) == 3
    assert not math.isnan(report["val"][spec["expect"][0]])

    model, ck = load_checkpoint(summary["checkpoint"])
    contract = DataContract.from_config(ck)
    assert ck["task"]["name"] == spec["task"]["type"] == contract.task and contract.bands and ck["git_sha"]
    assert tuple(ck["model"]["bands"]) == contract.bands
    assert not model.training

    if "evaluate" in spec:
        out = tmp_path / "eval.json"
        assert main(["evaluate", summary["checkpoint"], *spec["evaluate"], "-o", str(out)]) == 0
        res = json.loads(out.read_text())
        assert res["samples"] == 8 and 0.0 <= res["metrics"]["oa"] <= 1.0 and Path(res["root"]).is_dir()
        assert set(res["metrics"]["f1_per_class"]) == set(contract.classes or ())


def test_checkpoint_reload_gives_same_outputs(mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The exported safetensors reproduce the trained model's outputs; normalisation travels with it."""
    from eokit.train.config import load_config
    from eokit.train.data import EODataModule

    spec = _fill(CASES["classification-eurosat"], mirror)
    cfg = {"name": "rl", "task": spec["task"], "model": spec["model"], "data": spec["data"], "trainer": FAST,
           "output_dir": str(tmp_path / "run")}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 0
    ckdir = tmp_path / "run" / "checkpoint"
    model, ck = load_checkpoint(ckdir)
    model2, _ = load_checkpoint(ckdir / "model.safetensors")
    dm = EODataModule(load_config(path).data)
    dm.build()
    sample = dm.test_ds[0]
    norm = DataContract.from_config(ck).normalizer()
    assert norm is not None
    raw = dm.test_ds.base[dm.test_ds.indices[0]]
    x = norm({**raw, "image": raw["image"][:, 16:48, 16:48]})["image"][None]
    assert torch.allclose(x, sample["image"][None], atol=1e-5)
    with torch.no_grad():
        assert torch.equal(model(x), model2(x))
