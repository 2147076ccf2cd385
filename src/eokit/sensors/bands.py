"""Band and Sensor value objects, and ``band_key``, the comparison key of a band name.

The resolver built on them (``match_bands``, band maps, wavelengths) is in
:mod:`eokit.sensors.resolve`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eokit.errors import BandError, suggest

if TYPE_CHECKING:
    import numpy as np


def band_key(name: str) -> str:
    """Canonical comparison key of a band name: case-insensitive, 'B04' == 'B4' == 'b04'."""
    k = str(name).strip().lower().replace("_", "").replace("-", "")
    if len(k) >= 2 and k[0] == "b" and k[1:].isdigit():
        k = "b" + str(int(k[1:]))
    return k



@dataclass(frozen=True, slots=True)
class Band:
    """One spectral (or SAR) band.

    ``center_nm``/``bandwidth_nm`` are the centre wavelength and width in
    nanometres (C-band SAR: ~5.55e7 nm). ``mean``/``std`` are default
    normalisation statistics in the sensor's *reflectance* units (after
    ``scale``/``offset``), or dB for SAR in dB.
    """

    name: str
    center_nm: float
    bandwidth_nm: float
    gsd: float
    common_name: str | None = None
    aliases: tuple[str, ...] = ()
    mean: float = 0.0
    std: float = 1.0

    def names(self) -> tuple[str, ...]:
        """Every name this band answers to."""
        extra = (self.common_name,) if self.common_name else ()
        return (self.name, *extra, *self.aliases)

    def matches(self, name: str) -> bool:
        key = band_key(name)
        return any(band_key(n) == key for n in self.names())


@dataclass(frozen=True)
class Sensor:
    """A sensor: ordered bands, storage dtype, scale/offset to reflectance."""

    name: str
    bands: tuple[Band, ...]
    dtype: str = "uint16"
    scale: float = 1.0
    offset: float = 0.0
    description: str = ""
    aliases: tuple[str, ...] = ()
    units: str = "reflectance"
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for i, band in enumerate(self.bands):
            for n in band.names():
                self._index.setdefault(band_key(n), i)

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bands)

    def band(self, name: str) -> Band:
        """Look a band up by name, alias or common name (``'B4'``, ``'B04'``, ``'red'``)."""
        i = self._index.get(band_key(name))
        if i is None:
            raise BandError(
                f"band {name!r} is not a band of sensor {self.name!r}; "
                f"its bands are {list(self.band_names)}.{suggest(name, self.band_names)}"
            )
        return self.bands[i]

    def has(self, name: str) -> bool:
        return band_key(name) in self._index

    def resolve(self, names: Iterable[str]) -> tuple[str, ...]:
        """Canonical band names for ``names`` (raises BandError naming the unknown ones)."""
        return tuple(self.band(n).name for n in names)

    def indices(self, names: Iterable[str]) -> list[int]:
        """Positions of ``names`` in this sensor's band order."""
        return [self.bands.index(self.band(n)) for n in names]

    def stats(self, names: Sequence[str] | None = None) -> tuple[list[float], list[float]]:
        """Default (mean, std) in reflectance units for ``names`` (default: all bands)."""
        bands = [self.band(n) for n in (names or self.band_names)]
        return [b.mean for b in bands], [b.std for b in bands]

    def wavelengths(self, names: Sequence[str] | None = None) -> list[float]:
        return [self.band(n).center_nm for n in (names or self.band_names)]

    def band_at(self, wavelength_nm: float) -> Band | None:
        """The band whose spectral range (centre ± bandwidth/2) holds ``wavelength_nm``, nearest centre first."""
        inside = [b for b in self.bands if abs(b.center_nm - wavelength_nm) <= b.bandwidth_nm / 2]
        return min(inside, key=lambda b: abs(b.center_nm - wavelength_nm)) if inside else None

    def canonical(self, name: str) -> str:
        """The sensor's own name for ``name`` when it knows it (``'red'`` -> ``'B4'``), else ``name``."""
        return self.band(name).name if self.has(name) else name

    def to_reflectance(self, values: np.ndarray) -> np.ndarray:
        """Apply ``value * scale + offset``."""
        return values * self.scale + self.offset
