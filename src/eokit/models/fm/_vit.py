"""Pieces the ViT-based foundation-model families share."""

from __future__ import annotations


def block_indices(depth: int) -> list[int]:
    """The 4 evenly spaced blocks a ViT exposes as feature maps (fewer when depth < 4), last block included."""
    return sorted({max(0, -(-depth * k // 4) - 1) for k in (1, 2, 3, 4)})


SHA_NOTE = ("sha256 not pinned: no checksum is published beside the file, and its Hugging Face LFS object id "
            "(the file's sha256) could not be read when this entry was written; downloads are unverified")
