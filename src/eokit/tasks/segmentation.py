"""Semantic segmentation and (bi-temporal) change detection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassJaccardIndex,
)

from eokit.data.sample import Sample
from eokit.errors import ModelError
from eokit.tasks.base import Task, as_long, register_task


@register_task
class SegmentationTask(Task):
    """Per-pixel classes: logits (B, K, H, W), ``mask`` (B, H, W) int64; cross-entropy.

    Pixels equal to ``ignore_index`` (e.g. nodata) count neither in the loss
    nor in the metrics. Metrics: ``miou``, ``iou_per_class``, ``oa`` (pixel
    accuracy), ``f1_macro``. Prediction: ``probs`` (B, K, H, W), ``mask`` (B, H, W).
    """

    name = "segmentation"
    num_classes: int  # checked in __init__
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
        k, ii = self.num_classes, self.ignore_index
        return MetricCollection({
            "miou": MulticlassJaccardIndex(k, average="macro", ignore_index=ii),
            "iou_per_class": MulticlassJaccardIndex(k, average=None, ignore_index=ii),
            "oa": MulticlassAccuracy(k, average="micro", ignore_index=ii),
            "f1_macro": MulticlassF1Score(k, average="macro", ignore_index=ii),
        })

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        metrics.update(output.detach().argmax(1), as_long(batch[self.target]).to(output.device))

    def predict(self, output: Tensor) -> dict[str, Tensor]:
        probs = output.softmax(1)
        return {"probs": probs, "mask": probs.argmax(1)}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "ignore_index": self.ignore_index}


@register_task
class ChangeDetectionTask(SegmentationTask):
    """Bi-temporal change: ``model(image, image2)`` -> logits (B, 2, H, W); ``mask`` 1 = change.

    Adds the change-class metrics ``f1_change``, ``iou_change``,
    ``precision_change``, ``recall_change`` (class 1 against the rest).
    """

    name = "change_detection"
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

    def metrics(self) -> MetricCollection:
        base: dict[str, Metric | MetricCollection] = dict(super().metrics().items(keep_base=True))
        ii = self.ignore_index
        base.update({
            "f1_change": BinaryF1Score(ignore_index=ii),
            "iou_change": BinaryJaccardIndex(ignore_index=ii),
            "precision_change": BinaryPrecision(ignore_index=ii),
            "recall_change": BinaryRecall(ignore_index=ii),
        })
        return MetricCollection(base, compute_groups=False)  # updated member by member

    def update(self, metrics: MetricCollection, output: Tensor, batch: Sample) -> None:
        pred = output.detach().argmax(1)
        mask = as_long(batch[self.target]).to(output.device)
        change = (mask == 1).long()
        if self.ignore_index is not None:
            change = torch.where(mask == self.ignore_index, mask, change)
        for name, metric in metrics.items(keep_base=True):
            if name.endswith("_change"):
                metric.update((pred == 1).long(), change)
            else:
                metric.update(pred, mask)
