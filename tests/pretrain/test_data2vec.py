"""data2vec-style method: teacher targets, momentum annealing, learning on a fixed batch, gradients, errors."""

from __future__ import annotations

import pytest
import torch

from eokit.errors import PretrainError
from eokit.models import create_backbone
from eokit.pretrain.methods.base import PretrainBatch, build_method
from eokit.pretrain.methods.data2vec import Data2Vec, linear_momentum
from eokit.sensors import get_sensor

TINY = {"img_size": 32, "patch_size": 8, "depth": 2, "embed_dim": 32, "num_heads": 2}
DEC = {"decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2}


def _batch(sensor: str = "sentinel2_l1c", n: int = 4, size: int = 32) -> PretrainBatch:
    bands = tuple(get_sensor(sensor).bands)
    g = torch.Generator().manual_seed(0)
    mean = torch.tensor([b.mean for b in bands])
    std = torch.tensor([b.std for b in bands])
    z = torch.nn.functional.interpolate(torch.randn(n, len(bands), 8, 8, generator=g), size=(size, size),
                                        mode="bilinear", align_corners=False)
    return PretrainBatch(image=mean.view(1, -1, 1, 1) + std.view(1, -1, 1, 1) * z, bands=bands, sensor=sensor,
                         mean=mean, std=std)


def _method(**opts: object) -> Data2Vec:
    torch.manual_seed(0)
    bb = create_backbone("dofa_tiny", bands=list(get_sensor("sentinel2_l1c").band_names), sensor="sentinel2_l1c",
                         **TINY)
    m = build_method("data2vec", bb, {**DEC, **opts})
    assert isinstance(m, Data2Vec)
    return m


def test_linear_momentum() -> None:
    assert linear_momentum(0.999, 0.9999, 0.0, 0.5) == pytest.approx(0.999)
    assert linear_momentum(0.999, 0.9999, 0.25, 0.5) == pytest.approx(0.99945)
    assert linear_momentum(0.999, 0.9999, 0.9, 0.5) == pytest.approx(0.9999)
    m = _method(momentum=0.9, momentum_end=1.0, anneal_frac=1.0)
    with torch.no_grad():
        for p in m.backbone.parameters():
            p.add_(1.0)
    before = [p.detach().clone() for p in m.teacher.parameters()]
    m.after_step(0.5)
    assert m.momentum == pytest.approx(0.95)
    for t, b, s in zip(m.teacher.parameters(), before, m.backbone.parameters(), strict=True):
        assert torch.allclose(t, 0.95 * b + 0.05 * s, atol=1e-6)


def test_teacher_targets_are_normalised_layer_averages() -> None:
    m = _method(top_k=2, crop_scale=None, flips=False)
    x, wv = m._prepare(_batch())
    y = m.targets(x, wv)
    assert y.shape == (4, 16, 32) and not y.requires_grad
    assert torch.allclose(y.mean(-1), torch.zeros(4, 16), atol=1e-5)
    assert torch.allclose(y.std(-1, unbiased=False), torch.ones(4, 16), atol=1e-3)
    assert m.top_k == 2 and _method(top_k=8).top_k == 2  # capped at the depth


def test_data2vec_learns_and_only_the_student_gets_gradients() -> None:
    m = _method(momentum=1.0, momentum_end=1.0, crop_scale=None, flips=False)  # a fixed teacher
    batch = _batch()
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=2e-3)

    def fixed() -> float:
        torch.manual_seed(5)
        with torch.no_grad():
            return float(m.training_loss(batch)[0])

    before = fixed()
    for step in range(20):
        loss, logs = m.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        if step == 0:
            assert set(logs) == {"target_std", "momentum"}
            assert [n for n, p in m.named_parameters() if p.requires_grad and p.grad is None] == []
            assert all(p.grad is None and not p.requires_grad for p in m.teacher.parameters())
        opt.step()
        m.after_step((step + 1) / 20)
    assert fixed() < 0.8 * before
    assert m.export_backbone() is m.backbone


def test_data2vec_errors() -> None:
    cnn = create_backbone("mobilecnn", bands=["R", "G", "B"], sensor="rgb", width=0.5)
    with pytest.raises(PretrainError, match=r"data2vec cannot train backbone 'mobilecnn'.*dofa_tiny"):
        build_method("data2vec", cnn, {})
    with pytest.raises(PretrainError, match=r"momentum \(0.9999\) <= momentum_end \(0.999\)"):
        _method(momentum=0.9999, momentum_end=0.999)
    with pytest.raises(PretrainError, match=r"mask_ratio 0.0"):
        _method(mask_ratio=0.0)
    m = _method()
    with pytest.raises(PretrainError, match=r"not a multiple of the patch size 8"):
        m.training_loss(_batch(size=36))
