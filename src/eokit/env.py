"""Scoped configuration: GDAL options, the data root, and the process set-up of heavy commands."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


# -- allocator and threads of compute processes -------------------------------------------------------

log = logging.getLogger(__name__)

MMAP_THRESHOLD = 32 * 2**20
"""Blocks below this size come from the malloc heap, not from their own mmap (glibc's maximum)."""
TRIM_THRESHOLD = 256 * 2**20
"""Free memory at the top of a malloc heap that glibc keeps for reuse instead of returning it."""
ARENA_MAX = 2
"""malloc arenas of an eokit compute process, a command's own or a Dask worker's (bounds the memory
kept by the thresholds above: each thread that allocates would otherwise hold an arena of its own)."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # mallopt parameter numbers (malloc.h)
_TUNED: dict[str, bool] = {}


def allocator_tuning_enabled() -> bool:
    """False when ``EOKIT_MALLOC_TUNING`` is ``0``/``off``/``false``/``no`` (for before/after measurements)."""
    return os.environ.get("EOKIT_MALLOC_TUNING", "1").strip().lower() not in ("0", "off", "false", "no")


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (the only one whose ``mallopt`` eokit tunes), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def tune_allocator() -> bool:
    """Keep freed tensor and array buffers in this process for reuse (glibc only; idempotent).

    glibc serves every block above ``M_MMAP_THRESHOLD`` (128 KiB once a program or Dask's
    nanny, which exports ``MALLOC_TRIM_THRESHOLD_=65536``, sets any threshold) with its own
    ``mmap`` and unmaps it on ``free``; a torch activation or a decoded image batch then
    page-faults in fresh zeroed pages on every forward pass, and ``eokit bench`` spent ~40 %
    of its CPU time in the kernel. Raising the mmap threshold to 32 MiB and the trim
    threshold to 256 MiB makes those blocks reusable heap memory. The arenas are capped at
    :data:`ARENA_MAX`: with the thresholds raised, every thread that allocates kept its own heap
    (``eokit predict`` with ONNX Runtime: two forward threads, +65 MiB on a 4096^2 scene). Returns
    True when applied; a no-op (False) on other C libraries or when ``EOKIT_MALLOC_TUNING=0``.
    """
    if "done" in _TUNED:
        return _TUNED["done"]
    ok = False
    if allocator_tuning_enabled():
        libc = _glibc()
        if libc is not None:
            ok = all(libc.mallopt(param, value) for param, value in (
                (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_ARENA_MAX, ARENA_MAX)))
            if not ok:
                log.debug("mallopt refused a setting; the allocator keeps its defaults for it")
    _TUNED["done"] = ok
    return ok


def release_free_memory() -> bool:
    """Return the free heap memory of this process to the OS (glibc ``malloc_trim``; else a no-op).

    With :func:`tune_allocator` freed buffers stay resident; a measurement of resident-set
    growth (``eokit.bench.efficiency``) calls this first so that it sees its own allocations.
    """
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def allocator_env() -> dict[str, str]:
    """Environment of a compute subprocess that glibc reads at start-up: the thresholds of
    :func:`tune_allocator` and :data:`ARENA_MAX`; empty when tuning is off or off glibc."""
    if not allocator_tuning_enabled() or _glibc() is None:
        return {}
    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
            "MALLOC_ARENA_MAX": str(ARENA_MAX)}


def limit_threads(n: int) -> None:
    """Run torch (intra- and inter-op) and the BLAS/OpenMP pools of this process on ``n`` threads."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


WORKER_START_METHODS = ("forkserver", "spawn")
"""How :func:`local_cluster` starts worker processes (``EOKIT_WORKER_START``; default forkserver)."""
_BASE_PRELOAD = ("distributed", "numpy", "torch", "rasterio")
PREDICT_PRELOAD = ("eokit.infer.predict", "eokit.infer.checkpoint", "eokit.models.zoo")
"""What the forkserver of ``eokit predict --workers N`` imports once for every worker (no Lightning:
reading a checkpoint does not need it; nor timm, which the catalogue no longer imports: 1.9 s of
imports instead of 3.4 here, so the server is ready as soon as the command; a timm backbone imports
it in each worker when its checkpoint is first loaded)."""
BENCH_PRELOAD = ("eokit.bench.runner", "eokit.bench.features", "eokit.bench.protocols", "eokit.models.zoo", "timm")
"""What the forkserver of ``eokit bench --workers N`` imports once for every worker (timm too: a
suite's backbones are mostly timm models)."""


def worker_start_method() -> str:
    """``forkserver`` (default where the platform has it) or ``spawn`` (``EOKIT_WORKER_START``)."""
    import multiprocessing

    from eokit.errors import ConfigError

    value = os.environ.get("EOKIT_WORKER_START", "forkserver").strip().lower() or "forkserver"
    if value not in WORKER_START_METHODS:
        raise ConfigError(f"EOKIT_WORKER_START={value!r} is not one of {WORKER_START_METHODS}; unset it or "
                          "choose one (spawn: a fresh interpreter per Dask worker, as Dask does by default)")
    if value == "forkserver" and "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"  # Windows
    return value


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _start_forkserver(preload: tuple[str, ...], environ: dict[str, str]) -> None:
    """Start this process's forkserver (once) with ``preload`` imported, in ``environ``.

    The server is started here, before Dask's nannies ask for it, so Dask's own preload list
    (set when a nanny first starts a worker) never applies. A server already running keeps what
    it imported.
    """
    import multiprocessing
    import multiprocessing.forkserver as mpfs

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(dict.fromkeys((*_BASE_PRELOAD, *preload))))
    with _environ(environ):  # glibc reads MALLOC_* when the server starts; its children inherit the state
        mpfs.ensure_running()


def _worker_environ() -> dict[str, str]:
    """Dask's pre-spawn environment (one BLAS/OpenMP thread) with eokit's allocator settings."""
    import dask

    environ = {str(k): str(v) for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()}
    environ.update(allocator_env())
    return environ


def prepare_workers(preload: tuple[str, ...] = ()) -> None:
    """Start the forkserver of :func:`local_cluster` now, so that its imports overlap with the
    caller's own work (e.g. planning a bench suite); a no-op when it runs or workers spawn."""
    if worker_start_method() == "forkserver":
        _start_forkserver(preload, _worker_environ())


def local_cluster(n_workers: int, *, preload: tuple[str, ...] = ()) -> Any:
    """A Dask ``LocalCluster`` on 127.0.0.1: ``n_workers`` processes of one thread each.

    Workers are forked from a forkserver that imported torch, rasterio and the modules in
    ``preload`` once, and started with Dask's pre-spawn environment (one BLAS/OpenMP thread)
    plus eokit's allocator settings (:func:`allocator_env`). Dask's default, ``spawn``, starts a
    fresh interpreter per worker that imports torch and eokit again and is torn down again at
    close: seconds per worker each time (``EOKIT_WORKER_START=spawn`` restores it). The server
    lives as long as this process, so a second cluster starts in a fraction of a second. Each
    worker sets this process's environment of the moment the cluster starts (as a spawned
    worker would have it).
    """
    import dask
    from distributed import LocalCluster

    method = worker_start_method()
    environ = _worker_environ()
    with dask.config.set({"distributed.worker.multiprocessing-method": method,
                          "distributed.nanny.pre-spawn-environ": environ}):
        if method == "forkserver":
            _start_forkserver(preload, environ)
        return LocalCluster(  # type: ignore[no-untyped-call]  # distributed has no type hints here
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
            # a forked worker has the server's environment: set this process's current one
            # (EOKIT_DATA, EOKIT_CACHE, GDAL options... as a spawned worker would see them)
            env=dict(os.environ))
