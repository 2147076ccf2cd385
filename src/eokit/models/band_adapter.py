"""Map input bands onto the bands a checkpoint was trained on, by name and wavelength.

Rules (documented in docs/models.md):

1. A band is resolved to an :class:`eokit.sensors.Band` through a sensor
   (``'B04'`` of ``sentinel2_l1c`` -> red, 664.6 nm).
2. Each input band is matched to at most one checkpoint band, best first:
   the same band of the same sensor; then a shared common name (``red``,
   ``nir``, ``swir16``...); then a centre wavelength within half the wider
   band's bandwidth (optical bands only). Ties go to the nearest wavelength.
3. Matched bands keep their checkpoint kernel (so RGB -> BGR is a reorder,
   never a silent copy in the wrong order).
4. Unmatched input bands get an explicit initialisation (``new_band_init``):
   ``"mean"`` (default) the mean of the checkpoint kernels, ``"zero"`` or
   ``"random"`` (kaiming-uniform); a ``UserWarning`` names them.
5. The whole adapted kernel is multiplied by ``K / C`` (K checkpoint
   channels, C input channels), so the expected pre-activation magnitude
   stays that of the checkpoint; with ``C == K`` this is 1 and a pure reorder
   is exact.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from eokit.errors import BandError
from eokit.sensors import Band, Sensor, band_key, get_sensor, list_sensors

SAR_MIN_NM = 1.0e6  # anything above 1 mm is microwave (SAR)
NEW_BAND_INITS = ("mean", "zero", "random")

BandLike = str | Band


def resolve_bands(
    bands: Sequence[BandLike], sensor: str | Sensor | None = None, *, fallback: Sensor | None = None
) -> tuple[Band, ...]:
    """Resolve band names to Band objects.

    Names are looked up in ``sensor``; without one, in ``fallback`` (e.g. the
    checkpoint's sensor), then in the first registered sensor that knows all
    of them. Band objects pass through unchanged.
    """
    if isinstance(bands, str):
        raise BandError(f"bands must be a sequence of band names, not the string {bands!r}; "
                        f"write bands=({bands!r},)")
    names = [b for b in bands if not isinstance(b, Band)]
    if not names:
        return tuple(bands)  # type: ignore[arg-type]
    if sensor is not None:
        s = get_sensor(sensor)
        return tuple(b if isinstance(b, Band) else s.band(b) for b in bands)
    candidates = ([fallback] if fallback is not None else []) + list_sensors()
    for s in candidates:
        if all(s.has(n) for n in names):
            return tuple(b if isinstance(b, Band) else s.band(b) for b in bands)
    unknown = [n for n in names if not any(s.has(n) for s in candidates)]
    raise BandError(
        f"cannot resolve bands {list(names)} without a sensor"
        + (f" ({unknown} are not a band of any registered sensor)" if unknown else "")
        + "; pass sensor= (e.g. sensor='sentinel2_l1c') or Band objects"
    )


def _common(b: Band) -> set[str]:
    return {band_key(n) for n in (b.common_name, *b.aliases) if n and not n.endswith("nm")}


def is_sar(b: Band) -> bool:
    return b.center_nm >= SAR_MIN_NM


def match_score(target: Band, ckpt: Band) -> tuple[int, float] | None:
    """(rank, wavelength distance) of a match, lower is better; None if no match."""
    dist = abs(target.center_nm - ckpt.center_nm)
    if target == ckpt:
        return (0, 0.0)
    if is_sar(target) or is_sar(ckpt):
        same_pol = band_key(target.name) == band_key(ckpt.name)
        return (0, 0.0) if (is_sar(target) and is_sar(ckpt) and same_pol) else None
    if _common(target) & _common(ckpt):
        return (1, dist)
    if dist <= max(target.bandwidth_nm, ckpt.bandwidth_nm) / 2:
        return (2, dist)
    return None


@dataclass
class BandMapping:
    """How input bands map onto checkpoint bands."""

    target: tuple[Band, ...]
    ckpt: tuple[Band, ...]
    source: list[int | None]  # per target band: index of the checkpoint band, or None
    new_band_init: str = "mean"
    dropped: list[str] = field(default_factory=list)

    @property
    def new_bands(self) -> list[str]:
        return [t.name for t, s in zip(self.target, self.source, strict=True) if s is None]

    def describe(self) -> list[dict]:
        return [
            {"band": t.name, "from": self.ckpt[s].name if s is not None else f"<{self.new_band_init} init>"}
            for t, s in zip(self.target, self.source, strict=True)
        ]


def map_bands(target: Sequence[Band], ckpt: Sequence[Band], new_band_init: str = "mean") -> BandMapping:
    """One-to-one greedy assignment of input bands to checkpoint bands (best score first)."""
    pairs = []
    for i, t in enumerate(target):
        for j, c in enumerate(ckpt):
            score = match_score(t, c)
            if score is not None:
                pairs.append((score, i, j))
    pairs.sort()
    source: list[int | None] = [None] * len(target)
    used: set[int] = set()
    for _, i, j in pairs:
        if source[i] is None and j not in used:
            source[i] = j
            used.add(j)
    dropped = [c.name for j, c in enumerate(ckpt) if j not in used]
    return BandMapping(tuple(target), tuple(ckpt), source, new_band_init, dropped)


def adapt_conv_weight(
    weight: torch.Tensor, mapping: BandMapping, *, owner: str = "model", warn: bool = True
) -> torch.Tensor:
    """Rebuild a first-layer kernel ``(O, K, kh, kw)`` for the mapping's input bands."""
    if mapping.new_band_init not in NEW_BAND_INITS:
        raise BandError(f"new_band_init={mapping.new_band_init!r} is not one of {NEW_BAND_INITS}")
    k = weight.shape[1]
    if k != len(mapping.ckpt):
        raise BandError(
            f"{owner}: checkpoint kernel has {k} input channels but its band list has "
            f"{len(mapping.ckpt)} bands ({[b.name for b in mapping.ckpt]})"
        )
    c = len(mapping.target)
    out = weight.new_empty((weight.shape[0], c, *weight.shape[2:]))
    mean = weight.mean(dim=1)
    for i, src in enumerate(mapping.source):
        if src is not None:
            out[:, i] = weight[:, src]
        elif mapping.new_band_init == "mean":
            out[:, i] = mean
        elif mapping.new_band_init == "zero":
            out[:, i] = 0.0
        else:
            w = torch.empty_like(weight[:, :1])
            torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            out[:, i] = w[:, 0]
    out *= k / c
    if warn and mapping.new_bands:
        warnings.warn(
            f"{owner}: bands {mapping.new_bands} are not in the checkpoint's bands "
            f"{[b.name for b in mapping.ckpt]}; their first-layer kernels are initialised with "
            f"new_band_init={mapping.new_band_init!r} (see docs/models.md#band-adaptation)",
            UserWarning,
            stacklevel=3,
        )
    return out
