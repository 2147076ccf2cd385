"""DataContract: what a model takes in and gives out, written by training and read by every consumer.

One frozen value object states the model's input bands (channel order, sensor, centre wavelengths),
how raw pixels become model input (``(raw * scale + offset - mean) / std`` per band), the ground
sample distance and input/patch size, and what the model outputs (task, classes or targets). Its JSON
form (``to_dict``) carries ``schema``; ``from_dict`` reads it strictly, and reads the metadata forms
written before it existed (checkpoint ``config.json`` format 1, ``ModelContract`` configs,
``Backbone.data_config``) in one legacy adapter, ``_from_legacy``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from eokit.errors import ConfigError, ModelError, SensorError, suggest
from eokit.sensors import get_sensor
from eokit.transforms.normalize import Normalize, NormalizeBands

SCHEMA = "eokit-data-contract/1"
ACTIVATIONS = ("softmax", "sigmoid", "none")
TASK_ACTIVATION = {
    "segmentation": "softmax",
    "semantic_segmentation": "softmax",
    "classification": "softmax",
    "change_detection": "softmax",
    "multilabel": "sigmoid",
    "multi_label": "sigmoid",
    "binary": "sigmoid",
    "regression": "none",
    "pixel_regression": "none",
    "super_resolution": "none",
}

# Keys the metadata forms written before the schema may hold. Contract keys are read; the others
# are a checkpoint's own bookkeeping and are left to it. Anything else is a ConfigError.
LEGACY_CONTRACT_KEYS = {
    "bands", "sensor", "mean", "std", "scale", "offset", "normalization", "normalisation", "classes",
    "task", "activation", "targets", "gsd", "input_size", "wavelengths", "data", "contract",
}
_LEGACY_OTHER_KEYS = {
    "format", "eokit_version", "git_sha", "created", "model", "dataset", "seed", "train_config", "epoch",
    "metrics", "monitor", "weights_sha256", "weights",
}
_LEGACY_NORM_KEYS = {"stats", "mean", "std", "scale", "offset", "sensor", "target"}


def _floats(v: Sequence[Any] | None) -> tuple[float, ...] | None:
    return None if v is None else tuple(float(x) for x in v)


def _names(v: Sequence[Any] | None) -> tuple[str, ...] | None:
    return tuple(str(x) for x in v) if v else None


@dataclass(frozen=True)
class DataContract:
    """A model's data contract: bands in, normalisation, resolution and size, outputs.

    ``bands`` are the input band names in channel order (names of ``sensor`` where it knows them);
    ``wavelengths`` their centre wavelengths in nm (None for a band without one). Raw pixels become
    model input as ``(raw * scale + offset - mean) / std`` per band: ``scale``/``offset`` take stored
    values (e.g. DN) to the units of ``mean``/``std``; ``mean``/``std`` of None leave that step out.
    ``scale_target``: a raster target (super-resolution) is converted with ``scale``/``offset`` too.
    ``task`` names the output (``classification``, ``segmentation``, ...), ``classes`` the K output
    channels of a classifier, ``targets`` those of a regressor, ``num_outputs`` K where no names
    exist; ``activation`` overrides the one the task implies (softmax, sigmoid or none).
    """

    bands: tuple[str, ...]
    sensor: str | None = None
    wavelengths: tuple[float | None, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    scale: float = 1.0
    offset: float = 0.0
    scale_target: bool = False
    gsd: float | None = None
    input_size: int | None = None
    patch_size: int | None = None
    task: str | None = None
    classes: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None
    num_outputs: int | None = None
    activation: str | None = None

    def __post_init__(self) -> None:
        if not self.bands:
            raise ConfigError("a data contract needs at least one band name")
        set_ = object.__setattr__
        set_(self, "bands", tuple(str(b) for b in self.bands))
        for name in ("mean", "std"):
            set_(self, name, _floats(getattr(self, name)))
        for name in ("classes", "targets"):
            set_(self, name, _names(getattr(self, name)))
        if self.wavelengths is not None:
            set_(self, "wavelengths", tuple(None if w is None else float(w) for w in self.wavelengths))
        for name in ("mean", "std", "wavelengths"):
            v = getattr(self, name)
            if v is not None and len(v) != len(self.bands):
                raise ConfigError(
                    f"data contract {name} has {len(v)} values for {len(self.bands)} bands {list(self.bands)}; "
                    "give one per band"
                )
        if (self.mean is None) != (self.std is None):
            raise ConfigError("data contract gives mean without std (or std without mean); give both or neither")
        if self.std is not None and any(not s > 0 for s in self.std):
            raise ConfigError(f"data contract std must be > 0 for every band, got {list(self.std)}")
        if self.activation is not None and self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose one of {list(ACTIVATIONS)}")
        if self.task is not None:
            set_(self, "task", str(self.task).lower())
        set_(self, "scale", float(self.scale))
        set_(self, "offset", float(self.offset))
        n = self.num_outputs
        named = self.classes if self.is_classifier else self.targets
        if n is not None and named and len(named) != n:
            raise ConfigError(f"data contract num_outputs={n} but names {len(named)} outputs {list(named)}")

    # -- outputs ------------------------------------------------------------------------
    @property
    def output_activation(self) -> str:
        """``activation``, else the task's (softmax when the task is unknown)."""
        return self.activation or TASK_ACTIVATION.get(self.task or "", "softmax")

    @property
    def is_classifier(self) -> bool:
        return self.output_activation != "none"

    @property
    def n_outputs(self) -> int | None:
        """K output channels: from the class (or target) names, else ``num_outputs``."""
        names = self.classes if self.is_classifier else self.targets
        return len(names) if names else self.num_outputs

    def output_names(self, k: int) -> list[str]:
        names = self.classes if self.is_classifier else self.targets
        if names and len(names) == k:
            return list(names)
        prefix = "class" if self.is_classifier else "value"
        return [f"{prefix}_{i}" for i in range(k)]

    def same_inputs(self, other: DataContract) -> bool:
        return tuple(self.bands) == tuple(other.bands)

    # -- normalisation --------------------------------------------------------------------
    @property
    def normalizes(self) -> bool:
        """False when model input is the raw pixels (no scale, offset, mean or std)."""
        return self.mean is not None or self.scale != 1.0 or self.offset != 0.0

    def normalizer(self) -> NormalizeBands | None:
        """The Sample transform (``eokit.transforms.NormalizeBands``), by band name; None for raw input."""
        if not self.normalizes:
            return None
        n = len(self.bands)
        return NormalizeBands.from_lists(
            self.bands, self.mean or (0.0,) * n, self.std or (1.0,) * n, scale=self.scale,
            offset=self.offset, sensor=self.sensor, target=self.scale_target,
        )

    def module(self) -> Normalize | None:
        """The same normalisation as an ``nn.Module`` on tensors in ``bands`` order; None for raw input."""
        norm = self.normalizer()
        return norm.module(self.bands) if norm is not None else None

    # -- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able form with ``schema``; ``DataContract.from_dict`` reads it back."""
        d: dict[str, Any] = {"schema": SCHEMA}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataContract:
        """Read ``to_dict()`` output strictly (ConfigError naming an unknown key or another schema).

        A mapping without ``schema`` is metadata written before it (a checkpoint ``config.json``
        of format 1, a ``ModelContract`` config, ``Backbone.data_config``) and goes through the
        legacy adapter.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"a data contract is a mapping, got {type(d).__name__}: {d!r}")
        if "schema" not in d:
            return _from_legacy(d)
        if d["schema"] != SCHEMA:
            raise ConfigError(
                f"data contract schema {d['schema']!r} is not {SCHEMA!r}, the one this eokit reads; "
                "upgrade eokit to read it"
            )
        known = [f.name for f in fields(cls)]
        unknown = [k for k in d if k != "schema" and k not in known]
        if unknown:
            raise ConfigError(
                f"unknown data contract key {unknown[0]!r}{' (and ' + str(unknown[1:]) + ')' if unknown[1:] else ''};"
                f" the keys are {['schema', *known]}.{suggest(unknown[0], known)}"
            )
        if "bands" not in d:
            raise ConfigError(f"data contract lacks 'bands'; it has {sorted(d)}")
        return cls(**{k: v for k, v in d.items() if k != "schema"})

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DataContract:
        """The contract of a checkpoint ``config.json`` (any format), or of a contract mapping itself."""
        c = config.get("contract") if isinstance(config, Mapping) else None
        if isinstance(c, Mapping) and "schema" in c:
            return cls.from_dict(c)
        return cls.from_dict(config)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_normalizer(cls, bands: Sequence[str], norm: NormalizeBands | None, **kw: Any) -> DataContract:
        """A contract for ``bands`` normalised by ``norm`` (statistics looked up by name; None: raw input)."""
        if norm is None:
            return cls(bands=tuple(bands), **kw)
        mean, std = norm.stats_for(bands)
        kw.setdefault("sensor", norm.sensor)
        return cls(bands=tuple(bands), mean=tuple(mean), std=tuple(std), scale=norm.scale, offset=norm.offset,
                   scale_target=norm.target, **kw)

    def with_sensor_metadata(self) -> DataContract:
        """Fill unset ``wavelengths`` from ``sensor`` (None for bands the sensor does not know)."""
        if self.sensor is None or self.wavelengths is not None:
            return self
        try:
            s = get_sensor(self.sensor)
        except SensorError:  # a sensor this eokit does not know: nothing to fill in
            return self
        found = [s.band(b) if s.has(b) else None for b in self.bands]
        return replace(self, wavelengths=tuple(b.center_nm if b is not None and b.center_nm > 0 else None
                                               for b in found))

    def describe(self) -> str:
        """One line: bands, sensor, normalisation and outputs."""
        norm = "raw input" if not self.normalizes else f"scale {self.scale:g}, offset {self.offset:g}" + (
            ", per-band mean/std" if self.mean is not None else "")
        out = f"{self.task or 'any task'}, {self.n_outputs or '?'} outputs"
        return f"bands {list(self.bands)} ({self.sensor or 'no sensor'}); {norm}; {out}"


def _legacy_key_error(key: str, where: str, choices: set[str]) -> ConfigError:
    return ConfigError(
        f"unknown key {key!r} in {where}; a data contract reads {sorted(choices)}.{suggest(key, sorted(choices))}"
    )


def _from_legacy(config: Mapping[str, Any]) -> DataContract:
    """The one adapter for metadata written before ``SCHEMA``: checkpoint ``config.json`` format 1,
    ``ModelContract.from_config`` forms and ``Backbone.data_config``.

    Contract fields may sit at the top level or in a ``data``/``contract`` sub-mapping; normalisation
    as top-level ``mean``/``std``/``scale``/``offset`` or a ``normalization``/``normalisation``
    mapping (``NormalizeBands.to_dict()`` with per-band ``stats``, or ``mean``/``std`` lists or
    per-band mappings); ``task`` as a name or a task config (``name``, ``class_names``, ``num_classes``).
    """
    allowed = LEGACY_CONTRACT_KEYS | _LEGACY_OTHER_KEYS
    cfg = dict(config)
    for key in ("data", "contract"):
        if isinstance(cfg.get(key), Mapping):
            cfg = {**cfg[key], **{k: v for k, v in cfg.items() if k != key}}
    for k in cfg:
        if k not in allowed:
            raise _legacy_key_error(k, "the model metadata", allowed)
    bands = cfg.get("bands")
    if not bands:
        raise ModelError(f"model metadata has no 'bands' (the input bands in channel order); keys are {sorted(cfg)}")
    bands = [str(b) for b in bands]
    if "normalization" in cfg and "normalisation" in cfg:
        raise ConfigError("model metadata has both 'normalization' and 'normalisation'; keep one")
    norm = cfg.get("normalization", cfg.get("normalisation")) or {}
    if not isinstance(norm, Mapping):
        raise ConfigError(f"model metadata 'normalization' must be a mapping or null, got {norm!r}")
    for k in norm:
        if k not in _LEGACY_NORM_KEYS:
            raise _legacy_key_error(k, "the model metadata's normalization", _LEGACY_NORM_KEYS)
    sensor = cfg.get("sensor") or norm.get("sensor")
    scale = cfg.get("scale", norm.get("scale", 1.0))
    offset = cfg.get("offset", norm.get("offset", 0.0))
    mean, std = cfg.get("mean", norm.get("mean")), cfg.get("std", norm.get("std"))
    if isinstance(norm.get("stats"), Mapping):  # NormalizeBands.to_dict(): statistics by band name
        nb = NormalizeBands(norm["stats"], sensor=norm.get("sensor") or sensor)
        try:
            mean, std = nb.stats_for(bands)
        except Exception as exc:
            raise ModelError(f"model metadata normalization: {exc}") from None
    if isinstance(mean, Mapping):
        mean = [mean[b] for b in bands]
    if isinstance(std, Mapping):
        std = [std[b] for b in bands]
    task_cfg = cfg.get("task")
    classes = cfg.get("classes")
    if isinstance(task_cfg, Mapping):
        task = task_cfg.get("name")
        classes = classes or task_cfg.get("class_names") or task_cfg.get("num_classes")
    else:
        task = task_cfg
    num_outputs = None
    if isinstance(classes, int) and not isinstance(classes, bool):
        num_outputs, classes = classes, None
    if classes is not None and not isinstance(classes, (list, tuple)):
        raise ConfigError(f"model metadata 'classes' must be a list of names or a count, got {classes!r}")
    targets = cfg.get("targets")
    return DataContract(
        bands=tuple(bands),
        sensor=sensor,
        wavelengths=cfg.get("wavelengths") or None,
        mean=_floats(mean),
        std=_floats(std),
        scale=float(scale if scale is not None else 1.0),
        offset=float(offset if offset is not None else 0.0),
        scale_target=bool(norm.get("target", False)),
        gsd=cfg.get("gsd"),
        input_size=cfg.get("input_size"),
        task=str(task) if task else None,
        classes=_names(classes),
        targets=_names(targets),
        num_outputs=num_outputs,
        activation=cfg.get("activation"),
    )
