"""COCO JSON fixture: ``annotations/instances_{train,val}.json`` + ``images/{train,val}/``.

Category ids are deliberately non-contiguous (3, 7) as in many EO COCO exports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def write(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    cats = [{"id": 7, "name": "storage_tank"}, {"id": 3, "name": "ship"}]
    for split, n in (("train", 3), ("val", 2)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        images, anns = [], []
        for i in range(n):
            name = f"{split}_{i:04d}.png"
            Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(root / "images" / split / name)
            images.append({"id": 100 + i, "file_name": name, "width": 50, "height": 40})
            for k in range(i):
                anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": (3, 7)[k % 2],
                             "bbox": [5.0 + k, 4.0, 10.0, 8.0], "area": 80.0, "iscrowd": 0})
        coco = {"images": images, "annotations": anns, "categories": cats}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco))
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "coco")
    return [{"root": root, "split": "train"}, {"root": root, "split": "val"}]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "coco")))
