"""Scale-MAE ViT-L/16 (Reed et al. 2023): a ViT whose position embedding is scaled by the ground sample distance.

The position embedding is not learned (the checkpoint's fixed ``pos_embed`` table is dropped): it is the 2-D sin/cos table of the patch grid with each
coordinate multiplied by ``res`` (TorchGeo's ``ScaleMAE``; default 1.0), recomputed for every input
size, so ``res`` tells the model the scale of the imagery. The published fMoW-RGB encoder is a timm
``vit_large_patch16_224`` state dict; the class token pools. CC BY-NC 4.0: non-commercial use only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from eokit.models.backbone import Features
from eokit.models.band_adapter import BandLike
from eokit.models.dofa import sincos_embed
from eokit.models.fm._mae import MaeViTBackbone
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.state_dict import StateDict
from eokit.models.weights import WeightSpec
from eokit.sensors import Sensor

FAMILY = "Scale-MAE"


def gsd_pos_embed(dim: int, h: int, w: int, res: torch.Tensor) -> torch.Tensor:
    """(B,) resolutions -> (B, 1 + h*w, dim): a zero class-token row, then sin/cos of (column, row) * res."""
    rows = torch.arange(h, dtype=torch.float32, device=res.device)
    cols = torch.arange(w, dtype=torch.float32, device=res.device)
    gy, gx = torch.meshgrid(rows, cols, indexing="ij")
    b = res.shape[0]
    px = (gx[None] * res[:, None, None]).reshape(-1)
    py = (gy[None] * res[:, None, None]).reshape(-1)
    emb = torch.cat([sincos_embed(dim // 2, px), sincos_embed(dim // 2, py)], dim=1).reshape(b, h * w, dim)
    return torch.cat([emb.new_zeros(b, 1, dim), emb], dim=1)


class ScaleMAEBackbone(MaeViTBackbone):
    """Scale-MAE: timm ViT with the GSD-scaled position embedding; ``forward(..., res=)`` sets the scale."""

    def __init__(self, arch: str, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, *,
                 res: float = 1.0, **kwargs: Any) -> None:
        super().__init__(arch, "vit_large_patch16_224", bands, sensor, spec, **kwargs)
        self.res = float(res)
        self._call_res: float | torch.Tensor | None = None
        self.model._pos_embed = self._gsd_pos_embed  # timm's ViT calls it after the patch embedding
        self.model.pos_embed = None  # computed from the grid and res; the checkpoint's fixed table is not used

    def convert_checkpoint(self, state_dict: StateDict) -> StateDict:
        """The MAE/timm layout without its (unused) fixed ``pos_embed`` table."""
        return {k: v for k, v in super().convert_checkpoint(state_dict).items()
                if k not in ("pos_embed", "model.pos_embed")}

    def _gsd_pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape  # dynamic_img_size: NHWC patch tokens
        res = self._call_res if self._call_res is not None else self.res
        r = (res.to(x) if isinstance(res, torch.Tensor) else torch.tensor(res, dtype=x.dtype, device=x.device))
        r = r.reshape(-1).expand(b) if r.numel() == 1 else r.reshape(b)
        tokens = torch.cat([self.model.cls_token.expand(b, -1, -1), x.reshape(b, h * w, c)], dim=1)
        return self.model.pos_drop(tokens + gsd_pos_embed(c, h, w, r).to(x.dtype))

    def forward(self, image: torch.Tensor, bands: Sequence[str] | None = None,
                res: float | torch.Tensor | None = None) -> Features:
        """Features of ``image``; ``res`` (a float or one per sample) overrides the backbone's resolution scale."""
        self._call_res = res
        try:
            return super().forward(image, bands)
        finally:
            self._call_res = None


def build_scalemae(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> ScaleMAEBackbone:
        return ScaleMAEBackbone(arch, bands, sensor, spec, **kw)

    return builder


if "scalemae_large_patch16" not in ARCHS:
    register_arch(ArchSpec(
        "scalemae_large_patch16", build_scalemae("scalemae_large_patch16"), "scalemae",
        "Scale-MAE ViT-L/16 (Reed et al. 2023): GSD-scaled sin/cos position embedding",
        {"dense": "upernet"}, {"img_size": 32, "embed_dim": 64, "depth": 4, "num_heads": 2},
    ))
    register_weights(WeightSpec(
        "scalemae_large_patch16", "fmow_rgb", source="url",
        url="https://hf.co/isaaccorley/vit_large_patch16_224_fmow_rgb_scalemae/resolve/"
            "9dc7f569424baeb780698352cf6e87638c882123/vit_large_patch16_224_fmow_rgb_scalemae-98ed9821.pth",
        sha256=None, license="CC-BY-NC-4.0", noncommercial=True, family=FAMILY,
        citation="Reed, C. J., Gupta, R., Li, S., Brockman, S., Funk, C., Clipp, B., Keutzer, K., Candido, S., "
                 "Uyttendaele, M., Darrell, T. (2023). Scale-MAE: A Scale-Aware Masked Autoencoder for Multiscale "
                 "Geospatial Representation Learning. ICCV 2023",
        bands=("R", "G", "B"), sensor="rgb", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
        normalization="divide by 255, then ImageNet mean/std", gsd=1.0, input_size=224, patch_size=16,
        proof="equivalence: torchgeo 0.8.1 torchgeo.models.scale_mae",
        description="Scale-MAE ViT-L/16 encoder pretrained on fMoW-RGB (TorchGeo's copy, a timm "
                    "vit_large_patch16_224 state dict; no sha256 is published, the file name carries its first 8 "
                    "hex digits 98ed9821). fMoW's GSD varies (about 0.3-1.5 m): pass res= to scale the position "
                    "embedding (default 1.0, TorchGeo's). CC BY-NC 4.0: non-commercial use only",
        extra={"res": "position-embedding scale, forward(..., res=) or create_backbone(..., res=); default 1.0",
               "feature_levels": "4 evenly spaced blocks, stride 16", "pooled": "class token after the final norm",
               "pretraining": "fMoW-RGB"},
    ))
