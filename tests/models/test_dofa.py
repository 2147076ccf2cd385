"""The wavelength-conditioned ViT: one set of weights, any band set."""

from __future__ import annotations

import pytest
import torch

from eokit.errors import BandError, ModelError
from eokit.models import create_backbone, create_model
from eokit.sensors import get_sensor, hyperspectral


@pytest.fixture(scope="module")
def dofa():
    torch.manual_seed(0)
    return create_backbone("dofa_tiny", bands=get_sensor("sentinel2_l1c").band_names, sensor="sentinel2_l1c",
                           img_size=32)


@pytest.mark.parametrize(
    ("bands", "n"),
    [
        (None, 13),  # Sentinel-2 L1C, its own bands
        (tuple(get_sensor("landsat8_sr").band_names), 7),
        (tuple(get_sensor("naip").band_names), 4),
        (tuple(get_sensor("sentinel1_grd_db").band_names), 2),
        (tuple(hyperspectral("hs50", [400 + 40 * i for i in range(50)]).bands), 50),
    ],
)
def test_same_weights_any_bands(dofa, bands, n: int) -> None:
    dofa.zero_grad(set_to_none=True)
    x = torch.randn(2, n, 32, 32)
    f = dofa(x, bands=bands)
    assert f.pooled.shape == (2, 192) and all(m.shape == (2, 192, 2, 2) for m in f.maps)
    f.pooled.pow(2).mean().backward()
    gen = dofa.patch_embed.weight_generator
    assert gen.fc_weight.weight.grad is not None and gen.fc_weight.weight.grad.abs().sum() > 0
    assert dofa.patch_embed.fclayer.w1.weight.grad is not None


def test_kernels_follow_wavelength_not_position(dofa) -> None:
    """Permuting channels together with their band names leaves the features unchanged."""
    dofa.eval()
    bands = ("B02", "B03", "B04", "B08", "B11")
    x = torch.randn(2, 5, 32, 32)
    perm = [4, 2, 0, 3, 1]
    with torch.no_grad():
        a = dofa(x, bands=bands).pooled
        b = dofa(x[:, perm], bands=[bands[i] for i in perm]).pooled
        c = dofa(x[:, perm], bands=bands).pooled  # wrong names -> different features
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(a, c, atol=1e-4)
    w_red, _ = dofa.patch_embed.kernel(torch.tensor([664.6]))
    w_nir, _ = dofa.patch_embed.kernel(torch.tensor([832.8]))
    assert not torch.allclose(w_red, w_nir)
    dofa.train()


def test_wavelengths_argument_and_errors(dofa) -> None:
    x = torch.randn(1, 3, 32, 32)
    assert dofa(x, wavelengths=[490.0, 560.0, 665.0]).pooled.shape == (1, 192)
    with pytest.raises(BandError, match="3 channels but 2"):
        dofa(x, wavelengths=[490.0, 560.0])
    with pytest.raises(ModelError, match="multiple of the patch size"):
        dofa(torch.randn(1, 13, 30, 30))
    with pytest.raises(BandError, match="sensor="):
        dofa(x, bands=("B02", "B03", "nonsense"))


def test_dofa_segmentation_model_with_other_bands() -> None:
    model = create_model("dofa_tiny", task="segmentation", bands=("B04", "B03", "B02", "B08"), sensor="s2",
                         num_classes=3, img_size=32, normalize=True)
    x = torch.rand(2, 7, 32, 32) * 20000
    y = model(x, bands=get_sensor("landsat8_sr").band_names)  # normalised with Landsat statistics, by name
    assert y.shape == (2, 3, 32, 32) and torch.isfinite(y).all()
