"""OSCD: the mirror's real city pairs (images/ and labels/ instead of the published folder names)."""

from __future__ import annotations

from pathlib import Path

CITIES = ["aguasclaras", "bercy", "paris", "rennes"]


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    return {"root": mirror / "change_detection" / "oscd_sentinel2", "split": "train", "images_dir": "images",
            "labels_dir": "labels", "cities": CITIES}
