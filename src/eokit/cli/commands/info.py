"""``eokit info RASTER``: size, CRS, bands, nodata, footprint, overviews, metadata tags."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from eokit.cli.options import band_map_option, json_option, sensor_option
from eokit.io import open_raster


@click.command("info")
@click.argument("raster", type=click.Path(dir_okay=False))
@sensor_option()
@band_map_option()
@json_option()
def command(raster: str, sensor: str | None, band_map: str | None, as_json: bool) -> None:
    """Describe a raster file."""
    info = open_raster(raster, sensor=sensor, band_map=band_map).info()
    d = info.to_dict()
    if as_json:
        click.echo(json.dumps(d, default=str, indent=2))
        return
    table = Table(title=raster, show_header=False)
    for key in ("driver", "width", "height", "count", "dtype", "crs", "res", "bounds", "nodata", "bands",
                "overviews", "block_shape", "compression"):
        table.add_row(key, str(d[key]))
    if any(w is not None for w in info.wavelengths):
        table.add_row("wavelengths (nm)", ", ".join("-" if w is None else f"{w:g}" for w in info.wavelengths))
    if info.footprint_wgs84:
        ring = info.footprint_wgs84["coordinates"][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        table.add_row("footprint (lon/lat)", f"{min(xs):.5f}, {min(ys):.5f} .. {max(xs):.5f}, {max(ys):.5f}")
    if info.footprint_note:
        table.add_row("footprint note" if info.footprint_wgs84 else "footprint", info.footprint_note)
    for key, value in sorted(info.tags.items()):  # e.g. an eokit map's classes, engine, precision, agreement
        table.add_row(f"tag {key}", value)
    if info.is_complex:
        table.add_row("complex", "yes (SLC SAR): reads need complex_mode= amplitude, intensity, intensity_db, "
                      "phase, real_imag or pauli")
    Console().print(table)
