"""`eokit pretrain` with method mae / dino / data2vec end to end on real mirror data (tiny budgets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from eokit.models import create_backbone
from eokit.pretrain.config import parse_pretrain_config
from eokit.pretrain.run import pretrain

RGB = {"name": "eurosat_rgb", "loader": "eurosat_rgb", "kwargs": {"root": "classification/eurosat_rgb"},
       "max_items": 16}
L8 = {"name": "landsat8", "kind": "scenes", "band_files": "scenes/landsat8_LC80200392015216/l8_B[1-7].tif",
      "sensor": "landsat8", "windows": 8, "size": 32,
      "qa": {"file": "scenes/landsat8_LC80200392015216/l8_BQA.tif", "rules": "landsat8_precollection_bqa_cloud"}}
VIT = {"img_size": 32, "patch_size": 8, "depth": 2, "embed_dim": 32, "num_heads": 2}
SMALL = {"widths": [8, 16, 16, 32], "blocks": [1, 1, 1, 1]}
DEC = {"decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2}
RUNS = {
    "mae": ("dofa_tiny", VIT, {**DEC, "scales": 1, "ms_channels": 4}),
    "data2vec": ("dofa_tiny", VIT, DEC),
    "dino": ("eokit_small", SMALL, {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16, "local_crops": 2}),
}


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(RUNS))
def test_pretrain_method_end_to_end_multisensor(mirror: Path, tmp_path: Path, method: str) -> None:
    arch, options, method_options = RUNS[method]
    # EuroSAT RGB chips are 64 px: the ViTs get a 32-px crop of them through the source's windows
    rgb = {**RGB, "size": 32, "windows": 1}
    cfg = parse_pretrain_config({
        "name": method, "method": method, "method_options": method_options,
        "backbone": {"arch": arch, "options": options}, "sources": [rgb, L8],
        "trainer": {"max_steps": 3, "batch_size": 8, "checkpoint_every_n_steps": 1, "progress_bar": False,
                    "warmup_steps": 1},
        "output_dir": str(tmp_path / "run")})
    r = pretrain(cfg)
    assert r.steps == 3 and 0 < r.images_seen <= 24  # batches of 8 (fewer if curation left a group smaller)
    info = json.loads((r.output_dir / "weights.json").read_text())
    assert info["method"] == method and info["arch"] == arch
    assert {g["sensor"] for g in info["groups"]} == {"rgb", "landsat8"}
    # one set of weights for both sensors, loaded as an ordinary eokit backbone of the trained arch
    fresh = create_backbone(arch, bands=["R", "G", "B"], sensor="rgb", **options)
    for bands, sensor in ((["R", "G", "B"], "rgb"), (["B2", "B3", "B4", "B5"], "landsat8")):
        bb = create_backbone(arch, bands=bands, sensor=sensor, weights=f"file:{r.weights}", **options)
        out = bb(torch.rand(2, len(bands), 32, 32))
        assert torch.isfinite(out.pooled).all()
    trained = create_backbone(arch, bands=["R", "G", "B"], sensor="rgb", weights=f"file:{r.weights}", **options)
    changed = [k for k, v in trained.state_dict().items() if not torch.equal(v, fresh.state_dict()[k])]
    assert changed, "the exported weights equal a fresh initialisation"
