"""Sensor registry, band aliases and spectral indices."""

from __future__ import annotations

import numpy as np
import pytest

from eokit.errors import BandError, SensorError
from eokit.sensors import get_sensor, hyperspectral, list_sensors, spectral_index


def test_registry_covers_required_sensors() -> None:
    names = {s.name for s in list_sensors()}
    for required in ("sentinel2_l1c", "sentinel2_l2a", "sentinel1_grd_db", "sentinel1_grd_linear", "landsat8",
                     "landsat9", "landsat7", "modis_sr", "naip"):
        assert required in names
    assert len(get_sensor("sentinel2_l1c").bands) == 13
    assert len(get_sensor("sentinel2_l2a").bands) == 12 and not get_sensor("s2_l2a").has("B10")
    assert get_sensor("modis").band_names == ("B1", "B2", "B3", "B4", "B5", "B6", "B7")


def test_aliases() -> None:
    s2 = get_sensor("s2")
    assert s2.band("B4") is s2.band("B04") is s2.band("red") is s2.band("b04")
    assert s2.band("nir").name == "B08" and s2.band("B8A").name == "B8A"
    assert s2.band("B04").gsd == 10 and s2.band("B01").gsd == 60
    assert 660 < s2.band("red").center_nm < 670
    with pytest.raises(BandError, match="B13.*sentinel2_l1c"):
        s2.band("B13")
    with pytest.raises(SensorError, match="Did you mean 'landsat8'"):
        get_sensor("landsat08")


def test_hyperspectral_from_wavelengths() -> None:
    s = hyperspectral("aviris_test", [400.0, 410.0, 420.0, 430.0])
    assert s.band_names == ("HS001", "HS002", "HS003", "HS004")
    assert s.band("410.0nm").name == "HS002" and s.wavelengths() == [400.0, 410.0, 420.0, 430.0]


def test_indices_against_hand_formulas() -> None:
    rng = np.random.default_rng(0)
    img = rng.uniform(0.01, 0.6, size=(13, 4, 4)).astype("float32")
    s2 = get_sensor("sentinel2_l1c")
    nir, red, green, blue, swir16, swir22 = (img[s2.indices([b])[0]] for b in
                                               ("nir", "red", "green", "blue", "swir16", "swir22"))
    bands = s2.band_names
    np.testing.assert_allclose(spectral_index("NDVI", img, bands, s2), (nir - red) / (nir + red), rtol=1e-6)
    np.testing.assert_allclose(spectral_index("ndwi", img, bands, s2), (green - nir) / (green + nir), rtol=1e-6)
    np.testing.assert_allclose(spectral_index("MNDWI", img, bands, s2), (green - swir16) / (green + swir16), rtol=1e-6)
    np.testing.assert_allclose(spectral_index("NBR", img, bands, s2), (nir - swir22) / (nir + swir22), rtol=1e-6)
    np.testing.assert_allclose(spectral_index("NDBI", img, bands, s2), (swir16 - nir) / (swir16 + nir), rtol=1e-6)
    evi = 2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)
    np.testing.assert_allclose(spectral_index("EVI", img, bands, s2), evi, rtol=1e-5)
    savi = 1.5 * (nir - red) / (nir + red + 0.5)
    np.testing.assert_allclose(spectral_index("SAVI", img, bands, s2), savi, rtol=1e-6)
    # Landsat: 'nir' resolves to B5 via nir08, common names work without a sensor
    two = img[:2]
    np.testing.assert_allclose(spectral_index("NDVI", two, ["nir", "red"]), (two[0] - two[1]) / (two[0] + two[1]))
    with pytest.raises(BandError, match=r"\['green'.*spectral index MNDWI needs"):
        spectral_index("MNDWI", two, ["nir", "red"])
