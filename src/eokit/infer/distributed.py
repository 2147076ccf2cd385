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

from eokit.env import PREDICT_PRELOAD, local_cluster
from eokit.errors import ConfigError
from eokit.infer.options import PredictOptions
from eokit.infer.source import scene_name
from eokit.models.contract import DataContract

_MODEL_CACHE: dict[str, Any] = {}
WORKER_PRELOAD = PREDICT_PRELOAD
"""Modules the LocalCluster's forkserver imports once for every worker (:func:`eokit.env.local_cluster`)."""


def _is_paths(model: Any) -> bool:
    items = model if isinstance(model, (list, tuple)) else [model]
    return all(isinstance(m, (str, os.PathLike)) for m in items)


def _run_one(model: Any, scene: Any, out: str, options: PredictOptions, contract: DataContract | None,
             threads: int) -> dict[str, Any]:
    """Runs on a worker: predict one scene (checkpoints loaded once per worker), return a summary."""
    import torch

    from eokit.infer.predict import as_predictor, predict_scene

    if threads > 0:
        torch.set_num_threads(threads)
    if _is_paths(model):
        key = repr((model, options.run.tta, options.run.device, options.run.optimize))
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = as_predictor(model, tta=options.run.tta, device=options.run.device,
                                             optimize=options.run.optimize, engine=options.run.engine_options)
        model = _MODEL_CACHE[key]
    res = predict_scene(model, scene, out, options, contract=contract)
    return {"scene": str(scene), "path": str(res.path), "tiles": res.tiles, "seconds": res.seconds,
            "mpix_per_s": res.mpix_per_s, "engine": res.engine.as_dict() if res.engine is not None else None}


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
    options: PredictOptions | None = None,
    *,
    contract: DataContract | None = None,
    scheduler: str | None = None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Map every scene to a COG under ``out`` on Dask distributed; results in scene order.

    ``options`` and ``contract`` are those of :func:`predict_scene`, the same for every
    scene. ``n_workers=0`` (and no ``scheduler``) runs the scenes one after the other in
    this process. A failed scene raises after the others finished; its output name holds
    no file. int8 without calibration scenes is calibrated once for all the scenes
    (:func:`shared_calibration`).
    """
    options = options or PredictOptions()
    if not isinstance(options, PredictOptions):
        raise ConfigError(f"options must be a PredictOptions, got {type(options).__name__}; build one with "
                          "PredictOptions.of(crop=..., stride=...)")
    options = shared_calibration(options, scenes)
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 0:
        raise ConfigError(f"n_workers {n_workers!r} must be a whole number >= 0 (0 runs in this process)")
    paths = output_paths(scenes, out)
    if not scheduler and n_workers == 0:
        return _run_here(model, scenes, paths, options, contract, on_done)
    from dask.distributed import Client, as_completed

    if scheduler:
        client, cluster = Client(scheduler), None
    else:  # loopback only, any free port; workers forked from a server that imported the modules below
        cluster = local_cluster(n_workers, preload=WORKER_PRELOAD)
        client = Client(cluster)
    try:
        fut_model = [str(m) for m in model] if isinstance(model, (list, tuple)) and _is_paths(model) else (
            str(model) if _is_paths(model) else client.scatter(model, broadcast=True))
        futures = [
            client.submit(_run_one, fut_model, str(s) if isinstance(s, os.PathLike) else s, str(p), options,
                          contract, threads_per_worker, pure=False, key=f"predict-{i}-{Path(p).stem}")
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
        _raise_first(errors, len(scenes))
        return [r for r in results if r is not None]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def shared_calibration(options: PredictOptions, scenes: Sequence[Any]) -> PredictOptions:
    """int8 over several scenes and no calibration scenes given: calibrate on windows of the scenes
    themselves, at most ``calibration_tiles`` of them spread over the list (one window each, or more
    when fewer scenes), the same for every scene.

    Every scene is then mapped by one quantised model, quantised once per run (and cached) rather
    than once per scene, and neighbouring maps show no seams from differently calibrated models.
    Each scene is still guarded against fp32 on its own tiles. Scenes that are not paths (open
    sources, STAC dicts) keep their own calibration.
    """
    run = options.run
    if run.precision != "int8" or run.calibration is not None or len(scenes) < 2:
        return options
    if not all(isinstance(sc, (str, os.PathLike)) for sc in scenes):
        return options
    n = min(len(scenes), run.calibration_tiles)
    picks = dict.fromkeys(str(scenes[round(i * (len(scenes) - 1) / max(n - 1, 1))]) for i in range(n))
    return options.replace(calibration=tuple(picks))


def _run_here(model: Any, scenes: Sequence[Any], paths: list[Path], options: PredictOptions,
              contract: DataContract | None, on_done: Callable[[dict[str, Any]], None] | None,
              ) -> list[dict[str, Any]]:
    """The scenes one after the other in this process (the model loaded once)."""
    from eokit.infer.predict import as_predictor

    pred = as_predictor(model, contract, tta=options.run.tta, device=options.run.device,
                        optimize=options.run.optimize)
    results, errors = [], []
    for s, p in zip(scenes, paths, strict=True):
        try:
            res = _run_one(pred, s, str(p), options, None, 0)
        except Exception as exc:  # collected like the Dask path: every scene gets its chance
            errors.append((s, exc))
            continue
        results.append(res)
        if on_done is not None:
            on_done(res)
    _raise_first(errors, len(scenes))
    return results


def _raise_first(errors: list[tuple[Any, Exception]], n: int) -> None:
    if errors:
        scene, exc = errors[0]
        exc.add_note(f"{len(errors)} of {n} scenes failed; this error is from {scene!r}")
        raise exc
