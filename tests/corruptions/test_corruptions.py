"""REOBench corruptions: determinism, shapes/dtypes, monotone degradation, band-awareness, errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from eokit.errors import BandError, ConfigError
from eokit.transforms.corruptions import CORRUPTIONS, Corrupt, band_info, corrupt, corrupt_sample

# EuroSAT MS GeoTIFF band order (B8A comes last)
S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A")


def psnr(clean: np.ndarray, noisy: np.ndarray, peak: float = 1.0) -> float:
    mse = float(np.mean((clean.astype(np.float64) - noisy.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def synthetic_rgb(h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    """A textured reflectance-like RGB image (fields, a road, noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.15 + 0.1 * np.sin(12 * xx) * np.cos(9 * yy) + 0.05 * rng.random((h, w))
    base[(np.abs(xx - yy) < 0.05)] = 0.35  # a bright diagonal road
    return np.stack([base * 0.9, base, base * 0.8]).astype(np.float32)


@pytest.fixture(scope="module")
def s2_chips(mirror: Path) -> list[np.ndarray]:
    """Three real 13-band EuroSAT (Sentinel-2 L1C) chips as reflectance."""
    import rasterio

    root = mirror / "classification" / "eurosat_ms_subset" / "test"
    files = [sorted((root / c).glob("*.tif"))[0] for c in ("Forest", "Industrial", "AnnualCrop")]
    chips = []
    for f in files:
        with rasterio.open(f) as src:
            chips.append(src.read().astype(np.float32) * 1e-4)
    return chips


@pytest.fixture(scope="module")
def rgb_chip(mirror: Path) -> np.ndarray:
    """A real EuroSAT RGB JPEG as 0-1 reflectance-like values."""
    from PIL import Image

    f = sorted((mirror / "classification" / "eurosat_rgb" / "Residential").glob("*.jpg"))[0]
    return (np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255).transpose(2, 0, 1).copy()


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_deterministic_and_shape_dtype_kept(name: str) -> None:
    x = synthetic_rgb()
    a = corrupt(x, name, 3, bands=("red", "green", "blue"), sensor=None, seed=7)
    b = corrupt(x, name, 3, bands=("red", "green", "blue"), sensor=None, seed=7)
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, x), f"{name} left the image unchanged"
    assert np.isfinite(a).all()
    # float64, torch, and a time series keep their type/shape/dtype too
    assert corrupt(x.astype(np.float64), name, 2, bands=("R", "G", "B"), seed=1).dtype == np.float64
    t = corrupt(torch.from_numpy(x), name, 2, bands=("red", "green", "blue"), seed=1)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and tuple(t.shape) == x.shape
    np.testing.assert_array_equal(t.numpy(), corrupt(x, name, 2, bands=("red", "green", "blue"), seed=1))
    ts = np.stack([x, x[:, ::-1].copy()])
    out = corrupt(ts, name, 2, bands=("red", "green", "blue"), seed=1)
    assert out.shape == ts.shape
    np.testing.assert_array_equal(out[0], corrupt(x, name, 2, bands=("red", "green", "blue"), seed=1))


RANDOM = [n for n in CORRUPTIONS if n not in ("gaussian_blur", "compression_artifacts")]


@pytest.mark.parametrize("name", RANDOM)
def test_seed_changes_the_draw(name: str) -> None:
    x = synthetic_rgb()
    outs = [corrupt(x, name, 4, bands=("red", "green", "blue"), seed=s) for s in range(8)]
    assert any(not np.array_equal(outs[0], o) for o in outs[1:]), f"{name} ignores its seed"


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_psnr_decreases_with_severity_real_s2(name: str, s2_chips: list[np.ndarray]) -> None:
    """Mean PSNR against the clean chip (3 real Sentinel-2 chips x 2 seeds) falls with every severity step."""
    curve = []
    for sev in range(1, 6):
        vals = [psnr(c, corrupt(c, name, sev, bands=S2_BANDS, sensor="sentinel2_l1c", seed=s))
                for c in s2_chips for s in (0, 1)]
        curve.append(float(np.mean(vals)))
    assert all(a > b for a, b in itertools.pairwise(curve)), f"{name}: PSNR by severity {curve}"


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_psnr_decreases_with_severity_real_rgb(name: str, rgb_chip: np.ndarray) -> None:
    curve = [np.mean([psnr(rgb_chip, corrupt(rgb_chip, name, sev, bands=("red", "green", "blue"), seed=s))
                      for s in (0, 1, 2)]) for sev in range(1, 6)]
    assert all(a > b for a, b in itertools.pairwise(curve)), f"{name}: PSNR by severity {curve}"


def test_clouds_are_band_aware(s2_chips: list[np.ndarray]) -> None:
    """Clouds raise visible/NIR reflectance strongly, SWIR less; SAR is left untouched."""
    x = s2_chips[0]  # forest: dark in the visible, bright in the NIR
    y = corrupt(x, "clouds", 4, bands=S2_BANDS, sensor="sentinel2_l1c", seed=3)
    gain = (y - x).reshape(13, -1).max(1)  # brightening under the thickest cloud
    i = {b: k for k, b in enumerate(S2_BANDS)}
    assert gain[i["B02"]] > 0.5 and gain[i["B04"]] > 0.5  # cloud ~0.78 over dark vegetation
    assert gain[i["B02"]] > gain[i["B11"]] > gain[i["B12"]]
    # cloud mask is shared by every band: the same pixels change
    changed = np.abs(y - x) > 1e-6
    assert (changed[i["B02"]] == changed[i["B03"]]).mean() > 0.99
    # SAR channels (resolved by name without a sensor) do not see clouds or haze
    bands = ("B02", "B04", "B08", "B11", "VV", "VH")
    sar = np.random.default_rng(0).normal(-12, 3, (2, 64, 64)).astype(np.float32)
    mix = np.concatenate([x[[S2_BANDS.index(b) for b in bands[:4]]], sar])
    assert [b.kind for b in band_info(bands, None)] == ["optical"] * 4 + ["sar", "sar"]
    for name in ("clouds", "haze"):
        z = corrupt(mix, name, 5, bands=bands, seed=0)
        np.testing.assert_array_equal(z[4:], mix[4:])
        assert not np.array_equal(z[:4], mix[:4])


def test_haze_path_radiance_decays_with_wavelength(s2_chips: list[np.ndarray]) -> None:
    x = s2_chips[0]
    y = corrupt(x, "haze", 3, bands=S2_BANDS, sensor="sentinel2_l1c", seed=0)
    i = {b: k for k, b in enumerate(S2_BANDS)}
    # attenuation of the surface signal (regression slope of hazy on clean) is strongest in the
    # blue and weakest in the SWIR
    def transmitted(b: str) -> float:
        c, h = x[i[b]].ravel().astype(float), y[i[b]].ravel().astype(float)
        return float(np.cov(c, h)[0, 1] / np.var(c, ddof=1))
    assert transmitted("B02") < transmitted("B04") < transmitted("B8A") < transmitted("B12") <= 1.0
    # the additive path radiance (regression intercept) decays with wavelength
    def path_radiance(b: str) -> float:
        return float(y[i[b]].mean() - transmitted(b) * x[i[b]].mean())
    assert path_radiance("B01") > path_radiance("B02") > path_radiance("B04") > path_radiance("B8A")
    assert path_radiance("B8A") > path_radiance("B12") >= 0


def test_noise_is_scaled_per_band(s2_chips: list[np.ndarray]) -> None:
    """Noise sigma follows each band's own dynamic range (the cirrus band B10 stays tiny)."""
    x = s2_chips[1]
    y = corrupt(x, "gaussian_noise", 3, bands=S2_BANDS, sensor="sentinel2_l1c", seed=0)
    d = (y - x).reshape(13, -1).std(1)
    assert d[S2_BANDS.index("B10")] < d[S2_BANDS.index("B02")] / 5  # cirrus (~0.001 reflectance) vs blue
    assert (y >= 0).all()  # reflectance never goes negative


def test_raw_dn_uses_sensor_scale(s2_chips: list[np.ndarray]) -> None:
    refl = s2_chips[0]
    dn = np.round(refl * 1e4).astype(np.uint16)
    out = corrupt(dn, "haze", 2, bands=S2_BANDS, sensor="sentinel2_l1c", seed=0)
    assert out.dtype == np.uint16 and out.shape == dn.shape
    expect = corrupt(dn.astype(np.float64) * 1e-4, "haze", 2, bands=S2_BANDS, sensor="sentinel2_l1c", seed=0)
    np.testing.assert_allclose(out * 1e-4, expect, atol=1.5e-4)
    # explicit scale= gives the same
    out2 = corrupt(dn, "haze", 2, bands=S2_BANDS, sensor="sentinel2_l1c", seed=0, scale=1e-4)
    np.testing.assert_array_equal(out, out2)
    with pytest.raises(ConfigError, match="raw digital numbers.*scale="):
        corrupt(dn.astype(np.float32), "haze", 2, bands=S2_BANDS, sensor=None, seed=0)


def test_compression_is_blocky() -> None:
    """JPEG at low quality leaves 8x8 block edges: jumps at block borders exceed jumps inside blocks."""
    x = synthetic_rgb(64, 64)
    y = corrupt(x, "compression_artifacts", 5, bands=("red", "green", "blue"), seed=0)
    err = y[1] - x[1]
    dx = np.abs(np.diff(err, axis=1))
    at_border = dx[:, 7::8].mean()
    inside = np.delete(dx, np.s_[7::8], axis=1).mean()
    assert at_border > inside


def test_errors_name_allowed_values() -> None:
    x = synthetic_rgb()
    with pytest.raises(ConfigError, match=r"unknown corruption 'fog'.*gaussian_noise"):
        corrupt(x, "fog", 1, bands=("R", "G", "B"))
    with pytest.raises(ConfigError, match="Did you mean 'haze'"):
        corrupt(x, "hazee", 1, bands=("R", "G", "B"))
    for bad in (0, 6, 2.5, True, "3"):
        with pytest.raises(ConfigError, match=r"severity .* \[1, 2, 3, 4, 5\]"):
            corrupt(x, "haze", bad, bands=("R", "G", "B"))
    with pytest.raises(BandError, match="3 channels but 2 band names"):
        corrupt(x, "haze", 1, bands=("R", "G"))
    with pytest.raises(ConfigError, match="shape"):
        corrupt(x[0], "haze", 1, bands=("R",))


def test_sample_transform() -> None:
    x = torch.from_numpy(synthetic_rgb())
    sample = {"image": x, "image2": x.clone(), "bands": ("red", "green", "blue"), "sensor": None,
              "label": 3, "id": "tile_1"}
    out = Corrupt("clouds", 3, seed=5)(sample)
    assert out["label"] == 3 and out is not sample and sample["image"] is x
    assert not torch.equal(out["image"], x) and not torch.equal(out["image"], out["image2"])
    again = Corrupt("clouds", 3, seed=5)(sample)
    assert torch.equal(out["image"], again["image"])
    other = Corrupt("clouds", 3, seed=5)({**sample, "id": "tile_2"})
    assert not torch.equal(other["image"], out["image"])  # each sample its own draw
    assert corrupt_sample(sample, "none", 0, seed=0) is sample
    with pytest.raises(ConfigError):
        Corrupt("clouds", 9)
