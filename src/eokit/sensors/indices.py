"""Spectral indices declared as formulas over band *common names*.

Formulas follow the Awesome Spectral Indices catalogue (spyndex). Inputs must
be reflectance (apply ``Sensor.to_reflectance`` first for EVI/SAVI, whose
constants assume reflectance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eokit.errors import BandError, suggest
from eokit.sensors.bands import Sensor
from eokit.sensors.catalog import get_sensor
from eokit.sensors.resolve import match_bands


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = (a - b) / (a + b)
    return out


@dataclass(frozen=True)
class SpectralIndex:
    name: str
    long_name: str
    bands: tuple[str, ...]  # common names, in the order the formula takes them
    formula: Callable[..., np.ndarray]
    expression: str


INDICES: dict[str, SpectralIndex] = {
    i.name: i
    for i in (
        SpectralIndex("NDVI", "Normalized Difference Vegetation Index", ("nir", "red"), _nd, "(N-R)/(N+R)"),
        SpectralIndex("NDWI", "Normalized Difference Water Index (McFeeters)", ("green", "nir"), _nd, "(G-N)/(G+N)"),
        SpectralIndex("MNDWI", "Modified NDWI", ("green", "swir16"), _nd, "(G-S1)/(G+S1)"),
        SpectralIndex("NDBI", "Normalized Difference Built-up Index", ("swir16", "nir"), _nd, "(S1-N)/(S1+N)"),
        SpectralIndex("NBR", "Normalized Burn Ratio", ("nir", "swir22"), _nd, "(N-S2)/(N+S2)"),
        SpectralIndex("NDMI", "Normalized Difference Moisture Index", ("nir", "swir16"), _nd, "(N-S1)/(N+S1)"),
        SpectralIndex(
            "EVI",
            "Enhanced Vegetation Index",
            ("nir", "red", "blue"),
            lambda n, r, b: 2.5 * (n - r) / (n + 6.0 * r - 7.5 * b + 1.0),
            "2.5*(N-R)/(N+6R-7.5B+1)",
        ),
        SpectralIndex(
            "SAVI",
            "Soil-Adjusted Vegetation Index (L=0.5)",
            ("nir", "red"),
            lambda n, r: 1.5 * (n - r) / (n + r + 0.5),
            "(1+L)*(N-R)/(N+R+L)",
        ),
        SpectralIndex(
            "GNDVI", "Green NDVI", ("nir", "green"), _nd, "(N-G)/(N+G)"
        ),
    )
}

def spectral_index(
    name: str,
    image: np.ndarray,
    bands: Sequence[str],
    sensor: str | Sensor | None = None,
    *,
    wavelengths: Sequence[float | None] | None = None,
) -> np.ndarray:
    """Compute index ``name`` from a (C, H, W) or (C, ...) reflectance array.

    ``bands`` names the channels; the formula's common names are found among them with
    ``eokit.sensors.match_bands`` (the sensor's band table: ``'B04'`` is red; the
    common-name fallbacks: ``'nir'`` is served by ``'nir08'``; and, with ``wavelengths``
    (nm per channel), the sensor band whose range holds a channel's centre wavelength).
    """
    idx = INDICES.get(name.upper())
    if idx is None:
        raise BandError(f"unknown spectral index {name!r}; known: {sorted(INDICES)}.{suggest(name.upper(), list(INDICES))}")
    if len(bands) != image.shape[0]:
        raise BandError(f"image has {image.shape[0]} channels but {len(bands)} band names were given: {list(bands)}")
    s = get_sensor(sensor) if sensor is not None else None
    found = match_bands(idx.bands, list(bands), s, wavelengths=wavelengths, what=f"spectral index {idx.name}",
                        where="the image")
    arrays = [image[i].astype(np.float32) for i in found]
    out = idx.formula(*arrays).astype(np.float32)
    return np.where(np.isfinite(out), out, np.nan).astype(np.float32)
