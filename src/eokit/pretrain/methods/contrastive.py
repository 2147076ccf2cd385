"""Contrastive pretraining: SimCLR (in-batch negatives) and MoCo-v3 (momentum encoder + predictor).

Two views of each chip are made on the device with EO augmentations (:mod:`eokit.pretrain.augment`: random
resized crops on the chip's native grid, flips/rot90, band-aware jitter in reflectance, blur). Seasonal
positives: when a batch carries ``positive`` (another date of the same place, as SeCo and SSL4EO-S12 use),
the second view is cut from it. Soft targets: when it carries ``labels`` (a labelled training split) and
``soft_targets`` is on, chips sharing labels are partial positives weighted by label overlap (SoftCon).
"""

from __future__ import annotations

from typing import Any

import torch

from eokit.models.backbone import Backbone
from eokit.pretrain.augment import ViewConfig, make_view
from eokit.pretrain.methods.base import PretrainBatch, PretrainMethod, register_method
from eokit.pretrain.objectives import (
    Projector,
    cosine_momentum,
    ema_update,
    info_nce,
    label_overlap,
    momentum_copy,
    nt_xent,
)


@register_method
class Contrastive(PretrainMethod):
    """``momentum: 0`` = SimCLR (NT-Xent); ``momentum > 0`` = MoCo-v3 (EMA key encoder, predictor)."""

    name = "contrastive"

    def __init__(self, backbone: Backbone, *, size: int = 64, temperature: float = 0.2, momentum: float = 0.0,
                 proj_hidden: int = 1024, proj_dim: int = 128, soft_targets: bool = False,
                 crop_scale: tuple[float, float] = (0.25, 1.0), **view: Any) -> None:
        super().__init__(backbone, size=size, temperature=temperature, momentum=momentum)
        self.view = ViewConfig(size=size, scale=tuple(crop_scale), **view)  # type: ignore[arg-type]
        self.temperature, self.base_momentum, self.soft_targets = temperature, momentum, soft_targets
        self.projector = Projector(backbone.num_features, proj_hidden, proj_dim, layers=3 if momentum else 2,
                                   last_bn=bool(momentum))
        self.predictor = Projector(proj_dim, proj_hidden, proj_dim, layers=2) if momentum else None
        self.key_backbone = momentum_copy(backbone) if momentum else None
        self.key_projector = momentum_copy(self.projector) if momentum else None
        self.current_momentum = momentum

    def views(self, batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
        second = batch.positive if batch.positive is not None else batch.image
        return (make_view(batch.image, batch.mean, batch.std, self.view),
                make_view(second, batch.mean, batch.std, self.view))

    def training_loss(self, batch: PretrainBatch) -> tuple[torch.Tensor, dict[str, float]]:
        v1, v2 = self.views(batch)
        targets = label_overlap(batch.labels) if self.soft_targets and batch.labels is not None else None
        z1 = self.projector(self.encode(v1, batch).pooled)
        z2 = self.projector(self.encode(v2, batch).pooled)
        if self.predictor is None:
            loss = nt_xent(z1, z2, self.temperature, targets)
        else:
            assert self.key_backbone is not None and self.key_projector is not None
            with torch.no_grad():
                k1 = self.key_projector(self.encode(v1, batch, self.key_backbone).pooled)  # type: ignore[arg-type]
                k2 = self.key_projector(self.encode(v2, batch, self.key_backbone).pooled)  # type: ignore[arg-type]
            p1, p2 = self.predictor(z1), self.predictor(z2)
            loss = info_nce(p1, k2, self.temperature, targets) + info_nce(p2, k1, self.temperature, targets)
        return loss, {"loss": float(loss.detach()), "momentum": self.current_momentum}

    def after_step(self, progress: float) -> None:
        if self.key_backbone is None or self.key_projector is None:
            return
        self.current_momentum = cosine_momentum(self.base_momentum, progress)
        ema_update(self.key_backbone, self.backbone, self.current_momentum)
        ema_update(self.key_projector, self.projector, self.current_momentum)

    def export_backbone(self) -> Backbone:
        return self.backbone
