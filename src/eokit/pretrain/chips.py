"""Chip: one pretraining window, in reflectance units, with what curation and the methods need to know."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Chip:
    """One pretraining window.

    ``image`` is (C, H, W) float32 in the reflectance units of ``sensor`` (raw * scale + offset); NaN marks
    nodata. ``place`` groups chips of the same location (balancing, seasonal positives: chips of one place
    with different ``date`` s are positives of each other). ``qa_cloud`` is a (H, W) bool cloud/shadow mask
    decoded from the source's QA band, when it has one. ``labels`` is a multi-hot (K,) vector when the chip
    comes from a labelled training split (soft contrastive targets); ``ident`` is unique per chip
    (``source:file[:window]``) and is what the split lists written beside a checkpoint contain.
    """

    image: np.ndarray
    sensor: str
    bands: tuple[str, ...]
    source: str
    place: str
    ident: str
    date: str | None = None
    qa_cloud: np.ndarray | None = None
    labels: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.image.shape[-2]), int(self.image.shape[-1])

    def nodata_fraction(self) -> float:
        """Share of pixels where any band is NaN."""
        return float(np.isnan(self.image).any(axis=0).mean())
