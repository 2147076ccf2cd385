"""Pretraining objectives, registered by name (``method:`` in a pretrain config)."""

from eokit.pretrain.methods import contrastive as contrastive  # registers "contrastive"
from eokit.pretrain.methods import data2vec as data2vec  # registers "data2vec"
from eokit.pretrain.methods import dino as dino  # registers "dino"
from eokit.pretrain.methods import mae as mae  # registers "mae"
from eokit.pretrain.methods.base import (
    METHODS,
    PretrainBatch,
    PretrainMethod,
    build_method,
    get_method,
    register_method,
)

__all__ = ["METHODS", "PretrainBatch", "PretrainMethod", "build_method", "get_method", "register_method"]
