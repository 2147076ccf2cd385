"""Pretraining objectives, registered by name (``method:`` in a pretrain config)."""

from eokit.pretrain.methods import contrastive as contrastive  # noqa: F401  (registers "contrastive")
from eokit.pretrain.methods.base import (
    METHODS,
    PretrainBatch,
    PretrainMethod,
    build_method,
    get_method,
    register_method,
)

__all__ = ["METHODS", "PretrainBatch", "PretrainMethod", "build_method", "get_method", "register_method"]
