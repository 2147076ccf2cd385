"""Multi-modal samples: several modalities (S1 + S2, optical + DEM) on one pixel grid.

A multi-modal Sample keeps each modality under ``modalities`` (``name -> sub-sample`` with its
own ``image``, ``bands`` and ``sensor``) and, so that every single-image consumer (transforms,
the bench's arrays, band selection) works unchanged, the channel concatenation of the
modalities in their order under ``image``/``bands`` (``sensor`` None when they differ). The
modality images are views of that stacked image, so the two never disagree at load time.

Grids are never aligned silently: :func:`check_modality_grids` raises
:class:`~eokit.errors.ModalityGridError` naming both modalities, their files and grids, and how
to align them explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from eokit.data.sample import Sample, crs_string
from eokit.errors import BandError, ModalityError, ModalityGridError
from eokit.io import GridSpec
from eokit.sensors import band_key

ALIGN_HINT = (
    "align them explicitly: reproject one onto the other's grid with eokit.io.reproject_chip(chip, "
    "target_grid, resampling='bilinear') (or open its band files with resampling= onto a reference band), "
    "then save it on that grid"
)


def _grid_text(grid: GridSpec) -> str:
    crs = crs_string(grid.crs) or "no CRS"
    t = tuple(round(float(v), 9) for v in tuple(grid.transform)[:6])
    return f"{grid.width}x{grid.height} px, {crs}, transform {t}"


def grids_align(a: GridSpec, b: GridSpec) -> bool:
    """True when ``b`` has the size, CRS and pixel grid of ``a`` (within 0.1 % of a pixel)."""
    if (a.height, a.width) != (b.height, b.width):
        return False
    if (a.crs is None) != (b.crs is None) or (a.crs is not None and a.crs != b.crs):
        return False
    ta = np.array(tuple(a.transform)[:6], dtype=float)
    tb = np.array(tuple(b.transform)[:6], dtype=float)
    res = min(abs(ta[0]), abs(ta[4])) or 1.0
    return bool(np.abs(ta - tb).max() <= 1e-3 * res)


def check_modality_grids(grids: Mapping[str, tuple[GridSpec, Any]]) -> None:
    """Raise ModalityGridError unless every modality lies on the first one's grid.

    ``grids``: ``{modality: (grid, file it was read from)}``.
    """
    items = list(grids.items())
    if not items:
        return
    ref_name, (ref, ref_path) = items[0]
    for name, (grid, path) in items[1:]:
        if not grids_align(ref, grid):
            raise ModalityGridError(
                f"modality {name!r} ({str(path)!r}: {_grid_text(grid)}) is not on the grid of modality "
                f"{ref_name!r} ({str(ref_path)!r}: {_grid_text(ref)}); {ALIGN_HINT}"
            )


def multimodal_sample(parts: Mapping[str, Sample], **top: Any) -> Sample:
    """A Sample holding ``parts`` (``{modality: {'image', 'bands', 'sensor', ...}}``) under
    ``modalities`` plus their stacked view under ``image``/``bands``/``sensor``; ``top`` adds the
    targets and metadata (``mask``, ``label``, ``crs``, ...).

    Every part's image must be (C, H, W) (or (T, C, H, W)) of the same size; band names must be
    unique across the modalities (the stacked view names each channel once).
    """
    if not parts:
        raise ModalityError("a multi-modal sample needs at least one modality")
    names = list(parts)
    shapes = {n: tuple(p["image"].shape) for n, p in parts.items()}
    spatial = {n: s[:-3] + s[-2:] for n, s in shapes.items()}
    if len(set(spatial.values())) > 1:
        raise ModalityGridError(f"modalities have images of different sizes {shapes}; {ALIGN_HINT}")
    seen: dict[str, str] = {}
    for n, p in parts.items():
        if len(p["bands"]) != p["image"].shape[-3]:
            raise BandError(f"modality {n!r}: {p['image'].shape[-3]} channels but bands {list(p['bands'])}")
        for b in p["bands"]:
            if band_key(b) in seen:
                raise BandError(f"band {b!r} is in modalities {seen[band_key(b)]!r} and {n!r}; name the bands "
                                "of one modality apart (e.g. dem_elevation) so each channel has one name")
            seen[band_key(b)] = n
    stacked = torch.cat([parts[n]["image"] for n in names], dim=-3)
    mods: dict[str, Sample] = {}
    start = 0
    for n in names:
        c = parts[n]["image"].shape[-3]
        mods[n] = {**parts[n], "image": stacked.narrow(-3, start, c)}
        start += c
    sensors = {parts[n].get("sensor") for n in names}
    return {
        "image": stacked,
        "bands": tuple(b for n in names for b in parts[n]["bands"]),
        "sensor": sensors.pop() if len(sensors) == 1 else None,
        "modalities": mods,
        **top,
    }


def modality_bands(sample: Sample) -> dict[str, tuple[str, ...]]:
    """``{modality: its bands}`` of a multi-modal sample (or batch); ``{}`` for a single-modal one."""
    mods = sample.get("modalities")
    if not isinstance(mods, Mapping):
        return {}
    return {str(n): tuple(m["bands"]) for n, m in mods.items()}


def modality_sensors(sample: Sample) -> dict[str, str | None]:
    """``{modality: its sensor}`` of a multi-modal sample (or batch)."""
    mods = sample.get("modalities")
    if not isinstance(mods, Mapping):
        return {}
    return {str(n): m.get("sensor") for n, m in mods.items()}
