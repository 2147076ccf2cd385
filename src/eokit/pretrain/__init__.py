"""Self-supervised pretraining: chips from scenes, folders and dataset splits -> curation -> a method -> weights.

Data flow: :mod:`eokit.pretrain.sources` turns the config's inputs into :class:`Chip` s (training splits only),
:mod:`eokit.pretrain.curation` drops nodata-heavy, cloudy and near-duplicate chips and balances sensors and
places, :mod:`eokit.pretrain.leakage` refuses what a benchmark suite evaluates, :mod:`eokit.pretrain.methods`
holds the objectives (contrastive, MAE, DINO, data2vec) and :mod:`eokit.pretrain.run` fits one with Lightning
and exports safetensors weights that load as ``arch``. The heavy parts load on first use (the package import
stays light: ``objectives``/``augment`` are pure PyTorch).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from eokit.pretrain.chips import Chip

_LAZY = {
    "PretrainConfig": "eokit.pretrain.config", "load_pretrain_config": "eokit.pretrain.config",
    "parse_pretrain_config": "eokit.pretrain.config", "pretrain": "eokit.pretrain.run",
    "PretrainResult": "eokit.pretrain.run", "CurationConfig": "eokit.pretrain.curation",
    "curate": "eokit.pretrain.curation", "PretrainSource": "eokit.pretrain.sources",
}

__all__ = ["Chip", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eokit.pretrain' has no attribute {name!r}")
