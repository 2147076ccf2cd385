"""Benchmark suites: a YAML file validated against typed pydantic models.

A suite is the grid models × datasets × protocols × label fractions × seeds
(× corruptions × severities for robustness). ``load_suite('quick')`` reads a
built-in suite from ``eokit/bench/suites/``; any other value is a file path.
Every validation problem raises :class:`~eokit.errors.ConfigError` naming the
file, the bad key and the allowed values.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eokit.errors import ConfigError, suggest
from eokit.tasktype import TaskType
from eokit.transforms.corruptions import CORRUPTIONS

PROTOCOLS = ("knn5", "knn20", "linear", "random_forest", "decoder", "finetune", "temporal")
"""Evaluation protocols. knn/linear/random_forest use pooled frozen features;
``decoder`` trains a light decoder on frozen feature maps (dense tasks);
``finetune`` trains backbone + head end to end (short); ``temporal`` trains a pixel
time-series encoder + head from scratch on time-series classification (``eokit.bench.temporal``)."""

POOLED_PROTOCOLS = ("knn5", "knn20", "linear", "random_forest")
KINDS = ("backbone", "raw_pixels", "spectral_indices")
ROLES = ("model", "baseline", "reference")
POOLED_TASKS = (TaskType.CLASSIFICATION, TaskType.MULTILABEL, TaskType.REGRESSION)
"""Task types scored on pooled features (knn, linear, random_forest, finetune)."""
DENSE_TASKS = (TaskType.SEGMENTATION, TaskType.CHANGE_DETECTION)
"""Task types scored on feature maps (decoder)."""
TASKS = POOLED_TASKS + DENSE_TASKS
"""The task types bench evaluates."""
CORRUPTION_NAMES = CORRUPTIONS
PRIMARY_METRIC = {
    TaskType.CLASSIFICATION: "accuracy",
    TaskType.MULTILABEL: "f1_micro",
    TaskType.SEGMENTATION: "miou",
    TaskType.CHANGE_DETECTION: "f1_change",
    TaskType.REGRESSION: "r2",
}
"""The metric each task is ranked on (higher is better for all of them)."""
STORED_METRICS: dict[TaskType, dict[str, str]] = {
    TaskType.CLASSIFICATION: {"accuracy": "oa", "f1_macro": "f1_macro"},
    TaskType.MULTILABEL: {"f1_micro": "f1_micro", "map_macro": "map"},
    TaskType.SEGMENTATION: {"miou": "miou", "pixel_accuracy": "oa"},
    TaskType.CHANGE_DETECTION: {k: k for k in ("f1_change", "iou_change", "precision_change", "recall_change")},
    TaskType.REGRESSION: {"r2": "r2", "rmse": "rmse", "mae": "mae"},
}
"""The metrics a bench row stores, per task type: ``{stored name: eokit.tasks.metrics name}``.

Values come from :func:`eokit.tasks.metrics.score` (the implementation ``eokit evaluate``
uses); the stored names are kept so results, references and reports stay comparable."""

BUILTIN_SUITES = ("quick", "full", "fm")

Protocol = Literal["knn5", "knn20", "linear", "random_forest", "decoder", "finetune", "temporal"]
_SUITE_PROTOCOLS: tuple[Protocol, ...] = ("knn5", "knn20", "linear", "decoder")  # a suite's default
_ROBUSTNESS_PROTOCOLS: tuple[Protocol, ...] = ("linear",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelCfg(_Strict):
    """One row of the leaderboard: a backbone (or a baseline feature extractor)."""

    name: str = Field(description="label in tables, unique in the suite")
    kind: Literal["backbone", "raw_pixels", "spectral_indices"] = "backbone"
    arch: str | None = Field(None, description="eokit.models.create_backbone name (kind=backbone)")
    weights: str | None = Field(None, description="weights tag, file:PATH or url:URL; null = the tag in arch, "
                                "else random init")
    bands: Literal["all", "rgb"] | list[str] = Field("all", description="bands fed to the model")
    init_seed: int = Field(0, description="seed of the random initialisation")
    role: Literal["model", "baseline", "reference"] = "model"
    protocols: list[Protocol] | None = Field(None, description="restrict to these protocols")
    options: dict[str, Any] = Field(default_factory=dict, description="extra create_backbone kwargs")
    # left out of dumps (suite and result keys stay as they were); features key them apart (bench.features)
    engine: Literal["torch", "onnxruntime"] = Field("torch", exclude=True, description="what runs the backbone "
                                                   "for pooled features (eokit.models.engine)")
    precision: Literal["fp32", "bf16", "fp16", "int8"] = Field("fp32", exclude=True, description="fp32, bf16/fp16 "
                                                              "(torch autocast), int8 (onnxruntime); guarded")

    @model_validator(mode="after")
    def _arch_for_backbones(self) -> ModelCfg:
        if self.kind == "backbone" and not self.arch:
            raise ValueError(f"model {self.name!r}: kind 'backbone' needs 'arch' (an eokit.models name)")
        from eokit.models.engine import check_engine

        try:
            check_engine(self.engine, self.precision)
        except ConfigError as exc:
            raise ValueError(f"model {self.name!r}: {exc}") from None
        return self


class SplitCfg(_Strict):
    split: str | list[str] = Field("train", description="split name, or several splits read as one")
    max_items: int | None = Field(None, ge=1, description="seeded, class-balanced subset size")


class DatasetCfg(_Strict):
    """A dataset of the suite and how to sample it."""

    name: str = Field(description="label in tables")
    loader: str | None = Field(None, description="eokit.datasets name (default: name)")
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="loader kwargs; 'root': absolute, '~/...', relative to the suite file, or under EOKIT_DATA",
    )
    task: TaskType | None = Field(None, description="override the dataset's task type")
    train: SplitCfg = SplitCfg(split="train")
    test: SplitCfg = SplitCfg(split="test")
    holdout: float | None = Field(
        None, gt=0, lt=1, description="if set, split the train split into train/test (stratified, seeded)"
    )
    split_seed: int = 0
    tile: int | None = Field(None, ge=8, description="cut dense samples into tiles of this size")
    size: int | None = Field(None, ge=8, description="resize images to size x size")
    download: bool = False
    spec: str | None = Field(None, description="registered dataset whose DatasetSpec (tags, GSD) describes this data")

    @field_validator("task")
    @classmethod
    def _bench_task(cls, v: TaskType | None) -> TaskType | None:
        if v is not None and v not in TASKS:
            raise ValueError(f"task {v.value!r} is not benchmarked; use one of {', '.join(t.value for t in TASKS)}")
        return v

    @property
    def loader_name(self) -> str:
        return self.loader or self.name


class ProtocolCfg(_Strict):
    name: Protocol
    fractions: list[float] | None = None
    seeds: list[int] | None = None
    datasets: list[str] | None = Field(None, description="restrict this protocol to these datasets")
    epochs: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)
    batch_size: int | None = Field(None, ge=1)

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: list[float] | None) -> list[float] | None:
        return _check_fractions(v)


class RobustnessCfg(_Strict):
    corruptions: list[Literal[CORRUPTION_NAMES]] = Field(default_factory=lambda: list(CORRUPTION_NAMES))  # type: ignore[valid-type]
    severities: list[int] = Field(default_factory=lambda: [1, 3, 5])
    datasets: list[str] | None = Field(None, description="default: every pooled-feature dataset")
    protocols: list[Protocol] = Field(default_factory=lambda: list(_ROBUSTNESS_PROTOCOLS))
    fractions: list[float] = Field(default_factory=lambda: [1.0])
    seeds: list[int] | None = None

    @field_validator("severities")
    @classmethod
    def _sev(cls, v: list[int]) -> list[int]:
        bad = [s for s in v if s not in (1, 2, 3, 4, 5)]
        if bad:
            raise ValueError(f"severities must be in 1..5, got {bad}")
        return v


class EfficiencyCfg(_Strict):
    enabled: bool = True
    batch_size: int = Field(16, ge=1)
    repeats: int = Field(3, ge=1)


class ReferenceCfg(_Strict):
    """Normalisation bounds per dataset (docs/bench.md, "References for normalisation")."""

    low: str | None = Field("chance", description="'chance' (best input-blind predictor on the test labels) "
                            "or a model whose best entry maps to 0")
    high: Literal["perfect", "best", "model"] = Field(
        "perfect", description="'perfect' metric value, or the 'best' reference-role model / the named 'model' "
        "when it clears chance by a meaningful margin")
    model: str | None = None


class SRModelCfg(_Strict):
    """A super-resolution model of the SR protocol (docs/bench.md, "Super-resolution in the loop")."""

    name: str = Field(description="label in tables, unique among the SR models")
    kind: Literal["interpolate", "trained"] = Field(
        "interpolate", description="'interpolate' (torch interpolation, no parameters) or 'trained': a registered "
        "backbone + super-resolution head trained briefly on the dataset's train pairs")
    mode: Literal["nearest", "bilinear", "bicubic"] = Field("bicubic", description="interpolation (kind interpolate)")
    arch: str | None = Field(None, description="registered backbone (kind trained)")
    head: str = Field("sr", description="registered super-resolution head (kind trained)")
    options: dict[str, Any] = Field(default_factory=dict, description="create_backbone kwargs")
    head_options: dict[str, Any] = Field(default_factory=dict, description="head kwargs (e.g. channels)")
    epochs: int = Field(20, ge=1)
    lr: float = Field(2e-3, gt=0)
    batch_size: int = Field(16, ge=1)

    @model_validator(mode="after")
    def _arch_for_trained(self) -> SRModelCfg:
        if self.kind == "trained" and not self.arch:
            raise ValueError(f"SR model {self.name!r}: kind 'trained' needs 'arch' (an eokit.models name)")
        return self


class SRTaskModelCfg(_Strict):
    """The fixed downstream segmentation model of an SR dataset, trained once on the original images."""

    arch: str = Field("unet", description="registered backbone")
    head: str | None = Field(None, description="registered dense head (default: the backbone's)")
    options: dict[str, Any] = Field(default_factory=dict, description="create_backbone kwargs")
    bands: list[str] | None = Field(None, description="bands the model reads (default: all target bands)")
    epochs: int = Field(15, ge=1)
    lr: float = Field(3e-3, gt=0)
    batch_size: int = Field(16, ge=1)


class SRDatasetCfg(_Strict):
    """A super-resolution dataset (low-res ``image``, high-res ``target``, optional ``mask``) of the SR protocol."""

    name: str = Field(description="label in tables")
    loader: str | None = Field(None, description="eokit.datasets name (default: name)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="loader kwargs ('root' as for datasets)")
    train: SplitCfg = SplitCfg(split="train")
    test: SplitCfg = SplitCfg(split="test")
    split_seed: int = 0
    data_range: float | None = Field(None, gt=0, description="PSNR/SSIM value range (default: the span of "
                                     "the test targets)")
    downstream: SRTaskModelCfg | None = Field(None, description="fixed task model scored on the SR output "
                                              "(needs a 'mask' in the samples)")

    @property
    def loader_name(self) -> str:
        return self.loader or self.name


class SuperResCfg(_Strict):
    """The SR-in-the-loop protocol: SR models x SR datasets x seeds."""

    models: list[SRModelCfg]
    datasets: list[SRDatasetCfg]
    seeds: list[int] = Field(default_factory=lambda: [0])

    @model_validator(mode="after")
    def _unique(self) -> SuperResCfg:
        for kind, names in (("SR model", [m.name for m in self.models]), ("SR dataset", [d.name for d in self.datasets])):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"duplicate {kind} names {dup}; names must be unique")
        return self


class ModalityCfg(_Strict):
    """The missing-modality protocol (``eokit.bench.modality``): fusion models trained with every
    modality of a multi-modal dataset, tested with each modality removed."""

    datasets: list[DatasetCfg] = Field(description="multi-modal datasets; run by this protocol only")
    models: list[ModelCfg] = Field(description="fusion backbones (arch fusion_early/late/cross_attention)")
    epochs: int = Field(10, ge=1)
    lr: float = Field(3e-3, gt=0)
    batch_size: int = Field(16, ge=1)
    seeds: list[int] | None = Field(None, description="default: the suite's seeds")

    @model_validator(mode="after")
    def _unique(self) -> ModalityCfg:
        for kind, names in (("model", [m.name for m in self.models]), ("dataset", [d.name for d in self.datasets])):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"modality: duplicate {kind} names {dup}; names must be unique")
        return self


class SuiteConfig(_Strict):
    """A benchmark suite."""

    name: str
    description: str = ""
    models: list[ModelCfg]
    datasets: list[DatasetCfg]
    protocols: list[Protocol | ProtocolCfg] = Field(default_factory=lambda: list[Protocol | ProtocolCfg](_SUITE_PROTOCOLS))
    fractions: list[float] = Field(default_factory=lambda: [0.01, 0.1, 1.0])
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    robustness: RobustnessCfg | None = None
    modality: ModalityCfg | None = Field(None, description="missing-modality protocol (docs/bench.md)")
    efficiency: EfficiencyCfg = EfficiencyCfg()
    references: ReferenceCfg = ReferenceCfg()
    baselines: bool = Field(True, description="append the standard baselines (eokit.bench.baselines)")
    batch_size: int = Field(64, ge=1, description="feature extraction batch size")
    core: list[str] | None = Field(None, description="datasets of the Core capability group (default: all)")
    allow_noncommercial: bool | None = Field(
        None, description="false: leave out weights under a non-commercial licence (default $EOKIT_ALLOW_NONCOMMERCIAL)")
    superres: SuperResCfg | None = Field(None, description="SR-in-the-loop protocol (eokit.bench.superres)")

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        return _check_fractions(v) or []

    @model_validator(mode="after")
    def _cross(self) -> SuiteConfig:
        for kind, names in (("model", [m.name for m in self.models]), ("dataset", [d.name for d in self.datasets])):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"duplicate {kind} names {dup}; names must be unique")
        known_ds = [d.name for d in self.datasets]
        for p in self.protocols:
            if not isinstance(p, ProtocolCfg):
                continue
            for d in p.datasets or []:
                if d not in known_ds:
                    raise ValueError(f"protocol {p.name!r}: dataset {d!r} is not a dataset of the suite ({known_ds})."
                                     f"{suggest(d, known_ds)}")
        clash = sorted({d.name for d in self.superres.datasets} & set(known_ds)) if self.superres else []
        if clash:
            raise ValueError(f"superres.datasets {clash} reuse names of the suite's datasets; give them their own names")
        for d in self.core or []:
            if d not in known_ds:
                raise ValueError(f"core: {d!r} is not a dataset of the suite ({known_ds}).{suggest(d, known_ds)}")
        if self.robustness and self.robustness.datasets:
            known = [d.name for d in self.datasets]
            for d in self.robustness.datasets:
                if d not in known:
                    raise ValueError(f"robustness.datasets: {d!r} is not a dataset of the suite ({known}).{suggest(d, known)}")
        return self

    def protocol_cfgs(self) -> list[ProtocolCfg]:
        """Protocols with the suite's fractions/seeds filled in."""
        out = []
        for p in self.protocols:
            cfg = ProtocolCfg(name=p) if isinstance(p, str) else p
            out.append(cfg.model_copy(update={
                "fractions": cfg.fractions if cfg.fractions is not None else self.fractions,
                "seeds": cfg.seeds if cfg.seeds is not None else self.seeds,
            }))
        return out

    def config_hash(self) -> str:
        """A stable hash of the whole suite (stored with every row)."""
        return stable_hash(self.model_dump(mode="json"))


def _check_fractions(v: list[float] | None) -> list[float] | None:
    if v is not None:
        bad = [f for f in v if not 0 < f <= 1]
        if bad:
            raise ValueError(f"label fractions must be in (0, 1], got {bad}")
    return v


def stable_hash(obj: Any, n: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (first ``n`` hex digits)."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:n]


def _format_error(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            parent = _model_at(err["loc"][:-1])
            allowed = sorted(parent.model_fields) if parent else []
            msg = f"unknown key {err['loc'][-1]!r}; allowed keys: {allowed}.{suggest(str(err['loc'][-1]), allowed)}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"  {loc}: {msg}")
    return f"invalid benchmark suite {source}:\n" + "\n".join(lines)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the key at ``loc`` (for 'allowed keys')."""
    model: type[BaseModel] = SuiteConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            # a union member name such as 'ProtocolCfg'
            cand = {c.__name__: c for c in (ProtocolCfg, ModelCfg, DatasetCfg, SplitCfg, RobustnessCfg,
                                             ModalityCfg)}.get(str(part))
            if cand is None:
                return None
            model = cand
            continue
        ann = field.annotation
        found = None
        for c in (SuperResCfg, SRTaskModelCfg, SRModelCfg, SRDatasetCfg, ModalityCfg, ModelCfg, DatasetCfg, SplitCfg,
                  ProtocolCfg, RobustnessCfg, EfficiencyCfg, ReferenceCfg):
            if ann is c or c.__name__ in str(ann):
                found = c
                break
        if found is None:
            return None
        model = found
    return model


def parse_suite(data: Any, source: str = "<dict>") -> SuiteConfig:
    """Validate a suite given as a mapping (raises ConfigError)."""
    if not isinstance(data, dict):
        raise ConfigError(f"invalid benchmark suite {source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return SuiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(source, exc)) from None


def suite_path(name: str) -> Path:
    """Path of a built-in suite."""
    return Path(str(resources.files("eokit.bench") / "suites" / f"{name}.yaml"))


DATA_PATH_KWARGS = ("root", "split_file")
"""Dataset kwargs that name a file or folder (resolved against the suite file, see :func:`resolve_data_paths`)."""


def resolve_data_paths(data: Any, base: Path) -> Any:
    """The suite mapping ``data`` with its datasets' paths made absolute where the suite file places them.

    For ``root`` and ``split_file`` in each dataset's ``kwargs``: ``~`` is the home folder;
    ``./x`` and ``../x`` are relative to ``base`` (the suite file's folder); another relative
    path is relative to ``base`` when it exists there, else to ``EOKIT_DATA`` (as in the
    built-in suites); absolute paths and ``$EOKIT_DATA/...`` are kept.
    """
    if not isinstance(data, dict):
        return data
    sr = data.get("superres")
    if isinstance(sr, dict) and isinstance(sr.get("datasets"), list):
        data = {**data, "superres": {**sr, "datasets": _resolve_datasets(sr["datasets"], base)}}
    mod = data.get("modality")
    if isinstance(mod, dict) and isinstance(mod.get("datasets"), list):
        data = {**data, "modality": {**mod, "datasets": _resolve_datasets(mod["datasets"], base)}}
    if not isinstance(data.get("datasets"), list):
        return data
    return {**data, "datasets": _resolve_datasets(data["datasets"], base)}


def _resolve_datasets(items: list[Any], base: Path) -> list[Any]:
    datasets = []
    for d in items:
        kwargs = d.get("kwargs") if isinstance(d, dict) else None
        if isinstance(kwargs, dict):
            kwargs = {k: _resolve_path(v, base) if k in DATA_PATH_KWARGS else v for k, v in kwargs.items()}
            d = {**d, "kwargs": kwargs}
        datasets.append(d)
    return datasets


def _resolve_path(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value or value.startswith("$EOKIT_DATA"):
        return value
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    here = (base / path).resolve()
    if value.startswith(("./", "../", ".\\", "..\\")) or value in (".", "..") or here.exists():
        return str(here)
    return value


def load_suite(name_or_path: str | Path) -> SuiteConfig:
    """Load a built-in suite (``'quick'``, ``'full'``) or a YAML file.

    Dataset roots in a suite file may be absolute, start with ``~``, or be relative to the
    suite file (:func:`resolve_data_paths`); other relative roots are under ``EOKIT_DATA``.
    """
    text_name = str(name_or_path)
    if text_name in BUILTIN_SUITES:
        path = suite_path(text_name)
    else:
        path = Path(text_name).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"benchmark suite {text_name!r} is neither a built-in suite {list(BUILTIN_SUITES)} "
                f"nor an existing YAML file.{suggest(text_name, BUILTIN_SUITES)}"
            )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"benchmark suite {str(path)!r} is not valid YAML: {exc}") from None
    if text_name not in BUILTIN_SUITES:
        data = resolve_data_paths(data, path.resolve().parent)
    return parse_suite(data, repr(str(path)))
