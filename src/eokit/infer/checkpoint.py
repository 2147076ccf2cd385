"""Load a trained model and its data contract from a checkpoint (via ``eokit.train``)."""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from eokit.errors import ConfigError, EokitError, ModelError
from eokit.models.contract import DataContract


def load_for_inference(path: str | os.PathLike[str]) -> tuple[nn.Module, DataContract]:
    """(model in eval mode, data contract) from a checkpoint written by ``eokit train`` (any format)."""
    try:
        from eokit.train import load_checkpoint
    except ImportError as exc:  # pragma: no cover - depends on the train package being present
        raise ModelError(f"cannot load checkpoint {str(path)!r}: eokit.train.load_checkpoint is unavailable ({exc})") from exc
    model, config = load_checkpoint(Path(path))
    try:
        contract = DataContract.from_config(config)
    except ConfigError as exc:
        raise ConfigError(f"checkpoint {str(path)!r}: {exc}") from exc
    except EokitError as exc:
        raise ModelError(f"checkpoint {str(path)!r}: {exc}") from exc
    return model.eval(), contract
