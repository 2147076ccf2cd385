"""Whole-scene cloud masks into a Cloud-Optimized GeoTIFF, block by block (``eokit mask``).

The mask is uint8 on the grid of the scene's reference band: 0 clear, 1 cloud, 255 nodata (a pixel
outside the data, nodata in any band read, designated fill in the QA band, or 0 in every band read,
which Landsat and Sentinel-2 Level-1 products use as fill). Blocks are read with a halo as wide as
the method's spatial post-processing (s2cloudless: average + dilation radius) so the mask equals a
whole-scene computation; memory stays at a few blocks whatever the scene size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from eokit.data.cloud import (
    S2CLOUDLESS_BANDS,
    QAInput,
    cloud_mask,
    pick_method,
    qa_cloud_mask,
    qa_fill_mask,
)
from eokit.errors import BandError, ConfigError
from eokit.io import CogWriter, open_band_files, open_raster
from eokit.sensors import get_sensor, match_bands

CLEAR, CLOUD, NODATA = 0, 1, 255
#: Optical bands the reflectance test reads when the scene has them.
REFLECTANCE_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
_QA_NAME = re.compile(r"(^|[_\-.])(BQA|QA_PIXEL|QA|QMASK)$", re.IGNORECASE)


@dataclass(frozen=True)
class SceneMaskResult:
    """What ``mask_scene`` wrote: the file, the method used, its grid and the share of each class."""

    path: str
    method: str
    sensor: str
    width: int
    height: int
    cloud_fraction: float
    nodata_fraction: float
    qa_file: str | None = None
    qa_rules: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_qa_file(path: str | os.PathLike[str]) -> bool:
    """Whether a file name ends in a QA token (``_BQA``, ``_QA_PIXEL``, ``_qmask``, ``_QA``)."""
    return bool(_QA_NAME.search(Path(path).name.split(".")[0]))


def guess_qa_rules(qa_path: str | os.PathLike[str]) -> str:
    """The QA preset for a Landsat QA file: Collection 2 for QA_PIXEL, else the MTL beside it decides.

    An MTL with ``COLLECTION_NUMBER = 01`` means Collection 1 BQA; no collection number (the
    pre-collection L1T products, ``LGN00``) means the pre-collection BQA layout.
    """
    p = Path(qa_path)
    if "QA_PIXEL" in p.name.upper():
        return "landsat_c2_qa_pixel_cloud"
    for mtl in sorted(p.parent.glob("*[Mm][Tt][Ll]*.txt")):
        text = mtl.read_text(errors="replace")
        m = re.search(r"COLLECTION_NUMBER\s*=\s*\"?(\d+)", text)
        if m:
            return "landsat_c1_bqa_cloud" if int(m.group(1)) == 1 else "landsat_c2_qa_pixel_cloud"
    return "landsat8_precollection_bqa_cloud"


def method_bands(method: str, bands: Sequence[str], sensor: str) -> list[str]:
    """The bands of ``bands`` that ``method`` reads (s2cloudless: its ten; reflectance: the optical ones)."""
    s = get_sensor(sensor)
    if method == "s2cloudless":
        return [bands[i] for i in match_bands(S2CLOUDLESS_BANDS, bands, s, what="s2cloudless")]
    if method == "reflectance":
        if not (_has(bands, s.name, "blue") and _has(bands, s.name, "red")):
            raise BandError(f"the reflectance cloud test needs blue and red; the {s.name} scene has bands "
                            f"{list(bands)}. Name bands by position with --band-map (e.g. blue=1,red=3) or pass "
                            "the scene's QA band with --qa")
        found = [bands[match_bands([n], bands, s)[0]] for n in REFLECTANCE_BANDS if _has(bands, s.name, n)]
        return list(dict.fromkeys(found))
    return list(bands[:1])  # qa / none: one band fixes the grid and the nodata


def _has(bands: Sequence[str], sensor: str, name: str) -> bool:
    try:
        match_bands([name], bands, sensor)
    except BandError:
        return False
    return True


def mask_scene(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    sensor: str,
    method: str = "auto",
    qa: str | os.PathLike[str] | None = None,
    qa_rules: QAInput | None = None,
    band_map: str | Mapping[str, int] | None = None,
    resampling: str | None = None,
    reference: int | str = 0,
    block: int = 512,
    threshold: float = 0.4,
    average_over: int = 1,
    dilation_size: int = 1,
) -> SceneMaskResult:
    """Write the cloud mask of a scene (one multi-band file or one file per band) as a COG at ``out``.

    A file among ``paths`` whose name ends in a QA token (see :func:`is_qa_file`) is taken as the QA
    band unless ``qa`` names one; ``qa_rules`` defaults to :func:`guess_qa_rules`. The mask's grid is
    that of ``reference`` (a band name, or a position in the sensor's band order), bands on other grids
    being resampled with ``resampling``.
    """
    files = [Path(p) for p in paths]
    qa_files = [p for p in files if is_qa_file(p)]
    band_files = [p for p in files if not is_qa_file(p)]
    qa_path = Path(qa) if qa is not None else (qa_files[0] if qa_files else None)
    if not band_files:
        raise ConfigError(f"no band files among {[str(p) for p in files]} (only QA files); pass the scene's bands too")
    stack = open_band_files(band_files, sensor=sensor, resampling=resampling, band_map=band_map,
                            reference=reference)
    s = get_sensor(sensor)
    chosen = pick_method(stack.bands, s, method, has_qa=qa_path is not None)
    if chosen == "untested":
        raise ConfigError(f"no cloud method can judge this {s.name} scene with bands {list(stack.bands)}: s2cloudless "
                          "needs Sentinel-2 L1C, and the reflectance test is trusted only on calibrated reflectance "
                          "with blue, red and a NIR or SWIR band. Pass the QA band (--qa), more bands, or "
                          "--method reflectance to force the threshold test")
    if chosen == "s2cloudless" and s.name != "sentinel2_l1c":
        raise ConfigError(f"s2cloudless was trained on Sentinel-2 L1C top-of-atmosphere reflectance, not {s.name}; "
                          "use --method reflectance (or --method qa with the scene's QA band)")
    view = stack.select(method_bands(chosen, stack.bands, s.name))
    grid = stack.grid
    qa_src = None
    rules: QAInput | None = None
    if chosen == "qa":
        if qa_path is None:
            raise ConfigError(f"--method qa needs the scene's QA band: pass --qa FILE (or list its _BQA/_QA_PIXEL "
                              f"file among the scene files {[str(p) for p in files]})")
        qa_src = open_raster(qa_path)
        if qa_src.grid != grid:
            raise ConfigError(f"the QA band {str(qa_path)!r} ({qa_src.grid.width}x{qa_src.grid.height}) is not on the "
                              f"grid of {str(band_files[0])!r} ({grid.width}x{grid.height}); pass band files of the "
                              "QA band's resolution first")
        rules = qa_rules if qa_rules is not None else guess_qa_rules(qa_path)
    halo = (max(average_over, 0) + max(dilation_size, 0)) if chosen == "s2cloudless" else 0
    counts = np.zeros(256, dtype=np.int64)
    tags = {"EOKIT_CLOUD_METHOD": chosen, "EOKIT_SENSOR": s.name, "EOKIT_CLASSES": "clear,cloud"}
    if isinstance(rules, str):
        tags["EOKIT_QA_RULES"] = rules
    with CogWriter(out, grid, 1, "uint8", nodata=NODATA, band_names=["cloud"], tags=tags) as writer:
        for row in range(0, grid.height, block):
            for col in range(0, grid.width, block):
                h, w = min(block, grid.height - row), min(block, grid.width - col)
                r0, c0 = max(row - halo, 0), max(col - halo, 0)
                r1, c1 = min(row + h + halo, grid.height), min(col + w + halo, grid.width)
                win = Window(c0, r0, c1 - c0, r1 - r0)
                chip = view.read(win)
                raw = chip.array
                nodata = ~chip.valid | (raw == 0).all(axis=0) | np.isnan(raw).any(axis=0)
                if qa_src is not None:
                    qa_raw = qa_src.read(win, dtype=None).array[0]
                    cloud = qa_cloud_mask(qa_raw, rules if rules is not None else "landsat8_precollection_bqa_cloud")
                    nodata |= qa_fill_mask(qa_raw)
                else:
                    img = np.asarray(s.to_reflectance(raw), dtype=np.float32)
                    img[:, nodata] = np.nan
                    cloud = cloud_mask(img, chip.bands, s, chosen, threshold=threshold,
                                       average_over=average_over, dilation_size=dilation_size)
                mask = np.where(nodata, NODATA, np.where(cloud, CLOUD, CLEAR)).astype(np.uint8)
                inner = mask[row - r0: row - r0 + h, col - c0: col - c0 + w]
                counts += np.bincount(inner.ravel(), minlength=256)
                writer.write(inner, Window(col, row, w, h))
    total = max(int(counts.sum()), 1)
    return SceneMaskResult(
        path=str(out), method=chosen, sensor=s.name, width=grid.width, height=grid.height,
        cloud_fraction=float(counts[CLOUD] / total), nodata_fraction=float(counts[NODATA] / total),
        qa_file=str(qa_path) if qa_src is not None else None, qa_rules=rules if isinstance(rules, str) else None,
    )
