"""ENVI fixture: ``cube.hdr`` + ``cube.img`` (BSQ int16, 6 bands, wavelengths in micrometres)
and ``gt.hdr`` + ``gt.img`` (ENVI classification, uint8, 0 unlabelled, classes 1-2)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

WAVELENGTHS_UM = [0.45, 0.55, 0.65, 0.75, 0.85, 1.6]


def _header(lines: int, samples: int, bands: int, dtype_code: int, extra: str = "") -> str:
    return (
        "ENVI\ndescription = {eokit test cube}\n"
        f"samples = {samples}\nlines = {lines}\nbands = {bands}\nheader offset = 0\n"
        f"file type = ENVI Standard\ndata type = {dtype_code}\ninterleave = bsq\nbyte order = 0\n{extra}"
    )


def write(root: Path, h: int = 12, w: int = 10, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    cube = rng.integers(0, 4000, (len(WAVELENGTHS_UM), h, w)).astype("<i2")
    cube.tofile(root / "cube.img")
    wl = ", ".join(str(v) for v in WAVELENGTHS_UM)
    (root / "cube.hdr").write_text(
        _header(h, w, len(WAVELENGTHS_UM), 2, f"wavelength units = Micrometers\nwavelength = {{{wl}}}\n")
    )
    gt = rng.integers(0, 3, (1, h, w)).astype(np.uint8)
    gt.tofile(root / "gt.img")
    (root / "gt.hdr").write_text(_header(h, w, 1, 1, "file type = ENVI Classification\n"))
    return root


def make(tmp: Path, mirror: Path | None) -> dict:
    return {"root": write(tmp / "envi"), "split": "all", "cube": "cube.img", "gt": "gt.img", "patch_size": 8}


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "envi")))
