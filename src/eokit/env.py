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


def cache_bytes(value: object) -> int:
    """A GDAL_CACHEMAX value as bytes, read the way GDAL reads the option.

    GDAL takes numbers below 100,000 as megabytes, larger ones as bytes, and
    ``"512MB"``/``"2GB"``/``"10%"`` strings. ``rasterio.Env`` passes an integer
    straight to ``GDALSetCacheMax64`` (bytes), so ``Env(GDAL_CACHEMAX=64)`` would
    give a 64-*byte* cache; eokit converts first.
    """
    from eokit.errors import ConfigError

    text = str(value).strip().upper()
    try:
        if text.endswith("%"):
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            return int(total * float(text[:-1]) / 100)
        for suffix, unit in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
            if text.endswith(suffix):
                return int(float(text[: -len(suffix)]) * unit)
        number = float(text)
    except ValueError:
        raise ConfigError(f"GDAL_CACHEMAX={value!r} is not a size; use megabytes (64), bytes, '512MB' or "
                          "'10%'") from None
    if number <= 0:
        raise ConfigError(f"GDAL_CACHEMAX={value!r} must be positive")
    return int(number * 2**20) if number < 100_000 else int(number)


@contextmanager
def gdal_env(**options: object) -> Iterator[rasterio.Env]:
    """Scope GDAL configuration options; previous options are restored on exit.

    >>> with gdal_env(GDAL_CACHEMAX=64):
    ...     ...
    """
    merged = {**DEFAULT_GDAL_OPTIONS, **options}
    if "GDAL_CACHEMAX" in merged:
        merged["GDAL_CACHEMAX"] = cache_bytes(merged["GDAL_CACHEMAX"])
    with rasterio.Env(**merged) as env:
        yield env


LOG_FILE_ENV = "EOKIT_LOG_FILE"
"""The command's log file (set by ``eokit.cli.console``); worker processes inherit it."""
LOG_PID_ENV = "EOKIT_LOG_PID"
"""The process that set up the console (it routes its own warnings)."""


def route_worker_warnings() -> None:
    """In a worker process (Dask): Python warnings go to ``$EOKIT_LOG_FILE``, not the inherited terminal.

    Does nothing in the process that set up the console (or when eokit is used as a library);
    follows the variable when a later command names another file.
    """
    import logging

    path = os.environ.get(LOG_FILE_ENV)
    if not path or not Path(path).parent.is_dir() or os.environ.get(LOG_PID_ENV) == str(os.getpid()):
        return
    logger = logging.getLogger("py.warnings")
    for h in [h for h in logger.handlers if getattr(h, "_eokit_worker", False)]:
        if isinstance(h, logging.FileHandler) and h.baseFilename == os.path.abspath(path):
            return
        logger.removeHandler(h)
        h.close()
    handler = logging.FileHandler(path, mode="a", encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [worker %(process)d]: %(message)s"))
    handler._eokit_worker = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False
    logging.captureWarnings(True)
