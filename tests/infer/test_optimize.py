"""Inference optimisation: BN folding + channels-last keep the outputs, and fall back when they would not."""

from __future__ import annotations

import torch
from torch import nn

from eokit.infer.optimize import optimize_for_inference
from eokit.models import create_model


def _randomise_bn(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters (a fresh BN is the identity)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))
    return model.eval()


def _count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def test_eokit_unet_timm_resnet_and_efficientnet_fold_every_bn_and_match() -> None:
    x = torch.randn(2, 4, 64, 64)
    for backbone, head in (("unet", "unet"), ("resnet18", "upernet"), ("efficientnet_b0", "fcn")):
        torch.manual_seed(0)
        model = _randomise_bn(create_model(backbone, task="segmentation", bands=("B02", "B03", "B04", "B08"),
                                           sensor="sentinel2_l1c", num_classes=3, head=head))
        n_bn = _count(model, nn.BatchNorm2d)
        fast, report = optimize_for_inference(model, x[:1])
        assert not report.kept_original and report.channels_last, report
        assert report.folded == n_bn, (backbone, report.folded, n_bn)  # every BN follows a conv here
        assert _count(fast, nn.BatchNorm2d) == n_bn - report.folded
        assert _count(model, nn.BatchNorm2d) == n_bn  # the caller's model is untouched
        with torch.inference_mode():
            ref = model(x)
            got = fast(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


class ConvFeedsTwo(nn.Module):
    """The conv output is used raw *and* through BN: folding would change the raw use."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


class SharedBN(nn.Module):
    """One BN applied after two convs: not foldable into either."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.a(x)) + self.bn(self.b(x))


def test_unsafe_folds_are_caught_and_the_original_is_kept() -> None:
    x = torch.randn(1, 3, 32, 32)
    model = _randomise_bn(ConvFeedsTwo())
    fast, report = optimize_for_inference(model, x)
    assert report.kept_original and "differ" in report.reason and fast is model
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x))
    shared = _randomise_bn(SharedBN())
    fast, report = optimize_for_inference(shared, x)
    assert report.folded == 0 and not report.kept_original  # the shared BN is left alone
    with torch.inference_mode():
        torch.testing.assert_close(fast(x.contiguous(memory_format=torch.channels_last)), shared(x),
                                   rtol=1e-4, atol=1e-5)


def test_a_model_that_fails_on_the_sample_runs_unchanged() -> None:
    class Picky(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[-1] != 7:
                raise ValueError("needs 7 px")
            return x

    model = Picky()
    fast, report = optimize_for_inference(model, torch.zeros(1, 1, 8, 8))
    assert fast is model and report.kept_original and "7 px" in report.reason
