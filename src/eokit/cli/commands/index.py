"""``eokit index NAME FILES... -o OUT.tif``: a spectral index as a Cloud-Optimized GeoTIFF."""

from __future__ import annotations

import click
import numpy as np

from eokit.io import open_band_files, write_cog
from eokit.sensors import INDICES, get_sensor, spectral_index


@click.command("index")
@click.argument("name", type=click.Choice(sorted(INDICES), case_sensitive=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--sensor", required=True, help="Sensor of the files (e.g. landsat8, sentinel2_l1c).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Output COG path.")
@click.option("--resampling", default=None, help="Resample bands of other resolutions onto the first file's grid.")
@click.option("--band-map", default=None, help="name bands by 1-based position, e.g. red=3,nir=4")
def command(name: str, files: tuple[str, ...], sensor: str, out: str, resampling: str | None,
            band_map: str | None) -> None:
    """Compute a spectral index from one multi-band file or one file per band.

    Bands are found by name, the sensor's aliases and common names, or the centre
    wavelengths the files carry (ENVI headers, GDAL metadata); --band-map names them by position.
    """
    s = get_sensor(sensor)
    needed = INDICES[name.upper()].bands
    stack = open_band_files(list(files), sensor=s, resampling=resampling, band_map=band_map, bands=needed)
    chip = stack.read()
    values = spectral_index(name, s.to_reflectance(chip.array), needed, s)
    values = np.where(chip.valid, values, np.nan).astype("float32")
    write_cog(out, values, chip.grid, nodata=float("nan"), band_names=[name.upper()], overview_resampling="average")
    click.echo(f"{name.upper()} -> {out} ({chip.grid.width}x{chip.grid.height}, mean {np.nanmean(values):.3f})")
