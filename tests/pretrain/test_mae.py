"""MAE: spectral groups, masking, multi-scale targets, learning on a fixed batch, gradients, export, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eokit.errors import PretrainError
from eokit.models import create_backbone
from eokit.models.weights import save_backbone_weights
from eokit.pretrain.methods.base import PretrainBatch, build_method
from eokit.pretrain.methods.mae import MAE, patchify, random_mask, spectral_groups, unpatchify
from eokit.sensors import get_sensor

TINY = {"img_size": 32, "patch_size": 8, "depth": 2, "embed_dim": 32, "num_heads": 2}
DEC = {"decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2, "ms_channels": 8}


def _batch(sensor: str, n: int = 4, size: int = 32, seed: int = 0) -> PretrainBatch:
    """Smooth, band-correlated images at each band's mean +- std (a learnable structure)."""
    bands = tuple(get_sensor(sensor).bands)
    g = torch.Generator().manual_seed(seed)
    mean = torch.tensor([b.mean for b in bands])
    std = torch.tensor([b.std for b in bands])
    base = torch.nn.functional.interpolate(torch.randn(n, 2, 4, 4, generator=g), size=(size, size),
                                           mode="bilinear", align_corners=False)
    mix = torch.randn(len(bands), 2, generator=g)
    z = torch.einsum("cj,bjhw->bchw", mix, base)
    return PretrainBatch(image=mean.view(1, -1, 1, 1) + std.view(1, -1, 1, 1) * z, bands=bands, sensor=sensor,
                         mean=mean, std=std)


def _dofa(sensor: str = "sentinel2_l1c") -> torch.nn.Module:
    torch.manual_seed(0)
    return create_backbone("dofa_tiny", bands=list(get_sensor(sensor).band_names), sensor=sensor, **TINY)


def test_spectral_groups_by_wavelength() -> None:
    s2 = spectral_groups(get_sensor("sentinel2_l1c").bands)
    assert s2 == [("visible", [0, 1, 2, 3]), ("rededge_nir", [4, 5, 6, 7, 8, 9]), ("swir", [10, 11, 12])]
    assert spectral_groups(get_sensor("rgb").bands) == [("visible", [0, 1, 2])]
    s1 = get_sensor("sentinel1_grd_db").bands
    assert spectral_groups(s1) == [("sar", list(range(len(s1))))]


def test_random_mask_ratios_and_modes() -> None:
    torch.manual_seed(0)
    ids, mask = random_mask(5, 3, 16, 0.75, "consistent")
    assert ids.shape == (5, 12) and mask.shape == (5, 48)
    m = mask.view(5, 3, 16)
    assert torch.equal(m[:, 0], m[:, 1]) and torch.equal(m[:, 1], m[:, 2])  # same places in every group
    assert float(m[:, 0].mean()) == 0.75
    ids, mask = random_mask(200, 3, 16, 0.75, "independent")
    assert ids.shape == (200, 12) and float(mask.mean()) == 0.75
    m = mask.view(200, 3, 16)
    assert not torch.equal(m[:, 0], m[:, 1])  # groups masked on their own
    kept = torch.zeros_like(mask).scatter_(1, ids, 1.0)
    assert torch.equal(kept, 1 - mask)


def test_patchify_roundtrip() -> None:
    x = torch.randn(2, 3, 16, 24)
    p = patchify(x, 8)
    assert p.shape == (2, 3, 6, 64)
    assert torch.equal(p[0, 1, 1].view(8, 8), x[0, 1, :8, 8:16])
    assert torch.equal(unpatchify(p, 8, (2, 3)), x)


@pytest.mark.parametrize(("sensor", "mode", "n_groups"), [("sentinel2_l1c", "consistent", 3),
                                                           ("rgb", "independent", 1),
                                                           ("sentinel1_grd_db", "consistent", 1)])
def test_mae_shapes_per_sensor(sensor: str, mode: str, n_groups: int) -> None:
    m = build_method("mae", _dofa(sensor), {**DEC, "mask_mode": mode, "scales": 1})
    batch = _batch(sensor)
    _, x_in = m._prepare(batch)
    assert x_in.shape[-1] == 16  # scales=1: the encoder sees the chip at half size
    groups = m.groups_for(batch.bands)
    assert len(groups) == n_groups
    wv = m.backbone.wavelengths_for(list(batch.bands))
    latent, (mask, ids), grid = m.forward_encoder(x_in, wv, groups)
    assert grid == (2, 2) and mask.shape == (4, n_groups * 4)
    assert latent.shape == (4, 1 + n_groups * 1, 32)  # 25% of 4 places per group + cls
    pred = m.forward_decoder(latent, ids, grid, groups, batch.wavelengths, len(batch.bands))
    assert pred.shape == (4, len(batch.bands), 4, 64)
    ups = m.forward_multiscale(unpatchify(pred, 8, grid), batch.wavelengths)
    assert [u.shape for u in ups] == [(4, len(batch.bands), 32, 32)]


def _fixed_loss(m: MAE, batch: PretrainBatch) -> float:
    """The loss under one fixed mask draw (so before/after compare the same masked tokens)."""
    torch.manual_seed(123)
    with torch.no_grad():
        return float(m.training_loss(batch)[0])


def test_mae_loss_decreases_and_every_parameter_learns() -> None:
    torch.manual_seed(0)
    m = build_method("mae", _dofa(), {**DEC, "scales": 1, "crop_scale": None, "flips": False})
    batch = _batch("sentinel2_l1c", n=4)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    before = _fixed_loss(m, batch)
    for step in range(20):
        loss, logs = m.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        if step == 0:
            assert set(logs) == {"mse", "l1_2x", "mask_ratio"} and logs["mask_ratio"] == 0.75
            assert float(loss.detach()) == pytest.approx(0.6 * logs["mse"] + 0.4 * logs["l1_2x"], rel=1e-5)
            missing = [n for n, p in m.named_parameters()
                       if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
            assert missing == []
        opt.step()
    after = _fixed_loss(m, batch)
    assert after < 0.8 * before, (before, after)


def test_mae_norm_pix_target_and_plain_mae() -> None:
    torch.manual_seed(0)
    m = build_method("mae", _dofa("rgb"), {**DEC, "scales": 0, "norm_pix_loss": True, "mask_ratio": 0.5})
    batch = _batch("rgb", size=16)
    _, x_in = m._prepare(batch)
    assert x_in.shape[-1] == 16  # scales=0: no downsampling
    target = patchify(x_in, 8)
    groups = m.groups_for(batch.bands)
    # the normalised target itself has zero loss; a zero prediction has loss 1 per patch (unit variance)
    mask = torch.ones(4, 4)
    tg = (target - target.mean(dim=(1, 3), keepdim=True)) / (target.var(dim=(1, 3), keepdim=True) + 1e-6).sqrt()
    assert float(m.masked_mse(tg, target, mask, groups)) < 1e-6
    zero = float(m.masked_mse(torch.zeros_like(target), target, mask, groups))
    assert zero == pytest.approx(191 / 192, rel=1e-3)  # mean of squares of a unit-variance (unbiased) patch
    loss, logs = m.training_loss(batch)
    assert "l1_2x" not in logs and float(loss.detach()) == pytest.approx(logs["mse"])


def test_mae_timm_vit_one_group() -> None:
    torch.manual_seed(0)
    bb = create_backbone("vit_small_patch16_224", bands=["R", "G", "B"], sensor="rgb", img_size=32,
                         depth=1, embed_dim=32, num_heads=2)
    m = build_method("mae", bb, {**DEC, "scales": 1, "spectral_groups": "auto"})
    assert m.grouping == "none"
    loss, logs = m.training_loss(_batch("rgb", size=64))
    loss.backward()
    assert torch.isfinite(loss) and logs["mask_ratio"] == 0.75
    assert bb.model.patch_embed.proj.weight.grad is not None


def test_mae_export_loads_as_dofa(tmp_path: Path) -> None:
    m = build_method("mae", _dofa(), DEC)
    with torch.no_grad():
        m.backbone.blocks[0].attn.qkv.weight.add_(1.0)  # differs from a fresh init
    exported = m.export_backbone()
    assert exported is m.backbone
    path = save_backbone_weights(tmp_path / "mae.safetensors", exported.state_dict(), arch="dofa_tiny",
                                 bands=exported.bands, sensor="sentinel2_l1c")
    loaded = create_backbone("dofa_tiny", bands=list(exported.bands), sensor="sentinel2_l1c",
                             weights=f"file:{path}", **TINY)
    for k, v in exported.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    x = torch.randn(1, 13, 32, 32)
    assert torch.allclose(loaded(x).pooled, exported.eval()(x).pooled, atol=1e-6)


def test_mae_errors() -> None:
    torch.manual_seed(0)
    cnn = create_backbone("mobilecnn", bands=["R", "G", "B"], sensor="rgb", width=0.5)
    with pytest.raises(PretrainError, match=r"mae cannot train backbone 'mobilecnn'.*dofa_tiny.*vit_"):
        build_method("mae", cnn, {})
    with pytest.raises(PretrainError, match=r"mask_mode 'diagonal'"):
        MAE(_dofa(), mask_mode="diagonal")
    with pytest.raises(PretrainError, match=r"mask_ratio 1.0"):
        MAE(_dofa(), mask_ratio=1.0)
    with pytest.raises(PretrainError, match=r"bad options"):
        build_method("mae", _dofa(), {"mask_rate": 0.5})
    m = MAE(_dofa("rgb"), **DEC, scales=2)
    with pytest.raises(PretrainError, match=r"chip size 16 with scales=2.*multiple of 32 px"):
        m.training_loss(_batch("rgb", size=16))


def test_mae_one_backbone_many_sensors_and_bf16() -> None:
    torch.manual_seed(0)
    m = build_method("mae", _dofa("sentinel2_l1c"), {**DEC, "scales": 1})
    groups = {}
    for sensor in ("sentinel2_l1c", "sentinel1_grd_db", "rgb"):
        batch = _batch(sensor)
        groups[sensor] = [g for g, _ in m.groups_for(batch.bands)]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, _ = m.training_loss(batch)
        m.zero_grad()
        loss.backward()
        assert loss.dtype == torch.float32 and torch.isfinite(loss), sensor
        assert m.backbone.patch_embed.fclayer.w1.weight.grad.abs().sum() > 0, sensor
    assert groups == {"sentinel2_l1c": [0, 1, 2], "sentinel1_grd_db": [4], "rgb": [0]}


def test_mae_upsampler_gets_prediction_in_image_units() -> None:
    torch.manual_seed(0)
    m = build_method("mae", _dofa("rgb"), {**DEC, "scales": 1, "norm_pix_loss": True, "crop_scale": None,
                                           "flips": False})
    batch = _batch("rgb", size=32)
    seen: list[torch.Tensor] = []
    m.up_in.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    _, x_in = m._prepare(batch)
    target = patchify(x_in, 8)
    groups = m.groups_for(batch.bands)
    mean, std = m.patch_stats(target, groups)
    assert torch.allclose(std[:, 0] ** 2, target.var(dim=(1, 3), keepdim=True)[:, 0] + 1e-6)
    assert mean.shape == (4, 3, 4, 1)
    assert torch.allclose(mean[:, 0], target.mean(dim=(1, 3), keepdim=True)[:, 0])  # one group: shared stats
    with torch.no_grad():  # a zero prediction head: every normalised patch predicted as 0
        for mod in m.pred:
            if isinstance(mod, torch.nn.Linear):
                mod.weight.zero_()
                mod.bias.zero_()
    m.training_loss(batch)
    assert len(seen) == 1
    # normalised 0 -> each patch's mean in image units, so the upsampler sees the image's levels
    expect = unpatchify(mean.expand(-1, -1, -1, 64), 8, (2, 2))
    assert seen[0].shape == (4 * 3, 1, 16, 16)
    assert torch.allclose(seen[0].view(4, 3, 16, 16), expect, atol=1e-5)
    assert float(expect.std()) > 0.1
