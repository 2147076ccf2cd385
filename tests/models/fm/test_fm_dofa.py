"""DOFA ViT-B/L: equal to TorchGeo's reference (a published-layout checkpoint), band errors, full-size layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fm_ref import max_abs_diff, reference_module

from eokit.errors import BandError, CheckpointMismatchError
from eokit.models import create_backbone, get_weight_spec
from eokit.sensors import Band

SMALL = {"img_size": 32, "embed_dim": 64, "depth": 2, "num_heads": 2}


def _reference(**kw: int) -> torch.nn.Module:
    dofa = reference_module("torchgeo.models.dofa")
    torch.manual_seed(0)
    ref = dofa.DOFA(num_classes=0, **kw).eval()
    with torch.no_grad():  # the published pos_embed is a fixed sin-cos table; random values test the load better
        ref.pos_embed.normal_(0, 0.02)
        ref.cls_token.normal_(0, 0.02)
    return ref


def _published_file(ref: torch.nn.Module, path: Path) -> Path:
    """The published container: a plain encoder state dict without pool norm and head."""
    sd = {k: v for k, v in ref.state_dict().items() if not k.startswith(("fc_norm.", "head."))}
    torch.save(sd, path)
    return path


def _block_outputs(ref: torch.nn.Module, x: torch.Tensor, wavelengths_um: list[float]) -> tuple[torch.Tensor, list]:
    outs: list[torch.Tensor] = []
    hooks = [b.register_forward_hook(lambda m, i, o: outs.append(o)) for b in ref.blocks]
    try:
        pooled = ref.forward_features(x, wavelengths_um)
    finally:
        for h in hooks:
            h.remove()
    return pooled, outs


def test_fm_dofa_equals_torchgeo_reference(tmp_path: Path, seeded_input) -> None:
    ref = _reference(**SMALL)
    path = _published_file(ref, tmp_path / "dofa_base_patch16_224.pth")
    bb = create_backbone("dofa_base_patch16.mae", weights=f"file:{path}", **SMALL).eval()
    x = seeded_input(2, len(bb.bands), 32, 32)
    wavelengths_um = [b.center_nm / 1000 for b in bb.band_objects]
    with torch.no_grad():
        want, blocks = _block_outputs(ref, x, wavelengths_um)
        got = bb(x, bb.bands)
    assert max_abs_diff(got.pooled, want) <= 1e-5
    last = blocks[-1][:, 1:].transpose(1, 2).reshape(2, 64, 2, 2)
    assert max_abs_diff(got.maps[-1], last) <= 1e-5
    # any other band set: the same kernels as the reference generates for those wavelengths
    sub = ("B04", "B08", "B11")
    with torch.no_grad():
        want = ref.forward_features(x[:, :3], [bb.band_table(sub)[i].center_nm / 1000 for i in range(3)])
        got = bb(x[:, :3], sub)
    assert max_abs_diff(got.pooled, want) <= 1e-5


def test_fm_dofa_sar_uses_pseudo_wavelength(tmp_path: Path, seeded_input) -> None:
    ref = _reference(**SMALL)
    bb = create_backbone("dofa_base_patch16.mae", weights=f"file:{_published_file(ref, tmp_path / 'd.pth')}",
                         **SMALL).eval()
    x = seeded_input(1, 2, 32, 32)
    with torch.no_grad():
        got = bb(x, ("VV", "VH"))
        want = ref.forward_features(x, [3.75, 3.75])
    assert max_abs_diff(got.pooled, want) <= 1e-5


def test_fm_dofa_band_without_wavelength_is_a_typed_error() -> None:
    bb = create_backbone("dofa_base_patch16.mae", pretrained=False, **SMALL)
    nowave = Band("pan_unknown", center_nm=0.0, bandwidth_nm=0.0, gsd=1.0)
    with pytest.raises(BandError, match="pan_unknown.*no centre wavelength.*wavelengths="):
        bb(torch.zeros(1, 2, 32, 32), (bb.band_objects[0], nowave))
    with pytest.raises(BandError, match="no centre wavelength"):
        create_backbone("dofa_base_patch16.mae", bands=(nowave,), pretrained=False, **SMALL)


def test_fm_dofa_wrong_checkpoint_lists_keys(tmp_path: Path) -> None:
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 64)}, path)
    with pytest.raises(CheckpointMismatchError, match=r"missing keys.*cls_token|unexpected keys.*conv1.weight"):
        create_backbone("dofa_base_patch16.mae", weights=f"file:{path}", **SMALL)


@pytest.mark.slow
def test_fm_dofa_full_size_published_layout_loads(tmp_path: Path, seeded_input) -> None:
    """The smallest published variant (ViT-B/16, 224 px) at full size: a reference-built checkpoint loads
    strictly and gives the reference's features."""
    ref = _reference(embed_dim=768, depth=12, num_heads=12)
    path = _published_file(ref, tmp_path / "dofa_base_patch16_224-a0275954.pth")
    bb = create_backbone("dofa_base_patch16.mae", weights=f"file:{path}").eval()
    assert get_weight_spec("dofa_base_patch16.mae").input_size == bb.img_size == 224
    x = seeded_input(1, 4, 224, 224)
    bands = ("B02", "B03", "B04", "B08")
    with torch.no_grad():
        got = bb(x, bands)
        want = ref.forward_features(x, [bb.band_table(bands)[i].center_nm / 1000 for i in range(4)])
    assert max_abs_diff(got.pooled, want) <= 1e-5
