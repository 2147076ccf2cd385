"""CROMA: equivalence with TorchGeo 0.8.1's CROMA on the published container (one sub-dict per part)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fm_ref import max_abs_diff, reference_module

from eokit.errors import BandError, CheckpointMismatchError
from eokit.models import create_backbone
from eokit.models.fm.croma import alibi_2d

TOL = 1e-5
SMALL = {"dim": 64, "depth": 2, "img_size": 32}


def _reference(size: str = "small", seed: int = 0) -> torch.nn.Module:
    croma = reference_module("torchgeo.models.croma")
    torch.manual_seed(seed)
    if size == "small":
        return croma.CROMA(encoder_dim=64, encoder_depth=2, num_heads=16, image_size=32).eval()
    return getattr(croma, f"croma_{size}")(image_size=32).eval()


def _published(tmp_path: Path, ref: torch.nn.Module) -> Path:
    """CROMA_base.pt's layout: {part: state dict} for the five parts, saved with torch.save."""
    parts = ("s1_encoder", "s1_GAP_FFN", "s2_encoder", "s2_GAP_FFN", "joint_encoder")
    path = tmp_path / "CROMA.pt"
    torch.save({p: getattr(ref, p).state_dict() for p in parts}, path)
    return path


def _inputs(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return torch.randn(2, 2, size, size, generator=g), torch.randn(2, 12, size, size, generator=g)


def _check(arch: str, tmp_path: Path, kw: dict, ref_size: str) -> None:
    ref = _reference(ref_size)
    path = _published(tmp_path, ref)
    s1, s2 = _inputs()
    with torch.no_grad():
        out = ref(x_sar=s1, x_optical=s2)
        for tag, x, enc, gap in (("s2", s2, "optical_encodings", "optical_GAP"),
                                 ("s1", s1, "sar_encodings", "sar_GAP")):
            bb = create_backbone(f"{arch}.{tag}", weights=f"file:{path}", **kw).eval()
            f = bb(x, bb.bands)
            assert max_abs_diff(f.pooled, out[gap]) <= TOL, tag
            assert max_abs_diff(f.maps[-1].flatten(2).transpose(1, 2), out[enc]) <= TOL, tag
        joint = create_backbone(f"{arch}.joint", weights=f"file:{path}", **kw).eval()
        assert set(joint.modalities) == {"s1", "s2"}
        f = joint.forward_multimodal({"s1": s1, "s2": s2})
        assert max_abs_diff(f.pooled, out["joint_GAP"]) <= TOL
        assert max_abs_diff(f.maps[-1].flatten(2).transpose(1, 2), out["joint_encodings"]) <= TOL
        # a multi-modal sample names its bands: channels are taken by name, in any order
        named = joint.forward_multimodal({"s1": s1.flip(1), "s2": s2}, bands={"s1": ("VH", "VV")})
        assert max_abs_diff(named.pooled, f.pooled) == 0.0
        # single modality through the joint weights: the optical encoder
        assert max_abs_diff(joint(s2, joint.bands).pooled, out["optical_GAP"]) <= TOL


def test_fm_croma_small_equals_torchgeo(tmp_path: Path) -> None:
    _check("croma_base", tmp_path, SMALL, "small")


@pytest.mark.slow
def test_fm_croma_base_full_size_equals_torchgeo(tmp_path: Path) -> None:
    _check("croma_base", tmp_path, {"img_size": 32}, "base")


def test_fm_croma_alibi_equals_reference() -> None:
    croma = reference_module("torchgeo.models.croma")
    assert torch.allclose(alibi_2d(16, (5, 5)), croma.get_2dalibi(16, 25), atol=1e-6)


def test_fm_croma_bad_inputs(tmp_path: Path) -> None:
    path = _published(tmp_path, _reference())
    joint = create_backbone("croma_base.joint", weights=f"file:{path}", **SMALL)
    _, s2 = _inputs()
    with pytest.raises(BandError, match="not among"):
        joint.forward_multimodal({"s3": s2})
    with pytest.raises(BandError, match="VV"):
        joint.forward_multimodal({"s1": s2, "s2": s2})
    with pytest.raises(BandError, match=r"'VH'.* not found"):
        joint.forward_multimodal({"s1": s2[:, :2]}, bands={"s1": ("VV", "HH")})
    # a checkpoint of another layout: a typed error naming the keys
    other = tmp_path / "other.pt"
    torch.save({"encoder": {"blocks.0.weight": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointMismatchError, match="encoder.blocks.0.weight"):
        create_backbone("croma_base.s2", weights=f"file:{other}", **SMALL)
    # a CROMA-large file for CROMA-base: shapes and depth do not fit
    with pytest.raises(CheckpointMismatchError, match="unexpected keys"):
        create_backbone("croma_base.s2", weights=f"file:{path}", dim=64, depth=1, img_size=32)


def test_fm_croma_torchgeo_module_state_dict(tmp_path: Path) -> None:
    """A TorchGeo CROMA module saved flat (with its attn_bias buffer) loads as well."""
    ref = _reference()
    path = tmp_path / "croma_flat.pt"
    torch.save(ref.state_dict(), path)
    bb = create_backbone("croma_base.s2", weights=f"file:{path}", **SMALL).eval()
    s1, s2 = _inputs()
    with torch.no_grad():
        assert max_abs_diff(bb(s2, bb.bands).pooled, ref(x_sar=s1, x_optical=s2)["optical_GAP"]) <= TOL
