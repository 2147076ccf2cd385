"""Transforms on Samples: normalisation, augmentation, corruptions."""
