"""PNG quicklooks of rasters and maps (percentile-stretched RGB, colour-mapped single bands)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def value_range(values: np.ndarray, valid: np.ndarray | None = None, lo: float = 2, hi: float = 98) -> tuple[float, float]:
    """The ``lo``-``hi`` percentile range of the finite (and valid) values; (0, 1) when there are none."""
    finite = np.isfinite(values) & (valid if valid is not None else True)
    if not finite.any():
        return 0.0, 1.0
    a, b = np.percentile(values[finite], [lo, hi])
    return float(a), float(b)


def colormap(values: np.ndarray, cmap: str = "RdYlGn", vmin: float | None = None, vmax: float | None = None,
             valid: np.ndarray | None = None) -> np.ndarray:
    """Map a (H, W) array through a matplotlib colormap to (3, H, W) uint8; invalid pixels black.

    ``vmin``/``vmax`` default to :func:`value_range` (2-98 %)."""
    import matplotlib

    finite = np.isfinite(values) & (valid if valid is not None else True)
    if vmin is None or vmax is None:
        lo, hi = value_range(values, valid)
        vmin, vmax = lo if vmin is None else vmin, hi if vmax is None else vmax
    norm = np.clip((values - vmin) / (vmax - vmin if vmax > vmin else 1.0), 0, 1)
    rgba = matplotlib.colormaps[cmap](np.nan_to_num(norm))
    rgb = (rgba[..., :3] * 255).astype(np.uint8)
    rgb[~finite] = 0
    return rgb.transpose(2, 0, 1)


def save_png(path: str | os.PathLike[str], panels: Sequence[np.ndarray], gap: int = 8) -> Path:
    """Save (3, H, W) uint8 panels side by side (heights padded), atomically."""
    h = max(p.shape[1] for p in panels)
    padded = [np.pad(p, ((0, 0), (0, h - p.shape[1]), (0, 0)), constant_values=255) for p in panels]
    spacer = np.full((3, h, gap), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for i, p in enumerate(padded):
        parts += [p] if i == 0 else [spacer, p]
    image = np.concatenate(parts, axis=2).transpose(1, 2, 0)
    with atomic_path(path, ".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return Path(path)


def class_colours(n: int, cmap: str | None = None) -> np.ndarray:
    """(n, 3) uint8 colours for the classes of a map: matplotlib's tab10 (tab20 beyond ten classes), or
    ``cmap``'s first n colours when it is a listed (qualitative) map, else n evenly spaced along it."""
    import matplotlib

    cm = matplotlib.colormaps[cmap or ("tab10" if n <= 10 else "tab20")]
    at = [i % cm.N for i in range(n)] if cm.N < 256 else np.linspace(0.0, 1.0, n) if n > 1 else [1.0]
    return (np.array([cm(x)[:3] for x in at]).reshape(-1, 3) * 255).astype(np.uint8)[:n]


def class_panel(classes: np.ndarray, n: int, valid: np.ndarray | None = None, cmap: str | None = None) -> np.ndarray:
    """A (H, W) map of class indices 0..n-1 as (3, H, W) uint8 in :func:`class_colours`; invalid pixels
    black, unknown values grey."""
    palette = np.vstack([class_colours(n, cmap), np.full((1, 3), 128, dtype=np.uint8)])
    idx = np.where((classes >= 0) & (classes < n), classes, n).astype(np.intp)
    rgb = palette[idx]
    if valid is not None:
        rgb[~valid] = 0
    return rgb.transpose(2, 0, 1)


def _font(size: int = 13) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_width(font: Any, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def legend(width: int, title: str, *, ramp: tuple[str, float, float] | None = None,
           classes: Sequence[tuple[str, np.ndarray]] = ()) -> np.ndarray:
    """A white (3, h, ``width``) legend strip: ``title``, then a colour ramp with its end and middle
    values (``ramp`` = (cmap, vmin, vmax)) or one swatch per class (``classes`` = (name, rgb)), wrapped."""
    import matplotlib
    from PIL import ImageDraw

    font, pad, line = _font(), 6, 17
    rows: list[list[tuple[str, np.ndarray]]] = [[]]
    x = pad
    for name, rgb in classes:  # flow the swatches into rows that fit the width
        w = 16 + _text_width(font, name) + 14
        if rows[-1] and x + w > width - pad:
            rows.append([])
            x = pad
        rows[-1].append((name, rgb))
        x += w
    height = pad + line + (2 * line if ramp else line * len([r for r in rows if r])) + pad
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((pad, pad), title, fill="black", font=font)
    y = pad + line
    if ramp:
        cmap, vmin, vmax = ramp
        bar = (np.array(matplotlib.colormaps[cmap](np.linspace(0, 1, max(width - 2 * pad, 2))))[:, :3] * 255)
        image.paste(Image.fromarray(np.repeat(bar.astype(np.uint8)[None], line - 5, axis=0)), (pad, y))
        y += line - 3
        for frac, value in ((0.0, vmin), (0.5, (vmin + vmax) / 2), (1.0, vmax)):
            label = f"{value:.3g}"
            lx = pad + frac * (width - 2 * pad) - frac * _text_width(font, label)
            draw.text((lx, y), label, fill="black", font=font)
    for row in rows:
        x = pad
        for name, rgb in row:
            draw.rectangle((x, y + 2, x + 11, y + 13), fill=tuple(int(v) for v in rgb), outline="black")
            draw.text((x + 16, y), name, fill="black", font=font)
            x += 16 + _text_width(font, name) + 14
        y += line
    return np.asarray(image).transpose(2, 0, 1).copy()


def with_legend(panel: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """``panel`` (3, H, W) with the legend ``strip`` (3, h, W') below it (the narrower one padded white)."""
    width = max(panel.shape[2], strip.shape[2])
    pad = [np.pad(a, ((0, 0), (0, 0), (0, width - a.shape[2])), constant_values=255) for a in (panel, strip)]
    return np.concatenate(pad, axis=1)


def map_classes(tags: dict[str, str]) -> list[str] | None:
    """The class names of an eokit class map (``EOKIT_CLASSES``: names in class-value order), else None.

    Probability maps (``EOKIT_OUTPUT=probabilities``) carry the tag too but hold values, not classes."""
    names = tags.get("EOKIT_CLASSES")
    if not names or tags.get("EOKIT_OUTPUT", "classes") != "classes":
        return None
    return [n.strip() for n in names.split(",")]

