"""Scoped configuration: GDAL options and the data root, without global mutation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import rasterio

DEFAULT_GDAL_OPTIONS: dict[str, object] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_NUM_THREADS": "1",
}


def data_root() -> Path:
    """The data root: ``$EOKIT_DATA`` or ``~/.cache/eokit``."""
    value = os.environ.get("EOKIT_DATA")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "eokit"


def cache_dir() -> Path:
    """Where eokit caches derived artefacts (features, benchmark fixtures)."""
    value = os.environ.get("EOKIT_CACHE")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "eokit-work"


@contextmanager
def gdal_env(**options: object) -> Iterator[rasterio.Env]:
    """Scope GDAL configuration options; previous options are restored on exit.

    >>> with gdal_env(GDAL_CACHEMAX=64):
    ...     ...
    """
    merged = {**DEFAULT_GDAL_OPTIONS, **options}
    with rasterio.Env(**merged) as env:
        yield env
