"""Copernicus-FM: equal to TorchGeo's reference (spectral, SAR, metadata, variable mode), typed errors, full size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fm_ref import max_abs_diff, reference_module

from eokit.errors import BandError, CheckpointMismatchError
from eokit.models import create_backbone
from eokit.sensors import Band

NAME = "copernicusfm_base.copernicus_pretrain"
SMALL = {"img_size": 32, "embed_dim": 64, "depth": 2, "num_heads": 2}


def _reference(**kw: int) -> torch.nn.Module:
    cfm = reference_module("torchgeo.models.copernicusfm")
    torch.manual_seed(0)
    ref = cfm.CopernicusFM(num_classes=0, **kw).eval()
    with torch.no_grad():  # give every published tensor a non-trivial value
        for p in (ref.pos_embed, ref.cls_token, ref.coord_token, ref.scale_token, ref.time_token):
            p.normal_(0, 0.02)
    return ref


def _load(ref: torch.nn.Module, path: Path, **kw: int):
    """Save the reference in the published container (plain state dict without pool norm/head) and load it."""
    torch.save({k: v for k, v in ref.state_dict().items() if not k.startswith(("fc_norm.", "head."))}, path)
    return create_backbone(NAME, weights=f"file:{path}", **kw).eval()


def test_fm_copernicusfm_equals_torchgeo_reference(tmp_path: Path, seeded_input) -> None:
    ref = _reference(**SMALL)
    bb = _load(ref, tmp_path / "CopernicusFM_ViT_base_varlang.pth", **SMALL)
    x = seeded_input(2, 13, 32, 32)
    wv = [b.center_nm for b in bb.band_objects]
    bw = [b.bandwidth_nm for b in bb.band_objects]
    unknown = torch.full((2, 4), float("nan"))
    meta = torch.tensor([[11.5, 48.1, 19500.0, 0.0256], [-70.2, -33.4, 18000.0, 0.0256]])
    with torch.no_grad():
        assert max_abs_diff(bb(x, bb.bands).pooled, ref(x, unknown, wavelengths=wv, bandwidths=bw)) <= 1e-5
        got = bb(x, bb.bands, metadata=meta).pooled
        assert max_abs_diff(got, ref(x, meta, wavelengths=wv, bandwidths=bw)) <= 1e-5
        # Sentinel-1 by Copernicus-FM's convention (5e7 nm, bandwidth 1e9 nm)
        s1 = x[:, :2]
        want = ref(s1, unknown, wavelengths=[5e7, 5e7], bandwidths=[1e9, 1e9])
        assert max_abs_diff(bb(s1, ("VV", "VH")).pooled, want) <= 1e-5
        # a variable (one channel) through its language embedding
        lang = seeded_input(2048, seed=3)
        want = ref(x[:, :1], unknown, language_embed=lang, input_mode="variable")
        assert max_abs_diff(bb(x[:, :1], language_embed=lang).pooled, want) <= 1e-5


def test_fm_copernicusfm_typed_errors(tmp_path: Path) -> None:
    bb = create_backbone(NAME, pretrained=False, **SMALL)
    x = torch.zeros(1, 2, 32, 32)
    with pytest.raises(BandError, match="no centre wavelength.*bandwidth"):
        bb(x, (bb.band_objects[0], Band("unknown_band", 0.0, 0.0, 10.0)))
    with pytest.raises(BandError, match=r"wavelengths \(nm\) \[50.0\] outside the encoded range"):
        bb(x[:, :1], wavelengths=[50.0], bandwidths=[10.0])
    with pytest.raises(BandError, match="1 channel and a 2048-d"):
        bb(x, language_embed=torch.zeros(2048))
    path = tmp_path / "dofa.pth"
    dofa = create_backbone("dofa_base_patch16.mae", pretrained=False, **SMALL)
    torch.save(dofa.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match="missing keys.*coord_fc"):
        create_backbone(NAME, weights=f"file:{path}", **SMALL)


@pytest.mark.slow
def test_fm_copernicusfm_full_size_published_layout_loads(tmp_path: Path, seeded_input) -> None:
    ref = _reference(embed_dim=768, depth=12, num_heads=12)
    bb = _load(ref, tmp_path / "CopernicusFM_ViT_base_varlang-085350e4.pth")
    assert bb.img_size == 224
    x = seeded_input(1, 4, 224, 224)
    bands = ("B02", "B03", "B04", "B08")
    objs = bb.band_table(bands)
    with torch.no_grad():
        want = ref(x, torch.full((1, 4), float("nan")), wavelengths=[b.center_nm for b in objs],
                   bandwidths=[b.bandwidth_nm for b in objs])
        assert max_abs_diff(bb(x, bands).pooled, want) <= 1e-5
