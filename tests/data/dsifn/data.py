"""DSIFN: the mirror's real DSIFN-CD-256 pairs ({A,B,label} + list/demo.txt, layout='lists')."""

from __future__ import annotations

from pathlib import Path


def make(tmp: Path, mirror: Path | None) -> dict | None:
    if mirror is None:
        return None
    return {"root": mirror / "change_detection" / "dsifn_samples_256", "split": "test", "layout": "lists",
            "list_file": "demo.txt"}
