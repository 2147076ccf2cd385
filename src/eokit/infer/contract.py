"""What a model expects and returns: its data contract for scene inference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eokit.errors import ConfigError, ModelError
from eokit.sensors.bands import _key

ACTIVATIONS = ("softmax", "sigmoid", "none")
_TASK_ACTIVATION = {
    "segmentation": "softmax",
    "semantic_segmentation": "softmax",
    "classification": "softmax",
    "multilabel": "sigmoid",
    "multi_label": "sigmoid",
    "binary": "sigmoid",
    "regression": "none",
    "pixel_regression": "none",
}


@dataclass(frozen=True)
class ModelContract:
    """Bands in, normalisation and outputs of a dense model mapping (B,C,H,W) -> (B,K,H,W).

    Pixels are turned into model input as ``(raw * scale + offset - mean) / std``
    per band; ``mean``/``std`` of ``None`` leave that step out. ``classes`` names
    the K output channels of a classifier; ``targets`` those of a regressor.
    """

    bands: tuple[str, ...]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    classes: tuple[str, ...] | None = None
    task: str = "segmentation"
    activation: str = "softmax"
    scale: float = 1.0
    offset: float = 0.0
    sensor: str | None = None
    targets: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.bands:
            raise ConfigError("a model contract needs at least one band name")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is not None and len(v) != len(self.bands):
                raise ConfigError(f"contract {name} has {len(v)} values for {len(self.bands)} bands {list(self.bands)}")
        if self.std is not None and any(s == 0 for s in self.std):
            raise ConfigError(f"contract std has a zero: {list(self.std)}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose one of {list(ACTIVATIONS)}")

    @property
    def is_classifier(self) -> bool:
        return self.activation != "none"

    @property
    def n_outputs(self) -> int | None:
        names = self.classes if self.is_classifier else self.targets
        return len(names) if names else None

    def output_names(self, k: int) -> list[str]:
        names = self.classes if self.is_classifier else self.targets
        if names and len(names) == k:
            return list(names)
        prefix = "class" if self.is_classifier else "value"
        return [f"{prefix}_{i}" for i in range(k)]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelContract:
        """Build from a checkpoint config (keys: bands, mean/std or normalisation, classes, task, ...)."""
        cfg = dict(config)
        for key in ("data", "contract"):
            if isinstance(cfg.get(key), Mapping):
                cfg = {**cfg[key], **{k: v for k, v in cfg.items() if k != key}}
        bands = cfg.get("bands")
        if not bands:
            raise ModelError(f"checkpoint config has no 'bands'; keys are {sorted(cfg)}")
        norm = cfg.get("normalisation") or cfg.get("normalization") or {}
        mean, std = cfg.get("mean", norm.get("mean")), cfg.get("std", norm.get("std"))
        if isinstance(norm.get("stats"), Mapping):  # eokit.transforms.NormalizeBands.to_dict()
            stats = {_key(b): v for b, v in norm["stats"].items()}
            lacking = [b for b in bands if _key(b) not in stats]
            if lacking:
                raise ModelError(f"checkpoint normalisation has no statistics for bands {lacking}")
            mean = [stats[_key(b)][0] for b in bands]
            std = [stats[_key(b)][1] for b in bands]
        if isinstance(mean, Mapping):
            mean = [mean[b] for b in bands]
        if isinstance(std, Mapping):
            std = [std[b] for b in bands]
        task_cfg = cfg.get("task", "segmentation")
        if isinstance(task_cfg, Mapping):
            task = str(task_cfg.get("name", "segmentation")).lower()
            classes = cfg.get("classes") or task_cfg.get("class_names") or task_cfg.get("num_classes")
        else:
            task = str(task_cfg).lower()
            classes = cfg.get("classes")
        if isinstance(classes, int):
            classes = [str(i) for i in range(classes)]
        activation = cfg.get("activation") or _TASK_ACTIVATION.get(task, "softmax")
        targets = cfg.get("targets")
        return cls(
            bands=tuple(bands),
            mean=tuple(float(m) for m in mean) if mean is not None else None,
            std=tuple(float(s) for s in std) if std is not None else None,
            classes=tuple(str(c) for c in classes) if classes else None,
            task=task,
            activation=activation,
            scale=float(cfg.get("scale", norm.get("scale", 1.0)) or 1.0),
            offset=float(cfg.get("offset", norm.get("offset", 0.0)) or 0.0),
            sensor=cfg.get("sensor") or norm.get("sensor"),
            targets=tuple(targets) if targets else None,
        )

    def same_inputs(self, other: ModelContract) -> bool:
        return tuple(self.bands) == tuple(other.bands)


def contract_for(bands: Sequence[str], **kw: Any) -> ModelContract:
    """Shorthand: ``contract_for(['B02','B03'], classes=['a','b'])``."""
    return ModelContract(bands=tuple(bands), **kw)
