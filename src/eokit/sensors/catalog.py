"""The built-in sensors.

Wavelengths and bandwidths follow the agencies' band tables (ESA Sentinel-2
MSI, USGS Landsat OLI/TIRS and ETM+, NASA MODIS, NSPO Formosat-2 RSI). Default means/stds are
typical top-of-atmosphere values over land (EuroSAT for Sentinel-2 L1C) and
serve only as a fallback: a weight's own statistics always win.
"""

from __future__ import annotations

from collections.abc import Sequence

from eokit.errors import SensorError, suggest
from eokit.registry import Loader
from eokit.sensors.bands import Band, Sensor, band_key

C_BAND_NM = 5.5465763e7  # Sentinel-1 C-band, 5.405 GHz

_S2 = [
    # name, centre, width, gsd, common name, mean DN, std DN (EuroSAT L1C)
    ("B01", 442.7, 21, 60, "coastal", 1354.4, 245.7),
    ("B02", 492.4, 66, 10, "blue", 1118.2, 333.0),
    ("B03", 559.8, 36, 10, "green", 1042.9, 395.1),
    ("B04", 664.6, 31, 10, "red", 947.6, 593.8),
    ("B05", 704.1, 15, 20, "rededge1", 1199.5, 566.4),
    ("B06", 740.5, 15, 20, "rededge2", 2003.0, 861.2),
    ("B07", 782.8, 20, 20, "rededge3", 2374.0, 1086.6),
    ("B08", 832.8, 106, 10, "nir", 2301.2, 1118.0),
    ("B8A", 864.7, 21, 20, "nir08", 2599.8, 1231.6),
    ("B09", 945.1, 20, 60, "nir09", 732.2, 404.9),
    ("B10", 1373.5, 31, 60, "cirrus", 12.1, 4.8),
    ("B11", 1613.7, 91, 20, "swir16", 1820.7, 1002.6),
    ("B12", 2202.4, 175, 20, "swir22", 1118.2, 761.3),
]


def _s2(level: str) -> Sensor:
    rows = [r for r in _S2 if not (level == "L2A" and r[0] == "B10")]
    bands = tuple(
        Band(n, c, w, g, cn, mean=m * 1e-4, std=s * 1e-4) for n, c, w, g, cn, m, s in rows
    )
    return Sensor(
        f"sentinel2_{level.lower()}",
        bands,
        dtype="uint16",
        scale=1e-4,
        offset=0.0,
        description=f"Sentinel-2 MSI {level} ({len(bands)} bands); DN/10000 = reflectance "
        "(L2A from baseline 04.00 also needs BOA_ADD_OFFSET=-1000 applied)",
        aliases=("s2", "sentinel2") if level == "L1C" else ("s2_l2a",),
    )


def _landsat89(name: str) -> Sensor:
    spec = [
        ("B1", 443, 16, 30, "coastal", 0.12, 0.03),
        ("B2", 482, 60, 30, "blue", 0.11, 0.04),
        ("B3", 561.5, 57, 30, "green", 0.10, 0.05),
        ("B4", 654.5, 37, 30, "red", 0.10, 0.06),
        ("B5", 865, 28, 30, "nir08", 0.23, 0.08),
        ("B6", 1608.5, 85, 30, "swir16", 0.19, 0.08),
        ("B7", 2200.5, 187, 30, "swir22", 0.13, 0.07),
        ("B8", 589.5, 173, 15, "pan", 0.10, 0.05),
        ("B9", 1373.5, 21, 30, "cirrus", 0.005, 0.005),
        ("B10", 10895, 590, 100, "lwir11", 0.0, 1.0),
        ("B11", 12005, 1010, 100, "lwir12", 0.0, 1.0),
    ]
    bands = tuple(
        Band(n, c, w, g, cn, aliases=("nir",) if cn == "nir08" else (), mean=m, std=s)
        for n, c, w, g, cn, m, s in spec
    )
    return Sensor(
        name,
        bands,
        dtype="uint16",
        scale=2e-5,
        offset=-0.1,
        description=f"{name.title()} OLI/TIRS Level-1 DN; TOA reflectance = DN*2e-5-0.1 "
        "(Collection-2 Level-2 SR uses 2.75e-5 and -0.2: see landsat8_sr)",
    )


def _landsat8_sr() -> Sensor:
    base = _landsat89("landsat8")
    bands = tuple(b for b in base.bands if b.name in {"B1", "B2", "B3", "B4", "B5", "B6", "B7"})
    return Sensor(
        "landsat8_sr",
        bands,
        dtype="uint16",
        scale=2.75e-5,
        offset=-0.2,
        description="Landsat 8/9 Collection-2 Level-2 surface reflectance (SR_B1..SR_B7)",
    )


def _landsat7() -> Sensor:
    spec = [
        ("B1", 485, 70, 30, "blue"),
        ("B2", 560, 80, 30, "green"),
        ("B3", 660, 60, 30, "red"),
        ("B4", 835, 130, 30, "nir08"),
        ("B5", 1650, 200, 30, "swir16"),
        ("B6", 11450, 2100, 60, "lwir"),
        ("B7", 2220, 260, 30, "swir22"),
        ("B8", 710, 380, 15, "pan"),
    ]
    bands = tuple(
        Band(n, c, w, g, cn, aliases=("nir",) if cn == "nir08" else (), mean=0.12, std=0.06)
        for n, c, w, g, cn in spec
    )
    return Sensor(
        "landsat7",
        bands,
        dtype="uint8",
        scale=1 / 255,
        description="Landsat 7 ETM+ (8-bit DN scaled to 0-1; use MTL gains for radiometry)",
    )


def _modis() -> Sensor:
    spec = [
        ("B1", 645, 50, 250, "red"),
        ("B2", 858.5, 35, 250, "nir08"),
        ("B3", 469, 20, 500, "blue"),
        ("B4", 555, 20, 500, "green"),
        ("B5", 1240, 20, 500, "nir12"),
        ("B6", 1640, 24, 500, "swir16"),
        ("B7", 2130, 50, 500, "swir22"),
    ]
    bands = tuple(
        Band(n, c, w, g, cn, aliases=("nir",) if cn == "nir08" else (), mean=0.15, std=0.1)
        for n, c, w, g, cn in spec
    )
    return Sensor(
        "modis_sr",
        bands,
        dtype="int16",
        scale=1e-4,
        description="MODIS surface reflectance MOD09/MYD09 bands 1-7 (DN/10000)",
        aliases=("modis",),
    )


def _naip() -> Sensor:
    spec = [
        ("R", 635, 70, 0.6, "red", 0.45, 0.2),
        ("G", 560, 70, 0.6, "green", 0.45, 0.18),
        ("B", 470, 70, 0.6, "blue", 0.40, 0.16),
        ("N", 860, 100, 0.6, "nir", 0.5, 0.2),
    ]
    bands = tuple(Band(n, c, w, g, cn, mean=m, std=s) for n, c, w, g, cn, m, s in spec)
    return Sensor(
        "naip",
        bands,
        dtype="uint8",
        scale=1 / 255,
        description="NAIP / aerial RGBN (8-bit, 0.6-1 m)",
        aliases=("aerial", "rgbn"),
    )


def _rgb() -> Sensor:
    spec = [("R", 620, 80, "red"), ("G", 550, 80, "green"), ("B", 470, 80, "blue")]
    means = {"R": 0.485, "G": 0.456, "B": 0.406}  # ImageNet statistics
    stds = {"R": 0.229, "G": 0.224, "B": 0.225}
    bands = tuple(Band(n, c, w, 1.0, cn, mean=means[n], std=stds[n]) for n, c, w, cn in spec)
    return Sensor(
        "rgb",
        bands,
        dtype="uint8",
        scale=1 / 255,
        description="Generic 8-bit RGB (photos, Google Earth, 8-bit quicklooks)",
    )


def _formosat2() -> Sensor:
    """Formosat-2 RSI multispectral bands (NSPO: 0.45-0.52, 0.52-0.60, 0.63-0.69, 0.76-0.90 um; 8 m).

    Means/stds of B2-B4 are those of the TempCNN training series (Pelletier et al. 2019), in the
    units the authors distribute; B1 (blue) has no default statistics.
    """
    spec = [
        ("B1", 485, 70, "blue", 0.0, 1.0),
        ("B2", 560, 80, "green", 73.8, 28.6),
        ("B3", 660, 60, "red", 82.3, 38.6),
        ("B4", 830, 140, "nir", 223.7, 86.3),
    ]
    bands = tuple(Band(n, c, w, 8, cn, mean=m, std=sd) for n, c, w, cn, m, sd in spec)
    return Sensor(
        "formosat2",
        bands,
        dtype="uint16",
        description="Formosat-2 RSI multispectral (blue, green, red, NIR; 8 m)",
        aliases=("formosat-2", "fs2"),
        units="DN",
    )


def _sentinel1(units: str) -> Sensor:
    if units == "db":
        stats = {"VV": (-12.5, 5.0), "VH": (-20.0, 5.5)}
    else:
        stats = {"VV": (0.1, 0.1), "VH": (0.025, 0.03)}
    bands = tuple(
        Band(p, C_BAND_NM, 0.0, 10, None, aliases=(p.lower(),), mean=stats[p][0], std=stats[p][1])
        for p in ("VV", "VH")
    )
    return Sensor(
        f"sentinel1_grd_{units}",
        bands,
        dtype="float32",
        units="dB" if units == "db" else "linear",
        description=f"Sentinel-1 GRD IW backscatter (VV, VH), {'dB' if units == 'db' else 'linear sigma0'}",
        aliases=("s1", "sentinel1") if units == "db" else ("s1_linear",),
    )


def _hls() -> Sensor:
    """NASA Harmonized Landsat Sentinel-2 (HLS v2.0) surface reflectance, the bands L30 and S30 share.

    Bandpasses are the OLI ranges of the HLS v2.0 User Guide (Masek et al., 2021): S30 is
    bandpass-adjusted to OLI, so one range serves both (Blue 0.45-0.51, Green 0.53-0.59, Red
    0.64-0.67, NIR Narrow 0.85-0.88, SWIR 1 1.57-1.65, SWIR 2 2.11-2.29, Coastal 0.43-0.45, Cirrus
    1.36-1.38 um). Names are the guide's band names in upper case (the HLS band names of TerraTorch
    and the Prithvi model cards); L30 B02-B07 and S30 B02, B03, B04, B8A, B11, B12 are BLUE..SWIR_2.
    Default means/stds of the six land bands are Prithvi-EO-2.0's HLS statistics.
    """
    spec = [
        # name, centre, width, common name, aliases, mean, std (reflectance)
        ("COASTAL_AEROSOL", 440, 20, "coastal", (), 0.12, 0.05),
        ("BLUE", 480, 60, "blue", (), 0.1087, 0.2248),
        ("GREEN", 560, 60, "green", (), 0.1342, 0.2179),
        ("RED", 655, 30, "red", (), 0.1433, 0.2178),
        ("NIR_NARROW", 865, 30, "nir08", ("nir",), 0.2734, 0.1850),
        ("SWIR_1", 1610, 80, "swir16", ("swir1",), 0.1958, 0.1242),
        ("SWIR_2", 2200, 180, "swir22", ("swir2",), 0.1363, 0.1049),
        ("CIRRUS", 1370, 20, "cirrus", (), 0.005, 0.005),
    ]
    bands = tuple(Band(n, c, w, 30, cn, aliases=al, mean=m, std=sd) for n, c, w, cn, al, m, sd in spec)
    return Sensor(
        "hls",
        bands,
        dtype="int16",
        scale=1e-4,
        description="NASA HLS v2.0 surface reflectance (L30/S30, 30 m); DN/10000 = reflectance, "
        "fill value -9999",
        aliases=("hls_v2", "harmonized_landsat_sentinel2"),
    )


def _sentinel1_grd_dn() -> Sensor:
    """Sentinel-1 Level-1 GRD IW amplitude as delivered (16-bit digital numbers, not calibrated).

    The input of the Satlas Sentinel-1 models (allenai/satlas Normalization.md: VH then VV, N/255
    clipped to 0-1); defaults are that rule.
    """
    bands = tuple(
        Band(p, C_BAND_NM, 0.0, 10, None, aliases=(p.lower(),), mean=0.0, std=255.0) for p in ("VV", "VH")
    )
    return Sensor(
        "sentinel1_grd_dn",
        bands,
        dtype="uint16",
        units="DN",
        description="Sentinel-1 Level-1 GRD IW amplitude digital numbers (VV, VH; uint16, uncalibrated)",
    )


def _sentinel1_rtc_db() -> Sensor:
    """Sentinel-1 radiometrically terrain-corrected backscatter (gamma0, dB), e.g. the Planetary Computer RTC.

    Default statistics are TerraMind v1's S1RTC pretraining mean/std (TerraTorch 1.2.13).
    """
    stats = {"VV": (-10.93, 4.391), "VH": (-17.329, 4.459)}
    bands = tuple(
        Band(p, C_BAND_NM, 0.0, 10, None, aliases=(p.lower(),), mean=stats[p][0], std=stats[p][1])
        for p in ("VV", "VH")
    )
    return Sensor(
        "sentinel1_rtc_db",
        bands,
        dtype="float32",
        units="dB",
        description="Sentinel-1 IW radiometric terrain-corrected backscatter gamma0 (VV, VH), dB",
    )


X_BAND_NM = 3.1066e7  # TanDEM-X, 9.65 GHz


def _copernicus_dem() -> Sensor:
    """Copernicus DEM GLO-30 surface heights (m), derived from TanDEM-X X-band InSAR (ESA/Airbus).

    The one band carries the X-band wavelength of the radar it was measured with, so that it
    never matches an optical band; default statistics are TerraMind v1's DEM mean/std.
    """
    band = Band("DEM", X_BAND_NM, 0.0, 30, None, aliases=("elevation",), mean=670.665, std=951.272)
    return Sensor(
        "copernicus_dem_glo30",
        (band,),
        dtype="float32",
        units="m",
        description="Copernicus DEM GLO-30 surface elevation in metres (one band, DEM)",
    )


def hyperspectral(
    name: str,
    wavelengths_nm: Sequence[float],
    fwhm_nm: Sequence[float] | float | None = None,
    gsd: float = 30.0,
    dtype: str = "uint16",
    scale: float = 1e-4,
) -> Sensor:
    """A generic hyperspectral sensor built from a list of band-centre wavelengths."""
    n = len(wavelengths_nm)
    if n == 0:
        raise SensorError(f"hyperspectral sensor {name!r} needs at least one wavelength")
    if fwhm_nm is None:
        widths = [
            abs(wavelengths_nm[min(i + 1, n - 1)] - wavelengths_nm[max(i - 1, 0)]) / (2 if 0 < i < n - 1 else 1)
            for i in range(n)
        ] if n > 1 else [10.0]
    elif isinstance(fwhm_nm, int | float):
        widths = [float(fwhm_nm)] * n
    else:
        widths = list(fwhm_nm)
    bands = tuple(
        Band(f"HS{i + 1:03d}", float(w), float(widths[i]), gsd, aliases=(f"{float(w):.1f}nm",), mean=0.2, std=0.1)
        for i, w in enumerate(wavelengths_nm)
    )
    return Sensor(name, bands, dtype=dtype, scale=scale, description=f"hyperspectral, {n} bands")


SENSORS: dict[str, Sensor] = {}
#: the built-ins are defined below; ``eokit.sensors`` entry-point plugins load on the first lookup
PLUGINS = Loader("sensor", groups=("eokit.sensors",))


def register_sensor(sensor: Sensor, *, overwrite: bool = False) -> Sensor:
    """Add a sensor to the registry (its aliases too)."""
    for key in (sensor.name, *sensor.aliases):
        k = band_key(key)
        if k in SENSORS and not overwrite and SENSORS[k] is not sensor:
            raise SensorError(f"sensor name {key!r} is already registered; pass overwrite=True")
        SENSORS[k] = sensor
    return sensor


for _sensor in (
    _s2("L1C"),
    _s2("L2A"),
    _sentinel1("db"),
    _sentinel1("linear"),
    _sentinel1_grd_dn(),
    _sentinel1_rtc_db(),
    _copernicus_dem(),
    _landsat89("landsat8"),
    _landsat89("landsat9"),
    _landsat8_sr(),
    _landsat7(),
    _modis(),
    _naip(),
    _rgb(),
    _formosat2(),
    _hls(),
    # A 400-2500 nm, 10 nm generic imaging spectrometer (EnMAP/AVIRIS-like)
    hyperspectral("hyperspectral_generic", [400 + 10 * i for i in range(211)], 10.0),
):
    register_sensor(_sensor)


def get_sensor(name: str | Sensor) -> Sensor:
    """Look a sensor up by name or alias."""
    if isinstance(name, Sensor):
        return name
    PLUGINS.load()
    sensor = SENSORS.get(band_key(name))
    if sensor is None:
        names = sorted({s.name for s in SENSORS.values()})
        broken = "".join(f" ({f})" for f in PLUGINS.failures)
        raise SensorError(f"unknown sensor {name!r}; known sensors: {names}.{suggest(name, names)}{broken}")
    return sensor


def list_sensors() -> list[Sensor]:
    """Every registered sensor once, in registration order."""
    PLUGINS.load()
    seen: dict[str, Sensor] = {}
    for s in SENSORS.values():
        seen.setdefault(s.name, s)
    return list(seen.values())
