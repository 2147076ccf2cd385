"""Scale-MAE ViT-L/16: equal to TorchGeo's reference (published container), GSD scaling, full size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fm_ref import max_abs_diff, reference_module

from eokit.errors import CheckpointMismatchError, LicenseError
from eokit.models import create_backbone

NAME = "scalemae_large_patch16.fmow_rgb"
SMALL = {"img_size": 32, "embed_dim": 64, "depth": 4, "num_heads": 2}


def _reference(res: float = 1.0, **kw: int) -> torch.nn.Module:
    from functools import partial

    sm = reference_module("torchgeo.models.scale_mae")
    torch.manual_seed(0)
    return sm.ScaleMAE(res=res, patch_size=16, mlp_ratio=4, qkv_bias=True, num_classes=0,
                       norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), **kw).eval()


def _load(ref: torch.nn.Module, path: Path, **kw: object):
    torch.save(ref.state_dict(), path)  # the published file: a plain timm ViT state dict
    return create_backbone(NAME, weights=f"file:{path}", **kw).eval()


@pytest.mark.parametrize("res", [1.0, 0.3])
def test_fm_scalemae_equals_torchgeo_reference(tmp_path: Path, seeded_input, res: float) -> None:
    ref = _reference(res=res, **SMALL)
    bb = _load(ref, tmp_path / "scalemae.pth", res=res, **SMALL)
    x = seeded_input(2, 3, 32, 32)
    with torch.no_grad():
        want = ref(x)
        got = bb(x, ("R", "G", "B"))
        assert max_abs_diff(got.pooled, want) <= 1e-5
        # the same weights at another scale: the per-call res equals a reference built with it
        ref.res = 2.0
        assert max_abs_diff(bb(x, res=2.0).pooled, ref(x)) <= 1e-5
        assert max_abs_diff(bb(x, res=torch.tensor([2.0, 2.0])).pooled, ref(x)) <= 1e-5


def test_fm_scalemae_mae_checkpoint_and_errors(tmp_path: Path) -> None:
    """A pretraining checkpoint (``model`` nesting, decoder beside the encoder) loads; a foreign one is refused."""
    ref = _reference(**SMALL)
    sd = {**ref.state_dict(), "mask_token": torch.zeros(1, 1, 32), "decoder_embed.weight": torch.zeros(32, 64)}
    torch.save({"model": sd, "epoch": torch.tensor(799)}, tmp_path / "mae.pth")
    bb = create_backbone(NAME, weights=f"file:{tmp_path / 'mae.pth'}", **SMALL).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert max_abs_diff(bb(x).pooled, ref(x)) <= 1e-5
    torch.save({"cls_token": torch.zeros(1, 1, 64), "patch_embed.proj.weight": torch.zeros(64, 3, 16, 16)},
               tmp_path / "other.pth")
    with pytest.raises(CheckpointMismatchError, match="missing keys"):
        create_backbone(NAME, weights=f"file:{tmp_path / 'other.pth'}", **SMALL)
    with pytest.raises(LicenseError, match="CC-BY-NC-4.0"):
        create_backbone(NAME, pretrained=False, allow_noncommercial=False, **SMALL)


@pytest.mark.slow
def test_fm_scalemae_full_size_published_layout_loads(tmp_path: Path) -> None:
    """ViT-L/16 at 224 px in the published layout loads strictly, every tensor bit for bit (no forward: a
    ViT-L pass on a shared CPU is slow; the small-size tests prove the features)."""
    ref = _reference(img_size=224, embed_dim=1024, depth=24, num_heads=16, weight_init="skip")
    bb = _load(ref, tmp_path / "vit_large_patch16_224_fmow_rgb_scalemae-98ed9821.pth", weight_init="skip")
    assert bb.img_size == 224 and bb.num_features == 1024 and len(bb.model.blocks) == 24
    own = bb.model.state_dict()
    assert set(ref.state_dict()) - set(own) == {"pos_embed"}  # the fixed table Scale-MAE recomputes from res
    for k, v in ref.state_dict().items():
        if k == "pos_embed":
            continue
        assert torch.equal(own[k].view(torch.int32), v.view(torch.int32)), k
