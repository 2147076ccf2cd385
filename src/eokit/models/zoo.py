"""The built-in architectures, weights and heads (imported lazily by the registry)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eokit.models.cnn import MobileCNN, UNetEncoder, build
from eokit.models.dofa import build_dofa
from eokit.models.eokit_small import SSL_WEIGHTS, build_eokit_small
from eokit.models.fusion import FUSION_TYPES, build_fusion
from eokit.models.heads import (
    FCNHead,
    LinearHead,
    MLPHead,
    SuperResolutionHead,
    UNetHead,
    UPerNetHead,
)
from eokit.models.registry import (
    ARCHS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ArchSpec,
    HeadSpec,
    register_arch,
    register_head,
    register_weights,
)
from eokit.models.series import LTAEEncoder, TempCNN, TemporalTransformer, series_builder
from eokit.models.timm_backbone import build_timm
from eokit.models.weights import WeightSpec

IMAGENET_LICENSE = "Apache-2.0"


def _detector(kind: str) -> Callable[..., Any]:
    """The head factory of torchvision detector ``kind`` (torchvision is imported when one is built:
    reading the catalogue stays light, e.g. for ``eokit bench``'s planning)."""

    def build_detector(backbone: Any, num_classes: int, **kwargs: Any) -> Any:
        from eokit.models.detection import Detector

        return Detector(backbone, num_classes, kind, **kwargs)

    return build_detector

# name, family, description, tiny test kwargs, timm ImageNet tag
_TIMM = [
    ("resnet18", "resnet", "ResNet-18 (He et al., 2016)", {}, "resnet18.a1_in1k"),
    ("resnet50", "resnet", "ResNet-50 (He et al., 2016)", {}, "resnet50.a1_in1k"),
    ("convnext_tiny", "convnext", "ConvNeXt-T (Liu et al., 2022)", {}, "convnext_tiny.fb_in1k"),
    ("vit_small_patch16_224", "vit", "ViT-S/16 (Dosovitskiy et al., 2021)", {"img_size": 32},
     "vit_small_patch16_224.augreg_in21k_ft_in1k"),
    ("swin_tiny_patch4_window7_224", "swin", "Swin-T (Liu et al., 2021)", {"img_size": 64},
     "swin_tiny_patch4_window7_224.ms_in1k"),
    ("efficientnet_b0", "efficientnet", "EfficientNet-B0 (Tan & Le, 2019)", {}, "efficientnet_b0.ra_in1k"),
]

for _name, _family, _desc, _test, _timm in _TIMM:
    if _name in ARCHS:
        continue
    register_arch(ArchSpec(_name, build_timm(_name), _family, f"timm {_desc}", {"dense": "upernet"}, _test))
    register_weights(WeightSpec(
        _name, "imagenet", source="timm", timm_name=_timm, bands=("R", "G", "B"), sensor="rgb",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, gsd=None, input_size=224, license=IMAGENET_LICENSE,
        description=f"ImageNet-1k weights from timm ({_timm}; ImageNet terms apply); RGB, 0-1 pixel values",
        url=f"https://huggingface.co/timm/{_timm}",
    ))

if "dofa_tiny" not in ARCHS:
    register_arch(ArchSpec("dofa_tiny", build_dofa("dofa_tiny"), "dofa",
                           "DOFA-style wavelength-conditioned ViT, 192-d, 6 blocks, patch 16 (any bands)",
                           {"dense": "upernet"}, {"img_size": 32}))
    register_arch(ArchSpec("dofa_small", build_dofa("dofa_small"), "dofa",
                           "DOFA-style wavelength-conditioned ViT, 384-d, 12 blocks, patch 16 (any bands)",
                           {"dense": "upernet"}, {"img_size": 32}))
    register_arch(ArchSpec("unet", build(UNetEncoder), "unet",
                           "U-Net encoder (Ronneberger et al., 2015), from scratch; pair with the unet head",
                           {"dense": "unet"}, {"base_channels": 8, "depth": 3}))
    register_arch(ArchSpec("mobilecnn", build(MobileCNN), "cnn",
                           "small efficient CNN (MobileNetV2-style inverted residuals), from scratch",
                           {"dense": "unet"}, {"width": 0.5}))
    register_arch(ArchSpec("eokit_small", build_eokit_small, "eokit",
                           "eokit's multi-sensor CNN: wavelength-conditioned stem + ResNet-18 layout (widths "
                           "32-256, GroupNorm); any optical bands and SAR polarisations",
                           {"dense": "unet"}, {"widths": (8, 16, 16, 32), "blocks": (1, 1, 1, 1)}))
    register_weights(SSL_WEIGHTS)

    for _fusion, _desc in zip(FUSION_TYPES, (
        "early fusion: the stacked bands of all modalities through one encoder (missing modality zeroed)",
        "late fusion: one encoder per modality, maps averaged over the modalities present (missing dropped)",
        "cross-attention fusion: each modality's tokens attend to the others' (missing modality dropped)",
    ), strict=True):
        register_arch(ArchSpec(
            f"fusion_{_fusion}", build_fusion(_fusion), "fusion", f"multi-modal {_desc}; encoder= any arch",
            {"dense": "unet"},
            {"modalities": {"s1": ["VV", "VH"], "s2": ["B02", "B03", "B04", "B08"]}, "encoder": "mobilecnn",
             "encoder_kwargs": {"width": 0.5}},
        ))

    for _h in (
        HeadSpec("linear", LinearHead, "image", "dropout + linear layer on pooled features"),
        HeadSpec("mlp", MLPHead, "image", "2-layer MLP on pooled features"),
        HeadSpec("fcn", FCNHead, "dense", "FCN: conv block on the deepest map, bilinear upsampling"),
        HeadSpec("upernet", UPerNetHead, "dense", "UPerNet: pyramid pooling + FPN fusion"),
        HeadSpec("unet", UNetHead, "dense", "U-Net decoder with skip connections"),
        HeadSpec("sr", SuperResolutionHead, "super_resolution", "pixel-shuffle super-resolution (x2/x3/x4/x8)"),
    ):
        register_head(_h)
    for _det in ("faster_rcnn", "retinanet", "fcos"):
        register_head(HeadSpec(
            _det, _detector(_det), "detection",
            f"torchvision {_det} on the backbone + FPN",
        ))

if "tempcnn" not in ARCHS:  # pixel time-series encoders (input (B, T, C) + doy + time_mask)
    for _cls, _desc, _test in (
        (TempCNN, "TempCNN (Pelletier et al., 2019): 1-D temporal convolutions + batch norm + dropout + dense; "
         "n_dates=T flattens as in the paper, n_dates=None pools (any length)", {"filters": 8, "hidden": 16}),
        (TemporalTransformer, "small temporal transformer: band embedding + day-of-year encoding, "
         "padded dates masked in attention and pooling", {"d_model": 16, "heads": 2, "ff": 32}),
        (LTAEEncoder, "L-TAE (Garnot & Landrieu, 2020) on pixel series: per-date embedding + lightweight "
         "temporal attention with day-of-year encoding", {"d_model": 16, "heads": 4}),
    ):
        register_arch(ArchSpec(_cls.arch, series_builder(_cls), "temporal", _desc, {}, _test, input="series"))

# Published EO foundation models (one module per family in eokit.models.fm).
from eokit.models.fm import load_families  # noqa: E402

load_families()
