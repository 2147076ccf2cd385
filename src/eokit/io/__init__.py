"""Raster I/O on rasterio/GDAL: open, window-read, reproject (explicitly), write COGs atomically."""

from eokit.io.blockcache import BlockCache
from eokit.io.chip import Chip
from eokit.io.cog import CogWriter, atomic_path, is_cog, write_cog
from eokit.io.grid import GridSpec
from eokit.io.raster import RasterInfo, RasterSource, block_row_bytes, close_all, open_raster
from eokit.io.stac import open_stac_item
from eokit.io.stack import BandStack, open_band_files
from eokit.io.warp import reproject_chip, target_grid

__all__ = [
    "BandStack",
    "BlockCache",
    "Chip",
    "CogWriter",
    "GridSpec",
    "RasterInfo",
    "RasterSource",
    "atomic_path",
    "block_row_bytes",
    "close_all",
    "is_cog",
    "open_band_files",
    "open_raster",
    "open_stac_item",
    "reproject_chip",
    "target_grid",
    "write_cog",
]
