"""Tasks: loss + metrics + output contract per task type (see :class:`eokit.tasks.base.Task`)."""

from eokit.tasks.base import TASKS, Task, get_task, list_tasks, register_task
from eokit.tasks.classification import ClassificationTask, MultilabelTask
from eokit.tasks.detection import DetectionTask
from eokit.tasks.metrics import compute_metrics, metric_collection, score, update_metrics
from eokit.tasks.regression import PixelRegressionTask, RegressionTask, SuperResolutionTask
from eokit.tasks.segmentation import ChangeDetectionTask, SegmentationTask

__all__ = [
    "TASKS",
    "ChangeDetectionTask",
    "ClassificationTask",
    "DetectionTask",
    "MultilabelTask",
    "PixelRegressionTask",
    "RegressionTask",
    "SegmentationTask",
    "SuperResolutionTask",
    "Task",
    "compute_metrics",
    "get_task",
    "list_tasks",
    "metric_collection",
    "register_task",
    "score",
    "update_metrics",
]
