"""DatasetSpec: the declarative facts about a dataset (task, sensor, bands, classes, splits, downloads).

Kept apart from the loader base class so that modules which only describe or download
datasets (``eokit.datasets.download``, the bench capability groups) need not import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eokit.env import data_root
from eokit.errors import DatasetError
from eokit.tasktype import TaskType

TASKS: tuple[TaskType, ...] = tuple(TaskType)
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
    task: TaskType
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
    # Where eokit's data mirror (the project's shared data root, laid out by task) keeps a copy that this
    # dataset's reader reads with its default arguments, relative to the data root; what part of the
    # dataset that copy holds ("" = all of it).
    mirror: str = ""
    mirror_part: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DatasetError(f"dataset {self.name!r}: task {self.task!r} is not one of {[t.value for t in TASKS]}")
        object.__setattr__(self, "task", TaskType(self.task))
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
        return cls(name=name, task=TaskType(task), layout=layout, tags=frozenset(tags), **{**fields, **overrides})

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def home(self) -> Path:
        """Where the dataset belongs under the data root (and where ``eokit datasets download`` puts it)."""
        return data_root() / (self.folder or self.name)

    def mirror_copy(self) -> Path | None:
        """The data mirror's copy under the data root, if this data root has one."""
        copy = data_root() / self.mirror if self.mirror else None
        return copy if copy is not None and copy.is_dir() else None

    def path(self, root: str | Path | None = None) -> Path:
        """Where to read the dataset: ``root``; else its home, or the mirror's copy when only that exists."""
        if root is not None:
            return Path(root)
        home = self.home()
        return home if home.exists() else self.mirror_copy() or home
