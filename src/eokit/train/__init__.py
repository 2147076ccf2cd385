"""Training: YAML config -> Lightning fit -> eokit checkpoint (safetensors + JSON); evaluation.

>>> from eokit.train import load_config, train, load_checkpoint
>>> result = train(load_config("configs/eurosat.yaml"))
>>> model, config = load_checkpoint(result.checkpoint)
"""

from eokit.train.checkpoint import (
    load_checkpoint,
    load_weights,
    mismatches,
    read_checkpoint_config,
    save_checkpoint,
)
from eokit.train.config import TrainConfig, load_config, parse_config
from eokit.train.evaluate import evaluate
from eokit.train.fit import TrainResult, train

__all__ = [
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_checkpoint",
    "load_config",
    "load_weights",
    "mismatches",
    "parse_config",
    "read_checkpoint_config",
    "save_checkpoint",
    "train",
]
