"""Training: YAML config -> Lightning fit -> eokit checkpoint (safetensors + JSON); evaluation.

>>> from eokit.train import load_config, train, load_checkpoint
>>> result = train(load_config("configs/eurosat.yaml"))
>>> model, config = load_checkpoint(result.checkpoint)

Names load on first use: reading or writing a checkpoint (``eokit.train.checkpoint``, what
``eokit predict`` and its Dask workers need) never imports Lightning (2.8 s here).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "load_checkpoint": "eokit.train.checkpoint", "load_weights": "eokit.train.checkpoint",
    "mismatches": "eokit.train.checkpoint", "read_checkpoint_config": "eokit.train.checkpoint",
    "save_checkpoint": "eokit.train.checkpoint", "TrainConfig": "eokit.train.config",
    "load_config": "eokit.train.config", "parse_config": "eokit.train.config", "evaluate": "eokit.train.evaluation",
    "TrainResult": "eokit.train.fit", "train": "eokit.train.fit",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eokit.train' has no attribute {name!r}")
