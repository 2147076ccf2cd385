"""DeCUR ResNet-50 S1/S2 encoders: equal to TorchGeo's model on the same weights."""

from __future__ import annotations

import pytest
from zhu_equiv import (
    assert_equivalent,
    family_specs,
    load_through_eokit,
    plain,
    reference_model,
    without_head,
)

from eokit.models import get_weight_spec

SPECS = family_specs("DeCUR")


def test_decur_entries() -> None:
    assert {s.name for s in SPECS} == {"resnet50.decur_s1", "resnet50.decur_s2",
                                       "vit_small_patch16_224.decur_s1", "vit_small_patch16_224.decur_s2"}
    s1, s2 = get_weight_spec("resnet50.decur_s1"), get_weight_spec("resnet50.decur_s2")
    assert s1.bands == ("VV", "VH") and s1.sensor == "sentinel1_grd_db" and s1.mean == (-12.59, -20.26)
    assert len(s2.bands) == 13 and s2.std == (1.0,) * 13 and s2.license == "Apache-2.0"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_decur_equals_torchgeo(spec, tmp_path) -> None:
    """ResNet-50: TorchGeo's file layout; ViT-S/16: the backbone-only timm dict (at 112 px on both sides)."""
    vit = spec.arch.startswith("vit")
    kw = {"img_size": 112} if vit else {}
    ref = reference_model(spec, **kw)
    bb = load_through_eokit(spec, ref, tmp_path, without_head if vit else plain, **kw)
    assert_equivalent(spec, ref, bb, size=112 if vit else 64)


@pytest.mark.slow
def test_decur_full_size_published_layout(tmp_path) -> None:
    """The full ResNet-50 S1 file at the published 224 px input."""
    spec = get_weight_spec("resnet50.decur_s1")
    ref = reference_model(spec, seed=3)
    assert_equivalent(spec, ref, load_through_eokit(spec, ref, tmp_path), size=224, seed=3)
