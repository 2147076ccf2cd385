"""Transforms on Samples: normalisation, augmentation, corruptions."""

from eokit.transforms.augment import (
    CenterCrop,
    Compose,
    RandomCrop,
    RandomFlip,
    RandomRot90,
    batch_flip_rot90,
    crop,
    hflip,
    rot90,
    vflip,
)
from eokit.transforms.normalize import Normalize, NormalizeBands, normalize

__all__ = [
    "CenterCrop",
    "Compose",
    "Normalize",
    "NormalizeBands",
    "RandomCrop",
    "RandomFlip",
    "RandomRot90",
    "batch_flip_rot90",
    "crop",
    "hflip",
    "normalize",
    "rot90",
    "vflip",
]
