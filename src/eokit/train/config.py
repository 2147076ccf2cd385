"""The training config (YAML), validated up front.

Every section forbids unknown keys; a bad key or value raises ConfigError
naming the key path (``data.batch_sise``), what was given and the allowed
keys or values. See docs/training.md for a full example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from eokit.errors import ConfigError, suggest

Augment = Literal["flip", "rot90"]
_DEFAULT_AUGMENT: tuple[Augment, ...] = ("flip",)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TaskConfig(_Section):
    """``type`` plus the task's own options (``ignore_index``, ``loss``, ``data_range``, ...)."""

    type: str
    class_names: list[str] | None = None
    num_classes: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known_task(cls, v: str) -> str:
        from eokit.tasks import list_tasks

        names = list_tasks()
        if v not in names:
            raise ValueError(f"unknown task type {v!r}; allowed: {names}.{suggest(v, names)}")
        return v


class ModelConfig(_Section):
    backbone: str
    head: str | None = None
    weights: str | None = None  # a tag, file:PATH or url:URL (file/url keep arch.tag's data contract)
    allow_noncommercial: bool | None = None  # false: refuse non-commercial weights (default $EOKIT_ALLOW_NONCOMMERCIAL)
    options: dict[str, Any] = Field(default_factory=dict)


class DataConfig(_Section):
    dataset: str
    root: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)  # passed to get_dataset
    bands: list[str] | None = None  # select/reorder bands by name
    train_split: str = "train"
    val_split: str | None = "val"
    test_split: str | None = "test"
    val_fraction: float = Field(0.1, gt=0, lt=1)  # carved from train when the dataset has no val split
    max_samples: dict[Literal["train", "val", "test"], int] = Field(default_factory=dict)
    batch_size: int = Field(16, ge=1)
    num_workers: int = Field(0, ge=0)
    crop_size: int | None = Field(None, ge=8)
    augment: list[Augment] = Field(default_factory=lambda: list(_DEFAULT_AUGMENT))
    # auto: sensor statistics when the sensor knows every band, else statistics of the training data;
    # reflectance: only the sensor's DN -> reflectance scale, applied to a raster target too (super-resolution)
    normalize: Literal["auto", "sensor", "dataset", "reflectance", "none"] = "auto"

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        from eokit.datasets.base import DATASETS

        names = DATASETS.names()
        if v not in names:
            raise ValueError(f"unknown dataset {v!r}; allowed: {names}.{suggest(v, names)}")
        return v


class OptimConfig(_Section):
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    momentum: float = 0.9
    scheduler: Literal["cosine", "onecycle", "step", "none"] = "cosine"
    step_size: int = 10
    gamma: float = 0.1


class EarlyStoppingConfig(_Section):
    patience: int = Field(5, ge=1)
    min_delta: float = 0.0


class TrainerConfig(_Section):
    max_epochs: int = Field(10, ge=1)
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | Literal["auto"] = "auto"
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true"] = "auto"
    num_nodes: int = Field(1, ge=1)
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "32", "16", "bf16"] = "32-true"
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    limit_test_batches: int | float | None = None
    early_stopping: EarlyStoppingConfig | None = None
    monitor: str | None = None  # default: the task's own (val/oa, val/miou, ...)
    deterministic: bool = False
    gradient_clip_val: float | None = None
    log_every_n_steps: int = Field(10, ge=1)
    progress_bar: bool = True
    threads: int | None = Field(None, ge=1)  # torch.set_num_threads


class TrainConfig(_Section):
    """A whole training run: ``eokit train CONFIG.yaml``."""

    name: str = "run"
    seed: int = 0
    task: TaskConfig
    model: ModelConfig
    data: DataConfig
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    output_dir: str = "runs/{name}"
    resume: bool = True  # continue from output_dir's last checkpoint when there is one

    @field_validator("task", "model", mode="before")
    @classmethod
    def _shorthand(cls, v: Any, info: ValidationInfo) -> Any:
        """``task: segmentation`` stands for ``task: {type: segmentation}``, ``model: resnet18`` for
        ``model: {backbone: resnet18}``."""
        key = "type" if info.field_name == "task" else "backbone"
        return {key: v} if isinstance(v, str) else v

    @property
    def out(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class reached by following ``loc`` field names."""
    cur: Any = model
    for part in loc:
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)) or part not in cur.model_fields:
            return None
        ann = cur.model_fields[part].annotation
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                cur = cand
                break
        else:
            return None
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def format_errors(exc: ValidationError, source: str, root: type[BaseModel] | None = None,
                  what: str = "training config") -> str:
    """One line per problem: the key path, the given value and what is allowed."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        given = err.get("input")
        if err["type"] == "extra_forbidden":
            parent = _model_at(root or TrainConfig, loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            lines.append(f"unknown key {key!r}; allowed keys here: {allowed}.{suggest(str(loc[-1]), allowed)}")
        elif err["type"] == "missing":
            lines.append(f"missing required key {key!r}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {msg} (given: {given!r})")
    return f"invalid {what} {source}:\n  " + "\n  ".join(lines)


M = TypeVar("M", bound=BaseModel)


def validate_config(model: type[M], data: Any, source: str, what: str) -> M:
    """``data`` validated as ``model``; a ConfigError lists every bad key (what: 'training config', ...)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {source} must be a mapping of sections, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source, model, what)) from None


def parse_config(data: dict[str, Any], source: str = "<dict>") -> TrainConfig:
    """Validate a config dict; ConfigError lists every bad key."""
    return validate_config(TrainConfig, data, source, "training config")


def set_override(data: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a nested config dict."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} must look like key.path=value")
    key, value = assignment.split("=", 1)
    parts = key.strip().split(".")
    cur = data
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
        if not isinstance(cur, dict):
            raise ConfigError(f"override {assignment!r}: {p!r} is not a section")
    cur[parts[-1]] = yaml.safe_load(value)


def read_config_yaml(path: str | Path, overrides: list[str] | None = None,
                     what: str = "training config") -> dict[str, Any]:
    """A YAML config file as a dict with ``key.path=value`` overrides applied (ConfigError names the file)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {str(path)!r} is not valid YAML: {exc}") from None
    for o in overrides or []:
        set_override(data, o)
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read and validate a YAML training config (``overrides``: ``key.path=value`` strings)."""
    return parse_config(read_config_yaml(path, overrides), repr(str(path)))
