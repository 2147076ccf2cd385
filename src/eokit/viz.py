"""PNG quicklooks of rasters and maps (percentile-stretched RGB, colour-mapped single bands)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from eokit.io.cog import atomic_path


def stretch(array: np.ndarray, valid: np.ndarray | None = None, lo: float = 2, hi: float = 98) -> np.ndarray:
    """Per-band percentile stretch of (C, H, W) to uint8."""
    out = np.zeros(array.shape, dtype=np.uint8)
    for i, band in enumerate(array):
        vals = band[valid] if valid is not None and valid.any() else band.ravel()
        vals = vals[np.isfinite(vals)]
        if vals.size == 0:
            continue
        a, b = np.percentile(vals, [lo, hi])
        scaled = (band - a) / (b - a if b > a else 1.0)
        out[i] = (np.clip(np.nan_to_num(scaled), 0, 1) * 255).astype(np.uint8)
    return out


def colormap(values: np.ndarray, cmap: str = "RdYlGn", vmin: float | None = None, vmax: float | None = None,
             valid: np.ndarray | None = None) -> np.ndarray:
    """Map a (H, W) array through a matplotlib colormap to (3, H, W) uint8; invalid pixels black."""
    import matplotlib

    finite = np.isfinite(values) & (valid if valid is not None else True)
    vmin = float(np.nanpercentile(values[finite], 2)) if vmin is None else vmin
    vmax = float(np.nanpercentile(values[finite], 98)) if vmax is None else vmax
    norm = np.clip((values - vmin) / (vmax - vmin if vmax > vmin else 1.0), 0, 1)
    rgba = matplotlib.colormaps[cmap](np.nan_to_num(norm))
    rgb = (rgba[..., :3] * 255).astype(np.uint8)
    rgb[~finite] = 0
    return rgb.transpose(2, 0, 1)


def save_png(path: str | os.PathLike[str], panels: Sequence[np.ndarray], gap: int = 8) -> Path:
    """Save (3, H, W) uint8 panels side by side (heights padded), atomically."""
    h = max(p.shape[1] for p in panels)
    padded = [np.pad(p, ((0, 0), (0, h - p.shape[1]), (0, 0))) for p in panels]
    spacer = np.full((3, h, gap), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for i, p in enumerate(padded):
        parts += [p] if i == 0 else [spacer, p]
    image = np.concatenate(parts, axis=2).transpose(1, 2, 0)
    with atomic_path(path, ".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return Path(path)
