"""``eokit embed MODEL SCENES... -o OUT.parquet``: chip-grid embeddings into a GeoParquet store and field COGs."""

from __future__ import annotations

from typing import Any

import click

from eokit.cli.options import (
    band_map_option,
    band_names_option,
    bands_option,
    batch_size_option,
    bbox_option,
    configure_logging,
    device_option,
    engine_option,
    out_option,
    resampling_option,
    root_option,
    scheduler_option,
    seed_option,
    sensor_option,
    verbosity_option,
    workers_option,
)

DATASET_PREFIX = "dataset:"


@click.command("embed")
@click.argument("model")
@click.argument("scenes", nargs=-1, required=True)
@out_option("file", required=True)
@click.option("--field", type=click.Path(), default=None,
              help="Also write an embedding-field COG (int8 unit vectors, nodata -128); a folder for several scenes.")
@click.option("--weights", default=None,
              help="Weights of a model name: a registered tag (e.g. imagenet) or a .safetensors file.")
@click.option("--chip", type=click.IntRange(min=1), default=64, show_default=True,
              help="Chip size in pixels: one embedding per chip.")
@click.option("--stride", type=click.IntRange(min=1), default=None,
              help="Step between tiles (crop - overlap).")
@bbox_option()
@click.option("--min-valid", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of valid (not nodata) pixels a chip needs to be embedded.")
@click.option("--int8", is_flag=True, help="Store vectors as int8 with a per-row scale (4x smaller; the model's precision is --precision).")
@bands_option()
@sensor_option()
@band_names_option()
@band_map_option()
@resampling_option()
@batch_size_option(default=32)
@seed_option()
@device_option()
@engine_option()
@root_option()
@scheduler_option()
@workers_option(default=0)
@verbosity_option()
def command(model: str, scenes: tuple[str, ...], out: str, field: str | None, weights: str | None, chip: int,
            stride: int | None, bbox: tuple[float, float, float, float] | None, min_valid: float, int8: bool,
            bands: tuple[str, ...] | None, sensor: str | None, band_names: tuple[str, ...] | None,
            band_map: str | None, resampling: str | None, batch_size: int, seed: int, device: str, engine: str,
            precision: str,
            root: str | None, scheduler: str | None, workers: int, verbosity: int) -> None:
    """Embed SCENES with MODEL into the GeoParquet store OUT (one row per chip).

    MODEL is a backbone name (resnet18, resnet18.imagenet, mobilecnn; random weights are seeded
    with --seed; --bands/--sensor give its input bands) or an `eokit train` checkpoint folder.
    Each SCENE is a raster file, a folder of one-file-per-band rasters, a quoted glob of band files
    or a STAC item JSON; `dataset:NAME:SPLIT` embeds every sample of a dataset split instead.
    Several scenes run on Dask workers with --workers N.
    """
    from eokit.embed.scene import EmbedOptions, embed_scenes, embed_split
    from eokit.infer.options import RunOptions, SceneOptions
    from eokit.models.engine import EngineOptions

    configure_logging(verbosity)
    model_kwargs: dict[str, Any] = {"weights": weights, "bands": bands, "sensor": sensor, "seed": seed}
    datasets = [s for s in scenes if s.startswith(DATASET_PREFIX)]
    if datasets:
        if len(scenes) != 1 or field:
            raise click.UsageError("a dataset split (dataset:NAME:SPLIT) is embedded alone and has no --field")
        _, name, *rest = datasets[0].split(":")
        store = embed_split(model, name, rest[0] if rest else "test", out, root=root, batch_size=batch_size,
                            int8=int8, device=device, engine=EngineOptions(engine, precision), **model_kwargs)
        click.echo(f"wrote {out} ({len(store)} samples, {store.dim}-d, {store.meta['model']})")
        return
    options = EmbedOptions(
        chip=chip, stride=stride, bbox=bbox, min_valid=min_valid, dtype="int8" if int8 else "float32",
        scene=SceneOptions(sensor=sensor, band_names=band_names, band_map=band_map, resampling=resampling),
        run=RunOptions(device=device, batch_size=batch_size, engine=engine, precision=precision),
    )
    store = embed_scenes(model, list(scenes), out, field=field, options=options, n_workers=workers,
                         scheduler=scheduler, **model_kwargs)
    click.echo(f"wrote {out} ({len(store)} chips from {len(scenes)} scene(s), {store.dim}-d, {store.meta['model']})")
    if field:
        click.echo(f"wrote {field}")
