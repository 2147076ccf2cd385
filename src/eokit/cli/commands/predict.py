"""``eokit predict MODEL SCENES... -o OUT``: map whole scenes into Cloud-Optimized GeoTIFFs."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

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

from eokit.cli.options import (
    _csv,
    band_map_option,
    band_names_option,
    batch_size_option,
    configure_logging,
    deprecated_alias,
    device_option,
    engine_option,
    out_option,
    resampling_option,
    scheduler_option,
    sensor_option,
    verbosity_option,
    workers_option,
)
from eokit.infer.blend import WINDOWS
from eokit.infer.ensemble import TTA_MODES
from eokit.infer.options import (
    PROB_DTYPES,
    OutputOptions,
    PredictOptions,
    RunOptions,
    SceneOptions,
    TileOptions,
)
from eokit.infer.output import OUTPUTS


def _contract_of(model: str):
    from eokit.infer import DataContract

    try:
        from eokit.train import read_checkpoint_config
    except ImportError:  # pragma: no cover
        from eokit.infer.checkpoint import load_for_inference

        return load_for_inference(model)[1]
    return DataContract.from_config(read_checkpoint_config(model))


_TILE, _OUT, _RUN = TileOptions(), OutputOptions(), RunOptions()  # defaults shown in --help


@click.command("predict")
@click.argument("model", type=click.Path(exists=True))
@click.argument("scenes", nargs=-1, required=True)
@out_option("any", required=True)
@click.option("--ensemble", "extra_models", multiple=True, type=click.Path(exists=True),
              help="Another checkpoint to average with MODEL (repeatable): adds an agreement band.")
@click.option("--output-kind", "kind", type=click.Choice(OUTPUTS), default=_OUT.kind,
              help="classes: uint8 class + confidence %; probabilities: one band per class; values: regression.")
@deprecated_alias("--output", "--output-kind", "kind", type=click.Choice(OUTPUTS))
@click.option("--prob-dtype", type=click.Choice(PROB_DTYPES), default=_OUT.prob_dtype, show_default=True,
              help="Data type of a probabilities map.")
@click.option("--crop", type=click.IntRange(min=1), default=_TILE.crop, show_default=True,
              help="Tile size in pixels.")
@click.option("--stride", type=click.IntRange(min=1), default=_TILE.stride, show_default=True,
              help="Step between tiles (crop - overlap).")
@batch_size_option(default=_RUN.batch_size)
@click.option("--forward-batch", type=click.IntRange(min=1), default=None,
              help="Tiles per forward pass (bounds activation memory).")
@click.option("--window", type=click.Choice(WINDOWS), default=_TILE.window, show_default=True,
              help="Blending window of overlapping tiles.")
@click.option("--margin", type=click.IntRange(min=0), default=None,
              help="Tile border pixels given no weight (default: auto).")
@click.option("--tta", type=click.Choice(TTA_MODES), default="none", show_default=True,
              help="Test-time augmentation: views averaged per tile.")
@sensor_option()
@band_names_option()
@band_map_option()
@resampling_option()
@click.option("--reference", default=None, help="Band whose grid a multi-file scene is read on (e.g. B05).")
@click.option("--nodata", type=float, default=None, help="Nodata value of the map (default: 255 / NaN).")
@device_option()
@click.option("--no-optimize", is_flag=True,
              help="Run the model as loaded (no batch-norm folding or channels-last rewrite).")
@engine_option()
@click.option("--calibration", "calibration", multiple=True, metavar="SCENE",
              help="With --precision int8: a scene whose windows calibrate it (repeatable; default: the input "
                   "scene, or up to 8 of several input scenes, one calibration for all).")
@click.option("--min-agreement", type=click.FloatRange(0, 1), default=_RUN.min_agreement, show_default=True,
              help="Reduced precision: share of checked pixels that must keep their fp32 class, else fp32 runs.")
@scheduler_option()
@workers_option(default=2)
@click.option("--time-series", "time_series", is_flag=True,
              help="SCENES are the dates of one place (one raster each): one map OUT from a temporal model.")
@click.option("--dates", "series_dates", metavar="LIST", default=None, callback=_csv,
              help="With --time-series: one ISO date per scene, in order (default: from the file names).")
@click.option("--date-pattern", default=None, metavar="REGEX",
              help=r"With --time-series: a regex with a 'date' group (YYYYMMDD) or 'year'/'month'/'day' groups.")
@click.option("--dry-run", is_flag=True, help="Print the tiling plan and a memory estimate, predict nothing.")
@verbosity_option()
def command(model: str, scenes: tuple[str, ...], out: str, extra_models: tuple[str, ...], kind: str | None,
            prob_dtype: str, crop: int, stride: int, batch_size: int, forward_batch: int | None, window: str,
            margin: int | None, tta: str, sensor: str | None, band_names: tuple[str, ...] | None,
            band_map: str | None, resampling: str | None, reference: str | None, nodata: float | None, device: str,
            no_optimize: bool, engine: str, precision: str, calibration: tuple[str, ...], min_agreement: float,
            scheduler: str | None, workers: int, time_series: bool, series_dates: tuple[str, ...] | None,
            date_pattern: str | None, dry_run: bool, verbosity: int) -> None:
    """Map SCENES with the checkpoint MODEL (an `eokit train` checkpoint folder).

    Each SCENE is a raster file, a folder of one-file-per-band rasters, a quoted glob of band
    files ('scene/l8_B[1-7].tif') or a STAC item JSON. One scene writes the COG OUT; several
    write OUT/<scene>.tif, spread over Dask workers (--workers 0: one after the other here).
    With --time-series, SCENES are the dates of one place and OUT is one map from all of them.
    """
    if workers > 0 and not scheduler and len(scenes) > 1 and not time_series and not dry_run:
        from eokit.env import PREDICT_PRELOAD, prepare_workers

        prepare_workers(PREDICT_PRELOAD)  # the workers' server imports while this process imports and plans
    from eokit.infer import plan_scene, predict_scene, predict_scenes
    from eokit.infer.distributed import output_paths
    from eokit.infer.plan import gdal_cache_mb
    from eokit.infer.predict import CPU_FORWARD_BATCH

    # one scene writes the COG OUT (log beside it), several write into the folder OUT
    many = len(scenes) > 1 and not time_series  # a time series writes one map
    configure_logging(verbosity, log_dir=out if many or Path(out).is_dir() else Path(out).parent)
    console = Console(stderr=True)
    models = [model, *extra_models]
    options = PredictOptions(
        tile=TileOptions(crop=crop, stride=stride, margin=margin, window=window),
        output=OutputOptions(kind=kind, prob_dtype=prob_dtype, nodata=nodata),
        scene=SceneOptions(sensor=sensor, band_names=band_names, band_map=band_map, resampling=resampling,
                           reference=reference or 0),
        run=RunOptions(device=device, batch_size=batch_size, forward_batch=forward_batch, optimize=not no_optimize,
                       tta=tta, engine=engine, precision=precision, calibration=calibration or None,
                       min_agreement=min_agreement),
    )
    if time_series:
        from eokit.infer import open_series

        series = open_series(list(scenes), dates=series_dates, pattern=date_pattern,
                             sensor=sensor or _contract_of(model).sensor, band_names=band_names,
                             band_map=band_map, resampling=resampling)
        scenes = (series,)  # type: ignore[assignment]
        click.echo(f"time series: {series.describe()}", err=True)
    elif series_dates or date_pattern:
        raise click.UsageError("--dates and --date-pattern need --time-series")
    paths = output_paths(list(scenes), out) if not time_series else [Path(out)]
    if dry_run:
        contract = _contract_of(model)
        k = contract.n_outputs or 1
        planned = replace(options, scene=options.scene.with_sensor(contract.sensor))
        for scene, path in zip(scenes, paths, strict=True):
            src = scene if time_series else planned.scene.open(scene)  # opened once: the plan and the cache size
            plan = plan_scene(src, planned)
            click.echo(f"{scene} -> {path}")
            click.echo(f"  {plan.describe()}")
            frames = len(scene) if time_series else 1  # a series reads T dates per tile
            est = plan.memory_estimate(len(contract.bands) * frames, k + (1 if len(models) > 1 or tta != "none" else 0),
                                       batch_size, out_bands=3, read_budget_mb=options.run.read_budget_mb,
                                       gdal_cache_mb=gdal_cache_mb(src, options.run.gdal_cache_mb),
                                       forward_batch=forward_batch or (CPU_FORWARD_BATCH if device == "cpu" else None))
            table = Table(title="memory estimate (MiB), model activations not included", show_header=False)
            for name, mib in est.items():
                table.add_row(name, f"{mib:,.1f}")
            Console().print(table)
        return
    model_arg = models if len(models) > 1 else model
    quiet = verbosity < 0
    if len(scenes) == 1:
        columns: tuple[ProgressColumn, ...] = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]} tiles/s"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False, disable=quiet) as bar:
            planned = replace(options, scene=options.scene.with_sensor(_contract_of(model).sensor))
            name = "time series" if time_series else Path(scenes[0]).name
            task = bar.add_task(f"predict {name}", total=plan_scene(scenes[0], planned).n_tiles,
                                rate="-")
            t0 = time.perf_counter()

            def progress(n: int) -> None:
                bar.advance(task, n)
                done = bar.tasks[0].completed
                bar.update(task, rate=f"{done / max(time.perf_counter() - t0, 1e-9):.1f}")

            res = predict_scene(model_arg, scenes[0], paths[0], options, progress=progress)
            bar.update(task, completed=bar.tasks[0].total)
        if res.engine is not None:
            click.echo(_engine_line(res.engine.as_dict()), err=True)
        click.echo(f"wrote {res.path} ({res.tiles} tiles, {res.tiles_per_s:.1f} tiles/s, {res.mpix_per_s:.2f} MPix/s)")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} tiles/s"), TimeElapsedColumn())
    where = "on Dask" if scheduler or workers else "here"
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task(f"predict {len(scenes)} scenes {where}", total=len(scenes), rate="-")
        t0, tiles = time.perf_counter(), [0]

        def done(res: dict) -> None:
            tiles[0] += res["tiles"]
            bar.update(task, advance=1, rate=f"{tiles[0] / max(time.perf_counter() - t0, 1e-9):.1f}")

        results = predict_scenes(model_arg, list(scenes), out, options, scheduler=scheduler, n_workers=workers,
                                 on_done=done)
    for r in results:
        if r.get("engine"):
            click.echo(f"{r['path']}: {_engine_line(r['engine'])}", err=True)
        click.echo(f"wrote {r['path']} ({r['tiles']} tiles, {r['seconds']:.1f} s)")


def _engine_line(e: dict) -> str:
    """One line: the engine that ran, its measured agreement with fp32, any fall-back."""
    measured = (f"{e['agreement']:.2%} of checked pixels keep the fp32 class" if e.get("agreement") is not None
                else f"relative error {e['rel_error']:.2e} against fp32")
    if e.get("fell_back"):
        return f"engine {e['requested']} fell back to torch/fp32: {e['reason']}"
    return f"engine {e['engine']}/{e['precision']}: {measured}"
