"""Dubai aerial land cover: the mirror's real tiles, plus a tiny fixture in the published layout.

The fixture writes ``Tile <k>/images/image_part_001.jpg`` (RGB JPEG) and
``Tile <k>/masks/image_part_001.png`` (RGB colour codes; odd tiles as palette "P" PNGs, as
Tiles 2 and 4 of the release are) with the class colours of the masks, a few black pixels,
and the release's ``classes.json`` (whose colours are wrong and must not be read).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = [(60, 16, 152), (132, 41, 246), (110, 193, 228), (254, 221, 58), (226, 169, 41), (155, 155, 155)]


def write(root: Path, tiles: int = 6, size: tuple[int, int] = (20, 16), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    for k in range(1, tiles + 1):
        for sub in ("images", "masks"):
            (root / f"Tile {k}" / sub).mkdir(parents=True, exist_ok=True)
        ids = (np.arange(w)[None, :] // 4 + np.arange(h)[:, None] // 4 + k) % len(COLOURS)
        rgb = np.asarray(COLOURS, dtype=np.uint8)[ids]
        rgb[0, 0] = 0  # an unlabelled black pixel, as in the release
        mask = Image.fromarray(rgb)
        if k % 2:
            mask = mask.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
        mask.save(root / f"Tile {k}" / "masks" / "image_part_001.png")
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / f"Tile {k}" / "images" / "image_part_001.jpg", quality=90)
    classes = [{"title": t, "shape": "polygon", "color": c, "geometry_config": {}} for t, c in
               [("Water", "#50E3C2"), ("Land (unpaved area)", "#F5A623"), ("Road", "#DE597F"),
                ("Building", "#D0021B"), ("Vegetation", "#417505"), ("Unlabeled", "#9B9B9B")]]
    (root / "classes.json").write_text(json.dumps({"classes": classes, "tags": []}, indent=2))
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    cases = [{"root": write(tmp / "dubai"), "split": "train"}]
    if mirror is not None:
        cases.insert(0, {"root": mirror / "segmentation" / "dubai_aerial_landcover", "split": "test"})
    return cases


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "dubai_aerial_landcover")))
