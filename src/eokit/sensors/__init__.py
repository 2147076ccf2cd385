"""Sensors, their bands and spectral indices."""

from eokit.sensors.bands import Band, Sensor
from eokit.sensors.catalog import get_sensor, hyperspectral, list_sensors, register_sensor
from eokit.sensors.indices import INDICES, spectral_index

__all__ = [
    "INDICES",
    "Band",
    "Sensor",
    "get_sensor",
    "hyperspectral",
    "list_sensors",
    "register_sensor",
    "spectral_index",
]
