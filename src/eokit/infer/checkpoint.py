"""Load a trained model and its contract from a checkpoint (via ``eokit.train``)."""

from __future__ import annotations

import os

from torch import nn

from eokit.errors import ModelError
from eokit.infer.contract import ModelContract


def load_for_inference(path: str | os.PathLike[str]) -> tuple[nn.Module, ModelContract]:
    """(model in eval mode, contract) from a checkpoint written by ``eokit train``."""
    try:
        from eokit.train import load_checkpoint
    except ImportError as exc:  # pragma: no cover - depends on the train package being present
        raise ModelError(f"cannot load checkpoint {str(path)!r}: eokit.train.load_checkpoint is unavailable ({exc})") from exc
    model, config = load_checkpoint(path)
    cfg = config if isinstance(config, dict) else getattr(config, "__dict__", {})
    try:
        contract = ModelContract.from_config(cfg)
    except ModelError as exc:
        raise ModelError(f"checkpoint {str(path)!r}: {exc}") from exc
    return model.eval(), contract
