"""``eokit mask SCENE... -o OUT.tif``: a scene's cloud mask as a Cloud-Optimized GeoTIFF."""

from __future__ import annotations

import json

import click

from eokit.cli.options import (
    band_map_option,
    json_option,
    method_option,
    out_option,
    resampling_option,
    sensor_option,
)
from eokit.data.cloud import CLOUD_METHODS
from eokit.data.cloud_scene import mask_scene
from eokit.sensors.qa import QA_PRESETS


@click.command("mask")
@click.argument("scene", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@sensor_option(required=True)
@method_option(list(CLOUD_METHODS))
@click.option("--qa", "qa", metavar="FILE", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The scene's QA band (Landsat BQA / QA_PIXEL); default: a *_BQA / *_QA_PIXEL file among SCENE.")
@click.option("--qa-rules", "qa_rules", default=None, type=click.Choice(sorted(QA_PRESETS)),
              help="How to decode the QA band; default: from its name and the MTL file beside it.")
@band_map_option()
@resampling_option()
@click.option("--reference", default=None, help="Band whose grid a multi-file scene is read on (e.g. B05).")
@out_option("file", required=True)
@json_option()
def command(scene: tuple[str, ...], sensor: str, method: str, qa: str | None, qa_rules: str | None,
            band_map: str | None, resampling: str | None, reference: str | None, out: str, as_json: bool) -> None:
    """Write the cloud mask of SCENE (one multi-band file or one file per band) to the COG OUT.

    OUT is uint8 on the scene's grid: 0 clear, 1 cloud, 255 nodata. --method: qa decodes the
    scene's QA band; s2cloudless runs Sentinel Hub's LightGBM model (Sentinel-2 L1C, bands B01,
    B02, B04, B05, B08, B8A, B09, B10, B11, B12; `make cloud-deps`); reflectance is the Fmask-style
    threshold test (needs blue and red), the last resort; auto picks qa when there is a QA band,
    else s2cloudless where it applies, else reflectance (SAR: no cloud). Bands on other grids are
    resampled onto the grid of the first band (in the sensor's order) or of --reference with --resampling.
    """
    res = mask_scene(list(scene), out, sensor=sensor, method=method, qa=qa, qa_rules=qa_rules,
                     band_map=band_map, resampling=resampling, reference=reference or 0)
    if as_json:
        click.echo(json.dumps(res.to_dict()))
        return
    click.echo(f"{res.method} cloud mask -> {out} ({res.width}x{res.height}, cloud {res.cloud_fraction:.1%}, "
               f"nodata {res.nodata_fraction:.1%})")
