"""Object detection with torchvision-style detectors (Faster R-CNN, RetinaNet, FCOS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from torch import Tensor, nn
from torchmetrics import MetricCollection

from eokit.data.sample import Sample
from eokit.errors import ModelError
from eokit.tasks.base import Task, register_task
from eokit.tasks.metrics import metric_collection, update_metrics
from eokit.tasktype import TaskType


def targets_of(batch: Sample) -> list[dict[str, Tensor]]:
    """Per-image ``{"boxes": (N, 4) xyxy, "labels": (N,)}`` from a collated batch."""
    images = batch["image"]
    device = images[0].device
    return [
        {"boxes": b.to(device).float().reshape(-1, 4), "labels": lab.to(device).long().reshape(-1)}
        for b, lab in zip(batch["boxes"], batch["labels"], strict=True)
    ]


@register_task
class DetectionTask(Task):
    """Boxes: in training the model returns a loss dict, in eval a list of
    ``{"boxes", "labels", "scores"}`` per image (torchvision's contract).

    The loss is the sum of the detector's losses. Metrics (torchmetrics'
    COCO-style ``MeanAveragePrecision``): ``map``, ``map_50``, ``map_75``,
    ``mar_100``, ... Labels are the dataset's class indices.
    """

    name = TaskType.DETECTION
    target = "boxes"
    monitor = "map"
    monitor_mode = "max"
    has_eval_loss = False

    def __init__(self, num_classes: int | None = None, class_names: Sequence[str] | None = None) -> None:
        super().__init__(num_classes, class_names)

    def forward(self, model: nn.Module, batch: Sample) -> Any:
        images = list(batch["image"])
        if model.training:
            return model(images, targets_of(batch))
        return model(images)

    def check_output(self, output: Any, batch: Sample) -> None:
        if isinstance(output, dict):
            return
        if not isinstance(output, list) or not all(isinstance(o, dict) and "boxes" in o for o in output):
            raise ModelError(f"task {self.name!r}: model output must be a loss dict (training) or a list "
                             f"of dicts with boxes/labels/scores (eval), got {type(output).__name__}")

    def loss(self, output: Any, batch: Sample) -> Tensor:
        if not isinstance(output, dict):
            raise ModelError("detection loss needs the model in training mode (it returns a loss dict)")
        return cast(Tensor, sum(output.values()))  # a sum of loss tensors

    def metrics(self) -> MetricCollection:
        return metric_collection(self.name)

    def update(self, metrics: MetricCollection, output: Any, batch: Sample) -> None:
        preds = [{k: o[k].detach() for k in ("boxes", "scores", "labels")} for o in output]
        update_metrics(self.name, metrics, preds, targets_of(batch))

    def predict(self, output: Any) -> list[dict[str, Tensor]]:  # type: ignore[override]  # one dict per image
        return output
