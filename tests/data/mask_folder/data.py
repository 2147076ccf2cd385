"""The generic mask-folder reader: small generated folders (class-id PNG masks; RGB colour masks).

``images/tile_<i>.png`` (RGB) + ``masks/tile_<i>.png`` (one-band class ids 0-2, 255 = unlabelled),
and a colour variant whose masks are RGB with a ``colors`` table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"water": (0, 0, 255), "land": (0, 255, 0), "urban": (255, 0, 0)}


def write(root: Path, n: int = 8, size: int = 16, colour: bool = False, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        ids = ((np.arange(size)[None, :] // 4 + np.arange(size)[:, None] // 4 + i) % 3).astype(np.uint8)
        img = (np.asarray([(40, 60, 200), (60, 180, 60), (200, 80, 70)])[ids] + rng.integers(0, 20, (size, size, 3)))
        Image.fromarray(img.astype(np.uint8)).save(root / "images" / f"tile_{i:02d}.png")
        if colour:
            Image.fromarray(np.asarray(list(COLOURS.values()), dtype=np.uint8)[ids]).save(root / "masks" / f"tile_{i:02d}.png")
        else:
            ids[0, 0] = 255
            Image.fromarray(ids).save(root / "masks" / f"tile_{i:02d}.png")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    return [
        {"root": write(tmp / "ids"), "split": "all", "ignore_index": 255},
        {"root": write(tmp / "colour", colour=True), "split": "train",
         "colors": {k: list(v) for k, v in COLOURS.items()}, "sensor": "rgb"},
    ]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "mask_folder")))
