"""Pieces the ViT-based foundation-model families share."""

from __future__ import annotations

from eokit.models.backbone import vit_feature_blocks as block_indices  # noqa: F401 - the one rule for ViT levels

SHA_NOTE = ("sha256 not pinned: no checksum is published beside the file, and its Hugging Face LFS object id "
            "(the file's sha256) could not be read when this entry was written; downloads are unverified")
