"""Many scenes at once: one ``predict_scene`` task per scene on a Dask distributed cluster.

A LocalCluster on loopback is started by default (``n_workers`` processes,
one thread each); ``scheduler='tcp://host:8786'`` uses an existing cluster.
Workers load a checkpoint themselves (by path, once per worker process);
an in-memory model is shipped to the workers instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eokit.errors import ConfigError
from eokit.infer.source import scene_name

_MODEL_CACHE: dict[str, Any] = {}


def _is_paths(model: Any) -> bool:
    items = model if isinstance(model, (list, tuple)) else [model]
    return all(isinstance(m, (str, os.PathLike)) for m in items)


def _run_one(model: Any, scene: Any, out: str, kwargs: dict[str, Any], threads: int) -> dict[str, Any]:
    """Runs on a worker: predict one scene (checkpoints loaded once per worker), return a summary."""
    import torch

    from eokit.infer.predict import as_predictor, predict_scene

    torch.set_num_threads(max(1, threads))
    if _is_paths(model):
        key = repr(model)
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = as_predictor(model, tta=kwargs.get("tta"), device=kwargs.get("device", "cpu"),
                                               optimize=kwargs.get("optimize", True))
        model = _MODEL_CACHE[key]
    res = predict_scene(model, scene, out, **kwargs)
    return {"scene": str(scene), "path": str(res.path), "tiles": res.tiles, "seconds": res.seconds,
            "mpix_per_s": res.mpix_per_s}


def output_paths(scenes: Sequence[Any], out: str | os.PathLike[str]) -> list[Path]:
    """One scene -> ``out`` itself (a file); several -> ``out/<scene name>.tif`` (unique names)."""
    out = Path(out)
    if len(scenes) == 1 and out.suffix.lower() in (".tif", ".tiff"):
        return [out]
    names = [scene_name(s) for s in scenes]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"several scenes would write the same output name {dup} under {str(out)!r}; rename them")
    return [out / f"{n}.tif" for n in names]


def predict_scenes(
    model: Any,
    scenes: Sequence[Any],
    out: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Map every scene to a COG under ``out`` on Dask distributed; results in scene order.

    ``kwargs`` go to :func:`predict_scene` (crop, stride, output, tta, ...). A failed
    scene raises after the others finished; its output name holds no file.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    paths = output_paths(scenes, out)
    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0")  # any free port, loopback only
        client = Client(cluster)
    try:
        fut_model = [str(m) for m in model] if isinstance(model, (list, tuple)) and _is_paths(model) else (
            str(model) if _is_paths(model) else client.scatter(model, broadcast=True))
        futures = [
            client.submit(_run_one, fut_model, str(s) if isinstance(s, os.PathLike) else s, str(p), kwargs,
                          threads_per_worker, pure=False, key=f"predict-{i}-{Path(p).stem}")
            for i, (s, p) in enumerate(zip(scenes, paths, strict=True))
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[dict[str, Any] | None] = [None] * len(futures)
        errors = []
        for fut in as_completed(futures):
            try:
                res = fut.result()
            except Exception as exc:  # collected, re-raised once every scene has finished
                errors.append((scenes[index[fut.key]], exc))
                continue
            results[index[fut.key]] = res
            if on_done is not None:
                on_done(res)
        if errors:
            scene, first = errors[0]
            first.add_note(f"{len(errors)} of {len(scenes)} scenes failed; this error is from {scene!r}")
            raise first
        return [r for r in results if r is not None]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
