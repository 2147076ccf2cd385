"""SSL4EO-S12 baselines: each entry equals TorchGeo's model on the same weights; training containers load."""

from __future__ import annotations

import pytest
import torch
from zhu_equiv import (
    assert_equivalent,
    dino,
    family_specs,
    load_through_eokit,
    moco,
    reference_model,
)

from eokit.errors import BandError, CheckpointMismatchError
from eokit.models import create_backbone, get_weight_spec

SPECS = family_specs("SSL4EO-S12")


def test_ssl4eo_entries_cover_the_published_variants() -> None:
    names = {s.name for s in SPECS}
    assert {"resnet18.ssl4eo_s2_moco", "resnet18.ssl4eo_s2rgb_moco", "resnet50.ssl4eo_s2_moco",
            "resnet50.ssl4eo_s2_dino", "resnet50.ssl4eo_s1_moco", "vit_small_patch16_224.ssl4eo_s2_dino",
            "vit_small_patch16_224.ssl4eo_s2_moco", "vit_small_patch16_224.ssl4eo_s2_mae",
            "vit_small_patch16_224.ssl4eo_s1_mae", "vit_base_patch16_224.ssl4eo_s2_mae",
            "vit_large_patch16_224.ssl4eo_s1_mae", "vit_huge_patch14_224.ssl4eo_s2_mae"} <= names
    assert get_weight_spec("vit_huge_patch14_224.ssl4eo_s1_mae").patch_size == 14
    s2 = get_weight_spec("resnet50.ssl4eo_s2_moco")
    assert s2.bands[8] == "B8A" and s2.bands[10] == "B10" and len(s2.bands) == 13
    assert s2.mean == (0.0,) * 13 and s2.std == (1.0,) * 13  # DN / 10000 on a 1e-4-scaled sensor
    s1 = get_weight_spec("resnet50.ssl4eo_s1_moco")
    assert s1.bands == ("VV", "VH") and s1.mean == (-12.59, -20.26) and s1.std == (5.26, 5.91)
    assert get_weight_spec("resnet18.ssl4eo_s2rgb_moco").bands == ("B04", "B03", "B02")
    assert all(s.extra["sha256_prefix"] in s.url for s in SPECS if "sha256_prefix" in s.extra)


def _small(spec) -> dict:
    """Same layout, smaller: ViTs at 112 px on both sides (the file then holds a 7x7 or 8x8 position
    embedding), ViT-B/L/H with 4 blocks, ViT-L/H 256 wide; ResNets full size."""
    if spec.arch.startswith("vit_small"):
        return {"img_size": 112}
    if spec.arch.startswith("vit_base"):
        return {"img_size": 112, "depth": 4}
    return {"img_size": 112, "depth": 4, "embed_dim": 256, "num_heads": 4} if spec.arch.startswith("vit") else {}


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_ssl4eo_equals_torchgeo(spec, tmp_path) -> None:
    ref = reference_model(spec, **_small(spec))
    bb = load_through_eokit(spec, ref, tmp_path, **_small(spec))
    assert_equivalent(spec, ref, bb, size=112 if _small(spec) else 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18.ssl4eo_s2_moco", "vit_small_patch16_224.ssl4eo_s2_mae"])
def test_ssl4eo_full_size_published_layout(name, tmp_path) -> None:
    """Full-size checkpoints at the published 224 px input (ViT: 14x14 position embedding + class token)."""
    spec = get_weight_spec(name)
    ref = reference_model(spec)
    bb = load_through_eokit(spec, ref, tmp_path)
    assert_equivalent(spec, ref, bb, size=224)


@pytest.mark.parametrize(("name", "container"), [("resnet50.ssl4eo_s2_moco", moco),
                                                 ("resnet50.ssl4eo_s2_dino", dino),
                                                 ("vit_small_patch16_224.ssl4eo_s2_dino", dino)])
def test_ssl4eo_training_containers_load(name, container, tmp_path) -> None:
    """The authors' own MoCo (module.encoder_q.) and DINO (teacher.backbone.) checkpoints give the same model."""
    spec = get_weight_spec(name)
    ref = reference_model(spec, seed=1, **_small(spec))
    bb = load_through_eokit(spec, ref, tmp_path, container, **_small(spec))
    assert_equivalent(spec, ref, bb, size=112 if _small(spec) else 64)


def test_ssl4eo_bands_by_name_and_position_embedding_resize(tmp_path) -> None:
    """L2A bands (no B10) and another order load by name; a 112-px ViT gets the resampled position embedding."""
    spec = get_weight_spec("vit_small_patch16_224.ssl4eo_s2_mae")
    ref = reference_model(spec)
    path = tmp_path / "w.pth"
    torch.save(ref.state_dict(), path)
    l2a = ("B02", "B03", "B04", "B08", "B11", "B12")
    bb = create_backbone(spec.name, bands=l2a, sensor="sentinel2_l2a", weights=f"file:{path}", img_size=112)
    kernel = ref.state_dict()["patch_embed.proj.weight"]
    idx = [spec.bands.index(b) for b in l2a]
    # every band is known: kernels reordered by name, scaled by K/C = 13/6
    torch.testing.assert_close(bb.model.patch_embed.proj.weight, kernel[:, idx] * 13 / 6)
    assert bb.model.pos_embed.shape[1] == 1 + 7 * 7
    with torch.no_grad():
        f = bb.eval()(torch.randn(1, 6, 112, 112), l2a)
    assert f.maps[-1].shape == (1, 384, 7, 7)


def test_ssl4eo_wrong_checkpoint_and_missing_band_are_typed_errors(tmp_path) -> None:
    other = reference_model(get_weight_spec("resnet18.ssl4eo_s2_moco"))
    path = tmp_path / "resnet18.pth"
    torch.save(other.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match="resnet50") as err:
        create_backbone("resnet50.ssl4eo_s2_moco", weights=f"file:{path}")
    assert "layer1.0.conv3.weight" in str(err.value)  # lists the keys a ResNet-18 lacks
    bb = create_backbone("resnet50.ssl4eo_s1_moco", pretrained=False)
    with pytest.raises(BandError, match="VH"):
        bb(torch.randn(1, 1, 64, 64), ("VV",))
