"""Prithvi-EO-1.0/2.0: eokit's encoder equals TerraTorch's reference on the published checkpoint layouts.

The reference MAE (TerraTorch 1.2.13 ``prithvi_mae.py``, random seeded weights, small sizes) is saved
as the published files are: Prithvi-EO-2.0 as ``encoder.*``/``decoder.*``, Prithvi-EO-1.0 as the
flat MAE (``blocks.*``, ``decoder_*``, ``mask_token``). eokit loads that file by name and must give
the reference encoder's features (TerraTorch's ``forward_features`` +
``prepare_features_for_image_model``) to 1e-5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from fm_ref import max_abs_diff, reference_file

from eokit.errors import BandError, CheckpointMismatchError, ModelError
from eokit.models import create_backbone, get_weight_spec
from eokit.models.fm._vit import block_indices
from eokit.models.fm.prithvi import VARIANTS


def _ref():
    return reference_file("terratorch", "models/backbones/prithvi_mae.py")


SMALL = {"embed_dim": 64, "depth": 4, "num_heads": 2}


def _reference_mae(arch: str, frames: int, img_size: int, seed: int = 0, **size: Any):
    v = VARIANTS[arch]
    p = v["patch_size"]
    torch.manual_seed(seed)
    size = {**SMALL, **size}
    mae = _ref().PrithviMAE(
        img_size=img_size, patch_size=(1, p, p), num_frames=frames, in_chans=6, decoder_embed_dim=32,
        decoder_depth=1, decoder_num_heads=2, coords_encoding=["time", "location"] if v.get("coords") else None,
        coords_scale_learn=bool(v.get("coords")), **size,
    ).eval()
    with torch.no_grad():  # give the zero-initialised biases and the coordinate scales random values too
        for name, prm in mae.named_parameters():
            if name.endswith("bias") or name.endswith("scale"):
                prm.add_(torch.randn_like(prm) * 0.1)
    return mae


def _published(mae, layout: str) -> dict[str, torch.Tensor]:
    sd = {k: v.clone() for k, v in mae.state_dict().items()}
    if layout == "v2":
        return sd
    # Prithvi-EO-1.0: the flat MAE of the original release (no encoder./decoder. module prefixes)
    return {k.removeprefix("encoder.").removeprefix("decoder."): v for k, v in sd.items()}


def _reference_features(mae, cube: torch.Tensor, time=None, location=None):
    enc = mae.encoder
    with torch.no_grad():
        outs = enc.forward_features(cube.transpose(1, 2), temporal_coords=time, location_coords=location)
        maps = enc.prepare_features_for_image_model(outs)
    return outs[-1][:, 1:].mean(dim=1), maps


CASES = [  # arch, layout, frames, input-size factor (x patch), with coordinates
    ("prithvi_eo_v1_100", "v1", 3, 2, False),
    ("prithvi_eo_v2_300", "v2", 4, 2, False),
    ("prithvi_eo_v2_300_tl", "v2", 4, 2, True),
    ("prithvi_eo_v2_600", "v2", 1, 2, False),
    ("prithvi_eo_v2_600_tl", "v2", 2, 3, True),  # 3 x 14 px input: position embedding interpolated
    ("prithvi_eo_v2_tiny_tl", "v2", 1, 2, True),
]


@pytest.mark.parametrize(("arch", "layout", "frames", "factor", "coords"), CASES, ids=[c[0] for c in CASES])
def test_fm_prithvi_equals_reference(tmp_path: Path, arch: str, layout: str, frames: int, factor: int,
                                     coords: bool) -> None:
    p = VARIANTS[arch]["patch_size"]
    img = 2 * p
    mae = _reference_mae(arch, frames, img)
    path = tmp_path / "prithvi.pt"
    torch.save(_published(mae, layout), path)
    bb = create_backbone(f"{arch}.hls", weights=f"file:{path}", num_frames=frames, img_size=img, **SMALL).eval()
    g = torch.Generator().manual_seed(3)
    cube = torch.randn(2, frames, 6, factor * p, factor * p, generator=g)
    time = torch.tensor([[[2019.0 + t, 30.0 + 40 * t] for t in range(frames)]] * 2) if coords else None
    loc = torch.tensor([[46.5, 7.4], [-12.0, 130.5]]) if coords else None
    ref_pooled, ref_maps = _reference_features(mae, cube, time, loc)
    with torch.no_grad():
        f = bb(cube, bb.bands, time=time, location=loc)
    assert len(f.maps) == len(block_indices(4))
    for m, i in zip(f.maps, block_indices(4), strict=True):
        assert m.shape == ref_maps[i].shape
        assert max_abs_diff(m, ref_maps[i]) <= 1e-5, (arch, i)
    assert max_abs_diff(f.pooled, ref_pooled) <= 1e-5
    if coords:  # the date and location encodings take part
        with torch.no_grad():
            assert max_abs_diff(bb(cube, bb.bands).pooled, f.pooled) > 1e-4


def test_fm_prithvi_single_image_and_band_order(tmp_path: Path) -> None:
    mae = _reference_mae("prithvi_eo_v2_300", 1, 32)
    path = tmp_path / "p.pt"
    torch.save(_published(mae, "v2"), path)
    bb = create_backbone("prithvi_eo_v2_300.hls", weights=f"file:{path}", img_size=32, **SMALL).eval()
    x = torch.randn(2, 6, 32, 32, generator=torch.Generator().manual_seed(0))
    ref_pooled, _ = _reference_features(mae, x[:, None])
    with torch.no_grad():
        f = bb(x, bb.bands)
        # the same bands in another order, by their common names, give the same features
        order = [5, 4, 3, 2, 1, 0]
        g = bb(x[:, order], ["swir22", "swir16", "nir08", "red", "green", "blue"])
    assert max_abs_diff(f.pooled, ref_pooled) <= 1e-5
    assert f.maps[-1].shape == (2, 64, 2, 2)
    s2 = create_backbone("prithvi_eo_v2_300.hls", bands=["B02", "B03", "B04", "B8A", "B11", "B12"],
                         sensor="sentinel2_l2a", weights=f"file:{path}", img_size=32, **SMALL).eval()
    with torch.no_grad():
        assert max_abs_diff(s2(x, s2.bands).pooled, ref_pooled) <= 1e-5
    assert max_abs_diff(g.pooled, f.pooled) <= 1e-5


def test_fm_prithvi_bad_input(tmp_path: Path) -> None:
    bb = create_backbone("prithvi_eo_v2_300.hls", pretrained=False, img_size=32, num_frames=2, **SMALL)
    with pytest.raises(ModelError, match="num_frames=3"):
        bb(torch.randn(1, 3, 6, 32, 32))
    with pytest.raises(BandError, match="NIR_NARROW|SWIR"):
        bb(torch.randn(1, 2, 3, 32, 32), ["BLUE", "GREEN", "RED"])
    tl = create_backbone("prithvi_eo_v2_300_tl.hls", pretrained=False, img_size=32, **SMALL)
    with pytest.raises(ModelError, match="year and day of year"):
        tl(torch.randn(2, 6, 32, 32), time=torch.zeros(2, 3))
    # a non-TL checkpoint lacks the TL variant's date/location scales: the error lists them
    mae = _reference_mae("prithvi_eo_v2_300", 1, 32)
    path = tmp_path / "p.pt"
    torch.save(_published(mae, "v2"), path)
    with pytest.raises(CheckpointMismatchError, match="temporal_embed_enc.scale"):
        create_backbone("prithvi_eo_v2_300_tl.hls", weights=f"file:{path}", img_size=32, **SMALL)
    # a checkpoint of another size: shape mismatches are listed
    with pytest.raises(CheckpointMismatchError, match="shape mismatches"):
        create_backbone("prithvi_eo_v2_300.hls", weights=f"file:{path}", img_size=32,
                        **{**SMALL, "embed_dim": 128})


def test_fm_prithvi_entries() -> None:
    v1 = get_weight_spec("prithvi_eo_v1_100.hls")
    assert v1.family == "Prithvi-EO-1.0" and v1.extra["num_frames"] == 3
    assert v1.url == "https://huggingface.co/ibm-nasa-geospatial/Prithvi-EO-1.0-100M/resolve/main/Prithvi_EO_V1_100M.pt"
    v2 = get_weight_spec("prithvi_eo_v2_600_tl.hls")
    assert v2.patch_size == 14 and v2.extra["coords_encoding"] == ["time", "location"]
    assert [b.center_nm for b in v2.band_objects()] == [480, 560, 655, 865, 1610, 2200]
    # published statistics are reflectance x 10000; HLS DN / 10000 = reflectance
    assert v2.mean[0] == pytest.approx(0.1087) and v2.std[-1] == pytest.approx(0.1049)
    c = v2.data_contract()
    assert c.scale == pytest.approx(1e-4) and c.bands == ("BLUE", "GREEN", "RED", "NIR_NARROW", "SWIR_1", "SWIR_2")


@pytest.mark.slow
def test_fm_prithvi_full_size_v1_checkpoint_loads(tmp_path: Path) -> None:
    """Prithvi-EO-1.0 100M at full size (768-d, 12 blocks, 3 frames, 224 px) in the published flat layout."""
    torch.manual_seed(0)
    mae = _ref().PrithviMAE(img_size=224, patch_size=(1, 16, 16), num_frames=3, in_chans=6, embed_dim=768, depth=12,
                            num_heads=12, decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16).eval()
    sd = _published(mae, "v1")
    assert "decoder_pred.weight" in sd and "mask_token" in sd and sd["patch_embed.proj.weight"].shape == (768, 6, 1, 16, 16)
    path = tmp_path / "Prithvi_EO_V1_100M.pt"
    torch.save(sd, path)
    del sd
    # one frame keeps the CPU time down: the 3-frame model's fixed position embedding is recomputed for it
    bb = create_backbone("prithvi_eo_v1_100.hls", weights=f"file:{path}").eval()
    cube = torch.randn(1, 1, 6, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = mae.encoder.forward_features(cube.transpose(1, 2))[-1][:, 1:]
        f = bb(cube[:, 0], bb.bands)
    assert f.maps[-1].shape == (1, 768, 14, 14)
    assert max_abs_diff(f.pooled, ref.mean(dim=1)) <= 1e-4
    assert max_abs_diff(f.maps[-1], ref.transpose(1, 2).reshape(1, 768, 14, 14)) <= 1e-4


def test_fm_prithvi_tl_trains_without_coordinates() -> None:
    """Fine-tuning a TL variant on images without dates: every parameter gets a gradient (DDP needs it)."""
    bb = create_backbone("prithvi_eo_v2_300_tl.hls", pretrained=False, img_size=32, **SMALL)
    x = torch.randn(2, 6, 32, 32, generator=torch.Generator().manual_seed(0))
    f = bb(x, bb.bands)
    (f.pooled.sum() + sum(m.sum() for m in f.maps)).backward()
    assert [n for n, p in bb.named_parameters() if p.grad is None] == []
    with torch.no_grad():
        bb.temporal_embed_enc.scale.fill_(5.0)  # without dates the encoding stays out, whatever its scale
        assert max_abs_diff(bb(x, bb.bands).pooled, f.pooled) == 0.0


def test_fm_prithvi_time_coords_from_sample_dates() -> None:
    from eokit.models.fm.prithvi import time_coords

    t = time_coords([("2021-01-01", "2021-12-31"), ("2020-03-01", "2020-12-31")])
    assert t.shape == (2, 2, 2) and t[0, 1].tolist() == [2021.0, 365.0] and t[1].tolist() == [[2020, 61], [2020, 366]]
    with pytest.raises(ModelError, match="ISO strings"):
        time_coords([("2021-13-01",)])
    with pytest.raises(ModelError, match="same number of dates"):
        time_coords([("2021-01-01",), ("2021-01-01", "2021-02-01")])
