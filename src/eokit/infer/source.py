"""Open the scene to map and match its bands, by name, to what the model expects."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eokit.errors import BandError, RasterError
from eokit.io import BandStack, RasterSource, open_band_files, open_raster, open_stac_item

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
    band_names: Sequence[str] | None = None,
    resampling: str | None = None,
    reference: int | str = 0,
) -> RasterSource | BandStack:
    """A raster path, a folder of one-file-per-band rasters, a glob of band files (``'dir/l8_B[1-7].tif'``),
    a list of band files, a STAC item (path to JSON, dict or pystac.Item), or an open RasterSource/BandStack."""
    if isinstance(scene, (RasterSource, BandStack)):
        return scene
    if isinstance(scene, dict) or hasattr(scene, "to_dict"):
        return open_stac_item(scene, sensor=sensor, resampling=resampling, reference=reference)
    if isinstance(scene, str) and any(ch in scene for ch in "*?[") and not Path(scene).exists():
        files: list[str] | list[Path] = sorted(glob.glob(scene))
        if not files:
            raise RasterError(f"the pattern {scene!r} matches no files")
        return open_band_files(files, sensor=sensor, resampling=resampling, reference=reference)
    if isinstance(scene, (str, os.PathLike)):
        p = Path(scene)
        if p.suffix.lower() == ".json":
            return open_stac_item(p, sensor=sensor, resampling=resampling, reference=reference)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in _RASTER_SUFFIXES and not f.name.startswith("."))
            if not files:
                raise RasterError(f"folder {str(p)!r} holds no raster files ({', '.join(_RASTER_SUFFIXES)})")
            return open_band_files(files, sensor=sensor, resampling=resampling, reference=reference)
        return open_raster(p, band_names=band_names, sensor=sensor)
    if isinstance(scene, Sequence):
        return open_band_files(list(scene), sensor=sensor, resampling=resampling, reference=reference)
    raise RasterError(f"cannot open {scene!r} as a scene: pass a raster path, band files, a STAC item or a RasterSource")


def _has_band(src: RasterSource | BandStack, name: str) -> bool:
    try:
        if isinstance(src, BandStack):
            src._resolve(name)
        else:
            src.band_indexes([name])
    except BandError:
        return False
    return True


def match_bands(src: RasterSource | BandStack, wanted: Sequence[str], what: str = "the model") -> list[str]:
    """The band names to read from ``src``, in ``wanted`` order; BandError lists every missing band."""
    missing = [b for b in wanted if not _has_band(src, b)]
    if missing:
        where = getattr(src, "path", None) or getattr(getattr(src, "reference", None), "path", "the scene")
        raise BandError(
            f"{where!r} lacks band(s) {missing} that {what} needs (it expects {list(wanted)}); the scene has "
            f"{list(src.bands)}. Name the bands (band_names=/--bands), give the sensor (sensor=/--sensor) so "
            "aliases resolve, or add the missing band files"
        )
    return list(wanted)
