"""``train(config)``: build data, task and model, fit with Lightning, export, test, report."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import nn

from eokit.errors import ConfigError, ModelError
from eokit.io import atomic_path
from eokit.models.contract import DataContract
from eokit.tasks import Task, get_task
from eokit.tasktype import TaskType
from eokit.train.checkpoint import load_weights, model_bands, save_checkpoint
from eokit.train.config import TrainConfig
from eokit.train.data import EODataModule
from eokit.train.module import EOTaskModule

log = logging.getLogger(__name__)

RESUME_FILE = "last.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning resume checkpoints written atomically and read with ``torch.load(weights_only=True)``.

    A kill while saving leaves the previous ``last.ckpt`` intact; loading
    never unpickles arbitrary objects.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict:
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)


class ExportBest(Callback):
    """After each validation, write the eokit checkpoint (safetensors + JSON) when the monitored metric improved."""

    def __init__(self, folder: Path, monitor: str, mode: str, meta: dict[str, Any]) -> None:
        self.folder, self.monitor, self.mode, self.meta = folder, monitor, mode, meta
        self.best: float | None = None
        self.best_epoch: int | None = None

    def _better(self, v: float) -> bool:
        if math.isnan(v):
            return self.best is None
        if self.best is None or math.isnan(self.best):
            return True
        return v > self.best if self.mode == "max" else v < self.best

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        v = float(value)
        if self._better(v):
            self.best, self.best_epoch = v, trainer.current_epoch
            self.export(pl_module, trainer.current_epoch, getattr(pl_module, "val_results", {}))

    def export(self, pl_module: L.LightningModule, epoch: int, metrics: dict[str, Any]) -> None:
        save_checkpoint(self.folder, pl_module.get_submodule("model"), {**self.meta, "epoch": epoch, "metrics": metrics,
                                                       "monitor": self.monitor})

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state.get("best"), state.get("best_epoch")


class StartEpoch(Callback):
    """Records the epoch training (re)starts at: 0 for a fresh run, > 0 after a resume."""

    def __init__(self) -> None:
        self.epoch: int | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch = trainer.current_epoch


@dataclass
class TrainResult:
    output_dir: Path
    checkpoint: Path
    best_val: dict[str, Any]
    test: dict[str, Any]
    epochs: int
    start_epoch: int | None
    resumed: bool
    data: dict[str, Any] = field(default_factory=dict)
    global_rank: int = 0  # under DDP every process returns a result; rank 0 reports it


def build_task(cfg: TrainConfig, classes: tuple[str, ...] | None) -> Task:
    names = cfg.task.class_names or (list(classes) if classes else None)
    k = cfg.task.num_classes or (len(names) if names else None)
    if k is not None and names is not None and len(names) != k:
        names = None  # an explicit num_classes wins over the dataset's class list
    try:
        return get_task(cfg.task.type, num_classes=k, class_names=names, **cfg.task.options)
    except TypeError as exc:
        raise ConfigError(f"task.options for {cfg.task.type!r}: {exc}") from None


def build_model(cfg: TrainConfig, task: Task, bands: tuple[str, ...], sensor: str | None,
                target_channels: int | None = None, modalities: dict[str, Any] | None = None) -> nn.Module:
    """``eokit.models.create_model`` for the config's backbone/head and the data's bands.

    A fusion backbone (``fusion_early``/``fusion_late``/``fusion_cross_attention``) gets the data's
    ``modalities`` (``{name: {'bands', 'sensor'}}``) unless ``model.options.modalities`` names them.

    For super-resolution the head outputs ``target_channels`` bands (the data's
    target, e.g. 1 pan band from 3 MS bands) unless ``model.options.head_kwargs`` says otherwise.
    """
    from eokit.models import create_model

    kw: dict[str, Any] = dict(cfg.model.options)
    if task.name == TaskType.SUPER_RESOLUTION and target_channels is not None:
        kw["head_kwargs"] = {"out_chans": target_channels, **(kw.get("head_kwargs") or {})}
    if cfg.model.head is not None:
        kw["head"] = cfg.model.head
    if cfg.model.weights is not None:
        kw["weights"] = cfg.model.weights
    if cfg.model.allow_noncommercial is not None:
        kw["allow_noncommercial"] = cfg.model.allow_noncommercial
    if sensor is not None:
        kw.setdefault("sensor", sensor)
    if modalities and _is_fusion_arch(cfg.model.backbone):
        kw.setdefault("modalities", modalities)
    num = task.num_classes if task.num_classes is not None else 1
    model = create_model(backbone=cfg.model.backbone, task=task.name, bands=model_bands(bands, sensor),
                         num_classes=num, **kw)
    if not isinstance(getattr(model, "config", None), dict):
        raise ModelError(f"model {cfg.model.backbone!r} has no JSON .config; it cannot be checkpointed")
    return model


def _is_fusion_arch(name: str) -> bool:
    from eokit.models.registry import get_arch, split_name

    return get_arch(split_name(name)[0]).family == "fusion"


def data_contract(cfg: TrainConfig, dm: EODataModule, task: Task, model: nn.Module) -> DataContract:
    """The checkpoint's data contract: the data's bands and normalisation, the task's outputs."""
    own = getattr(model, "data_contract", None)
    return DataContract.from_normalizer(
        dm.bands, dm.normalizer, sensor=dm.sensor, task=task.name,
        classes=tuple(task.class_names) if task.class_names else None, num_outputs=task.num_classes,
        gsd=getattr(dm.spec, "gsd", None), input_size=cfg.data.crop_size,
        patch_size=own.patch_size if isinstance(own, DataContract) else None,
    ).with_sensor_metadata()


def _trainer(cfg: TrainConfig, callbacks: list[Callback], out: Path) -> L.Trainer:
    t = cfg.trainer
    kw: dict[str, Any] = {}
    for name in ("limit_train_batches", "limit_val_batches", "limit_test_batches", "gradient_clip_val"):
        if getattr(t, name) is not None:
            kw[name] = getattr(t, name)
    if t.progress_bar:  # on stderr, so stdout carries only results
        callbacks = [*callbacks, RichProgressBar(leave=True, console_kwargs={"stderr": True})]
    return L.Trainer(
        max_epochs=t.max_epochs, accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
        num_nodes=t.num_nodes, precision=t.precision, deterministic=t.deterministic,
        log_every_n_steps=t.log_every_n_steps, enable_progress_bar=t.progress_bar, callbacks=callbacks,
        logger=CSVLogger(str(out), name="logs"), default_root_dir=str(out), num_sanity_val_steps=0,
        plugins=[AtomicCheckpointIO()], enable_model_summary=False, **kw,
    )


def train(cfg: TrainConfig) -> TrainResult:
    """Run a training config end to end; returns where the checkpoint is and the metrics.

    Output folder (``cfg.out``): ``checkpoint/`` (eokit checkpoint of the best
    epoch: ``model.safetensors`` + ``config.json``), ``lightning/last.ckpt``
    (resume state), ``logs/`` (CSV), ``metrics.json``, ``config.yaml``.
    With ``resume: true`` a run whose ``lightning/last.ckpt`` exists continues from it.
    """
    import yaml

    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))

    dm = EODataModule(cfg.data, seed=cfg.seed, task=cfg.task.type)
    dm.build()
    task = build_task(cfg, dm.classes)
    model = build_model(cfg, task, dm.bands, dm.sensor, dm.target_channels, dm.modalities)
    module = EOTaskModule(model, task, cfg.optim)

    monitor = f"val/{cfg.trainer.monitor or task.monitor}"
    mode = task.monitor_mode if not cfg.trainer.monitor else ("min" if "loss" in monitor else "max")
    meta = {
        "model": model.config,
        "task": task.config(),
        "contract": data_contract(cfg, dm, task, model),
        "dataset": cfg.data.dataset,
        "seed": cfg.seed,
        "train_config": cfg.model_dump(),
    }
    export = ExportBest(out / "checkpoint", monitor, mode, meta)
    start = StartEpoch()
    callbacks: list[Callback] = [
        start,
        ModelCheckpoint(dirpath=str(out / "lightning"), filename="best", monitor=monitor, mode=mode,
                        save_top_k=1, save_last=True, enable_version_counter=False),
        export,
    ]
    if cfg.trainer.early_stopping is not None:
        es = cfg.trainer.early_stopping
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=es.patience, min_delta=es.min_delta,
                                       check_finite=False))
    trainer = _trainer(cfg, callbacks, out)
    resume = out / "lightning" / RESUME_FILE
    ckpt_path = str(resume) if cfg.resume and resume.exists() else None
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)

    if export.best is None and trainer.is_global_zero:  # never validated (or metric absent): keep the final model
        export.export(module, trainer.current_epoch, module.val_results)
    test: dict[str, Any] = {}
    if dm.test_ds is not None and len(dm.test_ds):
        if (out / "checkpoint" / "config.json").exists():
            load_weights(model, out / "checkpoint")
        trainer.test(module, datamodule=dm, verbose=False, weights_only=True)
        test = module.test_results
    best_val = {}
    if (out / "checkpoint" / "config.json").exists():
        best_val = json.loads((out / "checkpoint" / "config.json").read_text()).get("metrics", {})
    result = TrainResult(out, out / "checkpoint", best_val, test, trainer.current_epoch, start.epoch,
                         ckpt_path is not None, dm.describe(), global_rank=trainer.global_rank)
    if trainer.is_global_zero:
        report = {"name": cfg.name, "seed": cfg.seed, "epochs": trainer.current_epoch,
                  "start_epoch": start.epoch, "resumed": ckpt_path is not None, "best_epoch": export.best_epoch, "monitor": monitor,
                  "val": best_val, "test": test, "data": dm.describe(), "checkpoint": str(result.checkpoint)}
        with atomic_path(out / "metrics.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2, default=str))
    return result
