"""Normalisation by band name: statistics follow the bands, never the channel position."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from eokit.data.sample import Sample
from eokit.errors import BandError
from eokit.sensors import get_sensor
from eokit.sensors.bands import _key


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
        stats: Mapping[str, tuple[float, float]],
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
        """JSON form (stored in checkpoints); ``NormalizeBands(**d)`` rebuilds it."""
        return {"stats": {b: list(v) for b, v in self.stats.items()}, "scale": self.scale,
                "offset": self.offset, "sensor": self.sensor, "target": self.target}

    # -- application ----------------------------------------------------------
    def _canon(self, name: str) -> str:
        if self.sensor:
            s = get_sensor(self.sensor)
            if s.has(name):
                return _key(s.band(name).name)
        return _key(name)

    def vectors(self, bands: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) column vectors (C, 1, 1) for ``bands`` in that order."""
        key = tuple(bands)
        if key not in self._cache:
            missing = [b for b in bands if self._canon(b) not in self._lookup]
            if missing:
                raise BandError(
                    f"no normalisation statistics for bands {missing}; statistics exist for "
                    f"{list(self.stats)}. Select those bands or give statistics for the others"
                )
            vals = torch.tensor([self._lookup[self._canon(b)] for b in bands], dtype=torch.float32)
            self._cache[key] = (vals[:, 0].view(-1, 1, 1), vals[:, 1].view(-1, 1, 1))
        return self._cache[key]

    def apply(self, x: torch.Tensor, bands: Sequence[str]) -> torch.Tensor:
        """Normalise a tensor (…, C, H, W) whose channels are ``bands``."""
        if x.shape[-3] != len(bands):
            raise BandError(f"image has {x.shape[-3]} channels but {len(bands)} band names {list(bands)}")
        mean, std = self.vectors(bands)
        x = x.float()
        if self.scale != 1.0 or self.offset != 0.0:
            x = x * self.scale + self.offset
        return (x - mean.to(x.device)) / std.to(x.device)

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
