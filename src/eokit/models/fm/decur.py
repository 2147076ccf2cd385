"""DeCUR (Wang et al., 2024): decoupled common/unique multimodal self-supervision on SSL4EO-S12.

ResNet-50 and ViT-S/16 encoders for Sentinel-1 GRD (VV, VH in dB) and Sentinel-2 L1C (13 bands), trained
jointly for 100 epochs and published separately as backbone-only files (Apache-2.0). The ResNet-50 files
are the timm (= torchvision) state dicts TorchGeo points at (``torchgeo.models.ResNet50_Weights.
SENTINEL1_GRD_DECUR`` / ``SENTINEL2_ALL_DECUR``); the ViT-S/16 files are timm ``vit_small_patch16_224``
state dicts without the classifier (DeCUR's ``src/pretrain/demo_load_weight.ipynb`` at f190e9a loads
them into that model, missing only ``head.*``).
"""

from __future__ import annotations

from eokit.models.fm._ssl4eo_s12 import TORCHGEO_PROOF, published, register_all

FAMILY = "DeCUR"
LICENSE = "Apache-2.0"
CITATION = ("Wang, Albrecht, Braham, Liu, Xiong, Zhu. Decoupling common and unique representations for "
            "multimodal self-supervised learning. ECCV 2024. arXiv:2309.05300")
_HF = "https://huggingface.co/torchgeo/decur/resolve"
_WY = "https://huggingface.co/wangyi111/DeCUR/resolve/main"
_VIT_FACTS = {"feature_levels": "4 evenly spaced ViT blocks at stride 16",
              "layout": "timm vit_small_patch16_224 without head (zhu-xlab/DeCUR@f190e9a "
                        "src/pretrain/demo_load_weight.ipynb)"}

register_all([
    published(
        "resnet50", "decur_s1", url=f"{_HF}/9328eeb90c686a88b30f8526ed757b4bc0f12027/"
        "rn50_ssl4eo-s12_sar_decur_ep100-f0e69ba2.pth", modality="s1", norm="s1stats", family=FAMILY,
        license=LICENSE, citation=CITATION, method="decur",
        proof=TORCHGEO_PROOF.format(module="resnet", builder="resnet50"),
        description="DeCUR ResNet-50 SAR encoder (Sentinel-1 GRD VV+VH, dB), SSL4EO-S12, 100 epochs",
        extra={"feature_levels": "ResNet stages at strides 2, 4, 8, 16, 32",
               "paired_with": "resnet50.decur_s2 (the joint model's optical encoder)"},
    ),
    published(
        "resnet50", "decur_s2", url=f"{_HF}/eba7ae5945d482a4319be046d34b552db5dd9950/"
        "rn50_ssl4eo-s12_ms_decur_ep100-fc6b09ff.pth", modality="s2", norm="div10k", family=FAMILY,
        license=LICENSE, citation=CITATION, method="decur",
        proof=TORCHGEO_PROOF.format(module="resnet", builder="resnet50"),
        description="DeCUR ResNet-50 multispectral encoder (Sentinel-2 L1C, 13 bands), SSL4EO-S12, 100 epochs",
        extra={"feature_levels": "ResNet stages at strides 2, 4, 8, 16, 32",
               "paired_with": "resnet50.decur_s1 (the joint model's SAR encoder)"},
    ),
    published(
        "vit_small_patch16_224", "decur_s1", url=f"{_WY}/vits16_ssl4eo-s12_sar_decur_ep100.pth", modality="s1",
        norm="s1stats", family=FAMILY, license=LICENSE, citation=CITATION, method="decur", patch_size=16,
        proof=TORCHGEO_PROOF.format(module="vit", builder="vit_small_patch16_224"),
        description="DeCUR ViT-S/16 SAR encoder (Sentinel-1 GRD VV+VH, dB), SSL4EO-S12, 100 epochs",
        extra={**_VIT_FACTS, "paired_with": "vit_small_patch16_224.decur_s2"},
    ),
    published(
        "vit_small_patch16_224", "decur_s2", url=f"{_WY}/vits16_ssl4eo-s12_ms_decur_ep100.pth", modality="s2",
        norm="div10k", family=FAMILY, license=LICENSE, citation=CITATION, method="decur", patch_size=16,
        proof=TORCHGEO_PROOF.format(module="vit", builder="vit_small_patch16_224"),
        description="DeCUR ViT-S/16 multispectral encoder (Sentinel-2 L1C, 13 bands), SSL4EO-S12, 100 epochs",
        extra={**_VIT_FACTS, "paired_with": "vit_small_patch16_224.decur_s1"},
    ),
])
