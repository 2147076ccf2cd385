"""MAE and DINO on real Sentinel-2 chips of the data mirror (EuroSAT-MS training split)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eokit.models import create_backbone
from eokit.pretrain.methods.base import PretrainBatch, build_method
from eokit.pretrain.methods.dino import DINO
from eokit.pretrain.methods.mae import MAE
from eokit.sensors import get_sensor

assert MAE.name == "mae" and DINO.name == "dino"  # imported: both registered
HEAD = {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16}


def _real_ms_batch(mirror: Path, n: int = 4) -> PretrainBatch:
    """n EuroSAT-MS training chips of the mirror in reflectance (the sensor's scale), 13 bands, normalised with
    their own per-band statistics (the catalogue's B09/B10 statistics do not fit these files' band order)."""
    from eokit.datasets.base import get_dataset

    sensor = get_sensor("sentinel2_l1c")
    ds = get_dataset("image_folder", root=mirror / "classification" / "eurosat_ms_subset", split="train",
                     sensor="sentinel2_l1c")
    items = [ds[i] for i in range(0, len(ds), max(len(ds) // n, 1))][:n]
    bands = tuple(sensor.band(b) for b in items[0]["bands"])
    x = torch.stack([s["image"] for s in items]).float() * sensor.scale + sensor.offset
    x = x[..., 16:48, 16:48]  # the central 32x32 (fast)
    return PretrainBatch(image=x, bands=bands, sensor=sensor.name, mean=x.mean(dim=(0, 2, 3)),
                         std=x.std(dim=(0, 2, 3)))


OPTIONS = {"mae": {"decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2, "ms_channels": 4, "crop_scale": None},
           "dino": {**HEAD, "momentum": 1.0, "center_momentum": 1.0, "local_crops": 1}}


@pytest.mark.parametrize("name", ["mae", "dino"])
def test_method_learns_on_real_eurosat_ms_chips(mirror: Path, name: str) -> None:
    """Each method on real Sentinel-2 chips of the mirror: the fixed-draw loss falls within 12 steps."""
    batch = _real_ms_batch(mirror)
    assert batch.image.shape == (4, 13, 32, 32) and 0.0 < float(batch.image.mean()) < 1.0  # reflectance
    kw = {"img_size": 32, "patch_size": 8, "depth": 1, "embed_dim": 32, "num_heads": 2}
    opts = OPTIONS[name]
    torch.manual_seed(0)
    bb = create_backbone("dofa_tiny", bands=[b.name for b in batch.bands], sensor="sentinel2_l1c", **kw)
    m = build_method(name, bb, opts)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=2e-3)

    def fixed() -> float:
        torch.manual_seed(7)
        with torch.no_grad():
            return float(m.training_loss(batch)[0])

    before = fixed()
    for step in range(12):
        loss, _ = m.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.after_step((step + 1) / 12)
    after = fixed()
    assert after < 0.9 * before, (name, before, after)
