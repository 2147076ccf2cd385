"""The one band resolver: names, aliases, common names, wavelengths, band maps."""

from __future__ import annotations

import pytest

from eokit.errors import BandError, EokitError
from eokit.sensors import (
    apply_band_map,
    band_key,
    get_sensor,
    match_bands,
    parse_band_map,
    parse_wavelength,
)


def test_band_key_folds_case_zero_padding_and_separators():
    assert band_key("B04") == band_key("b4") == band_key("B_4")
    assert band_key("B8A") == band_key("b8a") != band_key("B8")


def test_names_aliases_and_common_names_resolve_through_the_sensor():
    s2 = get_sensor("sentinel2_l1c")
    assert match_bands(["red", "B3", "nir"], ["B02", "B03", "B04", "B08"], s2) == [2, 1, 3]
    # without a sensor only the names themselves match
    assert match_bands(["B4"], ["B02", "B04"]) == [1]
    with pytest.raises(BandError, match="sensor"):
        match_bands(["red"], ["B02", "B04"])


def test_common_name_fallback_nir_to_nir08():
    l8 = get_sensor("landsat8")
    assert match_bands(["nir", "red"], ["B4", "B5"], l8) == [1, 0]


def test_every_missing_band_is_named_in_one_error_with_the_fix():
    with pytest.raises(BandError) as err:
        match_bands(["B4", "B5", "B9"], ["B4"], "landsat8", where="'x.tif'")
    msg = str(err.value)
    assert "'B5'" in msg and "'B9'" in msg and "'x.tif'" in msg and "band-map" in msg
    assert isinstance(err.value, EokitError)


def test_wavelengths_match_the_sensor_band_whose_range_holds_them():
    l7 = get_sensor("landsat7")
    # an ENVI header's wavelengths (nm) of an ETM+ 6-band stack, band names unknown
    wl = [485.0, 560.0, 660.0, 835.0, 1650.0, 2220.0]
    names = ["1", "2", "3", "4", "5", "6"]
    assert match_bands(["red", "nir"], names, l7, wavelengths=wl) == [2, 3]
    assert match_bands(["660nm", "0.835um"], names, wavelengths=wl) == [2, 3]
    with pytest.raises(BandError):
        match_bands(["cirrus"], names, "landsat8", wavelengths=wl)


def test_sensor_band_at_wavelength():
    l7 = get_sensor("landsat7")
    assert l7.band_at(660.0).common_name == "red"
    assert l7.band_at(1380.0) is None
    assert parse_wavelength("0.665um") == pytest.approx(665.0)
    assert parse_wavelength("B4") is None


def test_band_map_parses_and_renames_positions():
    assert parse_band_map("red=3, nir=4") == {"red": 3, "nir": 4}
    assert parse_band_map({"red": 1}) == {"red": 1}
    assert parse_band_map(None) == {}
    for bad in ("red", "red=0", "red=x", "red=1,nir=1"):
        with pytest.raises(BandError, match="band map"):
            parse_band_map(bad)
    l7 = get_sensor("landsat7")
    assert apply_band_map(("1", "2", "3", "4"), {"red": 3, "nir": 4}, sensor=l7) == ("1", "2", "B3", "B4")
    with pytest.raises(BandError, match="position 5"):
        apply_band_map(("1", "2"), {"red": 5})
