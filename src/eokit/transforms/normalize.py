"""The one input normalisation of eokit, by band name: statistics follow the bands, never the position.

``normalize`` is the formula, ``(x * scale + offset - mean) / std``; ``NormalizeBands`` applies it
to Samples (looking statistics up by band name for each sample) and ``Normalize`` is the same as an
``nn.Module`` on tensors (inside a model, at inference). Every path computes the same float32
operations in the same order, so they give identical values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from eokit.data.sample import Sample
from eokit.errors import BandError, SensorError
from eokit.sensors import band_key, get_sensor


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, scale: float = 1.0,
              offset: float = 0.0, *, inplace: bool = False) -> torch.Tensor:
    """``(x * scale + offset - mean) / std`` in float32; ``mean``/``std`` broadcast over (…, C, 1, 1).

    Computed as one multiply-add per value, ``x * (scale / std) + (offset - mean) / std``: one pass
    over the tensor instead of up to four (same result within float32 rounding).
    ``inplace=True`` overwrites ``x`` (float32 only) instead of allocating a new tensor.
    """
    std = std.to(x.device, torch.float32)
    gain = scale / std
    shift = (offset - mean.to(x.device, torch.float32)) / std
    if inplace and x.dtype == torch.float32:
        return torch.addcmul(shift, x, gain, out=x)
    return torch.addcmul(shift, x.float(), gain)


class NormalizeBands:
    """``(x * scale + offset - mean[band]) / std[band]`` on a Sample's ``image`` (and ``image2``).

    Statistics are looked up by band name for each sample (``'B4'`` ==
    ``'B04'`` == ``'red'`` where a sensor knows the alias), so a sample whose
    bands come in another order is still normalised correctly, and a band
    without statistics raises a BandError naming it. ``scale``/``offset``
    convert stored values (e.g. Sentinel-2 DN) to the units of the statistics.
    ``target=True`` also converts a raster ``target`` (super-resolution) with
    ``scale``/``offset`` only, so input and target share units.
    """

    def __init__(
        self,
        stats: Mapping[str, tuple[float, float] | Sequence[float]],
        scale: float = 1.0,
        offset: float = 0.0,
        sensor: str | None = None,
        target: bool = False,
    ) -> None:
        if not stats:
            raise BandError("NormalizeBands needs statistics for at least one band")
        bad = {b: s for b, (_, s) in stats.items() if not s > 0}
        if bad:
            raise BandError(f"NormalizeBands: std must be > 0; got {bad}")
        self.stats = {b: (float(m), float(s)) for b, (m, s) in stats.items()}
        self.scale, self.offset, self.sensor, self.target = float(scale), float(offset), sensor, bool(target)
        self._lookup = {self._canon(b): v for b, v in self.stats.items()}
        self._cache: dict[tuple[str, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    # -- construction -------------------------------------------------------
    @classmethod
    def from_lists(cls, bands: Sequence[str], mean: Sequence[float], std: Sequence[float],
                   **kw: Any) -> NormalizeBands:
        if not (len(bands) == len(mean) == len(std)):
            raise BandError(f"NormalizeBands: {len(bands)} bands, {len(mean)} means, {len(std)} stds")
        return cls(dict(zip(bands, zip(mean, std, strict=True), strict=True)), **kw)

    @classmethod
    def from_sensor(cls, sensor: str, bands: Sequence[str] | None = None) -> NormalizeBands:
        """Default statistics of ``sensor`` (reflectance units) and its DN -> reflectance scale."""
        s = get_sensor(sensor)
        names = s.resolve(bands) if bands else s.band_names
        mean, std = s.stats(names)
        return cls.from_lists(names, mean, std, scale=s.scale, offset=s.offset, sensor=s.name)

    @classmethod
    def reflectance(cls, sensor: str, bands: Sequence[str] | None = None, target: bool = True) -> NormalizeBands:
        """Only ``sensor``'s DN -> reflectance conversion (mean 0, std 1), on the target too (super-resolution)."""
        s = get_sensor(sensor)
        names = s.resolve(bands) if bands else s.band_names
        return cls({n: (0.0, 1.0) for n in names}, scale=s.scale, offset=s.offset, sensor=s.name, target=target)

    def to_dict(self) -> dict[str, Any]:
        """JSON form; ``NormalizeBands(**d)`` rebuilds it (checkpoints store ``eokit.models.DataContract``)."""
        return {"stats": {b: list(v) for b, v in self.stats.items()}, "scale": self.scale,
                "offset": self.offset, "sensor": self.sensor, "target": self.target}

    # -- application ----------------------------------------------------------
    def _canon(self, name: str) -> str:
        if self.sensor:
            try:
                return band_key(get_sensor(self.sensor).canonical(name))
            except SensorError:  # a sensor name this eokit does not know: compare the names themselves
                pass
        return band_key(name)

    def stats_for(self, bands: Sequence[str]) -> tuple[list[float], list[float]]:
        """(means, stds) for ``bands`` in that order, looked up by name; BandError names the bands lacking them."""
        missing = [b for b in bands if self._canon(b) not in self._lookup]
        if missing:
            raise BandError(
                f"no normalisation statistics for bands {missing}; statistics exist for "
                f"{list(self.stats)}. Select those bands or give statistics for the others"
            )
        pairs = [self._lookup[self._canon(b)] for b in bands]
        return [m for m, _ in pairs], [s for _, s in pairs]

    def vectors(self, bands: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) float32 column vectors (C, 1, 1) for ``bands`` in that order."""
        key = tuple(bands)
        if key not in self._cache:
            mean, std = self.stats_for(bands)
            self._cache[key] = (torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1),
                                torch.tensor(std, dtype=torch.float32).view(-1, 1, 1))
        return self._cache[key]

    def apply(self, x: torch.Tensor, bands: Sequence[str], *, inplace: bool = False) -> torch.Tensor:
        """Normalise a tensor (…, C, H, W) whose channels are ``bands``."""
        if x.shape[-3] != len(bands):
            raise BandError(f"image has {x.shape[-3]} channels but {len(bands)} band names {list(bands)}")
        mean, std = self.vectors(bands)
        return normalize(x, mean, std, self.scale, self.offset, inplace=inplace)

    def module(self, bands: Sequence[str] | None = None) -> Normalize:
        """This normalisation as an ``nn.Module`` for tensors whose channels are ``bands`` (default: all, in order)."""
        return Normalize(self, bands)

    def __call__(self, sample: Sample) -> Sample:
        bands = sample.get("bands")
        if not bands:
            raise BandError("NormalizeBands needs the sample's 'bands' to pick statistics by name")
        out = dict(sample)
        for k in ("image", "image2"):
            if isinstance(out.get(k), torch.Tensor):
                out[k] = self.apply(out[k], bands)
        t = out.get("target")
        if self.target and isinstance(t, torch.Tensor) and t.ndim >= 2:
            out["target"] = t.float() * self.scale + self.offset
        return out

    def __repr__(self) -> str:
        return f"NormalizeBands(bands={list(self.stats)}, scale={self.scale})"


class Normalize(nn.Module):
    """``NormalizeBands`` as an ``nn.Module`` on tensors (…, C, H, W), for inside a model or at inference.

    The channels are ``bands`` (default: every band of ``norm``, in order); ``forward(x, bands=names)``
    takes another order or subset, resolved by name like the Sample transform. The statistics are
    buffers that move with the module's device and are saved in no state dict.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, norm: NormalizeBands, bands: Sequence[str] | None = None) -> None:
        super().__init__()
        self.norm = norm
        self.bands = tuple(bands) if bands is not None else tuple(norm.stats)
        mean, std = norm.vectors(self.bands)
        self.register_buffer("mean", mean.clone(), persistent=False)
        self.register_buffer("std", std.clone(), persistent=False)

    @property
    def scale(self) -> float:
        return self.norm.scale

    @property
    def offset(self) -> float:
        return self.norm.offset

    def forward(self, x: torch.Tensor, bands: Sequence[str] | None = None, *,
                inplace: bool = False) -> torch.Tensor:
        if bands is not None and tuple(bands) != self.bands:
            return self.norm.apply(x, bands, inplace=inplace)
        if x.shape[-3] != len(self.bands):
            raise BandError(
                f"Normalize expects {len(self.bands)} channels {list(self.bands)}, got shape {tuple(x.shape)}; "
                "pass bands= with the tensor's band names"
            )
        return normalize(x, self.mean, self.std, self.norm.scale, self.norm.offset, inplace=inplace)

    def extra_repr(self) -> str:
        return f"bands={list(self.bands)}, scale={self.norm.scale}, offset={self.norm.offset}"
