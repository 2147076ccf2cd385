"""YOLO fixture in the Ultralytics layout FlightScope uses: images/<split>/ + labels/<split>/ + data.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

NAMES = ["airplane", "helicopter"]


def write(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for split, n in (("train", 3), ("val", 2)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(
                root / "images" / split / f"{split}_{i}.png"
            )
            if i == 0:
                continue  # no label file = no objects
            rows = [f"{k % 2} 0.5 0.5 0.25 0.5" for k in range(i)]
            (root / "labels" / split / f"{split}_{i}.txt").write_text("\n".join(rows) + "\n")
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: airplane\n  1: helicopter\n"
    )
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "yolo")
    return [{"root": root, "split": "train"}, {"root": root, "split": "val"}, {"root": root, "split": "all"}]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "yolo")))
