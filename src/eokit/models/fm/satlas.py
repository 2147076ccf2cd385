"""Satlas (SatlasPretrain, Bastani et al. 2023): Swin Transformer v2 backbones for Sentinel-2, Sentinel-1,
Landsat 8/9 and aerial (NAIP) imagery.

The architecture is torchvision's ``swin_v2_t`` / ``swin_v2_b`` with a first patch embedding for the
checkpoint's bands; the weights are the SatlasPretrain releases as TorchGeo 0.8.1 republished them
(``torchgeo.models.swin``: flat torchvision state dicts, with the unused ImageNet ``head``). The four
feature maps are the outputs of the four Swin stages (strides 4, 8, 16, 32), the ones Satlas feeds its
FPN; the pooled vector is torchvision's final norm + global average.

Multi-image (``mi``) weights were trained on several dates (up to 8) of one place, encoded date by date
with the shared backbone and max-pooled over time (satlaspretrain_models' AggregationBackbone, which has
no parameters); eokit does the same: ``forward`` takes ``(B, T, C, H, W)``
and max-pools every map and the pooled vector over T (a single image ``(B, C, H, W)`` works too).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from eokit.errors import BandError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.state_dict import drop_keys, take_prefix
from eokit.models.weights import WeightSpec
from eokit.sensors import Sensor

FAMILY = "Satlas"
LICENSE = "ODC-BY-1.0"
CITATION = ("Bastani, F., Wolters, P., Gupta, R., Ferdinando, J., Kembhavi, A. (2023). SatlasPretrain: A "
            "Large-Scale Dataset for Remote Sensing Image Understanding. ICCV 2023. arXiv:2211.15660")
PROOF = "equivalence: torchgeo 0.8.1 torchgeo.models.swin"
HF = "https://hf.co/torchgeo/satlas/resolve/081d6607431bf36bdb59c223777cbb267131b8f2/"

# torchvision's Swin-v2 configurations (Liu et al. 2022), as torchgeo's builders use them
VARIANTS: dict[str, dict[str, Any]] = {
    "satlas_swin_v2_t": {"embed_dim": 96, "depths": (2, 2, 6, 2), "num_heads": (3, 6, 12, 24),
                         "stochastic_depth_prob": 0.2},
    "satlas_swin_v2_b": {"embed_dim": 128, "depths": (2, 2, 18, 2), "num_heads": (4, 8, 16, 32),
                         "stochastic_depth_prob": 0.5},
}
STAGES = (1, 3, 5, 7)  # indices of the four Swin stages in SwinTransformer.features


class SatlasSwin(Backbone):
    """Swin Transformer v2 (torchvision) with Satlas's patch embedding; maps of the 4 stages.

    ``forward`` accepts one image ``(B, C, H, W)`` or a multi-image stack ``(B, T, C, H, W)``, which is
    encoded date by date and max-pooled over T (Satlas's multi-image aggregation).
    """

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "satlas_swin_v2_b",
        embed_dim: int = 128,
        depths: Sequence[int] = (2, 2, 18, 2),
        num_heads: Sequence[int] = (4, 8, 16, 32),
        window_size: int = 8,
        stochastic_depth_prob: float = 0.5,
        img_size: int | None = None,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        self.img_size = img_size or spec.input_size
        self.patch_size = 4
        # imported here: reading the catalogue does not import torchvision
        from torchvision.models.swin_transformer import (
            PatchMergingV2,
            SwinTransformer,
            SwinTransformerBlockV2,
        )

        self.swin = SwinTransformer(
            patch_size=[4, 4], embed_dim=embed_dim, depths=list(depths), num_heads=list(num_heads),
            window_size=[window_size, window_size], stochastic_depth_prob=stochastic_depth_prob,
            block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2,
            norm_layer=partial(nn.LayerNorm, eps=1e-5),
        )
        # Satlas's own first layer: a 4x4/4 convolution over the checkpoint's bands
        self.swin.features[0][0] = nn.Conv2d(self.in_chans, embed_dim, kernel_size=4, stride=4)
        self.swin.head = nn.Identity()  # the ImageNet classifier is not part of the backbone
        self.feature_info = [{"channels": embed_dim * 2**i, "stride": 4 * 2**i} for i in range(4)]
        self.num_features = embed_dim * 8
        self.first_conv_keys = ["swin.features.0.0.weight"]

    def forward(self, image: torch.Tensor, bands: Sequence[str] | None = None) -> Features:
        """One image (B, C, H, W), or several dates (B, T, C, H, W) max-pooled over T as Satlas does."""
        if image.ndim == 5:
            b, t = image.shape[:2]
            f = self.forward_features(self.select_bands(image.flatten(0, 1), bands))
            return Features(pooled=f.pooled.view(b, t, -1).amax(dim=1),
                            maps=[m.view(b, t, *m.shape[1:]).amax(dim=1) for m in f.maps])
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected (B, C, H, W) or (B, T, C, H, W), got shape "
                            f"{tuple(image.shape)}")
        return self.forward_features(self.select_bands(image, bands))

    def forward_features(self, x: torch.Tensor) -> Features:
        maps = []
        for i, layer in enumerate(self.swin.features):
            x = layer(x)  # channels-last (B, H, W, C) throughout torchvision's Swin
            if i in STAGES:
                maps.append(x.permute(0, 3, 1, 2))
        if self.pooling_pruned:
            return Features(pooled=maps[-1].mean(dim=(2, 3)), maps=maps)
        pooled = self.swin.norm(x).mean(dim=(1, 2))
        return Features(pooled=pooled, maps=maps)

    def _prune_pooling(self) -> None:
        self.swin.norm = nn.Identity()

    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """TorchGeo's flat torchvision state dict (or a satlaspretrain_models file) -> ``swin.*``.

        The ImageNet ``head`` (random in every Satlas release) is dropped. A file of Satlas's own
        model (backbone under ``backbone.backbone.``, or ``backbone.backbone.backbone.`` for
        multi-image) keeps only the backbone's keys, as Satlas's loader does (its FPN and heads are
        not part of the backbone). eokit's own state dict (``swin.*`` keys) passes unchanged.
        """
        sd = dict(state_dict)
        if any(k.startswith("swin.") for k in sd):
            return sd
        for prefix in ("backbone.backbone.backbone.", "backbone.backbone."):
            if any(k.startswith(prefix) for k in sd):
                sd = take_prefix(sd, prefix)
                break
        sd = drop_keys(sd, ("head.",))
        if self.pooling_pruned:
            sd = drop_keys(sd, ("norm.",))
        return {f"swin.{k}": v for k, v in sd.items()}


def build_satlas(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> SatlasSwin:
        return SatlasSwin(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    builder.__doc__ = f"Satlas {arch}"
    return builder


_TEST = {"embed_dim": 16, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 1, 1), "img_size": 64}

_S2_RGB = ("B04", "B03", "B02")
_S2_MS = ("B04", "B03", "B02", "B05", "B06", "B07", "B08", "B11", "B12")
# ESA codes the TCI (true-colour image) 1-255 with 255 at L1C reflectance 0.3558 (Sentinel-2 MSI user
# guide, "Definitions"); eokit's contract takes that as linear, TCI/255 ~ reflectance/0.3558 (approximate);
# the other bands are L1C DN/8160 = reflectance/0.816 (both clipped to 0-1 by Satlas)
_TCI_STD = 0.3558
_MS_STD = 0.816

# (sensor group, tag suffix, sensor, bands, mean, std, normalisation, gsd, input size, file per arch)
_ENTRIES: list[tuple[str, str, tuple[str, ...], tuple[float, ...], tuple[float, ...], str, float, int,
                     dict[str, str]]] = [
    ("sentinel2_si_rgb", "sentinel2_l1c", _S2_RGB, (0.0,) * 3, (_TCI_STD,) * 3,
     "the 8-bit TCI (R, G, B) / 255, clipped to 0-1 (eokit: L1C reflectance/0.3558, ~TCI/255)", 10.0, 512,
     {"satlas_swin_v2_t": "sentinel2_swint_si_rgb-0c1a96e0.pth",
      "satlas_swin_v2_b": "sentinel2_swinb_si_rgb-156a98d5.pth"}),
    ("sentinel2_mi_rgb", "sentinel2_l1c", _S2_RGB, (0.0,) * 3, (_TCI_STD,) * 3,
     "the 8-bit TCI (R, G, B) / 255, clipped to 0-1 (eokit: L1C reflectance/0.3558, ~TCI/255)", 10.0, 512,
     {"satlas_swin_v2_t": "sentinel2_swint_mi_rgb-424d91f4.pth",
      "satlas_swin_v2_b": "sentinel2_swinb_mi_rgb-4efa210c.pth"}),
    ("sentinel2_si_ms", "sentinel2_l1c", _S2_MS, (0.0,) * 9, (_TCI_STD,) * 3 + (_MS_STD,) * 6,
     "TCI (R, G, B) / 255 (eokit: L1C reflectance/0.3558, ~TCI/255), then B05, B06, B07, B08, B11, "
     "B12 L1C DN / 8160, each clipped to 0-1", 10.0, 512,
     {"satlas_swin_v2_t": "sentinel2_swint_si_ms-bc68e396.pth",
      "satlas_swin_v2_b": "sentinel2_swinb_si_ms-fe22a12c.pth"}),
    ("sentinel2_mi_ms", "sentinel2_l1c", _S2_MS, (0.0,) * 9, (_TCI_STD,) * 3 + (_MS_STD,) * 6,
     "TCI (R, G, B) / 255 (eokit: L1C reflectance/0.3558, ~TCI/255), then B05, B06, B07, B08, B11, "
     "B12 L1C DN / 8160, each clipped to 0-1", 10.0, 512,
     {"satlas_swin_v2_t": "sentinel2_swint_mi_ms-d8c659e3.pth",
      "satlas_swin_v2_b": "sentinel2_swinb_mi_ms-39c86721.pth"}),
    ("sentinel1_si", "sentinel1_grd_dn", ("VH", "VV"), (0.0, 0.0), (255.0, 255.0),
     "Level-1 GRD IW amplitude DN (VH then VV) / 255, clipped to 0-1", 10.0, 512,
     {"satlas_swin_v2_b": "sentinel1_swinb_si-3981c153.pth"}),
    ("sentinel1_mi", "sentinel1_grd_dn", ("VH", "VV"), (0.0, 0.0), (255.0, 255.0),
     "Level-1 GRD IW amplitude DN (VH then VV) / 255, clipped to 0-1", 10.0, 512,
     {"satlas_swin_v2_b": "sentinel1_swinb_mi-f6c43d97.pth"}),
    # Level-1 DN N -> (N - 4000) / 16320; with landsat8's DN*2e-5-0.1 reflectance: (r + 0.02) / 0.3264
    ("landsat_si", "landsat8", tuple(f"B{i}" for i in range(1, 12)), (-0.02,) * 11, (0.3264,) * 11,
     "Landsat 8/9 Level-1 DN N of B1-B11 -> (N - 4000) / 16320, clipped to 0-1", 30.0, 512,
     {"satlas_swin_v2_b": "landsat_swinb_si-4af978f6.pth"}),
    ("landsat_mi", "landsat8", tuple(f"B{i}" for i in range(1, 12)), (-0.02,) * 11, (0.3264,) * 11,
     "Landsat 8/9 Level-1 DN N of B1-B11 -> (N - 4000) / 16320, clipped to 0-1", 30.0, 512,
     {"satlas_swin_v2_b": "landsat_swinb_mi-6b4a1cda.pth"}),
    ("naip_si", "naip", ("R", "G", "B"), (0.0,) * 3, (1.0,) * 3,
     "8-bit RGB / 255 (NAIP without its NIR band, or other 0.5-2 m aerial/satellite RGB)", 1.0, 512,
     {"satlas_swin_v2_b": "aerial_swinb_si-e4169eb1.pth"}),
    ("naip_mi", "naip", ("R", "G", "B"), (0.0,) * 3, (1.0,) * 3,
     "8-bit RGB / 255 (NAIP without its NIR band, or other 0.5-2 m aerial/satellite RGB)", 1.0, 512,
     {"satlas_swin_v2_b": "aerial_swinb_mi-326d69e1.pth"}),
]

for _arch, _v in VARIANTS.items():
    if _arch in ARCHS:
        continue
    _size = "Swin-v2-T" if _arch.endswith("_t") else "Swin-v2-B"
    register_arch(ArchSpec(
        _arch, build_satlas(_arch), "swin",
        f"Satlas {_size} (torchvision swin_v2, patch 4, window 8; maps of its 4 stages, strides 4-32); "
        "multi-image input (B, T, C, H, W) is max-pooled over T",
        {"dense": "upernet"}, dict(_TEST),
    ))
    for _tag, _sensor, _bands, _mean, _std, _norm, _gsd, _isize, _files in _ENTRIES:
        if _arch not in _files:
            continue
        _mi = "_mi" in _tag
        register_weights(WeightSpec(
            _arch, _tag, source="url", url=HF + _files[_arch], sha256=None, license=LICENSE, family=FAMILY,
            citation=CITATION, bands=_bands, sensor=_sensor, mean=_mean, std=_std, normalization=_norm,
            gsd=_gsd, input_size=_isize, patch_size=4, proof=PROOF,
            description=(
                f"SatlasPretrain {_size} {'multi-image' if _mi else 'single-image'} {_sensor} weights "
                f"({len(_bands)} bands), as republished by TorchGeo 0.8.1 (Swin_V2_{_size[-1]}_Weights); no "
                "sha256 is published (the file name carries the first 8 hex digits of it)"
                + ("; feed (B, T, C, H, W): dates are encoded one by one and max-pooled, as in Satlas"
                   if _mi else "")
            ),
            extra={"multi_image": _mi, "temporal_pooling": "max" if _mi else None,
                   "feature_levels": [{"stage": i + 1, "stride": 4 * 2**i} for i in range(4)],
                   "pretraining": "SatlasPretrain (supervised multi-task)"},
        ))
