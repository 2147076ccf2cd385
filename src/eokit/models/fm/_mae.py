"""A plain timm ViT holding MAE-pretrained encoder weights (shared by Scale-MAE and SatMAE RGB).

Published MAE checkpoints hold the encoder beside the decoder (``decoder_*``, ``mask_token``) and
often nest it under ``model``; :meth:`MaeViTBackbone.convert_checkpoint` keeps the encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from eokit.errors import ModelError
from eokit.models.backbone import Features
from eokit.models.band_adapter import BandLike
from eokit.models.state_dict import StateDict, drop_keys, strip_prefix, unwrap
from eokit.models.timm_backbone import TimmBackbone
from eokit.models.weights import WeightSpec
from eokit.sensors import Sensor

MAE_DECODER = ("decoder", "mask_token", "head.", "fc_norm.")


class MaeViTBackbone(TimmBackbone):
    """timm ViT ``timm_name`` under the eokit name ``arch``; loads MAE checkpoints (decoder dropped)."""

    dropped: tuple[str, ...] = MAE_DECODER  # key prefixes of the published file that are not the encoder

    def __init__(self, arch: str, timm_name: str, bands: Sequence[BandLike], sensor: str | Sensor | None,
                 spec: WeightSpec, **kwargs: Any) -> None:
        super().__init__(timm_name, bands, sensor, spec, **kwargs)
        self.arch = arch
        self.patch_size = int(self.model.patch_embed.patch_size[0])

    def forward_features(self, x: torch.Tensor) -> Features:
        p = self.patch_size
        if x.shape[-2] % p or x.shape[-1] % p:
            raise ModelError(f"{self.arch}: image size {tuple(x.shape[-2:])} is not a multiple of the patch size "
                             f"{p}; crop or pad the input (e.g. eokit.transforms.CenterCrop)")
        return super().forward_features(x)

    def convert_checkpoint(self, state_dict: StateDict) -> StateDict:
        """Published layout -> this module's keys (the timm model's, under ``model.``): ``model``/``state_dict``
        nesting and ``module.``/``encoder.`` prefixes removed, decoder dropped."""
        sd = drop_keys(strip_prefix(unwrap(state_dict), ("module.", "encoder.")), self.dropped)
        return {k if k.startswith("model.") else f"model.{k}": v for k, v in sd.items()}
