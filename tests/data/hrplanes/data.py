"""HRPlanes fixture: flat ``images/*.jpg`` + ``labels/*.txt`` (YOLO ``0 cx cy w h``) and split lists.

The real images are 4800x2703 JPEGs of airports; here 96x64 px so the test stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS = {"train": ["0a1b2c", "1d2e3f", "2a3b4c"], "val": ["3c4d5e"], "test": ["4e5f6a", "5f6a7b"]}


def write(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    for split, names in SPLITS.items():
        for i, name in enumerate(names):
            Image.fromarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)).save(root / "images" / f"{name}.jpg")
            rows = [f"0 {0.2 + 0.1 * k:.6f} {0.5:.6f} {0.1:.6f} {0.15:.6f}" for k in range(i + 1)]
            (root / "labels" / f"{name}.txt").write_text("\n".join(rows) + "\n")
        (root / f"{split}.txt").write_text("\n".join(f"images/{n}.jpg" for n in names) + "\n")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "hrplanes")
    return [{"root": root, "split": s} for s in ("train", "val", "test")]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "hrplanes")))
