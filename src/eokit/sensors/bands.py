"""Band and Sensor value objects, and the one band resolver every layer uses.

``band_key`` is the comparison key of a band name; ``match_bands`` finds the
bands a caller wants among the bands a file, a sample or a model has (by name,
alias, common name, sensor band or centre wavelength); ``parse_band_map`` reads
an explicit ``red=3,nir=4`` mapping. Nothing else in eokit compares band names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
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


_key = band_key  # internal short name


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
        key = _key(name)
        return any(_key(n) == key for n in self.names())


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
                self._index.setdefault(_key(n), i)

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bands)

    def band(self, name: str) -> Band:
        """Look a band up by name, alias or common name (``'B4'``, ``'B04'``, ``'red'``)."""
        i = self._index.get(_key(name))
        if i is None:
            raise BandError(
                f"band {name!r} is not a band of sensor {self.name!r}; "
                f"its bands are {list(self.band_names)}.{suggest(name, self.band_names)}"
            )
        return self.bands[i]

    def has(self, name: str) -> bool:
        return _key(name) in self._index

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


# Common-name fallbacks: a wanted 'nir' may be served by 'nir08' (Landsat 8), etc.
COMMON_NAME_FALLBACKS: dict[str, tuple[str, ...]] = {
    "nir": ("nir", "nir08"),
    "nir08": ("nir08", "nir"),
    "swir16": ("swir16", "swir1"),
    "swir22": ("swir22", "swir2"),
}
_WAVELENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(nm|um|µm)?\s*$", re.IGNORECASE)


def parse_wavelength(name: str | float) -> float | None:
    """``'665nm'``/``'0.665um'``/``665`` -> 665.0 nm; None for anything that is not a wavelength."""
    if isinstance(name, (int, float)):
        return float(name)
    m = _WAVELENGTH.match(str(name))
    if not m or m.group(2) is None:
        return None
    value = float(m.group(1))
    return value * 1000.0 if m.group(2).lower() in ("um", "µm") else value


def _identities(name: str, sensor: Sensor | None) -> set[str]:
    """Every key a band name stands for: itself, and its sensor band's names."""
    keys = {band_key(name)}
    if sensor is not None and sensor.has(name):
        keys |= {band_key(n) for n in sensor.band(name).names()}
    return keys


def _position(
    want: str | float,
    available: Sequence[str],
    sensor: Sensor | None,
    wavelengths: Sequence[float | None] | None,
) -> int | None:
    name = str(want)
    keys = [band_key(b) for b in available]
    # 1. the same name (B04 == B4)
    if band_key(name) in keys:
        return keys.index(band_key(name))
    # 2. the same sensor band under another name (red == B4), with common-name fallbacks (nir -> nir08)
    for cand in COMMON_NAME_FALLBACKS.get(band_key(name), (name,)):
        wanted = _identities(cand, sensor)
        for i, b in enumerate(available):
            if _identities(b, sensor) & wanted:
                return i
        if sensor is not None:
            for i, b in enumerate(available):
                if sensor.has(b) and band_key(sensor.band(b).common_name or "") == band_key(cand):
                    return i
    # 3. by wavelength: a wanted '665nm' or sensor band matched to bands whose centre wavelength is known
    if wavelengths is not None and any(w is not None for w in wavelengths):
        nm = parse_wavelength(want)
        band = sensor.band(name) if nm is None and sensor is not None and sensor.has(name) else None
        if nm is None and band is None:
            return None
        best: tuple[float, int] | None = None
        for i, w in enumerate(wavelengths):
            if w is None:
                continue
            if band is not None:
                ok = abs(w - band.center_nm) <= band.bandwidth_nm / 2
                d = abs(w - band.center_nm)
            else:
                assert nm is not None
                d = abs(w - nm)
                ok = d <= max(10.0, 0.02 * nm)
            if ok and (best is None or d < best[0]):
                best = (d, i)
        return best[1] if best else None
    return None


def match_bands(
    wanted: Iterable[str | float],
    available: Sequence[str],
    sensor: Sensor | str | None = None,
    *,
    wavelengths: Sequence[float | None] | None = None,
    where: str = "the input",
    what: str = "",
) -> list[int]:
    """0-based positions in ``available`` of each ``wanted`` band, in ``wanted`` order.

    A wanted band matches an available one by name (``'B04'`` == ``'B4'``), by the
    ``sensor``'s aliases and common names (``'red'`` == ``'B4'``; ``'nir'`` falls back to
    ``'nir08'``), or, where ``wavelengths`` gives the available bands' centre wavelengths
    (nm), by the sensor band whose range holds one (``'red'`` -> the band at 660 nm) or by an
    explicit wavelength (``'665nm'``). Every band that matches nothing is named in one BandError.
    """
    if isinstance(sensor, str):
        from eokit.sensors.catalog import get_sensor

        sensor = get_sensor(sensor)
    wanted = list(wanted)
    found = [_position(w, available, sensor, wavelengths) for w in wanted]
    missing = [w for w, i in zip(wanted, found, strict=True) if i is None]
    if missing:
        need = f" that {what} needs" if what else ""
        hint = "" if sensor is not None else "; give the sensor (--sensor) so aliases such as 'red' resolve"
        raise BandError(
            f"band(s) {[str(m) for m in missing]}{need} not found in {where}, whose bands are {list(available)}"
            f"{suggest(str(missing[0]), list(available))}{hint}; or name bands by position with "
            "band_map=/--band-map (e.g. red=3,nir=4)"
        )
    return [i for i in found if i is not None]


def parse_band_map(spec: str | Mapping[str, int] | None) -> dict[str, int]:
    """``'red=3,nir=4'`` (or a mapping) -> ``{'red': 3, 'nir': 4}``: band names for 1-based band positions."""
    if spec is None or spec == "":
        return {}
    items = spec.items() if isinstance(spec, Mapping) else (
        part.split("=", 1) if "=" in part else (part, "") for part in str(spec).split(",") if part.strip()
    )
    out: dict[str, int] = {}
    for name, pos in items:
        name = str(name).strip()
        try:
            index = int(str(pos).strip())
        except ValueError:
            index = 0
        if not name or index < 1:
            raise BandError(
                f"bad band map entry {name!r}={pos!r} in {spec!r}: write NAME=POSITION with 1-based "
                "positions, e.g. red=3,nir=4"
            )
        if index in out.values():
            raise BandError(f"band map {spec!r} gives position {index} two names")
        out[name] = index
    return out


def apply_band_map(names: Sequence[str], band_map: Mapping[str, int], where: str = "the input",
                   sensor: Sensor | None = None) -> tuple[str, ...]:
    """``names`` with the positions in ``band_map`` renamed (to the sensor's own band name when it has one)."""
    out = list(names)
    for name, index in band_map.items():
        if index > len(out):
            raise BandError(
                f"band map names position {index} ({name!r}) but {where} has {len(out)} band(s) {list(names)}"
            )
        out[index - 1] = sensor.canonical(name) if sensor is not None else name
    return tuple(out)
