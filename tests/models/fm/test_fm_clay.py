"""Clay v1 / v1.5: eokit's encoder equals TerraTorch's reference encoders on Clay's Lightning checkpoint layout.

The reference encoders (TerraTorch 1.2.13 ``clay_v1/modules.py`` ``EmbeddingEncoder`` and
``clay_v15/model.py`` ``Encoder`` without masking; random seeded weights, small sizes) are saved as
Clay publishes them: a Lightning ``.ckpt`` whose ``state_dict`` holds ``model.encoder.*`` beside
the decoder, the DINOv2 teacher and the projection. eokit loads it by name and must give the
reference's features for Clay's own wavelengths, GSD and time/lat-lon encodings (1e-5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from fm_ref import max_abs_diff, reference_file

from eokit.errors import BandError, CheckpointMismatchError
from eokit.models import create_backbone, get_weight_spec
from eokit.models.fm._vit import block_indices
from eokit.sensors import Band

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor:UserWarning")

SMALL = {"dim": 64, "depth": 4, "heads": 2, "dim_head": 32}
PKG = "terratorch.models.backbones"


def _ref_v1():
    reference_file("terratorch", "models/backbones/clay_v1/utils.py", name=f"{PKG}.clay_v1.utils")
    return reference_file("terratorch", "models/backbones/clay_v1/modules.py", name=f"{PKG}.clay_v1.modules")


def _ref_v15():
    for part in ("utils", "backbone", "factory"):
        reference_file("terratorch", f"models/backbones/clay_v15/{part}.py", name=f"{PKG}.clay_v15.{part}")
    precision = torch.get_float32_matmul_precision()
    try:
        return reference_file("terratorch", "models/backbones/clay_v15/model.py", name=f"{PKG}.clay_v15.model")
    finally:  # the module sets "medium" on import
        torch.set_float32_matmul_precision(precision)


def _reference(version: str, img: int, seed: int = 0, **size: Any):
    size = {**SMALL, **size}
    torch.manual_seed(seed)
    if version == "v1":
        enc = _ref_v1().EmbeddingEncoder(img_size=img, patch_size=8, dim=size["dim"], depth=size["depth"],
                                         heads=size["heads"], dim_head=size["dim_head"], mlp_ratio=4.0)
    else:
        enc = _ref_v15().Encoder(mask_ratio=0.0, patch_size=8, shuffle=False, dim=size["dim"], depth=size["depth"],
                                 heads=size["heads"], dim_head=size["dim_head"], mlp_ratio=4.0)
    with torch.no_grad():  # the zero-initialised biases get random values too
        for name, prm in enc.named_parameters():
            if name.endswith("bias"):
                prm.add_(torch.randn_like(prm) * 0.05)
    return enc.eval()


def _lightning_ckpt(enc, path: Path) -> Path:
    """Clay's published container: Lightning checkpoint, encoder under ``model.encoder.``."""
    g = torch.Generator().manual_seed(9)
    sd = {f"model.encoder.{k}": v.clone() for k, v in enc.state_dict().items()}
    sd.update({"model.decoder.cls_token": torch.randn(1, 1, 32, generator=g),
               "model.decoder.enc_to_dec.weight": torch.randn(32, 64, generator=g),
               "model.teacher.patch_embed.proj.weight": torch.randn(16, 3, 14, 14, generator=g),
               "model.proj.weight": torch.randn(16, 64, generator=g)})
    torch.save({"epoch": 3, "global_step": 1200, "state_dict": sd, "hyper_parameters": {"model_size": "base"}},
               path)
    return path


def _run_reference(enc, version: str, x: torch.Tensor, waves: list[float], gsd: float, time: torch.Tensor,
                   latlon: torch.Tensor) -> list[torch.Tensor]:
    cube = {"pixels": x, "time": time, "latlon": latlon, "waves": torch.tensor(waves),
            "gsd": gsd if version == "v1" else torch.tensor(gsd)}
    with torch.no_grad():
        if version == "v1":
            return list(enc(cube))
        return [enc(cube)[0]]


CASES = [("clay_v1_base.v1", "v1"), ("clay_v15_large.v1_5", "v15")]


@pytest.mark.parametrize(("name", "version"), CASES, ids=[c[0] for c in CASES])
def test_fm_clay_equals_reference_on_sentinel2(tmp_path: Path, name: str, version: str) -> None:
    enc = _reference(version, 32)
    path = _lightning_ckpt(enc, tmp_path / "clay.ckpt")
    bb = create_backbone(name, weights=f"file:{path}", img_size=32, **SMALL).eval()
    spec = get_weight_spec(name)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 10, 32, 32, generator=g)
    time = torch.randn(2, 4, generator=g)
    latlon = torch.randn(2, 4, generator=g)
    outs = _run_reference(enc, version, x, spec.extra["wavelength_um"], 10.0, time, latlon)
    with torch.no_grad():
        f = bb(x, bb.bands, time=time, latlon=latlon)
    assert bb.gsd == 10.0 and bb.bands == spec.bands
    final = outs[-1][:, 1:]
    assert max_abs_diff(f.pooled, final.mean(dim=1)) <= 1e-5
    assert max_abs_diff(f.maps[-1], final.transpose(1, 2).reshape(2, 64, 4, 4)) <= 1e-5
    if version == "v1":  # every exposed layer
        for m, i in zip(f.maps, block_indices(4), strict=True):
            assert max_abs_diff(m, outs[i][:, 1:].transpose(1, 2).reshape(2, 64, 4, 4)) <= 1e-5, i


def test_fm_clay_other_sensors_use_clays_metadata(tmp_path: Path) -> None:
    enc = _reference("v15", 32)
    path = _lightning_ckpt(enc, tmp_path / "clay.ckpt")
    spec = get_weight_spec("clay_v15_large.v1_5")
    zeros = torch.zeros(2, 4)
    g = torch.Generator().manual_seed(2)
    # NAIP: Clay's NAIP wavelengths and 1 m GSD, its NAIP statistics for normalisation
    naip = create_backbone("clay_v15_large.v1_5", bands=["R", "G", "B", "N"], sensor="naip", weights=f"file:{path}",
                           img_size=32, **SMALL).eval()
    x = torch.randn(2, 4, 32, 32, generator=g)
    ref = _run_reference(enc, "v15", x, [0.65, 0.56, 0.48, 0.842], 1.0, zeros, zeros)[-1]
    with torch.no_grad():
        assert max_abs_diff(naip(x, naip.bands).pooled, ref[:, 1:].mean(dim=1)) <= 1e-5
    c = naip.data_contract
    assert c.gsd == 1.0 and c.mean[0] == pytest.approx(110.16 / 255) and c.std[3] == pytest.approx(49.86 / 255)
    # Sentinel-1 in dB: Clay's pseudo-wavelengths 3.5 / 4.0 and its dB statistics
    s1 = create_backbone("clay_v15_large.v1_5", bands=["VV", "VH"], sensor="sentinel1_grd_db",
                         weights=f"file:{path}", img_size=32, **SMALL).eval()
    x = torch.randn(2, 2, 32, 32, generator=g)
    ref = _run_reference(enc, "v15", x, [3.5, 4.0], 10.0, zeros, zeros)[-1]
    with torch.no_grad():
        assert max_abs_diff(s1(x, s1.bands).pooled, ref[:, 1:].mean(dim=1)) <= 1e-5
    assert s1.data_contract.mean == pytest.approx((-12.113, -18.673))
    # a band subset of the checkpoint's sensor, in another order, at forward time (band-flexible)
    bb = create_backbone("clay_v15_large.v1_5", weights=f"file:{path}", img_size=32, **SMALL).eval()
    x = torch.randn(2, 3, 32, 32, generator=g)
    ref = _run_reference(enc, "v15", x, [0.865, 0.665, 0.56], 10.0, zeros, zeros)[-1]
    with torch.no_grad():
        assert max_abs_diff(bb(x, ["B8A", "B04", "B03"]).pooled, ref[:, 1:].mean(dim=1)) <= 1e-5
        by_nm = bb(x, wavelengths=[865.0, 665.0, 560.0]).pooled
    assert max_abs_diff(by_nm, ref[:, 1:].mean(dim=1)) <= 1e-5
    assert set(spec.extra["modalities"]) >= {"sentinel-2-l2a", "landsat-c2l2-sr", "naip", "sentinel-1-rtc", "modis"}


def test_fm_clay_bad_input(tmp_path: Path) -> None:
    bb = create_backbone("clay_v1_base.v1", pretrained=False, img_size=32, **SMALL)
    no_wave = Band("mystery", center_nm=0.0, bandwidth_nm=0.0, gsd=10.0)
    with pytest.raises(BandError, match="mystery.*no centre wavelength.*wavelengths="):
        bb(torch.randn(1, 1, 32, 32), [no_wave])
    with pytest.raises(BandError, match="3 channels but 2"):
        bb(torch.randn(1, 3, 32, 32), ["B02", "B03"])
    with pytest.raises(BandError, match="not_a_band"):
        bb(torch.randn(1, 1, 32, 32), ["not_a_band"])
    # a checkpoint of the other Clay size: its shape mismatches are listed
    enc = _reference("v1", 32, dim=96, dim_head=48)
    path = _lightning_ckpt(enc, tmp_path / "clay.ckpt")
    with pytest.raises(CheckpointMismatchError, match="shape mismatches"):
        create_backbone("clay_v1_base.v1", weights=f"file:{path}", img_size=32, **SMALL)
    # a Prithvi checkpoint is not a Clay checkpoint: missing and unexpected keys are listed
    torch.save({"encoder.cls_token": torch.zeros(1, 1, 64), "encoder.blocks.0.norm1.weight": torch.ones(64)},
               tmp_path / "prithvi.pt")
    with pytest.raises(CheckpointMismatchError, match="missing keys.*unexpected keys.*blocks.0.norm1.weight"):
        create_backbone("clay_v1_base.v1", weights=f"file:{tmp_path / 'prithvi.pt'}", img_size=32, **SMALL)


@pytest.mark.slow
def test_fm_clay_full_size_v1_checkpoint_loads(tmp_path: Path) -> None:
    """Clay v1 base at full size (768-d, 12 layers, patch 8, 224 px) from a Lightning checkpoint."""
    full = {"dim": 768, "depth": 12, "heads": 12, "dim_head": 64}
    enc = _reference("v1", 224, **full)
    sd = {f"model.encoder.{k}": v for k, v in enc.state_dict().items()}
    assert sd["model.encoder.patch_embedding.weight_generator.fc_weight.weight"].shape == (8 * 8 * 768, 128)
    path = tmp_path / "clay-v1-base.ckpt"
    torch.save({"state_dict": sd}, path)
    bb = create_backbone("clay_v1_base.v1", weights=f"file:{path}").eval()
    x = torch.randn(1, 10, 224, 224, generator=torch.Generator().manual_seed(0))
    zeros = torch.zeros(1, 4)
    ref = _run_reference(enc, "v1", x, get_weight_spec("clay_v1_base.v1").extra["wavelength_um"], 10.0, zeros,
                         zeros)[-1]
    with torch.no_grad():
        f = bb(x, bb.bands)
    assert f.maps[-1].shape == (1, 768, 28, 28)
    assert max_abs_diff(f.pooled, ref[:, 1:].mean(dim=1)) <= 1e-4
