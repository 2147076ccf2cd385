"""``eokit index NAME FILES... -o OUT.tif``: a spectral index as a Cloud-Optimized GeoTIFF."""

from __future__ import annotations

import click
import numpy as np

from eokit.cli.options import band_map_option, out_option, resampling_option, sensor_option
from eokit.io import open_band_files, write_cog
from eokit.sensors import INDICES, get_sensor, spectral_index


@click.command("index")
@click.argument("name", type=click.Choice(sorted(INDICES), case_sensitive=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@sensor_option(required=True)
@band_map_option()
@out_option("file", required=True)
@resampling_option()
def command(name: str, files: tuple[str, ...], sensor: str, band_map: str | None, out: str,
            resampling: str | None) -> None:
    """Compute a spectral index from one multi-band file or one file per band into the COG OUT.

    Bands are found by name, the sensor's aliases and common names, or the centre wavelengths the
    files carry (ENVI headers, GDAL metadata); --band-map names them by position. Bands of other
    resolutions are resampled onto the first file's grid with --resampling.
    """
    s = get_sensor(sensor)
    needed = INDICES[name.upper()].bands
    stack = open_band_files(list(files), sensor=s, resampling=resampling, band_map=band_map, bands=needed)
    chip = stack.read()
    values = spectral_index(name, s.to_reflectance(chip.array), needed, s)
    values = np.where(chip.valid, values, np.nan).astype("float32")
    write_cog(out, values, chip.grid, nodata=float("nan"), band_names=[name.upper()], overview_resampling="average")
    click.echo(f"{name.upper()} -> {out} ({chip.grid.width}x{chip.grid.height}, mean {np.nanmean(values):.3f})")
