"""``eokit pretrain CONFIG.yaml``: the pretraining config (validated; every bad key is named)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from eokit.pretrain.sources import PretrainSource
from eokit.train.config import read_config_yaml, validate_config


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackboneConfig(_Section):
    arch: str = "eokit_small"
    weights: str | None = Field(None, description="start from these weights (a tag or file:PATH); None = random")
    options: dict[str, Any] = Field(default_factory=dict)


class PretrainTrainer(_Section):
    max_steps: int = Field(1000, ge=1)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    warmup_steps: int = Field(100, ge=0)
    accumulate_grad_batches: int = Field(1, ge=1)
    gradient_clip_val: float | None = 3.0
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "32", "16", "bf16"] = "32-true"
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | Literal["auto"] = "auto"
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "fsdp"] = "auto"
    num_nodes: int = Field(1, ge=1)
    num_workers: int = Field(0, ge=0)
    checkpoint_every_n_steps: int = Field(100, ge=1)
    log_every_n_steps: int = Field(10, ge=1)
    progress_bar: bool = True
    threads: int | None = Field(None, ge=1)


class PretrainConfig(_Section):
    """A whole pretraining run (docs/pretrain.md)."""

    name: str = "pretrain"
    seed: int = 0
    method: str = "contrastive"
    method_options: dict[str, Any] = Field(default_factory=dict)
    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    sources: list[PretrainSource]
    curation: dict[str, Any] = Field(default_factory=dict, description="eokit.pretrain.curation.CurationConfig")
    balance: Literal["sensor", "chips"] = Field(
        "sensor", description="sensor: each band set drawn equally often; chips: in proportion to its chips")
    exclude_suite: str | None = Field(
        "quick", description="refuse any chip the named benchmark suite evaluates on (None: no check)")
    leakage: Literal["error", "drop"] = Field(
        "error", description="a chip the suite evaluates: stop with a LeakageError, or drop it (counted in splits.json)")
    trainer: PretrainTrainer = Field(default_factory=PretrainTrainer)
    output_dir: str = "runs/{name}"
    resume: bool = True

    @property
    def out(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


def parse_pretrain_config(data: dict[str, Any], source: str = "<dict>") -> PretrainConfig:
    """Validate a config dict; ConfigError lists every bad key."""
    return validate_config(PretrainConfig, data, source, "pretraining config")


def load_pretrain_config(path: str | Path, overrides: list[str] | None = None) -> PretrainConfig:
    """Read and validate a YAML pretraining config (``overrides``: ``key.path=value``)."""
    return parse_pretrain_config(read_config_yaml(path, overrides, "pretraining config"), repr(str(path)))
