"""Scenes, samplers and the torch Dataset path that yields Samples."""

from eokit.data.sample import Sample, collate_samples

__all__ = ["Sample", "collate_samples"]
