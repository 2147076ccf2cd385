"""The Sentinel-1 DN / RTC and Copernicus DEM sensors added for the Satlas and TerraMind weights."""

from __future__ import annotations

from eokit.models.band_adapter import map_bands
from eokit.sensors import get_sensor, match_bands


def test_sentinel1_variants_share_polarisations() -> None:
    dn, rtc, db = (get_sensor(n) for n in ("sentinel1_grd_dn", "sentinel1_rtc_db", "sentinel1_grd_db"))
    assert dn.band_names == rtc.band_names == ("VV", "VH") and dn.units == "DN" and rtc.units == "dB"
    # a kernel trained on GRD DN (VH, VV) serves dB or RTC inputs by polarisation, never by position
    mapping = map_bands([rtc.band("VV"), rtc.band("VH")], [dn.band("VH"), dn.band("VV")])
    assert mapping.source == [1, 0] and not mapping.new_bands
    assert match_bands(["vh"], ["VV", "VH"], db) == [1]


def test_copernicus_dem_is_one_band_never_matched_to_optical() -> None:
    dem = get_sensor("copernicus_dem_glo30")
    assert dem.band_names == ("DEM",) and dem.units == "m" and dem.band("elevation").name == "DEM"
    s2 = get_sensor("sentinel2_l2a")
    assert map_bands([dem.band("DEM")], list(s2.bands)).source == [None]
