"""OpenSARShip: the mirror's 8 official scene zips, read in place."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    root = mirror / "sar" / "opensarship_s1"
    return [{"root": root, "split": "train"},
            {"root": root, "split": "all", "bands": ("VV",), "categories": "all"}]
