"""The LightningModule: any eokit model + a Task (loss, metrics) + the optimiser."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn

from eokit.data.sample import Sample
from eokit.errors import MetricError
from eokit.tasks import Task, compute_metrics
from eokit.train.config import OptimConfig


def batch_size_of(batch: Sample) -> int:
    img = batch["image"]
    return len(img)


class EOTaskModule(L.LightningModule):
    """Trains ``model`` on ``task``; logs ``train/loss``, ``val/loss`` and ``val/<metric>`` per epoch.

    Test results (``test/<metric>``, per-class values included) are kept in
    ``self.test_results`` after ``trainer.test``.
    """

    def __init__(self, model: nn.Module, task: Task, optim: OptimConfig | None = None,
                 train_metrics: bool = False) -> None:
        super().__init__()
        self.model, self.task = model, task
        self.optim = optim or OptimConfig()
        self.train_metrics = task.metrics() if train_metrics else None
        self.val_metrics = task.metrics()
        self.test_metrics = task.metrics()
        self.val_results: dict[str, Any] = {}
        self.test_results: dict[str, Any] = {}
        self._checked = False

    def forward(self, batch: Sample) -> Any:
        return self.task.forward(self.model, batch)

    # -- steps ------------------------------------------------------------------
    def training_step(self, batch: Sample, batch_idx: int) -> torch.Tensor:
        out = self(batch)
        if not self._checked:
            self.task.check_output(out, batch)
            self._checked = True
        loss = self.task.loss(out, batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size_of(batch), on_step=True, on_epoch=True)
        if self.train_metrics is not None and getattr(self.task, "has_eval_loss", True):
            self.task.update(self.train_metrics, out, batch)
        return loss

    def _eval_step(self, batch: Sample, metrics: Any, stage: str) -> None:
        out = self(batch)
        self.task.check_output(out, batch)
        if getattr(self.task, "has_eval_loss", True):
            self.log(f"{stage}/loss", self.task.loss(out, batch), prog_bar=stage == "val",
                     batch_size=batch_size_of(batch), on_epoch=True, sync_dist=True)
        self.task.update(metrics, out, batch)

    def validation_step(self, batch: Sample, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch: Sample, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics, "test")

    def _epoch_end(self, metrics: Any, stage: str) -> dict[str, Any]:
        try:
            values = compute_metrics(metrics, self.task.class_names)
        except MetricError:
            if self._trainer is None or not self.trainer.sanity_checking:
                raise  # a whole epoch without a valid target: the split is wrong, say so
            values = {}  # the sanity check's two batches may hold no labelled pixel
        metrics.reset()
        for k, v in values.items():
            if isinstance(v, float):
                self.log(f"{stage}/{k}", v, prog_bar=k == self.task.monitor, sync_dist=False)
        return values

    def on_train_epoch_end(self) -> None:
        if self.train_metrics is not None:
            self._epoch_end(self.train_metrics, "train")

    def on_validation_epoch_end(self) -> None:
        self.val_results = self._epoch_end(self.val_metrics, "val")

    def on_test_epoch_end(self) -> None:
        self.test_results = self._epoch_end(self.test_metrics, "test")

    # -- optimiser --------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        o = self.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt: torch.optim.Optimizer
        if o.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, nesterov=True)
        elif o.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        epochs = max(1, self.trainer.max_epochs or 1) if self._trainer is not None else 1
        if o.scheduler == "none":
            return opt
        sched: torch.optim.lr_scheduler.LRScheduler
        if o.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        if o.scheduler == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=o.step_size, gamma=o.gamma)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        steps = int(self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=o.lr, total_steps=max(1, steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
