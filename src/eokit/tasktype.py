"""The one enumeration of task types, shared by datasets, tasks, training, bench and inference.

``TaskType`` is a :class:`enum.StrEnum`: a member *is* its string
(``TaskType.SEGMENTATION == "segmentation"``), so YAML/JSON configs, stored
results and string comparisons keep working. Parse user input with
:meth:`TaskType.parse` for a typed error naming the allowed values.
"""

from __future__ import annotations

from enum import StrEnum

from eokit.errors import ConfigError, suggest


class TaskType(StrEnum):
    """What a dataset's targets are and what a model predicts for them."""

    CLASSIFICATION = "classification"  # one class per image
    MULTILABEL = "multilabel"  # a set of classes per image
    SEGMENTATION = "segmentation"  # one class per pixel
    CHANGE_DETECTION = "change_detection"  # change / no change per pixel between two dates
    REGRESSION = "regression"  # one value per image
    PIXEL_REGRESSION = "pixel_regression"  # one value per pixel
    DETECTION = "detection"  # boxes with classes
    SUPER_RESOLUTION = "super_resolution"  # a finer image
    TIMESERIES_SEGMENTATION = "timeseries_segmentation"  # one class per pixel of an image time series
    TIMESERIES_CLASSIFICATION = "timeseries_classification"  # one class per image time series

    @classmethod
    def parse(cls, value: str | TaskType, where: str = "task") -> TaskType:
        """``value`` as a TaskType; ConfigError naming ``where``, the value and the choices otherwise."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = [t.value for t in cls]
            raise ConfigError(
                f"{where}: {value!r} is not a task type; use one of {', '.join(names)}."
                + suggest(str(value), names)
            ) from None

    @property
    def dense(self) -> bool:
        """Targets (and predictions) are per-pixel maps."""
        return self in _DENSE

    @property
    def temporal(self) -> bool:
        """Inputs are more than one date."""
        return self in _TEMPORAL

    @property
    def classes(self) -> bool:
        """Targets are class ids or class sets (the task has a class list)."""
        return self not in _VALUED


_DENSE = frozenset({TaskType.SEGMENTATION, TaskType.CHANGE_DETECTION, TaskType.PIXEL_REGRESSION,
                    TaskType.SUPER_RESOLUTION, TaskType.TIMESERIES_SEGMENTATION})
_TEMPORAL = frozenset({TaskType.CHANGE_DETECTION, TaskType.TIMESERIES_SEGMENTATION,
                       TaskType.TIMESERIES_CLASSIFICATION})
_VALUED = frozenset({TaskType.REGRESSION, TaskType.PIXEL_REGRESSION, TaskType.SUPER_RESOLUTION})


def _register_yaml() -> None:
    """Let ``yaml.safe_dump`` write a TaskType as its plain string (it refuses str subclasses)."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        return
    yaml.SafeDumper.add_representer(TaskType, lambda d, v: d.represent_str(str(v)))


_register_yaml()
