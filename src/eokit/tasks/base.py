"""The Task contract: loss + metrics + output contract for one task type.

A task is head-agnostic: it does not build the model, it only knows

- which batch keys feed the model (``forward``),
- how to turn the model's output and the batch into a loss (``loss``),
- which torchmetrics to track and how to update them (``metrics``, ``update``),
- what the output must look like (``check_output``) and how it becomes a
  prediction (``predict``: probabilities, labels, masks, values or boxes).

The metrics themselves live in :mod:`eokit.tasks.metrics` (one implementation,
shared with ``eokit evaluate`` and bench); :func:`~eokit.tasks.metrics.compute_metrics`
returns them as plain floats (and lists for per-class metrics), ready for JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection

from eokit.data.sample import Sample
from eokit.errors import ModelError
from eokit.registry import Registry
from eokit.tasktype import TaskType


class Task:
    """Base class. Subclasses set ``name``, ``inputs`` and ``target`` and implement the hooks."""

    name: ClassVar[str] = ""  # a TaskType member in every subclass
    inputs: ClassVar[tuple[str, ...]] = ("image",)
    target: ClassVar[str] = "label"
    #: the metric that model selection / early stopping watches, and its direction
    monitor: ClassVar[str] = "loss"
    monitor_mode: ClassVar[str] = "min"

    def __init__(self, num_classes: int | None = None, class_names: Sequence[str] | None = None) -> None:
        if class_names and num_classes is None:
            num_classes = len(class_names)
        if class_names and len(class_names) != num_classes:
            raise ModelError(
                f"task {self.name!r}: {len(class_names)} class names given for num_classes={num_classes}"
            )
        self.num_classes = num_classes
        self.class_names = tuple(class_names) if class_names else None

    # -- model call -------------------------------------------------------
    def forward(self, model: nn.Module, batch: Sample) -> Any:
        """Call the model on the batch's inputs (``image``, plus ``image2`` for change)."""
        return model(*(batch[k] for k in self.inputs))

    # -- to implement -----------------------------------------------------
    def loss(self, output: Any, batch: Sample) -> Tensor:
        raise NotImplementedError

    def metrics(self) -> MetricCollection:
        raise NotImplementedError

    def update(self, metrics: MetricCollection, output: Any, batch: Sample) -> None:
        raise NotImplementedError

    def predict(self, output: Any) -> dict[str, Any]:
        raise NotImplementedError

    def check_output(self, output: Any, batch: Sample) -> None:
        """Raise ModelError when ``output`` breaks this task's output contract."""

    # -- helpers ------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {"name": str(self.name), "num_classes": self.num_classes, "class_names": self.class_names}

    def _shape_error(self, what: str, got: Any, want: str) -> ModelError:
        return ModelError(f"task {self.name!r}: model output {what} has shape {tuple(got)}, expected {want}")


TASKS: Registry[type[Task]] = Registry(
    "task",
    "eokit.tasks",
    builtins=(
        "eokit.tasks.classification",
        "eokit.tasks.detection",
        "eokit.tasks.regression",
        "eokit.tasks.segmentation",
    ),
)


def register_task(cls: type[Task]) -> type[Task]:
    TASKS.register(str(cls.name), cls)
    return cls


def get_task(name: TaskType | str, **kwargs: Any) -> Task:
    """Build a task by name: ``get_task('segmentation', num_classes=6, ignore_index=255)``."""
    return TASKS.get(str(name))(**kwargs)


def list_tasks() -> list[str]:
    return TASKS.names()


def as_long(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) and x.dtype == torch.long else torch.as_tensor(x).long()
