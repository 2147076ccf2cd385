"""DINO: EMA and momentum schedule maths, centring, multi-crop views, learning on a fixed batch, export, errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from eokit.errors import PretrainError
from eokit.models import create_backbone
from eokit.models.weights import save_backbone_weights
from eokit.pretrain.methods.base import PretrainBatch, build_method
from eokit.pretrain.methods.dino import (
    DINO,
    DINOHead,
    WeightNormLinear,
    cosine_momentum,
    ema_update,
)
from eokit.sensors import get_sensor

HEAD = {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16, "local_crops": 2}


def _batch(sensor: str = "rgb", n: int = 8, size: int = 32, seed: int = 0) -> PretrainBatch:
    bands = tuple(get_sensor(sensor).bands)
    g = torch.Generator().manual_seed(seed)
    mean = torch.tensor([b.mean for b in bands])
    std = torch.tensor([b.std for b in bands])
    base = torch.nn.functional.interpolate(torch.randn(n, len(bands), 8, 8, generator=g), size=(size, size),
                                           mode="bilinear", align_corners=False)
    return PretrainBatch(image=mean.view(1, -1, 1, 1) + std.view(1, -1, 1, 1) * base, bands=bands,
                         sensor=sensor, mean=mean, std=std)


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return create_backbone("mobilecnn", bands=["R", "G", "B"], sensor="rgb", width=0.5)


def test_cosine_momentum_schedule() -> None:
    assert cosine_momentum(0.996, 0.0) == pytest.approx(0.996)
    assert cosine_momentum(0.996, 0.5) == pytest.approx(0.998)
    assert cosine_momentum(0.996, 1.0) == pytest.approx(1.0)
    assert cosine_momentum(0.9, 0.25) == pytest.approx(1 - 0.1 * (math.cos(math.pi / 4) + 1) / 2)


def test_ema_update_math() -> None:
    t, s = nn.Linear(3, 2), nn.Linear(3, 2)
    t0 = [p.detach().clone() for p in t.parameters()]
    ema_update(t, s, 0.9)
    for a, b, c in zip(t.parameters(), t0, s.parameters(), strict=True):
        assert torch.allclose(a, 0.9 * b + 0.1 * c)
    ema_update(t, s, 1.0)  # momentum 1 leaves the teacher as it is
    ema_update(t, s, 0.0)  # momentum 0 copies the student
    for a, c in zip(t.parameters(), s.parameters(), strict=True):
        assert torch.equal(a, c)


def test_after_step_updates_teacher_with_scheduled_momentum() -> None:
    m = build_method("dino", _cnn(), {**HEAD, "momentum": 0.9})
    with torch.no_grad():
        for p in m.backbone.parameters():
            p.add_(1.0)
    before = [p.detach().clone() for p in m.teacher.parameters()]
    m.after_step(0.5)
    mom = cosine_momentum(0.9, 0.5)
    assert m.momentum == pytest.approx(0.95)
    for t, b, s in zip(m.teacher.parameters(), before, m.backbone.parameters(), strict=True):
        assert torch.allclose(t, mom * b + (1 - mom) * s, atol=1e-6)
    assert all(not p.requires_grad for p in [*m.teacher.parameters(), *m.teacher_head.parameters()])


def test_weight_norm_last_layer_and_head() -> None:
    layer = WeightNormLinear(4, 3)
    with torch.no_grad():
        layer.v.mul_(7.0)
    x = torch.randn(5, 4)
    assert torch.allclose(layer.weight().norm(dim=1), torch.ones(3), atol=1e-6)
    assert torch.allclose(layer(x), x @ (layer.v / layer.v.norm(dim=1, keepdim=True)).T, atol=1e-6)
    assert WeightNormLinear(4, 3, fixed_norm=True).g is None
    free = WeightNormLinear(4, 3, fixed_norm=False)
    assert free.g is not None and free.g.requires_grad
    assert DINOHead(8, 10, 16, 4)(torch.randn(2, 8)).shape == (2, 10)


def test_centering_and_sharpening() -> None:
    m = build_method("dino", _cnn(), {**HEAD, "center_momentum": 0.9})
    out = torch.randn(6, 64)
    m.update_center(out)
    assert torch.allclose(m.center, 0.1 * out.mean(0, keepdim=True))
    m.progress = 0.0
    m.warmup_teacher_temp, m.teacher_temp, m.warmup_frac = 0.04, 0.07, 0.5
    assert m.current_teacher_temp() == pytest.approx(0.04)
    m.progress = 0.25
    assert m.current_teacher_temp() == pytest.approx(0.055)
    m.progress = 0.9
    assert m.current_teacher_temp() == pytest.approx(0.07)


def test_multicrop_views() -> None:
    m = build_method("dino", _cnn(), {**HEAD, "local_crops": 3})
    glob, local = m.views(_batch(size=32))
    assert [v.shape for v in glob] == [(8, 3, 32, 32)] * 2
    assert [v.shape for v in local] == [(8, 3, 16, 16)] * 3
    vit = create_backbone("dofa_tiny", bands=["R", "G", "B"], sensor="rgb", img_size=32, patch_size=8,
                          depth=1, embed_dim=32, num_heads=2)
    d = build_method("dino", vit, {**HEAD, "local_size": 20})
    with pytest.raises(PretrainError, match=r"multiples of the patch size 8 of dofa_tiny"):
        d.views(_batch(size=32))
    assert build_method("dino", vit, HEAD).sizes(36) == (32, 16)


def _fixed_loss(m: DINO, batch: PretrainBatch) -> float:
    """The loss for one fixed draw of the views."""
    torch.manual_seed(123)
    with torch.no_grad():
        center = m.center.clone()
        loss = float(m.training_loss(batch)[0])
        m.center.copy_(center)
    return loss


@pytest.mark.parametrize("arch", ["mobilecnn", "dofa_tiny"])
def test_dino_student_learns_and_every_parameter_gets_a_gradient(arch: str) -> None:
    torch.manual_seed(0)
    kw = {"width": 0.5} if arch == "mobilecnn" else {"img_size": 32, "patch_size": 8, "depth": 1,
                                                     "embed_dim": 32, "num_heads": 2}
    bb = create_backbone(arch, bands=["R", "G", "B"], sensor="rgb", **kw)
    # momentum 1 and a fixed centre: the targets stand still, so the student's loss must fall
    m = build_method("dino", bb, {**HEAD, "momentum": 1.0, "center_momentum": 1.0, "local_crops": 1})
    batch = _batch(n=4)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=2e-3)
    before = _fixed_loss(m, batch)
    teacher0 = [p.detach().clone() for p in m.teacher.parameters()]
    for step in range(20):
        loss, logs = m.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        if step == 0:
            assert set(logs) == {"teacher_temp", "momentum", "teacher_entropy"}
            missing = [n for n, p in m.named_parameters() if p.requires_grad and p.grad is None]
            assert missing == []
            assert all(p.grad is None for p in m.teacher.parameters())
        opt.step()
        m.after_step((step + 1) / 20)
    after = _fixed_loss(m, batch)
    assert after < 0.8 * before, (before, after)
    assert all(torch.equal(a, b) for a, b in zip(m.teacher.parameters(), teacher0, strict=True))


def test_dino_trains_with_moving_teacher() -> None:
    torch.manual_seed(0)
    m = build_method("dino", _cnn(), {**HEAD, "momentum": 0.9, "local_crops": 1})
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    teacher0 = [p.detach().clone() for p in m.teacher.parameters()]
    for step in range(3):
        loss, _ = m.training_loss(_batch(n=4))
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.after_step((step + 1) / 3)
    assert torch.isfinite(loss) and m.momentum == pytest.approx(1.0)
    assert not torch.equal(next(m.teacher.parameters()), teacher0[0])
    assert float(m.center.abs().sum()) > 0


def test_dino_exports_teacher_that_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    bb = create_backbone("dofa_tiny", bands=list(get_sensor("sentinel2_l1c").band_names), sensor="sentinel2_l1c",
                         img_size=32, patch_size=8, depth=1, embed_dim=32, num_heads=2)
    m = build_method("dino", bb, HEAD)
    with torch.no_grad():
        m.backbone.blocks[0].attn.qkv.weight.add_(1.0)
    m.after_step(0.0)
    exported = m.export_backbone()
    assert exported is m.teacher and exported is not m.backbone
    path = save_backbone_weights(tmp_path / "dino.safetensors", exported.state_dict(), arch="dofa_tiny",
                                 bands=exported.bands, sensor="sentinel2_l1c")
    loaded = create_backbone("dofa_tiny", bands=list(exported.bands), sensor="sentinel2_l1c",
                             weights=f"file:{path}", img_size=32, patch_size=8, depth=1, embed_dim=32, num_heads=2)
    for k, v in exported.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_dino_errors() -> None:
    with pytest.raises(PretrainError, match=r"temperatures must be > 0.*teacher_temp=0"):
        DINO(_cnn(), teacher_temp=0)
    with pytest.raises(PretrainError, match=r"momentum 1.5"):
        DINO(_cnn(), momentum=1.5)
    with pytest.raises(PretrainError, match=r"bad options"):
        build_method("dino", _cnn(), {"momentun": 0.99})



def test_dino_schedule_state_survives_a_resume() -> None:
    m = build_method("dino", _cnn(), {**HEAD, "warmup_teacher_temp": 0.02, "teacher_temp": 0.06,
                                      "warmup_frac": 0.5})
    m.after_step(0.25)
    resumed = build_method("dino", _cnn(), {**HEAD, "warmup_teacher_temp": 0.02, "teacher_temp": 0.06,
                                            "warmup_frac": 0.5})
    resumed.load_state_dict(m.state_dict())
    assert resumed.progress == pytest.approx(0.25)
    assert resumed.current_teacher_temp() == pytest.approx(0.04)
