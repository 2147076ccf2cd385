"""Semantic segmentation and (bi-temporal) change detection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MetricCollection

from eokit.data.sample import Sample
from eokit.errors import ModelError
from eokit.tasks.base import Task, as_long, register_task
from eokit.tasks.metrics import metric_collection, update_metrics
from eokit.tasktype import TaskType


@register_task
class SegmentationTask(Task):
    """Per-pixel classes: logits (B, K, H, W), ``mask`` (B, H, W) int64; cross-entropy.

    Pixels equal to ``ignore_index`` (e.g. nodata) count neither in the loss
    nor in the metrics. Metrics: ``miou``, ``iou_per_class``, ``oa`` (pixel
    accuracy), ``f1_macro``. Prediction: ``probs`` (B, K, H, W), ``mask`` (B, H, W).
    """

    name = TaskType.SEGMENTATION
    target = "mask"
    monitor = "miou"
    monitor_mode = "max"

    def __init__(
        self,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        ignore_index: int | None = None,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(num_classes, class_names)
        if not self.num_classes or self.num_classes < 2:
            raise ModelError(f"task {self.name!r} needs num_classes >= 2, got {self.num_classes}")
        self.ignore_index = ignore_index
        self.class_weights = list(class_weights) if class_weights else None

    def check_output(self, output: Any, batch: Sample) -> None:
        mask = batch[self.target]
        want = (mask.shape[0], self.num_classes, *mask.shape[-2:])
        if not isinstance(output, Tensor) or tuple(output.shape) != want:
            raise self._shape_error("logits", getattr(output, "shape", ()), str(want))

    def loss(self, output: Tensor, batch: Sample) -> Tensor:
        w = output.new_tensor(self.class_weights) if self.class_weights else None
        ii = -100 if self.ignore_index is None else self.ignore_index
        return F.cross_entropy(output, as_long(batch[self.target]).to(output.device), weight=w, ignore_index=ii)

    def metrics(self) -> MetricCollection:
        return metric_collection(self.name, self.num_classes, ignore_index=self.ignore_index)

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        update_metrics(self.name, metrics, output.detach().argmax(1),
                       as_long(batch[self.target]).to(output.device), ignore_index=self.ignore_index)

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        probs = output.softmax(1)
        return {"probs": probs, "mask": probs.argmax(1)}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "ignore_index": self.ignore_index}


@register_task
class ChangeDetectionTask(SegmentationTask):
    """Bi-temporal change: ``model(image, image2)`` -> logits (B, 2, H, W); ``mask`` 1 = change.

    Metrics: segmentation's, plus the change-class metrics ``f1_change``, ``iou_change``,
    ``precision_change``, ``recall_change`` (class 1 against the rest).
    """

    name = TaskType.CHANGE_DETECTION
    inputs = ("image", "image2")
    monitor = "f1_change"
    monitor_mode = "max"

    def __init__(
        self,
        num_classes: int | None = 2,
        class_names: Sequence[str] | None = None,
        ignore_index: int | None = None,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(num_classes, class_names, ignore_index, class_weights)
