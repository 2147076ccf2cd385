"""A tiny NWPU-RESISC45 fixture in the published layout (the mirror has none).

``NWPU-RESISC45/<class>/<class>_NNN.jpg`` RGB JPEGs (here 16x16 px, 3 per class), plus the standard
split lists ``resisc45-{train,val,test}.txt`` in their format (one file name per line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from eokit.datasets.catalog.classification import RESISC45_CLASSES


def build(tmp: Path, per_class: int = 3, size: int = 16) -> Path:
    root = tmp / "resisc45"
    rng = np.random.default_rng(1)
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for c in RESISC45_CLASSES:
        out = root / "NWPU-RESISC45" / c
        out.mkdir(parents=True)
        for n in range(1, per_class + 1):
            name = f"{c}_{n:03d}.jpg"
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(out / name, quality=90)
            lists[("train", "val", "test")[n - 1]].append(name)
    for split, names in lists.items():
        (root / f"resisc45-{split}.txt").write_text("\n".join(names) + "\n")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = build(tmp)
    return [{"root": root, "split": "train"}, {"root": root, "split": "test"}]
