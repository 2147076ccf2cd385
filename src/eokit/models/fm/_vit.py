"""Pieces the ViT-based foundation-model families share."""

from __future__ import annotations


def block_indices(depth: int) -> list[int]:
    """The 4 evenly spaced blocks a ViT exposes as feature maps (fewer when depth < 4), last block included."""
    return sorted({max(0, -(-depth * k // 4) - 1) for k in (1, 2, 3, 4)})
