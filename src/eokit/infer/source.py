"""Open the scene to map, with the bands wanted (resolved by ``eokit.sensors.match_bands``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eokit.errors import RasterError
from eokit.io import BandStack, RasterSource, open_band_files, open_raster, open_stac_item
from eokit.io.raster import BandMap

Scene = Any  # a path, band files, a STAC item (path, dict, pystac.Item), a RasterSource or BandStack
_RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img", ".nc")


def scene_name(scene: Scene) -> str:
    """A short name for messages and output files."""
    if isinstance(scene, (str, os.PathLike)):
        p = Path(scene)
        if isinstance(scene, str) and any(ch in scene for ch in "*?[") and not p.exists():
            return p.parent.name
        return p.stem if p.is_file() else p.name
    if isinstance(scene, (RasterSource,)):
        return Path(scene.path).stem
    if isinstance(scene, BandStack):
        return getattr(scene, "item_id", None) or Path(scene.reference.path).parent.name
    if isinstance(scene, dict):
        return str(scene.get("id", "scene"))
    if hasattr(scene, "id"):
        return str(scene.id)
    if isinstance(scene, Sequence) and scene:
        return Path(scene[0]).parent.name
    return "scene"


def open_scene(
    scene: Scene,
    *,
    sensor: str | None = None,
    bands: Sequence[str | float] | None = None,
    band_map: BandMap = None,
    band_names: Sequence[str] | None = None,
    resampling: str | None = None,
    reference: int | str = 0,
) -> RasterSource | BandStack:
    """Open a scene: a raster path, a folder of one-file-per-band rasters, a glob of band files
    (``'dir/l8_B[1-7].tif'``), a list of band files, a STAC item (path to JSON, dict or pystac.Item),
    or an open RasterSource/BandStack.

    ``bands`` keeps only the bands wanted, in that order (names, aliases, common names or
    wavelengths, resolved with ``eokit.sensors.match_bands``; a missing one raises BandError naming
    it and the files), for every kind of scene. ``band_map`` (``'red=3,nir=4'``) names bands by
    1-based position; ``band_names`` names all N bands of a single raster file.
    """
    if isinstance(scene, (RasterSource, BandStack)):
        return scene.select(bands) if bands is not None else scene
    stack_kw: dict[str, Any] = dict(sensor=sensor, resampling=resampling, reference=reference, bands=bands,
                                    band_map=band_map)
    if isinstance(scene, dict) or hasattr(scene, "to_dict"):
        return open_stac_item(scene, **stack_kw)
    if isinstance(scene, str) and any(ch in scene for ch in "*?[") and not Path(scene).exists():
        files: list[str] | list[Path] = sorted(glob.glob(scene))
        if not files:
            raise RasterError(f"the pattern {scene!r} matches no files")
        return open_band_files(files, **stack_kw)
    if isinstance(scene, (str, os.PathLike)):
        p = Path(scene)
        if p.suffix.lower() == ".json":
            return open_stac_item(p, **stack_kw)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in _RASTER_SUFFIXES and not f.name.startswith("."))
            if not files:
                raise RasterError(f"folder {str(p)!r} holds no raster files ({', '.join(_RASTER_SUFFIXES)})")
            return open_band_files(files, **stack_kw)
        return open_raster(p, band_names=band_names, sensor=sensor, bands=bands, band_map=band_map)
    if isinstance(scene, Sequence):
        return open_band_files(list(scene), **stack_kw)
    raise RasterError(f"cannot open {scene!r} as a scene: pass a raster path, band files, a STAC item or a RasterSource")
