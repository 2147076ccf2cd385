"""Contract tests over every registered published foundation-model weights entry (fast, small configs).

Each family registers its architectures with ``test_kwargs`` (a small configuration of the same
layout) and its weights as ``arch.tag`` entries with ``family`` set; these tests hold every entry
to the same contract: what it declares, its forward/features, its own-state-dict round trip, and a
band set its weights do not know.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from eokit.errors import LicenseError
from eokit.models import WeightSpec, create_backbone, get_arch, list_models
from eokit.sensors import Band

FM: list[WeightSpec] = sorted((s for s in list_models(pretrained=True) if s.family), key=lambda s: s.name)
FM_IDS = [s.name for s in FM]


def small(spec: WeightSpec, bands: tuple[str | Band, ...] | None = None, **kw: object):
    arch = get_arch(spec.arch)
    torch.manual_seed(0)
    return create_backbone(spec.name, bands=bands, sensor=None if bands else spec.sensor, pretrained=False,
                           **{**arch.test_kwargs, **kw})


def test_fm_families_registered() -> None:
    families = {s.family for s in FM}
    assert len(families) >= 12, sorted(families)
    assert len(FM) >= 35, len(FM)


@pytest.mark.parametrize("spec", FM, ids=FM_IDS)
def test_fm_entry_declares_everything(spec: WeightSpec) -> None:
    assert spec.source in ("url", "file") and spec.url, f"{spec.name}: published weights need their URL"
    assert spec.license not in ("", "n/a") and spec.citation and spec.description
    assert spec.proof, f"{spec.name}: say how eokit proves it loads these weights"
    assert spec.bands and spec.sensor, f"{spec.name}: input bands in channel order and their sensor"
    bands = spec.band_objects()  # every band resolves in its sensor
    assert all(b.center_nm > 0 for b in bands), f"{spec.name}: bands need centre wavelengths"
    assert (spec.mean and len(spec.mean) == len(spec.bands)) or spec.normalization
    assert spec.input_size > 0 and spec.gsd is not None and spec.gsd > 0
    lic = spec.license.lower()
    if "-nc" in lic or "noncommercial" in lic.replace("-", "").replace(" ", ""):
        assert spec.noncommercial, f"{spec.name}: licence {spec.license} is non-commercial; set noncommercial=True"
    if spec.sha256 is not None:
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0


def _input(bb, n: int = 2) -> torch.Tensor:
    size = get_arch(bb.spec.arch).test_kwargs.get("img_size") or 64
    return torch.randn(n, bb.in_chans, size, size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("spec", FM, ids=FM_IDS)
def test_fm_forward_features_and_roundtrip(spec: WeightSpec) -> None:
    bb = small(spec).eval()
    assert bb.bands == tuple(b.name for b in spec.band_objects())
    contract = bb.data_contract
    assert contract.bands == bb.bands and len(contract.mean) == bb.in_chans
    x = _input(bb)
    with torch.no_grad():
        f = bb(x, bb.bands)
    assert f.pooled.shape == (2, bb.num_features) and torch.isfinite(f.pooled).all()
    assert len(f.maps) == len(bb.feature_info)
    for m, info in zip(f.maps, bb.feature_info, strict=True):
        assert m.shape[1] == info["channels"], (spec.name, m.shape, info)
        assert m.shape[-1] == x.shape[-1] // info["stride"], (spec.name, m.shape, info)
    # eokit saves backbones as their own state dict: loading it back gives the same features
    twin = small(spec).eval()
    twin.load_checkpoint(bb.state_dict(), spec.band_objects())
    with torch.no_grad():
        assert torch.allclose(twin(x, bb.bands).pooled, f.pooled, atol=1e-5)


@pytest.mark.parametrize("spec", FM, ids=FM_IDS)
def test_fm_unknown_band_is_initialised_explicitly(spec: WeightSpec) -> None:
    full = small(spec)
    own = spec.band_objects()
    foreign = Band("thermal_test", center_nm=10_895.0, bandwidth_nm=590.0, gsd=100.0, common_name="lwir11")
    bands = (*own[:-1], foreign)
    with warnings.catch_warnings(record=True) as caught:  # at build (group-channel ViTs) or at load
        warnings.simplefilter("always")
        bb = small(spec, bands=bands)
        bb.load_checkpoint(full.state_dict(), own)
    if not bb.band_flexible:
        assert any("thermal_test" in str(w.message) for w in caught), [str(w.message) for w in caught]
    with torch.no_grad():
        out = bb.eval()(_input(bb), bb.bands)
    assert torch.isfinite(out.pooled).all()


@pytest.mark.parametrize("spec", [s for s in FM if s.noncommercial][:1] or [None], ids=lambda s: getattr(s, "name", "none"))
def test_fm_noncommercial_refused_when_disallowed(spec: WeightSpec | None) -> None:
    if spec is None:
        pytest.skip("no non-commercial entry registered")
    with pytest.raises(LicenseError, match="allow_noncommercial"):
        create_backbone(spec.name, pretrained=False, allow_noncommercial=False, **get_arch(spec.arch).test_kwargs)
