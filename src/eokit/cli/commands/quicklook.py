"""``eokit quicklook FILES... -o OUT.png``: a stretched RGB PNG, optionally beside a map."""

from __future__ import annotations

import click
import numpy as np

from eokit.cli.options import band_map_option, bands_option, out_option, sensor_option
from eokit.errors import BandError
from eokit.io import BandStack, Chip, open_band_files, open_raster
from eokit.io.sar import COMPLEX_MODES
from eokit.viz import colormap, save_png, stretch


@click.command("quicklook")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@sensor_option()
@bands_option()
@band_map_option()
@click.option("--complex", "complex_mode", default=None, type=click.Choice(list(COMPLEX_MODES)),
              help="How to show complex (SLC SAR) files: e.g. amplitude, or pauli for HH/HV/VV stacks.")
@click.option("--map", "map_path", default=None, type=click.Path(exists=True), help="A single-band map shown beside.")
@click.option("--cmap", default="RdYlGn", show_default=True, help="Matplotlib colour map of the --map panel.")
@out_option("file", required=True)
@click.option("--max-size", default=1024, show_default=True, type=click.IntRange(min=1),
              help="Longest side of each panel in pixels.")
def command(files: tuple[str, ...], sensor: str | None, bands: tuple[str, ...] | None, band_map: str | None,
            complex_mode: str | None, map_path: str | None, cmap: str, out: str, max_size: int) -> None:
    """Write the PNG OUT: the input as RGB and a colour-mapped map beside it.

    --bands names the three bands for R,G,B (default: red,green,blue; else, for unnamed bands, the
    first three, or one band in grey, with a note).
    """
    if bands is not None and len(bands) != 3:
        raise click.BadParameter(f"{','.join(bands)!r} names {len(bands)} bands; give three, for R,G,B",
                                 param_hint="--bands")
    stack = open_band_files(list(files), sensor=sensor, band_map=band_map, complex_mode=complex_mode)
    h, w = stack.grid.shape
    f = max(1, int(np.ceil(max(h, w) / max_size)))
    rgb = stack.read(bands=list(bands)) if bands else _default_rgb(stack)
    panels = [stretch(rgb.array[:, ::f, ::f], rgb.valid[::f, ::f])]
    if map_path:
        chip = open_raster(map_path).read(bands=None)
        m = chip.array[0, ::f, ::f]
        panels.append(colormap(m, cmap, valid=chip.valid[::f, ::f]))
    save_png(out, panels)
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
