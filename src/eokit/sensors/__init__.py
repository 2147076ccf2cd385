"""Sensors, their bands and spectral indices."""

from eokit.sensors.bands import Band, Sensor, band_key
from eokit.sensors.catalog import get_sensor, hyperspectral, list_sensors, register_sensor
from eokit.sensors.indices import INDICES, spectral_index
from eokit.sensors.resolve import (
    COMMON_NAME_FALLBACKS,
    apply_band_map,
    match_bands,
    parse_band_map,
    parse_wavelength,
)

__all__ = [
    "COMMON_NAME_FALLBACKS",
    "INDICES",
    "Band",
    "Sensor",
    "apply_band_map",
    "band_key",
    "get_sensor",
    "hyperspectral",
    "list_sensors",
    "match_bands",
    "parse_band_map",
    "parse_wavelength",
    "register_sensor",
    "spectral_index",
]
