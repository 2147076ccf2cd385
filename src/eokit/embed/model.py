"""Any eokit backbone as an embedder: raw chips in, pooled vectors out, normalised by its DataContract."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eokit.errors import ConfigError, ModelError
from eokit.models.backbone import Backbone
from eokit.models.contract import DataContract
from eokit.models.engine import (
    Engine,
    EngineOptions,
    GuardReport,
    build_engine,
    guarded,
    weights_hash,
)


class Embedder:
    """A backbone (or a trained model's backbone) that maps raw chips to pooled embeddings.

    Raw chips (B, C, h, w) in ``contract.bands`` order are normalised with the contract's
    normalisation (``DataContract.module()``), nodata pixels are set to 0 afterwards (as
    ``eokit.infer.predict`` does), and the pooled backbone vector ``Features.pooled`` is returned.
    """

    def __init__(self, module: nn.Module, contract: DataContract, *, name: str, weights_sha256: str | None = None,
                 device: str = "cpu", engine: EngineOptions | None = None) -> None:
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        self.contract = contract
        self.name = name
        self.weights_sha256 = weights_sha256 or weights_hash(module)
        norm = contract.module()
        self._norm = norm.to(self.device) if norm is not None else None
        self._dim: int | None = None
        self.engine_options = engine or EngineOptions()
        self._engines: dict[tuple[int, ...], Engine | None] = {}  # input shape -> engine (None: fell back)
        self.engine_report: GuardReport | None = None

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(self.contract.bands)

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        return pooled(self.module, x)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled vectors of normalised chips, by the engine of ``engine_options`` (built and guarded on the
        first batch of each chip shape: int8 is calibrated on it, and falls back to fp32 beyond the bound)."""
        opts = self.engine_options
        if opts.is_default:
            return self._pooled(x)
        shape = tuple(x.shape[1:])
        if shape not in self._engines:
            engine = build_engine(PooledModule(self.module), opts, shape=shape, device=self.device,
                                  calibration=x.float().cpu().numpy() if opts.precision == "int8" else None)
            self.engine_report = guarded(self._pooled, engine, x, opts, classifier=False)
            self._engines[shape] = None if self.engine_report.fell_back else engine
        runner = self._engines[shape]
        return runner(x) if runner is not None else self._pooled(x)

    def dim(self, size: int = 32) -> int:
        """The embedding dimension D (one tiny forward pass the first time)."""
        if self._dim is None:
            x = torch.zeros(1, len(self.bands), size, size)
            self._dim = int(self(x, torch.ones(1, size, size, dtype=torch.bool)).shape[1])
        return self._dim

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, valid: torch.Tensor) -> np.ndarray:
        """Raw chips (B, C, h, w) float32 + validity (B, h, w) -> (B, D) float32 numpy."""
        x = x.to(self.device, non_blocking=True)
        if self._norm is not None:
            x = self._norm(x)
        x = x.masked_fill(~valid.to(self.device).unsqueeze(1), 0.0)
        y = self._run(x)
        if y.ndim != 2:
            raise ModelError(f"{self.name}: pooled features have shape {tuple(y.shape)}, expected (B, D)")
        return y.float().cpu().numpy()

    def meta(self) -> dict[str, Any]:
        """The store metadata this embedder's vectors carry."""
        meta: dict[str, Any] = {"model": self.name, "weights_sha256": self.weights_sha256, "bands": list(self.bands)}
        if self.engine_report is not None:  # engine, precision, measured error against fp32, any fall-back
            meta["engine"] = self.engine_report.as_dict()
        return meta


def pooled(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The pooled embedding of normalised chips: ``Backbone(x).pooled`` or an EOModel's ``encode(x)``'s."""
    if isinstance(module, Backbone):
        return module(x).pooled
    encode = getattr(module, "encode", None)
    if callable(encode):  # EOModel: its own band selection and internal normalisation
        return encode(x)[0].pooled
    raise ModelError(f"cannot take embeddings from {type(module).__name__}: pass an eokit Backbone, an EOModel "
                     "or an `eokit train` checkpoint")


class PooledModule(nn.Module):
    """``module`` as a plain (B, C, h, w) -> (B, D) module (what an inference engine exports)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pooled(self.module, x)


def as_embedder(
    model: Any,
    *,
    weights: str | None = None,
    bands: Sequence[str] | None = None,
    sensor: str | None = None,
    contract: DataContract | None = None,
    seed: int = 0,
    device: str = "cpu",
    engine: EngineOptions | None = None,
    **kwargs: Any,
) -> Embedder:
    """An :class:`Embedder` from a model name (``'resnet18'``, ``'resnet18.imagenet'``; ``weights`` a tag or a
    ``.safetensors`` file; ``bands``/``sensor`` the input bands, weights adapted by name; random
    initialisation seeded with ``seed``), an ``eokit train`` checkpoint path, a Backbone or an EOModel.
    """
    if isinstance(model, Embedder):
        if engine is not None and not engine.is_default and engine != model.engine_options:  # options ask for one
            model.engine_options, model._engines, model.engine_report = engine, {}, None
        return model
    if isinstance(model, (str, os.PathLike)) and Path(model).exists():
        from eokit.infer.checkpoint import load_for_inference

        module, ckpt_contract = load_for_inference(model)
        if bands and tuple(bands) != tuple(ckpt_contract.bands):
            raise ConfigError(f"checkpoint {str(model)!r} was trained on bands {list(ckpt_contract.bands)}; "
                              f"bands={list(bands)} only applies to a model name (drop it)")
        bb = getattr(module, "backbone", None)
        name = f"{bb.spec.name if isinstance(bb, Backbone) else type(module).__name__}@{Path(model).name}"
        return Embedder(module, contract or ckpt_contract, name=name, device=device, engine=engine)
    if isinstance(model, os.PathLike) or (isinstance(model, str) and ("/" in model or os.sep in model)):
        raise ConfigError(f"no checkpoint at {str(model)!r}: pass an `eokit train` checkpoint folder that exists "
                          "or a model name such as 'resnet18'")
    if isinstance(model, str):
        from eokit.models import create_backbone

        torch.manual_seed(seed)
        bb = create_backbone(model, bands=tuple(bands) if bands else None, sensor=sensor, weights=weights, **kwargs)
        return Embedder(bb, contract or bb.data_contract, name=bb.spec.name, device=device, engine=engine)
    if isinstance(model, Backbone):
        return Embedder(model, contract or model.data_contract, name=model.spec.name, device=device, engine=engine)
    if isinstance(model, nn.Module) and hasattr(model, "encode"):
        c = contract or getattr(model, "data_contract", None)
        if not isinstance(c, DataContract):
            raise ConfigError(f"{type(model).__name__} has no data contract: pass contract=")
        bb = getattr(model, "backbone", None)
        return Embedder(model, c, name=bb.spec.name if isinstance(bb, Backbone) else type(model).__name__,
                        device=device, engine=engine)
    raise ConfigError(f"cannot embed with {model!r}: pass a model name (e.g. 'resnet18'), an `eokit train` "
                      "checkpoint folder, an eokit Backbone or an EOModel")
