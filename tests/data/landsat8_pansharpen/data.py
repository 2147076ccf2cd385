"""Landsat 8 pan/MS pairs from the mirror's real scene LC80200392015216 (B2-B4 30 m, B8 15 m)."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    return {"root": mirror / "scenes" / "landsat8_LC80200392015216", "split": "all", "chip_size": 128}
