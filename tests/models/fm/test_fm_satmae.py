"""SatMAE / SatMAE++: group-channel semantics (bands by name, imputed and new bands), published containers."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pytest
import torch
from fm_ref import load_manifest, max_abs_diff, synthetic_checkpoint

from eokit.errors import BandError, CheckpointFormatError
from eokit.models import create_backbone, get_weight_spec
from eokit.sensors import Band

NAME = "satmae_group_base.fmow_sentinel"
SMALL = {"img_size": 32, "embed_dim": 64, "depth": 4, "num_heads": 2, "channel_embed": 16}


@pytest.fixture(scope="module")
def small() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_backbone(NAME, pretrained=False, **SMALL).eval()


def test_fm_satmae_bands_by_name_and_imputed(small, seeded_input) -> None:
    bands = small.bands
    assert bands == get_weight_spec(NAME).bands
    x = seeded_input(2, 10, 32, 32)
    perm = [9, 3, 0, 7, 1, 8, 2, 6, 4, 5]
    with torch.no_grad():
        a = small(x, bands)
        b = small(x[:, perm], [bands[i] for i in perm])
        assert max_abs_diff(a.pooled, b.pooled) <= 1e-5 and max_abs_diff(a.maps[-1], b.maps[-1]) <= 1e-5
        # a checkpoint band that is not given is the normalised mean (0)
        x0 = x.clone()
        x0[:, 8:] = 0  # B11, B12
        assert max_abs_diff(small(x[:, :8], bands[:8]).pooled, small(x0, bands).pooled) <= 1e-5
        # Sentinel-2 names of another spelling and common names resolve to the same bands
        c = small(x[:, :3], ("blue", "green", "red"))
        d = small(x[:, :3], ("B2", "B3", "B4"))
        assert max_abs_diff(c.pooled, d.pooled) <= 1e-6


def test_fm_satmae_new_band_joins_nearest_group(small, seeded_input) -> None:
    thermal = Band("thermal_x", center_nm=10_895.0, bandwidth_nm=590.0, gsd=100.0)
    x = seeded_input(1, 3, 32, 32)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with torch.no_grad():
            out = small(x, (small.band_objects[8], small.band_objects[9], thermal))
    assert any("thermal_x" in str(w.message) and "nearest in wavelength" in str(w.message) for w in rec)
    assert torch.isfinite(out.pooled).all()
    with pytest.raises(BandError, match="no centre wavelength"):
        small(x[:, :1], (Band("mystery", 0.0, 0.0, 10.0),))


def test_fm_satmae_training_checkpoint_with_pickled_args_is_refused(tmp_path: Path, small) -> None:
    """SatMAE's misc.save_model also pickles the argparse arguments: weights_only refuses, naming the fix."""
    path = tmp_path / "pretrain-vit-base-e199.pth"
    torch.save({"model": small.state_dict(), "args": argparse.Namespace(input_size=96)}, path)
    with pytest.raises(CheckpointFormatError, match="convert it once"):
        create_backbone(NAME, weights=f"file:{path}", **SMALL)


@pytest.mark.slow
def test_fm_satmae_full_size_published_layout_loads(tmp_path: Path, seeded_input) -> None:
    """ViT-B/8 group-channel, 96 px: a synthetic pretraining checkpoint with every manifest key (decoder
    included, nested under ``model`` with optimizer state beside it) loads strictly and runs."""
    m = load_manifest("satmae_group_base_fmow_sentinel")
    sd = synthetic_checkpoint(m["keys"])
    ckpt = {"model": {k.removeprefix("model."): v for k, v in sd.items()},
            "optimizer": {"state": {"0": {"exp_avg": torch.zeros(3)}}}, "epoch": 199}
    path = tmp_path / "pretrain-vit-base-e199.pth"
    torch.save(ckpt, path)
    bb = create_backbone(NAME, weights=f"file:{path}").eval()
    assert bb.img_size == 96 and bb.num_features == 768
    assert torch.equal(bb.patch_embed[2].proj.weight, sd["model.patch_embed.2.proj.weight"])
    with torch.no_grad():
        out = bb(seeded_input(1, 10, 96, 96), bb.bands)
    assert out.pooled.shape == (1, 768) and [m.shape[-1] for m in out.maps] == [12] * 4


def test_fm_satmae_temporal_series_and_single_frame(seeded_input) -> None:
    torch.manual_seed(0)
    bb = create_backbone("satmae_temporal_large_patch16.fmow_temporal", pretrained=False,
                         img_size=32, embed_dim=64, depth=4, num_heads=2, time_dim=48).eval()
    x = seeded_input(2, 3, 3, 32, 32)
    ts = torch.tensor([[[15, 0, 10], [16, 5, 11], [17, 11, 12]]] * 2)
    with torch.no_grad():
        series = bb(x, ("R", "G", "B"), timestamps=ts)
        assert series.pooled.shape == (2, 64) and series.maps[-1].shape == (2, 64, 2, 2)
        # tokens carry their frame's time: permuting frames together with their timestamps changes nothing
        perm = [2, 0, 1]
        assert max_abs_diff(bb(x[:, perm], timestamps=ts[:, perm]).pooled, series.pooled) <= 1e-5
        assert max_abs_diff(bb(x[:, perm], timestamps=ts).pooled, series.pooled) > 1e-4
        single = bb(x[:, 0], ("R", "G", "B"))  # one frame, unknown time
        assert single.pooled.shape == (2, 64)
    with pytest.raises(Exception, match=r"timestamps must be \(B, T, 3\)"):
        bb(x, timestamps=ts[:, :2])
