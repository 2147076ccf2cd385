"""Satlas Swin-v2 backbones: equivalence with TorchGeo 0.8.1's builders on the published container."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fm_ref import max_abs_diff, reference_module

from eokit.errors import CheckpointMismatchError
from eokit.models import create_backbone, get_weight_spec

TOL = 1e-5


SMALL = {"embed_dim": 16, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 1, 1)}


def _reference(builder: str, in_chans: int, seed: int = 0) -> torch.nn.Module:
    """TorchGeo's swin_v2_* with the Satlas first layer (as its weights loader builds it), random weights.

    ``builder='small'``: the torchvision class TorchGeo's builders instantiate, at a small size (fast).
    """
    swin = reference_module("torchgeo.models.swin")
    torch.manual_seed(seed)
    if builder == "small":
        from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2

        model = swin.SwinTransformer(patch_size=[4, 4], embed_dim=SMALL["embed_dim"], depths=[1, 1, 1, 1],
                                     num_heads=[1, 1, 1, 1], window_size=[8, 8], stochastic_depth_prob=0.2,
                                     block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2)
    else:
        model = getattr(swin, builder)()
    out = model.features[0][0].out_channels
    model.features[0][0] = torch.nn.Conv2d(in_chans, out, kernel_size=(4, 4), stride=(4, 4))
    return model.eval()


def _reference_features(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    maps = []
    for i, layer in enumerate(model.features):
        x = layer(x)
        if i in (1, 3, 5, 7):
            maps.append(x.permute(0, 3, 1, 2))
    pooled = model.flatten(model.avgpool(model.permute(model.norm(x))))
    return pooled, maps


def _published(tmp_path: Path, model: torch.nn.Module) -> Path:
    """The published layout: a flat torchvision state dict saved with torch.save (.pth)."""
    path = tmp_path / "satlas.pth"
    torch.save(model.state_dict(), path)
    return path


def _check_equal(name: str, builder: str, tmp_path: Path, size: int = 64) -> None:
    spec = get_weight_spec(name)
    ref = _reference(builder, len(spec.bands))
    kw = SMALL if builder == "small" else {}
    bb = create_backbone(name, weights=f"file:{_published(tmp_path, ref)}", **kw).eval()
    x = torch.randn(2, len(spec.bands), size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        pooled, maps = _reference_features(ref, x)
        f = bb(x, spec.bands)
    assert max_abs_diff(f.pooled, pooled) <= TOL
    assert len(f.maps) == 4
    for ours, theirs in zip(f.maps, maps, strict=True):
        assert ours.shape == theirs.shape and max_abs_diff(ours, theirs) <= TOL


def test_fm_satlas_small_swin_v2_equals_torchgeo(tmp_path: Path) -> None:
    _check_equal("satlas_swin_v2_b.sentinel2_si_ms", "small", tmp_path)


@pytest.mark.slow
def test_fm_satlas_swin_v2_t_full_size_equals_torchgeo(tmp_path: Path) -> None:
    _check_equal("satlas_swin_v2_t.sentinel2_mi_ms", "swin_v2_t", tmp_path)


@pytest.mark.slow
def test_fm_satlas_swin_v2_b_full_size_equals_torchgeo(tmp_path: Path) -> None:
    _check_equal("satlas_swin_v2_b.landsat_si", "swin_v2_b", tmp_path)


def test_fm_satlas_band_order_is_by_name(tmp_path: Path) -> None:
    """Bands given in another order are routed by name (the published order is R, G, B, ...)."""
    spec = get_weight_spec("satlas_swin_v2_b.sentinel2_si_rgb")
    path = _published(tmp_path, _reference("small", 3))
    bb = create_backbone(spec.name, weights=f"file:{path}", **SMALL).eval()
    bgr = create_backbone(spec.name, bands=("B02", "B03", "B04"), sensor="sentinel2_l1c",
                          weights=f"file:{path}", **SMALL).eval()
    assert [m["from"] for m in bgr.band_mapping.describe()] == ["B02", "B03", "B04"]
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():  # same kernels, other summation order: float32 rounding only
        assert max_abs_diff(bb(x, spec.bands).pooled, bgr(x.flip(1), ("B02", "B03", "B04")).pooled) <= 1e-4


def test_fm_satlas_multi_image_is_max_over_dates() -> None:
    torch.manual_seed(0)
    bb = create_backbone("satlas_swin_v2_b.sentinel1_mi", pretrained=False, **SMALL).eval()
    x = torch.randn(2, 3, 2, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        f = bb(x, ("VH", "VV"))
        per_date = [bb(x[:, t], ("VH", "VV")) for t in range(3)]
    assert torch.allclose(f.pooled, torch.stack([p.pooled for p in per_date]).amax(0), atol=1e-6)
    for i, m in enumerate(f.maps):
        assert torch.allclose(m, torch.stack([p.maps[i] for p in per_date]).amax(0), atol=1e-6)


def test_fm_satlas_wrong_checkpoint_lists_keys(tmp_path: Path) -> None:
    """A file of another Swin size given to the Swin-v2-T architecture: a typed error naming the keys."""
    path = _published(tmp_path, _reference("small", 3))
    with pytest.raises(CheckpointMismatchError, match=r"missing keys .*swin\.features"):
        create_backbone("satlas_swin_v2_t.sentinel2_si_rgb",
                        weights=f"file:{path}")


@pytest.mark.parametrize("prefix", ["backbone.backbone.", "backbone.backbone.backbone."])
def test_fm_satlas_own_release_layout(tmp_path: Path, prefix: str) -> None:
    """satlaspretrain_models' files (single/multi-image prefixes, with FPN and head keys) load the backbone."""
    ref = _reference("small", 3)
    sd = {prefix + k: v for k, v in ref.state_dict().items()}
    sd["intermediates.0.fpn.inner_blocks.0.weight"] = torch.zeros(4, 16, 1, 1)
    path = tmp_path / "satlas-model-v1.pth"
    torch.save(sd, path)
    bb = create_backbone("satlas_swin_v2_b.sentinel2_mi_rgb", weights=f"file:{path}", **SMALL).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        assert max_abs_diff(bb(x).pooled, _reference_features(ref, x)[0]) <= TOL
