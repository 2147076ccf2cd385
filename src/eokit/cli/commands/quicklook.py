"""``eokit quicklook FILES... -o OUT.png``: a stretched RGB PNG, optionally beside a map."""

from __future__ import annotations

import click
import numpy as np

from eokit.cli.options import band_map_option, bands_option, out_option, sensor_option
from eokit.io import open_band_files, open_raster
from eokit.viz import colormap, save_png, stretch


@click.command("quicklook")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@sensor_option()
@bands_option(default="red,green,blue")
@band_map_option()
@click.option("--map", "map_path", default=None, type=click.Path(exists=True), help="A single-band map shown beside.")
@click.option("--cmap", default="RdYlGn", show_default=True, help="Matplotlib colour map of the --map panel.")
@out_option("file", required=True)
@click.option("--max-size", default=1024, show_default=True, type=click.IntRange(min=1),
              help="Longest side of each panel in pixels.")
def command(files: tuple[str, ...], sensor: str | None, bands: tuple[str, ...], band_map: str | None,
            map_path: str | None, cmap: str, out: str, max_size: int) -> None:
    """Write the PNG OUT: the input as RGB (--bands: the three bands for R,G,B), a colour-mapped map beside it."""
    if len(bands) != 3:
        raise click.BadParameter(f"{','.join(bands)!r} names {len(bands)} bands; give three, for R,G,B",
                                 param_hint="--bands")
    stack = open_band_files(list(files), sensor=sensor, band_map=band_map, bands=list(bands))
    h, w = stack.grid.shape
    f = max(1, int(np.ceil(max(h, w) / max_size)))
    rgb = stack.read()
    panels = [stretch(rgb.array[:, ::f, ::f], rgb.valid[::f, ::f])]
    if map_path:
        chip = open_raster(map_path).read(bands=None)
        m = chip.array[0, ::f, ::f]
        panels.append(colormap(m, cmap, valid=chip.valid[::f, ::f]))
    save_png(out, panels)
    click.echo(f"quicklook -> {out}")
