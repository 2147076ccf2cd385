"""LEVIR-CD: the official ``<split>/{A,B,label}`` layout built from the mirror's real pairs, and the
mirror's own 256 px re-release layout (``{A,B,label}`` + ``list/demo.txt``) read with layout='lists'."""

from __future__ import annotations

import shutil
from pathlib import Path


def build_official(tmp: Path, mirror: Path) -> Path:
    src = mirror / "change_detection" / "levircd_samples_256"
    root = tmp / "levir_cd"
    for f in sorted((src / "A").glob("*.png")):
        split = f.name.split("_")[0]  # the crops keep the official split in their names
        for d in ("A", "B", "label"):
            (root / split / d).mkdir(parents=True, exist_ok=True)
            shutil.copy(src / d / f.name, root / split / d / f.name)
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    return [
        {"root": build_official(tmp, mirror), "split": "test"},
        {"root": mirror / "change_detection" / "levircd_samples_256", "split": "test", "layout": "lists",
         "list_file": "demo.txt"},
    ]
