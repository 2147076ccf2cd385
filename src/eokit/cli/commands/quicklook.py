"""``eokit quicklook FILES... -o OUT.png``: a stretched RGB PNG, optionally beside a map."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from eokit.cli.options import band_map_option, bands_option, out_option, sensor_option
from eokit.errors import BandError
from eokit.io import BandStack, Chip, open_band_files, open_raster
from eokit.io.sar import COMPLEX_MODES
from eokit.viz import (
    class_colours,
    class_panel,
    colormap,
    legend,
    map_classes,
    save_png,
    stretch,
    value_range,
    with_legend,
)

LEGEND_WIDTH = 240  # px at the least, so that a small panel's legend stays readable


@click.command("quicklook")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@sensor_option()
@bands_option()
@band_map_option()
@click.option("--complex", "complex_mode", default=None, type=click.Choice(list(COMPLEX_MODES)),
              help="How to show complex (SLC SAR) files: e.g. amplitude, or pauli for HH/HV/VV stacks.")
@click.option("--map", "map_path", default=None, type=click.Path(exists=True), help="A single-band map shown beside.")
@click.option("--cmap", default=None,
              help="Matplotlib colour map of the --map panel [default: RdYlGn; a class map: tab10, tab20].")
@click.option("--legend/--no-legend", "show_legend", default=True, show_default=True,
              help="A legend under each panel: the RGB bands; the map's value ramp, or its classes.")
@out_option("file", required=True)
@click.option("--max-size", default=1024, show_default=True, type=click.IntRange(min=1),
              help="Longest side of each panel in pixels.")
def command(files: tuple[str, ...], sensor: str | None, bands: tuple[str, ...] | None, band_map: str | None,
            complex_mode: str | None, map_path: str | None, cmap: str | None, show_legend: bool, out: str,
            max_size: int) -> None:
    """Write the PNG OUT: the input as RGB and a colour-mapped map beside it.

    --bands names the three bands for R,G,B (default: red,green,blue; else, for unnamed bands, the
    first three, or one band in grey, with a note). A class map (an `eokit predict` or `eokit mask`
    COG, tagged EOKIT_CLASSES) is drawn in distinct colours with its class names; any other map
    through --cmap with its value range.
    """
    if bands is not None and len(bands) != 3:
        raise click.BadParameter(f"{','.join(bands)!r} names {len(bands)} bands; give three, for R,G,B",
                                 param_hint="--bands")
    stack = open_band_files(list(files), sensor=sensor, band_map=band_map, complex_mode=complex_mode)
    h, w = stack.grid.shape
    f = max(1, int(np.ceil(max(h, w) / max_size)))
    rgb = stack.read(bands=list(bands)) if bands else _default_rgb(stack)
    panels = [stretch(rgb.array[:, ::f, ::f], rgb.valid[::f, ::f])]
    strips = [legend(max(panels[0].shape[2], LEGEND_WIDTH), f"R, G, B = {', '.join(rgb.bands)} (2-98 % stretch)")]
    if map_path:
        source = open_raster(map_path)
        chip = source.read(bands=None)
        m, valid = chip.array[0, ::f, ::f], chip.valid[::f, ::f]
        title = f"{Path(map_path).name}: {chip.bands[0]}"
        names = map_classes(source.dataset.tags())
        if names is not None:
            palette = class_colours(len(names), cmap)
            panels.append(class_panel(m, len(names), valid, cmap))
            strips.append(legend(max(m.shape[1], LEGEND_WIDTH), title, classes=list(zip(names, palette, strict=True))))
        else:
            vmin, vmax = value_range(m, valid)
            panels.append(colormap(m, cmap or "RdYlGn", vmin, vmax, valid))
            strips.append(legend(max(m.shape[1], LEGEND_WIDTH), f"{title} (2-98 %)",
                                 ramp=(cmap or "RdYlGn", vmin, vmax)))
    save_png(out, [with_legend(p, s) for p, s in zip(panels, strips, strict=True)] if show_legend else panels)
    click.echo(f"quicklook -> {out}")


def _default_rgb(stack: BandStack) -> Chip:
    """red/green/blue when the stack resolves them; else its first three bands (or one, in grey), with a note."""
    try:
        return stack.read(bands=["red", "green", "blue"])
    except BandError:
        pass
    names = list(stack.bands)
    how = "choose bands with --bands B1,B2,B3 (or give --sensor so 'red' resolves)"
    by_colour = _colour_interpretation(stack)
    if by_colour is not None:
        click.echo(f"note: bands {names} have no red/green/blue names; showing {', '.join(by_colour)} as R,G,B "
                   f"from the file's colour interpretation; {how}", err=True)
        return stack.read(bands=by_colour)
    shown = names[:3] if len(names) >= 3 else names[:1]
    if len(shown) == 3:
        extra = f" of {len(names)}" if len(names) > 3 else ""
        click.echo(f"note: no red/green/blue bands among {names}; showing the first three{extra} "
                   f"({', '.join(shown)}) as R,G,B; {how}", err=True)
        return stack.read(bands=shown)
    click.echo(f"note: {len(names)} band(s) {names} and no red/green/blue; showing band {shown[0]!r} in grey; "
               f"{how}", err=True)
    chip = stack.read(bands=shown)
    return Chip(np.repeat(chip.array, 3, axis=0), chip.valid, (shown[0],) * 3, chip.grid, chip.nodata)


def _colour_interpretation(stack: BandStack) -> list[str] | None:
    """The band names GDAL marks red, green and blue (e.g. PHOTOMETRIC=RGB TIFFs), if one file marks all three."""
    from rasterio.enums import ColorInterp

    if len(stack.sources) != 1 or len(stack.sources[0].bands) != len(stack.sources[0].dataset.colorinterp):
        return None
    src = stack.sources[0]
    interp = list(src.dataset.colorinterp)
    wanted = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if not all(c in interp for c in wanted):
        return None
    return [src.bands[interp.index(c)] for c in wanted]
