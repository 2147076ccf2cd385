"""Option objects of scene inference, shared by ``predict_scene``, ``predict_scenes`` and ``eokit predict``.

Four frozen groups, each validated when built (a typed ``ConfigError`` naming the
value and the fix): :class:`TileOptions` (where crops go and how they blend),
:class:`OutputOptions` (what the map holds), :class:`SceneOptions` (how the scene
is read) and :class:`RunOptions` (how the model runs). :class:`PredictOptions`
bundles them; ``PredictOptions.of(crop=128, device="cuda")`` routes flat field
names to their group.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from eokit.errors import ConfigError, EokitError
from eokit.infer.blend import WINDOWS
from eokit.infer.ensemble import TTA_MODES
from eokit.infer.output import OUTPUTS
from eokit.models.engine import EngineOptions

ALIGNS = ("even", "snap")
PROB_DTYPES = ("uint8", "uint16", "float32")


def _positive_int(value: Any, name: str, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive whole number of {fix}, got {value!r}")


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {list(choices)}")


@dataclass(frozen=True)
class TileOptions:
    """Crop size, step, blending window and its untrusted border, edge alignment."""

    crop: int = 256
    stride: int = 224
    margin: int | None = None  # None: a quarter of the overlap, at most 8 px
    window: str = "hann"
    floor: float = 1e-3
    align: str = "even"

    def __post_init__(self) -> None:
        _positive_int(self.crop, "crop", "pixels (e.g. crop=256)")
        _positive_int(self.stride, "stride", "pixels (e.g. stride=224)")
        if self.stride > self.crop:
            raise ConfigError(f"stride {self.stride} is larger than crop {self.crop}: pixels between tiles "
                              "would never be predicted; use stride <= crop")
        if self.margin is not None and (isinstance(self.margin, bool) or not isinstance(self.margin, int)
                                        or not 0 <= 2 * self.margin < self.crop):
            raise ConfigError(f"margin {self.margin!r} must be a whole number of pixels >= 0 and less than half "
                              f"the crop ({self.crop}); leave it unset for the automatic margin")
        _choice(self.window, "blending window", WINDOWS)
        if not (isinstance(self.floor, (int, float)) and 0 < self.floor <= 1):
            raise ConfigError(f"window floor {self.floor!r} must lie in (0, 1]: it is the smallest weight a "
                              "pixel of a tile gets (default 1e-3)")
        _choice(self.align, "tile alignment", ALIGNS)

    @property
    def overlap(self) -> int:
        """The nominal overlap of neighbouring tiles (``crop - stride``)."""
        return self.crop - self.stride


@dataclass(frozen=True)
class OutputOptions:
    """What the map holds: ``kind`` (None: classes for classifiers, values for regressors)."""

    kind: str | None = None
    prob_dtype: str = "uint8"
    nodata: float | None = None  # None: 255 / 65535 / NaN by dtype

    def __post_init__(self) -> None:
        if self.kind is not None:
            _choice(self.kind, "output kind", OUTPUTS)
        _choice(self.prob_dtype, "probability dtype", PROB_DTYPES)
        if self.nodata is not None:
            if isinstance(self.nodata, bool) or not isinstance(self.nodata, (int, float)):
                raise ConfigError(f"nodata {self.nodata!r} must be a number (or None for the dtype's default)")
            if math.isinf(self.nodata):
                raise ConfigError(f"nodata {self.nodata!r} cannot be infinite; use a value of the map's dtype or NaN")


@dataclass(frozen=True)
class SceneOptions:
    """How the scene is read: sensor (band aliases), band names, resampling and reference grid."""

    sensor: str | None = None  # None: the model's sensor
    band_names: tuple[str, ...] | None = None  # names of a single-file scene's bands, in file order
    band_map: str | None = None  # 'red=3,nir=4': names bands by 1-based position (eokit.sensors.parse_band_map)
    resampling: str | None = None
    reference: int | str = 0  # band (index or name) whose grid a multi-file scene is read on

    def __post_init__(self) -> None:
        if self.sensor is not None and (not isinstance(self.sensor, str) or not self.sensor.strip()):
            raise ConfigError(f"sensor {self.sensor!r} must be a sensor name such as 'landsat8' (or None)")
        if self.band_names is not None:
            names = (self.band_names.split(",") if isinstance(self.band_names, str)
                     else list(self.band_names))
            names = [str(n).strip() for n in names]
            if not names or not all(names):
                raise ConfigError(f"band names {self.band_names!r} must be non-empty names, one per band of the "
                                  "file in file order (e.g. B2,B3,B4,B5)")
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ConfigError(f"band names {names} repeat {dup}; give every band of the file its own name")
            object.__setattr__(self, "band_names", tuple(names))
        if self.band_map is not None:
            from eokit.sensors import parse_band_map

            try:
                parse_band_map(self.band_map)
            except EokitError as err:
                raise ConfigError(str(err)) from None
        if self.resampling is not None:
            from rasterio.enums import Resampling

            _choice(self.resampling, "resampling", tuple(r.name for r in Resampling))
        ref = self.reference
        if isinstance(ref, bool) or not isinstance(ref, (int, str)) or (isinstance(ref, int) and ref < 0) or (
                isinstance(ref, str) and not ref.strip()):
            raise ConfigError(f"reference {ref!r} must be a band name (e.g. 'B8A') or a 0-based band index >= 0")

    def with_sensor(self, default: str | None) -> SceneOptions:
        """These options with ``default`` (e.g. the model's sensor) when no sensor was given."""
        return self if self.sensor or not default else replace(self, sensor=default)

    def open(self, scene: Any) -> Any:
        """``scene`` opened as these options read it (``eokit.infer.source.open_scene``): the one place
        that turns them into a RasterSource/BandStack, so a plan, a map and a calibration read alike."""
        from eokit.infer.source import open_scene

        return open_scene(scene, sensor=self.sensor, band_names=self.band_names, band_map=self.band_map,
                          resampling=self.resampling, reference=self.reference)


@dataclass(frozen=True)
class RunOptions:
    """How the model runs: device, batch sizes, reading budget, graph rewrite, prefetch, TTA."""

    device: str = "cpu"
    batch_size: int = 16
    forward_batch: int | None = None  # None: 2 tiles per pass on CPU, the whole batch on a GPU
    read_budget_mb: float = 48.0
    gdal_cache_mb: int | None = None  # None: two rows of the scene's blocks when they fit 192 MiB, else 64
    optimize: bool = True
    prefetch: bool | None = None  # None: only when the model runs on a GPU
    tta: str | None = None
    engine: str = "torch"  # or 'onnxruntime' (eokit.models.engine)
    precision: str = "fp32"  # 'bf16'/'fp16' (torch autocast), 'int8' (onnxruntime, static quantisation)
    calibration: tuple[str, ...] | None = None  # int8: scenes whose windows calibrate it (None: the input scene)
    calibration_tiles: int = 8
    guard_tiles: int = 8  # tiles compared with fp32 before a scene is mapped at reduced precision
    min_agreement: float = 0.99  # classifiers: share of pixels keeping their fp32 class, else fp32 runs
    max_rel_error: float = 0.02  # regressors: bound on max |y - y_fp32| / max |y_fp32|, else fp32 runs

    def __post_init__(self) -> None:
        import torch

        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(f"device {self.device!r} is not a torch device; use e.g. 'cpu', 'cuda', 'cuda:1' "
                              f"or 'mps' ({exc})") from None
        _positive_int(self.batch_size, "batch_size", "tiles (e.g. batch_size=16)")
        if self.forward_batch is not None:
            _positive_int(self.forward_batch, "forward_batch", "tiles (e.g. forward_batch=2)")
            if self.forward_batch > self.batch_size:
                raise ConfigError(f"forward_batch {self.forward_batch} exceeds batch_size {self.batch_size}: a "
                                  "forward pass takes tiles from one batch; lower forward_batch or raise batch_size")
        if isinstance(self.read_budget_mb, bool) or not isinstance(self.read_budget_mb, (int, float)) or not (
                self.read_budget_mb > 0):
            raise ConfigError(f"read_budget_mb {self.read_budget_mb!r} must be a positive number of MiB (e.g. 48)")
        if self.gdal_cache_mb is not None and (isinstance(self.gdal_cache_mb, bool) or not isinstance(
                self.gdal_cache_mb, int) or self.gdal_cache_mb < 1):
            raise ConfigError(f"gdal_cache_mb {self.gdal_cache_mb!r} must be a whole number of MiB >= 1 (e.g. 64), or None to size it from the scene")
        if self.tta == "none":
            object.__setattr__(self, "tta", None)
        elif self.tta is not None:
            _choice(self.tta, "test-time augmentation", TTA_MODES)
        _ = self.engine_options  # validates engine, precision and the guard's bounds
        _positive_int(self.calibration_tiles, "calibration_tiles", "tiles (e.g. calibration_tiles=8)")
        _positive_int(self.guard_tiles, "guard_tiles", "tiles (e.g. guard_tiles=8)")
        if self.calibration is not None:
            cal = (self.calibration,) if isinstance(self.calibration, (str, os.PathLike)) else self.calibration
            object.__setattr__(self, "calibration", tuple(str(c) for c in cal))
            if self.precision != "int8":
                raise ConfigError(f"calibration scenes {list(self.calibration)} are used by --precision int8 only "
                                  f"(precision is {self.precision!r}); drop --calibration or ask for int8")

    @property
    def engine_options(self) -> EngineOptions:
        """The engine, precision and guard bounds as ``eokit.models.engine.EngineOptions``."""
        return EngineOptions(self.engine, self.precision, min_agreement=self.min_agreement,
                             max_rel_error=self.max_rel_error)


_GROUPS = {"tile": TileOptions, "output": OutputOptions, "scene": SceneOptions, "run": RunOptions}


@dataclass(frozen=True)
class PredictOptions:
    """Every option of scene inference, in four validated groups."""

    tile: TileOptions = field(default_factory=TileOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    scene: SceneOptions = field(default_factory=SceneOptions)
    run: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self) -> None:
        for name, cls in _GROUPS.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"PredictOptions.{name} must be a {cls.__name__}, got "
                                  f"{type(getattr(self, name)).__name__}; build it as {cls.__name__}(...)")

    @classmethod
    def field_names(cls) -> dict[str, str]:
        """Every flat field name -> the group that holds it."""
        return {f.name: group for group, sub in _GROUPS.items() for f in fields(sub)}

    @classmethod
    def of(cls, **values: Any) -> PredictOptions:
        """Options from flat field names, e.g. ``PredictOptions.of(crop=128, stride=112, tta='d4')``."""
        return cls().replace(**values)

    def replace(self, **values: Any) -> PredictOptions:
        """A copy with flat fields changed (each group validated again)."""
        where = self.field_names()
        unknown = sorted(set(values) - set(where))
        if unknown:
            raise ConfigError(f"unknown predict option(s) {unknown}; valid ones are {sorted(where)}")
        parts: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            parts.setdefault(where[key], {})[key] = value
        return PredictOptions(**{g: replace(getattr(self, g), **parts.get(g, {})) for g in _GROUPS})
