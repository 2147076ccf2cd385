"""DatasetSpec and the base class every dataset loader derives from.

A loader = a ``DatasetSpec`` (declarative facts) + a small ``EODataset``
subclass that lists the items of a split (``_index``) and loads one item into
a Sample (``_load``). Registering it with ``@register`` is all it takes to
appear in ``eokit datasets list`` and in the contract tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from torch.utils.data import Dataset

from eokit.data.sample import Sample
from eokit.env import data_root
from eokit.errors import DatasetError, DatasetNotFoundError
from eokit.registry import Registry

log = logging.getLogger(__name__)

TASKS = (
    "classification",
    "multilabel",
    "segmentation",
    "change_detection",
    "regression",
    "pixel_regression",
    "detection",
    "super_resolution",
    "timeseries_segmentation",
    "timeseries_classification",
)
TAGS = (
    "gsd<10", "gsd>=10", "rgbn", "multispectral", "sar", "hyperspectral", "temporal", "pixelwise",
)


@dataclass(frozen=True)
class Download:
    """One downloadable file: URL, file name under the dataset folder, sha256, extract or not."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    extract: bool = False
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Declarative facts about a benchmark dataset."""

    name: str
    task: str
    sensor: str | None
    bands: tuple[str, ...]
    classes: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("train", "val", "test")
    folder: str = ""  # relative to the data root
    layout: str = ""  # human-readable on-disk layout
    downloads: tuple[Download, ...] = ()
    license: str = "unknown"
    citation: str = ""
    size: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)
    gsd: float | None = None
    split_policy: str = ""
    description: str = ""
    homepage: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DatasetError(f"dataset {self.name!r}: task {self.task!r} is not one of {TASKS}")
        bad = set(self.tags) - set(TAGS)
        if bad:
            raise DatasetError(f"dataset {self.name!r}: unknown tags {sorted(bad)}; allowed {TAGS}")

    @classmethod
    def generic(cls, name: str, task: str, layout: str, tags: Iterable[str], *, unit: str = "chip ids",
                **overrides: Any) -> DatasetSpec:
        """The spec of a generic reader (any data of a kind): no fixed sensor, bands, licence or size.

        Splits are 'all' or a seeded 70/10/20 split over ``unit``; ``overrides`` set any other field.
        """
        fields: dict[str, Any] = {
            "sensor": None, "bands": (), "splits": ("all", "train", "val", "test"), "folder": name,
            "license": "n/a (generic reader; the data's own licence applies)", "citation": "n/a (generic reader)",
            "size": "any", "split_policy": f"'all', or a seeded (seed 0) 70/10/20 split over {unit}",
            "homepage": "https://github.com/eokit/eokit",
        }
        return cls(name=name, task=task, layout=layout, tags=frozenset(tags), **{**fields, **overrides})

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def path(self, root: str | Path | None = None) -> Path:
        return Path(root) if root is not None else data_root() / (self.folder or self.name)


class EODataset(Dataset):
    """Base class: a split of a dataset read from its published layout.

    Subclasses set ``spec`` and implement ``_index`` (list the items of the
    split) and ``_load`` (read one item into a Sample).
    """

    spec: ClassVar[DatasetSpec]
    generic: ClassVar[bool] = False  # a reader for any data of a kind (classes/bands known only per instance)

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        transforms: Callable[[Sample], Sample] | None = None,
        skip_invalid: bool = False,
        download: bool = False,
    ) -> None:
        self.root = self.spec.path(root)
        if split not in self.spec.splits:
            raise DatasetError(
                f"dataset {self.spec.name!r} has no split {split!r}; its splits are {list(self.spec.splits)}"
            )
        self.split = split
        self.transforms = transforms
        self.skip_invalid = skip_invalid
        if download and not self.root.exists():
            from eokit.datasets.download import download_dataset

            download_dataset(self.spec, self.root)
        if not self.root.exists():
            raise DatasetNotFoundError(
                f"dataset {self.spec.name!r} not found at {str(self.root)!r}; download it with "
                f"`eokit datasets download {self.spec.name}` (or set EOKIT_DATA, now {str(data_root())!r}, "
                "or pass root=)"
            )
        self.items: list[Any] = self._index()

    # -- to implement -------------------------------------------------------
    def _index(self) -> list[Any]:
        raise NotImplementedError

    def _load(self, item: Any) -> Sample:
        raise NotImplementedError

    # -- torch Dataset ------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def describe(self, item: Any) -> str:
        """How error messages name an item (default: its repr, which holds its path)."""
        return repr(str(item)) if isinstance(item, Path) else repr(item)

    def __getitem__(self, i: int) -> Sample:
        n = len(self.items)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {self.spec.name} {self.split!r} ({n} items)")
        i %= n
        for step in range(n if self.skip_invalid else 1):
            item = self.items[(i + step) % n]
            try:
                sample = self._load(item)
                break
            except Exception as exc:
                if self.skip_invalid:
                    log.warning("skipping invalid item %s of %s: %s", self.describe(item), self.spec.name, exc)
                    continue
                if isinstance(exc, DatasetError):
                    raise
                raise DatasetError(
                    f"{self.spec.name}: cannot load {self.describe(item)}: {exc} "
                    "(pass skip_invalid=True to log and skip invalid items)"
                ) from exc
        else:
            raise DatasetError(f"{self.spec.name}: every item of split {self.split!r} at {str(self.root)!r} is invalid")
        sample.setdefault("sensor", self.spec.sensor)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


DATASETS: Registry[type[EODataset]] = Registry("dataset", "eokit.datasets")


_D = TypeVar("_D", bound="EODataset")


def register(cls: type[_D]) -> type[_D]:
    """Class decorator: register a loader under its spec's name."""
    DATASETS.register(cls.spec.name, cls)
    return cls


def get_dataset(name: str, **kwargs: Any) -> EODataset:
    """Instantiate a registered dataset: ``get_dataset('eurosat_ms', split='test')``."""
    import eokit.datasets.catalog  # noqa: F401 - registers the built-ins

    return DATASETS.get(name)(**kwargs)


def list_datasets() -> list[DatasetSpec]:
    import eokit.datasets.catalog  # noqa: F401

    return [cls.spec for _, cls in DATASETS.items()]
