"""Complex SAR (single-look complex) to real channels: amplitude, intensity, phase, re/im, Pauli.

GDAL ships SLC as complex64/complex128 or as the integer complex types CInt16/CInt32
(SpaceNet-6, Sentinel-1 SLC); rasterio reads all of them as complex numpy arrays.
eokit never guesses how to make them real: a read of complex data needs one of
:data:`COMPLEX_MODES`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eokit.errors import BandError, DTypeError
from eokit.sensors.bands import band_key

COMPLEX_MODES: dict[str, str] = {
    "amplitude": "|z| per band",
    "intensity": "|z|^2 per band, linear power",
    "intensity_db": "10*log10(|z|^2) per band, nan where |z| is 0",
    "phase": "arg(z) in radians (-pi..pi) per band",
    "real_imag": "two channels per band, named <band>_re and <band>_im",
    "pauli": "Pauli decomposition of HH/HV(/VH)/VV: |HH-VV|/sqrt2, |HV+VH|/sqrt2 (or sqrt2*|HV|), "
    "|HH+VV|/sqrt2",
}
PAULI_BANDS = ("pauli_double_bounce", "pauli_volume", "pauli_surface")


def is_complex_dtype(dtype: str) -> bool:
    """Whether a rasterio dtype name is complex (complex64/128, CInt16, CInt32)."""
    return dtype.startswith("complex")


def check_mode(mode: str | None, where: str, dtype: str) -> str:
    """``mode`` if it is one of COMPLEX_MODES; else a DTypeError naming ``where`` and the choices."""
    choices = ", ".join(f"{m!r} ({d})" for m, d in COMPLEX_MODES.items())
    if mode is None:
        raise DTypeError(
            f"{where} holds complex (single-look complex SAR) data of dtype {dtype!r}; choose how to turn "
            f"it into real channels with complex_mode= (CLI: --complex): {choices}"
        )
    if mode not in COMPLEX_MODES:
        raise DTypeError(f"unknown complex_mode {mode!r} for {where}; choose one of {choices}")
    return mode


def _pol_positions(names: Sequence[str], where: str) -> dict[str, int]:
    keys = [band_key(n) for n in names]
    found = {p: keys.index(band_key(p)) for p in ("HH", "HV", "VH", "VV") if band_key(p) in keys}
    if not {"HH", "VV"} <= set(found) or not {"HV", "VH"} & set(found):
        raise BandError(
            f"the Pauli decomposition needs bands HH, HV (and/or VH) and VV, but {where} has bands "
            f"{list(names)}; name them with band_names=(...) in the file's band order"
        )
    return found


def complex_band_names(names: Sequence[str], mode: str, where: str = "the raster") -> tuple[str, ...]:
    """The real channel names that ``mode`` makes from complex bands ``names``."""
    if mode == "real_imag":
        return tuple(f"{n}_{part}" for n in names for part in ("re", "im"))
    if mode == "pauli":
        _pol_positions(names, where)
        return PAULI_BANDS
    return tuple(names)


def native_sources(names: Sequence[str], mode: str, index: int, where: str = "the raster") -> list[int]:
    """0-based complex bands that real channel ``index`` (0-based, of ``complex_band_names``) needs."""
    if mode == "real_imag":
        return [index // 2]
    if mode == "pauli":
        return sorted(_pol_positions(names, where).values())
    return [index]


def pauli(bands: dict[str, np.ndarray]) -> np.ndarray:
    """(3, H, W) Pauli channels from complex HH, VV and HV and/or VH arrays."""
    hh, vv = bands["HH"], bands["VV"]
    if "HV" in bands and "VH" in bands:
        volume = np.abs(bands["HV"] + bands["VH"]) / np.sqrt(2)
    else:
        cross = bands["HV"] if "HV" in bands else bands["VH"]
        volume = np.abs(cross) * np.sqrt(2)
    return np.stack([np.abs(hh - vv) / np.sqrt(2), volume, np.abs(hh + vv) / np.sqrt(2)])


def to_real(
    array: np.ndarray, names: Sequence[str], mode: str, where: str = "the raster"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Turn complex (C, H, W) ``array`` with band ``names`` into real channels, by ``mode``.

    Returns the real array (float32 for complex64 input, float64 for complex128) and
    its channel names (:func:`complex_band_names`).
    """
    mode = check_mode(mode, where, str(array.dtype))
    z = array if np.iscomplexobj(array) else array.astype(np.complex64)
    real: type[np.floating] = np.float64 if z.dtype == np.complex128 else np.float32
    if mode == "amplitude":
        out = np.abs(z)
    elif mode == "intensity":
        out = z.real.astype(real) ** 2 + z.imag.astype(real) ** 2
    elif mode == "intensity_db":
        power = z.real.astype(real) ** 2 + z.imag.astype(real) ** 2
        with np.errstate(divide="ignore"):
            out = 10 * np.log10(power)
        out[~np.isfinite(out)] = np.nan
    elif mode == "phase":
        out = np.angle(z)
    elif mode == "real_imag":
        out = np.stack([z.real, z.imag], axis=1).reshape(-1, *z.shape[1:])
    else:
        pos = _pol_positions(names, where)
        out = pauli({p: z[i] for p, i in pos.items()})
    return out.astype(real, copy=False), complex_band_names(names, mode, where)
