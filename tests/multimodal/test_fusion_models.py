"""Fusion backbones (early, late, cross-attention): forward/backward, missing modalities, modality dropout,
typed errors for modalities the model was not trained on, and rebuilding from the model config."""

from __future__ import annotations

import json

import pytest
import torch

from eokit.errors import BandError, ModalityError, ModelError
from eokit.models import create_backbone, create_model, model_from_config
from eokit.models.fusion import FUSION_TYPES, MISSING_POLICY, fusion_backbone, is_fusion

MODS = {"s1": {"bands": ["VV", "VH"], "sensor": "sentinel1_grd_db"},
        "s2": {"bands": ["B02", "B03", "B04", "B08"], "sensor": "sentinel2_l1c"}}
BANDS = ["VV", "VH", "B02", "B03", "B04", "B08"]
TINY = {"encoder": "mobilecnn", "encoder_kwargs": {"width": 0.5}}


def seg(fusion: str, **kw):
    torch.manual_seed(0)
    return create_model(f"fusion_{fusion}", task="segmentation", bands=BANDS, num_classes=2, modalities=MODS,
                        **{**TINY, **kw})


@pytest.mark.parametrize("fusion", FUSION_TYPES)
def test_fusion_forward_backward_every_parameter_learns(fusion: str) -> None:
    model = seg(fusion).train()
    x = torch.randn(2, 6, 32, 32)
    y = model(x)
    assert y.shape == (2, 2, 32, 32)
    y.pow(2).mean().backward()
    assert not [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    bb = fusion_backbone(model)
    assert is_fusion(model) and bb.bands == tuple(BANDS) and bb.modality_names == ("s1", "s2")
    assert len(bb.encoders) == (1 if fusion == "early" else 2)
    f = bb.eval()(x)
    assert [m.shape[1] for m in f.maps] == bb.channels and f.pooled.shape == (2, bb.num_features)


@pytest.mark.parametrize("fusion", FUSION_TYPES)
def test_missing_modality_is_zeroed_or_dropped(fusion: str) -> None:
    model = seg(fusion).eval()
    bb = fusion_backbone(model)
    x = torch.randn(3, 6, 32, 32)
    other = x.clone()
    other[:, :2] = torch.randn(3, 2, 32, 32) * 10  # different S1 values
    with torch.no_grad():
        full = model(x)
        without = model(x[:, 2:], bands=BANDS[2:])  # the S1 bands left out
        with bb.absent("s1"):
            absent = model(x)
            absent_other = model(other)
        zeroed = x.clone()
        zeroed[:, :2] = 0
        as_zeros = model(zeroed)
    torch.testing.assert_close(without, absent)
    torch.testing.assert_close(absent, absent_other)  # the S1 values no longer matter
    assert (full - without).abs().max() > 1e-4  # S1 did contribute
    if MISSING_POLICY[fusion] == "zeroed":
        torch.testing.assert_close(absent, as_zeros)
    else:  # dropped: not the same as feeding zeros to the S1 encoder
        assert (absent - as_zeros).abs().max() > 1e-6


def test_absent_modality_in_late_fusion_equals_its_single_encoder() -> None:
    """Late fusion with S1 dropped is exactly the S2 encoder's maps (the mean over one modality)."""
    bb = fusion_backbone(seg("late")).eval()
    x = torch.randn(2, 6, 32, 32)
    with torch.no_grad():
        f = bb(x[:, 2:], bands=BANDS[2:])
        ref = bb.encoders["s2"].forward_features(x[:, 2:])
    for a, b in zip(f.maps, ref.maps, strict=True):
        torch.testing.assert_close(a, b)


def test_modality_dropout_removes_one_modality_per_sample_in_training_only() -> None:
    bb = fusion_backbone(seg("late", modality_dropout=0.9))
    x = torch.randn(64, 6, 8, 8)
    images = bb._split(x, None)
    torch.manual_seed(1)
    bb.train()
    present = bb._present(images, 64, x.device)
    assert (present.sum(1) >= 1).all() and (~present).any()  # never both, but often one
    assert (~present[:, 0]).any() and (~present[:, 1]).any()
    bb.eval()
    assert bb._present(images, 64, x.device).all()
    with pytest.raises(ModelError, match="modality_dropout"):
        seg("late", modality_dropout=1.0)


@pytest.mark.parametrize("fusion", FUSION_TYPES)
def test_modality_not_trained_on_raises_typed_error(fusion: str) -> None:
    model = seg(fusion).eval()
    bb = fusion_backbone(model)
    with pytest.raises(ModalityError, match=r"'dem'.*s1: VV, VH"):
        with bb.absent("dem"):
            pass
    with pytest.raises(ModalityError, match=r"\['DEM'\].*train a model with that modality"):
        model(torch.randn(1, 7, 32, 32), bands=[*BANDS, "DEM"])
    with pytest.raises(ModalityError, match="'dem'"):
        bb.forward_modalities({"s1": torch.randn(1, 2, 32, 32), "dem": torch.randn(1, 1, 32, 32)})
    with pytest.raises(BandError, match=r"modality 's2' is incomplete.*B08"):
        model(torch.randn(1, 5, 32, 32), bands=BANDS[:5])
    with pytest.raises(ModalityError, match="every modality is missing"), bb.absent("s1", "s2"):
        model(torch.randn(1, 6, 32, 32))


def test_fusion_needs_modalities_that_cover_the_bands() -> None:
    with pytest.raises(ModelError, match="needs modalities="):
        create_backbone("fusion_late", bands=BANDS, **TINY)
    with pytest.raises(ModalityError, match=r"\['B11'\] belong to no modality"):
        create_backbone("fusion_late", bands=[*BANDS, "B11"], modalities=MODS, **TINY)
    with pytest.raises(ModelError, match="strides"):  # a U-Net keeps stride 1: it cannot share levels with ResNet
        create_backbone("fusion_late", bands=BANDS, modalities=MODS, encoder={"s1": "unet", "s2": "resnet18"},
                        encoder_kwargs={"s1": {"base_channels": 8, "depth": 3}})


def test_aliases_and_band_order_resolve_by_name() -> None:
    model = seg("cross_attention").eval()
    x = torch.randn(2, 6, 32, 32)
    perm = [4, 0, 5, 2, 1, 3]
    with torch.no_grad():
        ref = model(x)
        out = model(x[:, perm], bands=[BANDS[i] for i in perm])
        out2 = model(x, bands=["VV", "VH", "blue", "green", "red", "nir"])
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(out2, ref)


@pytest.mark.parametrize("fusion", FUSION_TYPES)
def test_fusion_model_rebuilds_from_its_json_config(fusion: str) -> None:
    model = create_model(f"fusion_{fusion}", task="classification", bands=BANDS, num_classes=3, modalities=MODS,
                         encoder={"s1": "mobilecnn", "s2": "mobilecnn"}, encoder_kwargs={"width": 0.5},
                         modality_dropout=0.2).eval()
    cfg = json.loads(json.dumps(model.config))
    again = model_from_config(cfg).eval()
    again.load_state_dict(model.state_dict())
    x = torch.randn(2, 6, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x))
    assert fusion_backbone(again).modality_dropout == 0.2


def test_models_info_describes_a_fusion_backbone(capsys) -> None:
    from eokit.cli.main import main

    assert main(["models", "info", "fusion_cross_attention", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "fusion" and info["band_flexible"] is True and info["parameters"] > 0
    assert [f["stride"] for f in info["feature_info"]] == sorted(f["stride"] for f in info["feature_info"])


def test_cross_attention_tokens_know_their_position() -> None:
    from eokit.models.fusion import position_encoding

    pe = position_encoding(3, 4, 16)
    assert pe.shape == (12, 16) and torch.unique(pe, dim=0).shape[0] == 12  # every pixel distinct
    torch.testing.assert_close(pe[0, :4], torch.zeros(4))  # row 0: sin(0)
    torch.testing.assert_close(pe[0, 4:8], torch.ones(4))  # cos(0)
    assert position_encoding(2, 2, 3).abs().sum() == 0  # fewer than 4 channels: no encoding
    bb = fusion_backbone(seg("cross_attention", attn_levels=2)).eval()
    assert sorted(bb.cross) == [str(len(bb.feature_info) - 2), str(len(bb.feature_info) - 1)]
    with torch.no_grad():
        f = bb(torch.randn(2, 6, 64, 64))
    assert [m.shape[1] for m in f.maps] == bb.channels
