"""The pretraining method contract: a batch in, a loss out, the backbone to export at the end."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import nn

from eokit.errors import PretrainError
from eokit.models.backbone import Backbone, Features
from eokit.sensors import Band


@dataclass
class PretrainBatch:
    """One batch of chips of one band set (a sensor), on the training device.

    ``image`` (B, C, H, W) is in reflectance units, NaN-free (nodata filled with the band mean);
    ``mean``/``std`` (C,) are the backbone's normalisation for these bands: methods augment in reflectance
    and normalise last (:func:`eokit.pretrain.augment.normalize`). ``positive`` is another date of the same
    place for each chip (seasonal positives) or None; ``labels`` a (B, K) multi-hot tensor when the chips
    come from a labelled training split, else None.
    """

    image: torch.Tensor
    bands: tuple[Band, ...]
    sensor: str
    mean: torch.Tensor
    std: torch.Tensor
    positive: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    @property
    def wavelengths(self) -> torch.Tensor:
        return torch.tensor([b.center_nm for b in self.bands], dtype=torch.float64)

    def to(self, device: torch.device | str) -> PretrainBatch:
        def move(t: torch.Tensor) -> torch.Tensor:
            return t.to(device, non_blocking=True)

        return replace(self, image=move(self.image), mean=move(self.mean), std=move(self.std),
                       positive=None if self.positive is None else move(self.positive),
                       labels=None if self.labels is None else move(self.labels))

    def __len__(self) -> int:
        return int(self.image.shape[0])


class PretrainMethod(nn.Module):
    """Base of every objective. Subclasses set ``name`` and implement :meth:`training_loss`.

    ``backbone`` is any eokit :class:`Backbone`; a method that needs a particular kind (MAE: a ViT) says so
    in :meth:`check_backbone` with a :class:`PretrainError` naming the arch and the fix.
    """

    name: ClassVar[str] = "base"

    def __init__(self, backbone: Backbone, **options: Any) -> None:
        super().__init__()
        self.check_backbone(backbone)
        self.backbone = backbone
        self.options = options

    @classmethod
    def check_backbone(cls, backbone: Backbone) -> None:
        """Raise PretrainError when this method cannot train ``backbone``."""

    def encode(self, image: torch.Tensor, batch: PretrainBatch, backbone: Backbone | None = None) -> Features:
        """Features of a normalised image with the batch's bands (any backbone; band-flexible ones get the bands)."""
        net = backbone if backbone is not None else self.backbone
        bands = batch.bands if len(batch.bands) == image.shape[1] else None
        return net(image, bands) if bands is not None else net(image)

    def training_loss(self, batch: PretrainBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss to minimise and named scalars to log."""
        raise NotImplementedError

    def after_step(self, progress: float) -> None:
        """Called after each optimiser step with progress in [0, 1] (momentum encoders, schedules)."""

    def export_backbone(self) -> Backbone:
        """The backbone whose weights are the method's result (a momentum/teacher copy where that is better)."""
        return self.backbone


METHODS: dict[str, type[PretrainMethod]] = {}


def register_method(cls: type[PretrainMethod]) -> type[PretrainMethod]:
    """Class decorator: make a method available by its ``name`` in configs."""
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> type[PretrainMethod]:
    if name not in METHODS:
        raise PretrainError(f"unknown pretraining method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name]


def build_method(name: str, backbone: Backbone, options: dict[str, Any] | None = None) -> PretrainMethod:
    """Instantiate a registered method on a backbone with its options."""
    cls = get_method(name)
    try:
        return cls(backbone, **(options or {}))
    except TypeError as exc:
        raise PretrainError(f"method {name!r}: bad options {options!r} ({exc}); see docs/pretrain.md") from None
