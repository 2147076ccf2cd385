"""``eokit predict MODEL SCENES... -o OUT``: map whole scenes into Cloud-Optimized GeoTIFFs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


def _contract_of(model: str):
    from eokit.infer import ModelContract

    try:
        from eokit.train import read_checkpoint_config
    except ImportError:  # pragma: no cover
        from eokit.infer.checkpoint import load_for_inference

        return load_for_inference(model)[1]
    return ModelContract.from_config(read_checkpoint_config(model))


@click.command("predict")
@click.argument("model", type=click.Path(exists=True))
@click.argument("scenes", nargs=-1, required=True)
@click.option("-o", "--out", required=True, type=click.Path(), help="Output COG (one scene) or folder (several).")
@click.option("--ensemble", "extra_models", multiple=True, type=click.Path(exists=True),
              help="Another checkpoint to average with MODEL (repeatable): adds an agreement band.")
@click.option("--output", "output", type=click.Choice(["classes", "probabilities", "values"]), default=None,
              help="classes: uint8 class + confidence %; probabilities: one band per class; values: regression.")
@click.option("--prob-dtype", type=click.Choice(["uint8", "uint16", "float32"]), default="uint8", show_default=True)
@click.option("--crop", type=int, default=256, show_default=True, help="Tile size in pixels.")
@click.option("--stride", type=int, default=224, show_default=True, help="Step between tiles (crop - overlap).")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--forward-batch", type=int, default=None, help="Tiles per forward pass (bounds activation memory).")
@click.option("--window", type=click.Choice(["hann", "linear", "uniform"]), default="hann", show_default=True)
@click.option("--margin", type=int, default=None, help="Tile border pixels given no weight (default: auto).")
@click.option("--tta", type=click.Choice(["none", "flips", "rot90", "d4"]), default="none", show_default=True)
@click.option("--sensor", default=None, help="Sensor whose band names/aliases apply (e.g. landsat8).")
@click.option("--bands", default=None, help="Comma-separated band names of a single-file scene, in file order.")
@click.option("--resampling", default=None, help="Resample band files of other resolutions (e.g. bilinear).")
@click.option("--reference", default=None, help="Band whose grid a multi-file scene is read on (e.g. B05).")
@click.option("--nodata", type=float, default=None, help="Nodata value of the map (default: 255 / NaN).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-optimize", is_flag=True,
              help="Run the model as loaded (no batch-norm folding or channels-last rewrite).")
@click.option("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster on loopback).")
@click.option("--workers", type=int, default=2, show_default=True, help="LocalCluster workers for several scenes.")
@click.option("--dry-run", is_flag=True, help="Print the tiling plan and a memory estimate, predict nothing.")
def command(model: str, scenes: tuple[str, ...], out: str, extra_models: tuple[str, ...], output: str | None,
            prob_dtype: str, crop: int, stride: int, batch_size: int, forward_batch: int | None, window: str,
            margin: int | None, tta: str, sensor: str | None, bands: str | None, resampling: str | None,
            reference: str | None, nodata: float | None, device: str, no_optimize: bool, scheduler: str | None, workers: int,
            dry_run: bool) -> None:
    """Map SCENES with the checkpoint MODEL (an `eokit train` checkpoint folder).

    Each SCENE is a raster file, a folder of one-file-per-band rasters, a quoted glob of band
    files ('scene/l8_B[1-7].tif') or a STAC item JSON. One scene writes OUT; several write
    OUT/<scene>.tif, spread over Dask workers.
    """
    from eokit.infer import plan_scene, predict_scene, predict_scenes
    from eokit.infer.distributed import output_paths
    from eokit.infer.predict import CPU_FORWARD_BATCH

    console = Console(stderr=True)
    models = [model, *extra_models]
    kwargs: dict[str, Any] = dict(crop=crop, stride=stride, batch_size=batch_size, forward_batch=forward_batch, output=output,
                  window=window, margin=margin, tta=None if tta == "none" else tta, prob_dtype=prob_dtype,
                  nodata=nodata, sensor=sensor, resampling=resampling, device=device, optimize=not no_optimize,
                  band_names=bands.split(",") if bands else None, reference=reference or 0)
    paths = output_paths(list(scenes), out)
    if dry_run:
        contract = _contract_of(model)
        k = contract.n_outputs or 1
        for scene, path in zip(scenes, paths, strict=True):
            plan = plan_scene(scene, crop=crop, stride=stride, sensor=sensor or contract.sensor,
                              resampling=resampling, reference=reference or 0)
            click.echo(f"{scene} -> {path}")
            click.echo(f"  {plan.describe()}")
            est = plan.memory_estimate(len(contract.bands), k + (1 if len(models) > 1 or tta != "none" else 0),
                                       batch_size, out_bands=3,
                                       forward_batch=forward_batch or (CPU_FORWARD_BATCH if device == "cpu" else None))
            table = Table(title="memory estimate (MiB), model activations not included", show_header=False)
            for name, mib in est.items():
                table.add_row(name, f"{mib:,.1f}")
            Console().print(table)
        return
    model_arg = models if len(models) > 1 else model
    if len(scenes) == 1:
        columns: tuple[ProgressColumn, ...] = (
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} tiles/s"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(f"predict {Path(scenes[0]).name}", total=plan_scene(
                scenes[0], crop=crop, stride=stride, sensor=sensor or _contract_of(model).sensor,
                resampling=resampling, reference=reference or 0).n_tiles, rate="-")
            t0 = time.perf_counter()

            def progress(n: int) -> None:
                bar.advance(task, n)
                done = bar.tasks[0].completed
                bar.update(task, rate=f"{done / max(time.perf_counter() - t0, 1e-9):.1f}")

            res = predict_scene(model_arg, scenes[0], paths[0], progress=progress, **kwargs)
            bar.update(task, completed=bar.tasks[0].total)
        click.echo(f"wrote {res.path} ({res.tiles} tiles, {res.tiles_per_s:.1f} tiles/s, {res.mpix_per_s:.2f} MPix/s)")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} tiles/s"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"predict {len(scenes)} scenes on Dask", total=len(scenes), rate="-")
        t0, tiles = time.perf_counter(), [0]

        def done(res: dict) -> None:
            tiles[0] += res["tiles"]
            bar.update(task, advance=1, rate=f"{tiles[0] / max(time.perf_counter() - t0, 1e-9):.1f}")

        results = predict_scenes(model_arg, list(scenes), out, scheduler=scheduler, n_workers=workers,
                                 on_done=done, **kwargs)
    for r in results:
        click.echo(f"wrote {r['path']} ({r['tiles']} tiles, {r['seconds']:.1f} s)")
