"""Capability groups derived from dataset tags and task types, after GEO-Bench-2.

A dataset belongs to every group whose rule it meets (``GROUP_RULES``):

- Core: single-date image-level or pixel-level tasks on one sensor
  (classification, multi-label, segmentation, regression, pixel regression);
  i.e. everything except detection, change and time series
- Multi-Spectral-Dependent: tagged ``multispectral`` or ``hyperspectral``
- Multi-Temporal: tagged ``temporal``, or a change / time-series task
- Pixel-wise: tagged ``pixelwise``, or a dense task
- Classification: scene classification (single or multi-label, or time series)
- Detection: object detection
- <10 m / >=10 m: tagged ``gsd<10`` / ``gsd>=10`` (else from ``spec.gsd``)
- RGB/NIR: tagged ``rgbn``, or every band is red, green, blue or NIR
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from eokit.datasets.spec import DatasetSpec
from eokit.errors import SensorError
from eokit.tasktype import TaskType

log = logging.getLogger(__name__)

GROUPS: tuple[str, ...] = (
    "Core",
    "Multi-Spectral-Dependent",
    "Multi-Temporal",
    "Pixel-wise",
    "Classification",
    "Detection",
    "<10 m",
    ">=10 m",
    "RGB/NIR",
)

_CLASSIF = {TaskType.CLASSIFICATION, TaskType.MULTILABEL, TaskType.TIMESERIES_CLASSIFICATION}
_CORE = {TaskType.CLASSIFICATION, TaskType.MULTILABEL, TaskType.SEGMENTATION, TaskType.REGRESSION,
         TaskType.PIXEL_REGRESSION}
_RGBN = {"red", "green", "blue", "nir", "nir08"}


def _rgbn_bands(spec: DatasetSpec) -> bool:
    if not spec.bands:
        return False
    from eokit.sensors import get_sensor

    try:
        sensor = get_sensor(spec.sensor) if spec.sensor else get_sensor("rgb")
    except SensorError:  # unknown sensor: judge by the names alone
        sensor = None
    for b in spec.bands:
        common = sensor.band(b).common_name if sensor is not None and sensor.has(b) else b.lower()
        if common not in _RGBN:
            return False
    return True


def _gsd(spec: DatasetSpec) -> float | None:
    return spec.gsd


def _gsd_is(spec: DatasetSpec, below: bool) -> bool:
    """True when the dataset's GSD is known and below 10 m (``below``) or at least 10 m (not ``below``)."""
    gsd = _gsd(spec)
    return gsd is not None and (gsd < 10) == below


GROUP_RULES: dict[str, Callable[[DatasetSpec], bool]] = {
    "Core": lambda s: s.task in _CORE and "temporal" not in s.tags,
    "Multi-Spectral-Dependent": lambda s: bool({"multispectral", "hyperspectral"} & set(s.tags)),
    "Multi-Temporal": lambda s: "temporal" in s.tags or TaskType(s.task).temporal,
    "Pixel-wise": lambda s: "pixelwise" in s.tags or TaskType(s.task).dense,
    "Classification": lambda s: s.task in _CLASSIF,
    "Detection": lambda s: s.task == TaskType.DETECTION,
    "<10 m": lambda s: "gsd<10" in s.tags or ("gsd>=10" not in s.tags and _gsd_is(s, below=True)),
    ">=10 m": lambda s: "gsd>=10" in s.tags or ("gsd<10" not in s.tags and _gsd_is(s, below=False)),
    "RGB/NIR": lambda s: "rgbn" in s.tags or _rgbn_bands(s),
}
assert tuple(GROUP_RULES) == GROUPS


def dataset_groups(spec: DatasetSpec) -> list[str]:
    """The capability groups ``spec`` belongs to, in GROUPS order."""
    return [g for g, rule in GROUP_RULES.items() if rule(spec)]


def _specs(datasets: Iterable[str | DatasetSpec], specs: Mapping[str, DatasetSpec] | None) -> list[DatasetSpec]:
    known = dict(specs or {})
    out = []
    missing = []
    for d in datasets:
        if isinstance(d, DatasetSpec):
            out.append(d)
        elif d in known:
            out.append(known[d])
        else:
            missing.append(d)
    if missing:
        from eokit.datasets.base import list_datasets

        registry = {s.name: s for s in list_datasets()}
        for d in missing:
            if d in registry:
                out.append(registry[d])
            else:
                log.warning("dataset %r is not registered: it joins no capability group", d)
    return out


def capability_groups(
    datasets: Iterable[str | DatasetSpec], specs: Mapping[str, DatasetSpec] | None = None
) -> dict[str, list[str]]:
    """``{group: [dataset names]}`` for the given datasets (names looked up in ``specs`` or the registry).

    Groups with no dataset are left out.
    """
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for spec in _specs(datasets, specs):
        for g in dataset_groups(spec):
            if spec.name not in groups[g]:
                groups[g].append(spec.name)
    return {g: sorted(v) for g, v in groups.items() if v}


GROUPS_FILENAME = "groups.json"


def write_groups(groups: Mapping[str, list[str]], path: str | Path) -> Path:
    """Write ``{group: [datasets]}`` as JSON (atomically), e.g. beside a results store for `eokit report`."""
    import json

    from eokit.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({g: list(v) for g, v in groups.items()}, indent=2))
    return path


def read_groups(path: str | Path) -> dict[str, list[str]]:
    """Read a ``groups.json`` written by :func:`write_groups`."""
    import json

    from eokit.errors import ConfigError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read capability groups from {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ConfigError(f"{str(path)!r} must map group name -> list of dataset names")
    return {str(g): [str(d) for d in v] for g, v in data.items()}
