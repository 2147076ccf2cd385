"""SPARCS: the mirror's real subscenes, plus a tiny fixture in the release's ``sending/`` layout.

The fixture writes ``sending/<scene>_<k>_photo.png`` (8-bit RGB), ``<scene>_<k>_mask.png``
(palette PNG of the SPARCS codes 0-5) for five 40x40 subscenes, optionally ``<id>_data.tif``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

SCENES = [f"LC8{k:03d}0812013365LGN00_{k:02d}" for k in range(1, 6)]
PALETTE = [0, 0, 0, 0, 0, 128, 0, 0, 255, 0, 255, 255, 128, 128, 128, 255, 255, 255, 128, 128, 0]


def write(root: Path, size: int = 40, seed: int = 0, data: bool = False) -> Path:
    """The fixture; ``data=True`` adds the full release's 10-band uint16 ``<id>_data.tif``."""
    rng = np.random.default_rng(seed)
    folder = root / "sending"
    folder.mkdir(parents=True, exist_ok=True)
    for i, sid in enumerate(SCENES):
        codes = ((np.arange(size)[None, :] // 8 + np.arange(size)[:, None] // 8 + i) % 6).astype(np.uint8)
        mask = Image.fromarray(codes, mode="P")
        mask.putpalette(PALETTE)
        mask.save(folder / f"{sid}_mask.png")
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{sid}_photo.png")
        if data:
            import rasterio
            from rasterio.transform import from_origin

            with rasterio.open(folder / f"{sid}_data.tif", "w", driver="GTiff", width=size, height=size, count=10,
                               dtype="uint16", crs="EPSG:32619",
                               transform=from_origin(300000 + 30000 * i, 6700000, 30, 30)) as dst:
                dst.write((rng.integers(5000, 30000, (10, size, size)) + 100 * i).astype(np.uint16))
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    cases = [{"root": write(tmp / "sparcs"), "split": "train", "chip_size": 16}]
    if mirror is not None:
        cases.insert(0, {"root": mirror / "segmentation" / "sparcs_l8_cloud", "split": "test"})
    return cases


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "sparcs_l8_cloud")))
