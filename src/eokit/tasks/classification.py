"""Scene classification (one label per image) and multi-label classification."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MetricCollection

from eokit.data.sample import Sample
from eokit.errors import ModelError
from eokit.tasks.base import Task, as_long, register_task
from eokit.tasks.metrics import metric_collection, update_metrics
from eokit.tasktype import TaskType


@register_task
class ClassificationTask(Task):
    """Single-label classification: logits (B, K), ``label`` (B,) int64; cross-entropy.

    Metrics: ``oa`` (overall accuracy), ``aa`` (average per-class recall),
    ``f1_macro``, ``f1_per_class``, ``kappa``. Prediction: ``probs`` (B, K), ``label`` (B,).
    """

    name = TaskType.CLASSIFICATION
    target = "label"
    num_classes: int  # checked in __init__
    monitor = "oa"
    monitor_mode = "max"

    def __init__(
        self,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(num_classes, class_names)
        if not self.num_classes or self.num_classes < 2:
            raise ModelError(f"task {self.name!r} needs num_classes >= 2, got {self.num_classes}")
        self.label_smoothing = label_smoothing
        self.class_weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None

    def check_output(self, output: Any, batch: Sample) -> None:
        if not isinstance(output, Tensor) or output.ndim != 2 or output.shape[1] != self.num_classes:
            raise self._shape_error("logits", getattr(output, "shape", ()), f"(B, {self.num_classes})")

    def loss(self, output: Tensor, batch: Sample) -> Tensor:
        w = self.class_weights.to(output.device) if self.class_weights is not None else None
        return F.cross_entropy(output, as_long(batch[self.target]).to(output.device), weight=w,
                               label_smoothing=self.label_smoothing)

    def metrics(self) -> MetricCollection:
        return metric_collection(self.name, self.num_classes)

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        update_metrics(self.name, metrics, output.detach().argmax(1),
                       as_long(batch[self.target]).to(output.device))

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        probs = output.softmax(1)
        return {"probs": probs, "label": probs.argmax(1)}


@register_task
class MultilabelTask(Task):
    """Multi-label classification: logits (B, K), ``label`` multi-hot (B, K); BCE-with-logits.

    Metrics: ``map`` (macro average precision over classes), ``f1_micro``,
    ``f1_macro``, ``f1_per_class`` at ``threshold`` on the sigmoid.
    Prediction: ``probs`` (B, K), ``labels`` (B, K) bool.
    """

    name = TaskType.MULTILABEL
    target = "label"
    monitor = "map"
    monitor_mode = "max"

    def __init__(
        self,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        threshold: float = 0.5,
        pos_weight: Sequence[float] | None = None,
    ) -> None:
        super().__init__(num_classes, class_names)
        if not self.num_classes:
            raise ModelError(f"task {self.name!r} needs num_classes >= 1")
        self.threshold = threshold
        self.pos_weight = torch.tensor(pos_weight, dtype=torch.float32) if pos_weight else None

    def check_output(self, output: Any, batch: Sample) -> None:
        if not isinstance(output, Tensor) or output.ndim != 2 or output.shape[1] != self.num_classes:
            raise self._shape_error("logits", getattr(output, "shape", ()), f"(B, {self.num_classes})")

    def loss(self, output: Tensor, batch: Sample) -> Tensor:
        pw = self.pos_weight.to(output.device) if self.pos_weight is not None else None
        return F.binary_cross_entropy_with_logits(output, batch[self.target].to(output).float(), pos_weight=pw)

    def metrics(self) -> MetricCollection:
        return metric_collection(self.name, self.num_classes)

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        update_metrics(self.name, metrics, output.detach().sigmoid(),
                       as_long(batch[self.target]).to(output.device), threshold=self.threshold)

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        probs = output.sigmoid()
        return {"probs": probs, "labels": probs >= self.threshold}


def time_inputs(batch: Sample) -> dict[str, Tensor]:
    """The batch's ``doy`` (as ``dates=``) and ``time_mask`` model keywords, where it has them as tensors."""
    out: dict[str, Tensor] = {}
    for key, kw in (("doy", "dates"), ("time_mask", "time_mask")):
        v = batch.get(key)
        if isinstance(v, Tensor):
            out[kw] = v
        elif isinstance(v, list | tuple) and v and all(isinstance(r, list | tuple | Tensor) for r in v):
            out[kw] = torch.as_tensor([list(r) for r in v])
    return out


@register_task
class TimeSeriesClassificationTask(ClassificationTask):
    """One class per time series (pixel series (B, T, C) or image series (B, T, C, H, W)).

    Like :class:`ClassificationTask` (logits (B, K), cross-entropy, the same metrics), and
    the model is also given the batch's ``doy`` (as ``dates=``) and ``time_mask``.
    """

    name = TaskType.TIMESERIES_CLASSIFICATION

    def forward(self, model: Any, batch: Sample) -> Any:
        return model(batch["image"], **time_inputs(batch))
