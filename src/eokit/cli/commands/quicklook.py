"""``eokit quicklook FILES... -o OUT.png``: a stretched RGB PNG, optionally beside a map."""

from __future__ import annotations

import click
import numpy as np

from eokit.io import open_band_files, open_raster
from eokit.viz import colormap, save_png, stretch


@click.command("quicklook")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--sensor", default=None, help="Sensor of the files (resolves band names such as 'red').")
@click.option("--bands", default="red,green,blue", show_default=True, help="Three bands for R,G,B.")
@click.option("--band-map", default=None, help="name bands by 1-based position, e.g. red=3,nir=4")
@click.option("--map", "map_path", default=None, type=click.Path(exists=True), help="A single-band map shown beside.")
@click.option("--cmap", default="RdYlGn", show_default=True)
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False))
@click.option("--max-size", default=1024, show_default=True, help="Longest side of each panel in pixels.")
def command(files: tuple[str, ...], sensor: str | None, bands: str, band_map: str | None, map_path: str | None,
            cmap: str, out: str, max_size: int) -> None:
    """Write a PNG quicklook (input RGB, and a colour-mapped map beside it)."""
    stack = open_band_files(list(files), sensor=sensor, band_map=band_map, bands=bands.split(","))
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
