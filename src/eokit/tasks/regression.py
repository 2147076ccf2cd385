"""Image regression (one value per image), pixel regression (a value map) and super-resolution."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MetricCollection

from eokit.data.sample import Sample
from eokit.errors import ConfigError
from eokit.tasks.base import Task, register_task
from eokit.tasks.metrics import metric_collection, update_metrics
from eokit.tasktype import TaskType

LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.smooth_l1_loss}


def _loss_fn(name: str, task: str):
    if name not in LOSSES:
        raise ConfigError(f"task {task!r}: loss {name!r} is not one of {sorted(LOSSES)}")
    return LOSSES[name]


@register_task
class RegressionTask(Task):
    """One value per image: output (B,) or (B, 1), ``target`` (B,) float. Metrics: ``rmse``, ``mae``, ``r2``."""

    name = TaskType.REGRESSION
    target = "target"
    monitor = "rmse"
    monitor_mode = "min"

    def __init__(self, num_classes: int | None = None, class_names: Any = None, loss: str = "mse") -> None:
        super().__init__(None, None)  # no classes: num_classes/class_names are accepted and unused
        self.loss_fn = _loss_fn(loss, self.name)
        self.loss_name = loss

    @staticmethod
    def _flat(output: Tensor) -> Tensor:
        return output.reshape(output.shape[0], -1)[:, 0] if output.ndim > 1 else output

    def check_output(self, output: Any, batch: Sample) -> None:
        if not isinstance(output, Tensor) or not (output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)):
            raise self._shape_error("values", getattr(output, "shape", ()), "(B,) or (B, 1)")

    def loss(self, output: Tensor, batch: Sample) -> Tensor:
        return self.loss_fn(self._flat(output), batch[self.target].to(output).reshape(-1))

    def metrics(self) -> MetricCollection:
        return metric_collection(self.name)

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        update_metrics(self.name, metrics, self._flat(output.detach()).float(),
                       batch[self.target].to(output).reshape(-1).float())

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        return {"value": self._flat(output)}


def _valid(batch: Sample, target: Tensor) -> Tensor:
    """Pixels that count: the sample's ``valid`` mask (if any) and finite targets."""
    ok = torch.isfinite(target)
    if "valid" in batch and isinstance(batch["valid"], Tensor):
        ok &= batch["valid"].to(target.device).reshape(target.shape).bool()
    return ok


@register_task
class PixelRegressionTask(Task):
    """A value per pixel: output (B, 1, H, W), ``target`` (B, H, W) float.

    Pixels with a non-finite target or ``valid == False`` are left out of the
    loss and metrics. Metrics: ``rmse``, ``mae``, ``r2`` over valid pixels.
    """

    name = TaskType.PIXEL_REGRESSION
    target = "target"
    monitor = "rmse"
    monitor_mode = "min"

    def __init__(self, num_classes: int | None = None, class_names: Any = None, loss: str = "mse") -> None:
        super().__init__(None, None)  # no classes: num_classes/class_names are accepted and unused
        self.loss_fn = _loss_fn(loss, self.name)

    def check_output(self, output: Any, batch: Sample) -> None:
        t = batch[self.target]
        want = (t.shape[0], 1, *t.shape[-2:])
        if not isinstance(output, Tensor) or tuple(output.shape) != want:
            raise self._shape_error("map", getattr(output, "shape", ()), str(want))

    def _pairs(self, output: Tensor, batch: Sample) -> tuple[Tensor, Tensor]:
        target = batch[self.target].to(output).reshape(output.shape[0], *output.shape[-2:])
        pred = output[:, 0]
        ok = _valid(batch, target)
        return pred[ok], target[ok]

    def loss(self, output: Tensor, batch: Sample) -> Tensor:
        pred, target = self._pairs(output, batch)
        if pred.numel() == 0:
            return output.sum() * 0.0
        return self.loss_fn(pred, target)

    def metrics(self) -> MetricCollection:
        return metric_collection(self.name)

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        pred, target = self._pairs(output.detach().float(), batch)
        if pred.numel():  # a batch without valid pixels adds nothing (support stays as it was)
            update_metrics(self.name, metrics, pred, target)

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        return {"value": output[:, 0]}


@register_task
class SuperResolutionTask(Task):
    """Super-resolution: ``image`` (B, C, H, W) low-res -> output (B, C, sH, sW); ``target`` high-res.

    Loss L1 (default). Metrics: ``psnr``, ``ssim`` (with ``data_range``: the
    value span of the target, e.g. 1.0 for reflectance in [0, 1]; required for
    the metrics), ``rmse``, ``mae``. Prediction: ``image``.
    """

    name = TaskType.SUPER_RESOLUTION
    target = "target"
    monitor = "psnr"
    monitor_mode = "max"

    def __init__(
        self, num_classes: int | None = None, class_names: Any = None, loss: str = "l1",
        data_range: float | None = None,
    ) -> None:
        super().__init__(None, None)  # no classes
        self.loss_fn = _loss_fn(loss, self.name)
        self.data_range = data_range

    def check_output(self, output: Any, batch: Sample) -> None:
        t = batch[self.target]
        if not isinstance(output, Tensor) or tuple(output.shape) != tuple(t.shape):
            raise self._shape_error("image", getattr(output, "shape", ()), str(tuple(t.shape)))

    def loss(self, output: Tensor, batch: Sample) -> Tensor:
        return self.loss_fn(output, batch[self.target].to(output))

    def metrics(self) -> MetricCollection:
        return metric_collection(self.name, data_range=self.data_range)

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        update_metrics(self.name, metrics, output.detach().float(), batch[self.target].to(output).float())

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        return {"image": output}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "data_range": self.data_range}
