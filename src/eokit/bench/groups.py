"""Capability groups, as GEO-Bench-2 defines them (Simumba et al. 2025, arXiv:2511.15658).

GEO-Bench-2 ranks models per "capability": overlapping groups of datasets that
share a trait. Its leaderboard (github.com/The-AI-Alliance/GEO-Bench-2-Leaderboard)
defines them as follows; ``GROUP_DEFINITIONS`` keeps that wording and how eokit
decides membership from a :class:`DatasetSpec` (its tags, task, GSD and the bands the
benchmark feeds the model):

- Core: a curated subset with datasets from each dimension. A suite names it
  (``core: [...]`` in the suite YAML); a suite that names none uses all its datasets.
- Multi-Spectral-Dependent: datasets whose scores improve significantly when
  multispectral bands are used. eokit's proxy: tagged ``multispectral`` or
  ``hyperspectral`` *and* fed optical bands beyond red, green, blue and NIR.
- Multi-Temporal: datasets with more than one timestamp used as input: time
  series, and bi-temporal change pairs (GEO-Bench-2 lists the pre/post-event flood
  maps of Kuro Siwo here), or a dataset tagged ``temporal``.
- Pixel-wise: pixel-wise segmentation and regression (every dense task,
  change maps included; or tagged ``pixelwise``).
- Classification: single-label and multi-label classification (time-series
  classification is single-label).
- Detection: object detection and instance segmentation.
- <10 m: GSD under 10 m; >=10 m: 10 m <= GSD <= 30 m (tag ``gsd<10`` /
  ``gsd>=10``, else ``spec.gsd``).
- RGB/NIR: datasets using red, green, blue and NIR bands only (tag ``rgbn``, or
  every band fed to the model is one of them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
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

#: What each group means: GEO-Bench-2's definition, then how eokit decides membership.
GROUP_DEFINITIONS: dict[str, str] = {
    "Core": "a subset with datasets from each dimension (GEO-Bench-2); the suite's `core` list, "
            "else all its datasets",
    "Multi-Spectral-Dependent": "datasets that gain significantly from multispectral bands (GEO-Bench-2); "
                                "here: tagged multispectral/hyperspectral and fed bands beyond RGB+NIR",
    "Multi-Temporal": "more than one timestamp used as input (GEO-Bench-2): time series and "
                      "bi-temporal change pairs",
    "Pixel-wise": "pixel-wise segmentation and regression, change maps included",
    "Classification": "single-label and multi-label classification",
    "Detection": "object detection and instance segmentation",
    "<10 m": "ground sampling distance under 10 m",
    ">=10 m": "ground sampling distance from 10 m to 30 m",
    "RGB/NIR": "red, green, blue and NIR bands only",
}

_CLASSIF = {TaskType.CLASSIFICATION, TaskType.MULTILABEL, TaskType.TIMESERIES_CLASSIFICATION}
_RGBN = {"red", "green", "blue", "nir", "nir08"}
_SAR = {"vv", "vh", "hh", "hv"}
MAX_GSD = 30.0  # GEO-Bench-2's ">=10 m" group stops at 30 m


def _common_names(spec: DatasetSpec) -> list[str | None]:
    """Each band's common name (red, nir, rededge...), ``None`` where the sensor does not say."""
    from eokit.sensors import get_sensor

    try:
        sensor = get_sensor(spec.sensor) if spec.sensor else get_sensor("rgb")
    except SensorError:  # unknown sensor: judge by the names alone
        sensor = None
    out: list[str | None] = []
    for b in spec.bands:
        if sensor is not None and sensor.has(b):
            out.append(sensor.band(b).common_name)
        else:
            out.append(b.lower() if b.lower() in _RGBN | _SAR else None)
    return out


def _rgbn_only(spec: DatasetSpec) -> bool:
    if not spec.bands:
        return "rgbn" in spec.tags
    return all(c in _RGBN for c in _common_names(spec))


def _beyond_rgbn(spec: DatasetSpec) -> bool:
    """Fed an optical band other than red, green, blue, NIR (SAR polarisations do not count)."""
    if not spec.bands:
        return True  # unknown bands: the tags decide
    return any(c not in _RGBN and c not in _SAR and b.lower() not in _SAR
               for b, c in zip(spec.bands, _common_names(spec), strict=True))


def _gsd_is(spec: DatasetSpec, below: bool) -> bool:
    """Tagged ``gsd<10`` / ``gsd>=10``, else the known GSD under 10 m (``below``) or within 10-30 m."""
    if "gsd<10" in spec.tags or "gsd>=10" in spec.tags:
        return ("gsd<10" in spec.tags) == below
    gsd = spec.gsd
    if gsd is None:
        return False
    return gsd < 10 if below else 10 <= gsd <= MAX_GSD


GROUP_RULES: dict[str, Callable[[DatasetSpec], bool]] = {
    "Multi-Spectral-Dependent": lambda s: bool({"multispectral", "hyperspectral"} & set(s.tags))
    and _beyond_rgbn(s),
    "Multi-Temporal": lambda s: "temporal" in s.tags or TaskType(s.task).temporal,
    "Pixel-wise": lambda s: "pixelwise" in s.tags or TaskType(s.task).dense,
    "Classification": lambda s: s.task in _CLASSIF,
    "Detection": lambda s: s.task == TaskType.DETECTION,
    "<10 m": lambda s: _gsd_is(s, below=True),
    ">=10 m": lambda s: _gsd_is(s, below=False),
    "RGB/NIR": _rgbn_only,
}
"""Membership rules of every group but Core (a suite's choice, not a dataset's trait)."""
assert tuple(GROUP_RULES) == GROUPS[1:]


def dataset_groups(spec: DatasetSpec) -> list[str]:
    """The capability groups ``spec`` belongs to by its traits, in GROUPS order (Core is the suite's choice)."""
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
    datasets: Iterable[str | DatasetSpec],
    specs: Mapping[str, DatasetSpec] | None = None,
    *,
    core: Sequence[str] | None = None,
) -> dict[str, list[str]]:
    """``{group: [dataset names]}`` for the given datasets (names looked up in ``specs`` or the registry).

    Core holds the datasets named in ``core`` (a suite's curated subset), or every dataset
    when ``core`` is None. Groups with no dataset are left out.
    """
    resolved = _specs(datasets, specs)
    names = [s.name for s in resolved]
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    if core is None:
        groups["Core"] = names
    else:
        unknown = sorted(set(core) - set(names))
        if unknown:
            log.warning("core datasets %s have no results or spec: left out of Core", unknown)
        groups["Core"] = [n for n in names if n in set(core)]
    for spec in resolved:
        for g in dataset_groups(spec):
            groups[g].append(spec.name)
    return {g: sorted(set(v)) for g, v in groups.items() if v}


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
