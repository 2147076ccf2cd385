"""The base class every dataset loader derives from, and the dataset registry.

A loader = a ``DatasetSpec`` (declarative facts, :mod:`eokit.datasets.spec`) + a small
``EODataset`` subclass that lists the items of a split (``_index``) and loads one item into
a Sample (``_load``). Registering it with ``@register`` is all it takes to appear in
``eokit datasets list`` and in the contract tests. The built-in loaders
(:mod:`eokit.datasets.catalog`) and ``eokit.datasets`` entry-point plugins are loaded by
the registry on the first lookup or listing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from torch.utils.data import Dataset

from eokit.data.sample import Sample
from eokit.datasets.download import download_dataset
from eokit.datasets.spec import TAGS, TASKS, DatasetSpec, Download
from eokit.env import data_root
from eokit.errors import DatasetError, DatasetNotFoundError
from eokit.registry import Registry

__all__ = [
    "DATASETS", "TAGS", "TASKS", "DatasetSpec", "Download", "EODataset", "get_dataset", "list_datasets",
    "register",
]

log = logging.getLogger(__name__)


_WARNED_MIRRORS: set[str] = set()


def _warn_partial_mirror(spec: DatasetSpec) -> None:
    """Say once per process that ``spec`` is read from the data mirror's partial copy."""
    if spec.name in _WARNED_MIRRORS:
        return
    _WARNED_MIRRORS.add(spec.name)
    log.warning(
        "dataset %r: reading the data mirror's copy at %s, which holds %s; figures on it are not comparable "
        "with published ones (the whole dataset belongs at %s)", spec.name, spec.mirror_copy(), spec.mirror_part,
        spec.home(),
    )


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
        if root is None and self.spec.mirror_part and self.root == self.spec.mirror_copy():
            _warn_partial_mirror(self.spec)
        if split not in self.spec.splits:
            raise DatasetError(
                f"dataset {self.spec.name!r} has no split {split!r}; its splits are {list(self.spec.splits)}"
            )
        self.split = split
        self.transforms = transforms
        self.skip_invalid = skip_invalid
        if download and not self.root.exists():
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


DATASETS: Registry[type[EODataset]] = Registry(
    "dataset", "eokit.datasets", builtins=("eokit.datasets.catalog",)
)


_D = TypeVar("_D", bound="EODataset")


def register(cls: type[_D]) -> type[_D]:
    """Class decorator: register a loader under its spec's name."""
    DATASETS.register(cls.spec.name, cls)
    return cls


def get_dataset(name: str, **kwargs: Any) -> EODataset:
    """Instantiate a registered dataset: ``get_dataset('eurosat_ms', split='test')``."""
    return DATASETS.get(name)(**kwargs)


def list_datasets() -> list[DatasetSpec]:
    """The spec of every registered dataset (built-ins and plugins), by name."""
    return [cls.spec for _, cls in DATASETS.items()]
