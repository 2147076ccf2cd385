"""A tiny S2Looking fixture in the published layout (the mirror has none).

``{train,val,test}/{Image1,Image2,label,label1,label2}/<n>.png``: RGB uint8 PNGs (here 32x32); ``label``
is the change map (0 = no change; non-zero = change), ``label1``/``label2`` the new/demolished buildings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def build(tmp: Path, size: int = 32, n: int = 2) -> Path:
    root = tmp / "s2looking"
    rng = np.random.default_rng(2)
    for split in ("train", "val", "test"):
        for i in range(1, n + 1):
            new = np.zeros((size, size), bool)
            new[4:12, 4:12] = True
            gone = np.zeros((size, size), bool)
            gone[20:26, 18:30] = True
            label = np.zeros((size, size, 3), np.uint8)
            label[new, 0] = 255
            label[gone, 1] = 255
            arrays = {
                "Image1": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                "Image2": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                "label": label,
                "label1": (new * 255).astype(np.uint8),
                "label2": (gone * 255).astype(np.uint8),
            }
            for d, a in arrays.items():
                (root / split / d).mkdir(parents=True, exist_ok=True)
                Image.fromarray(a).save(root / split / d / f"{i}.png")
    return root


def make(tmp: Path, mirror: Path | None) -> dict:
    return {"root": build(tmp), "split": "val"}
