"""EuroSAT RGB in its official layout (``2750/<Class>/<Class>_<n>.jpg``) from the mirror's real JPEGs."""

from __future__ import annotations

import shutil
from pathlib import Path


def build(tmp: Path, mirror: Path, per_class: int = 4) -> Path:
    root = tmp / "eurosat_rgb"
    src = mirror / "classification" / "eurosat_rgb"
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for cls_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        out = root / "2750" / cls_dir.name
        out.mkdir(parents=True)
        for n in range(1, per_class + 1):
            name = f"{cls_dir.name}_{n}.jpg"
            shutil.copy(cls_dir / name, out / name)
            lists["train" if n <= 2 else ("val" if n == 3 else "test")].append(name)
    for split, names in lists.items():
        (root / f"eurosat-{split}.txt").write_text("\n".join(names) + "\n")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    root = build(tmp, mirror)
    return [{"root": root, "split": "val"}, {"root": root, "split": "train", "split_source": "seeded",
                                               "split_file": tmp / "split.json"}]
