"""SoftCon ResNet-50 and DINOv2 ViT-S/14, ViT-B/14 (S1, S2): equal to TorchGeo's models on the same weights."""

from __future__ import annotations

import pytest
import torch
from zhu_equiv import (
    assert_equivalent,
    dinov2_original,
    family_specs,
    load_through_eokit,
    reference_model,
)

from eokit.errors import ModelError
from eokit.models import create_backbone, get_weight_spec

SPECS = family_specs("SoftCon")


def _small(spec) -> dict:
    """Full layout; ViTs at 56 px on both sides (4x4 patches), ViT-B/14 with its first 4 blocks."""
    if spec.arch.startswith("vit_base"):
        return {"img_size": 56, "depth": 4}
    return {"img_size": 56} if spec.arch.startswith("vit") else {}


def test_softcon_entries() -> None:
    assert len(SPECS) == 6
    s2 = get_weight_spec("vit_small_patch14_dinov2.softcon_s2")
    assert s2.patch_size == 14 and s2.input_size == 224 and s2.license == "CC-BY-4.0"
    assert s2.mean[0] == pytest.approx(0.16129) and s2.std[-1] == pytest.approx(0.11429)  # SSL4EO-S12 stats
    assert get_weight_spec("resnet50.softcon_s1").std == (5.26, 5.91)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_softcon_equals_torchgeo(spec, tmp_path) -> None:
    ref = reference_model(spec, **_small(spec))
    bb = load_through_eokit(spec, ref, tmp_path, **_small(spec))
    assert_equivalent(spec, ref, bb, size=_small(spec).get("img_size", 64))


def test_softcon_original_dinov2_file_loads(tmp_path) -> None:
    """The authors' DINOv2-layout file (mask token, no classifier) gives the same model as TorchGeo's."""
    spec = get_weight_spec("vit_small_patch14_dinov2.softcon_s1")
    ref = reference_model(spec, seed=2, img_size=56)
    bb = load_through_eokit(spec, ref, tmp_path, dinov2_original, img_size=56)
    assert_equivalent(spec, ref, bb, size=56, seed=2)


def test_softcon_patch_size_error_names_the_fix() -> None:
    bb = create_backbone("vit_small_patch14_dinov2.softcon_s2", pretrained=False, img_size=56)
    with pytest.raises(ModelError, match="multiple of the patch size"):
        bb(torch.randn(1, 13, 64, 64))


@pytest.mark.slow
def test_softcon_full_size_published_layout(tmp_path) -> None:
    """The full ViT-S/14 S2 file (16x16 + 1 position tokens) at the published 224 px input."""
    spec = get_weight_spec("vit_small_patch14_dinov2.softcon_s2")
    ref = reference_model(spec, seed=4)
    assert_equivalent(spec, ref, load_through_eokit(spec, ref, tmp_path), size=224, seed=4)
