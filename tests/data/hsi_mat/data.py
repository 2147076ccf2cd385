"""Tiny .mat hyperspectral scenes in the GIC layout (used by the indian_pines/salinas/pavia_* providers).

Each scene is two MATLAB v5 files written with scipy.io.savemat under their published names and
variable names, with the published band count and dtype; only the spatial size is shrunk.
Ground truth: uint8, 0 unlabelled, 1..K classes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.io

# name -> (cube file, cube key, gt file, gt key, bands, classes, dtype)
SCENES = {
    "indian_pines": ("Indian_pines_corrected.mat", "indian_pines_corrected", "Indian_pines_gt.mat",
                     "indian_pines_gt", 200, 16, np.uint16),
    "salinas": ("Salinas_corrected.mat", "salinas_corrected", "Salinas_gt.mat", "salinas_gt", 204, 16, np.int16),
    "pavia_university": ("PaviaU.mat", "paviaU", "PaviaU_gt.mat", "paviaU_gt", 103, 9, np.uint16),
    "pavia_centre": ("Pavia.mat", "pavia", "Pavia_gt.mat", "pavia_gt", 102, 9, np.uint16),
}


def write(root: Path, name: str, h: int = 20, w: int = 14, seed: int = 0) -> Path:
    cube_file, cube_key, gt_file, gt_key, bands, classes, dtype = SCENES[name]
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / cube_file, {cube_key: rng.integers(0, 8000, (h, w, bands)).astype(dtype)})
    gt = rng.integers(0, classes + 1, (h, w)).astype(np.uint8)
    gt.ravel()[: classes + 1] = np.arange(classes + 1)
    scipy.io.savemat(root / gt_file, {gt_key: gt})
    return root


def make_scene(tmp: Path, name: str) -> list[dict]:
    root = write(tmp / name, name)
    return [{"root": root, "split": "all", "patch_size": 8}, {"root": root, "split": "train", "patch_size": None}]


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hsi")
    for n in SCENES:
        print(write(out / n, n))
