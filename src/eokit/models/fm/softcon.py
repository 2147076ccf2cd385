"""SoftCon (Wang et al., 2024): multi-label guided soft contrastive pretraining on SSL4EO-S12.

ResNet-50 and DINOv2-layout ViT-S/14 and ViT-B/14 encoders (continually pretrained from DINO/DINOv2)
for Sentinel-2 L1C (13 bands) and Sentinel-1 GRD (VV, VH in dB), CC-BY-4.0. ResNet-50 files are
torchvision/timm state dicts; the ViT files are TorchGeo's ``*_enc.pth`` conversions to timm's
``vit_*_patch14_dinov2`` keys at 224 px (16x16 patches + class token, layer scale). The authors' original
DINOv2 files (with ``mask_token``) load too: timm's DINOv2 conversion runs in TimmBackbone.
"""

from __future__ import annotations

from eokit.models.fm._ssl4eo_s12 import TORCHGEO_PROOF, ensure_timm_arch, published, register_all

FAMILY = "SoftCon"
LICENSE = "CC-BY-4.0"
CITATION = ("Wang, Albrecht, Zhu. Multi-label guided soft contrastive learning for efficient Earth "
            "observation pretraining. IEEE TGRS 2024. arXiv:2405.20462")
_RN = "https://huggingface.co/wangyi111/softcon/resolve/62ff465b2e7467dbfc70758ec1e9d08ab87fc46b"
_VIT = "https://huggingface.co/wangyi111/softcon/resolve/bae909781911f8ec034b4b959992fae17b973c0c"

ensure_timm_arch("vit_small_patch14_dinov2", "vit", "ViT-S/14 DINOv2 layout (Oquab et al., 2023)",
                 {"img_size": 28})
ensure_timm_arch("vit_base_patch14_dinov2", "vit", "ViT-B/14 DINOv2 layout (Oquab et al., 2023)",
                 {"img_size": 28, "depth": 4})

_ARCH = {"resnet50": ("ResNet-50", "resnet", None), "vit_small_patch14_dinov2": ("ViT-S/14", "vit", 14),
         "vit_base_patch14_dinov2": ("ViT-B/14", "vit", 14)}
_FILES = {
    ("resnet50", "s2"): f"{_RN}/B13_rn50_softcon.pth", ("resnet50", "s1"): f"{_RN}/B2_rn50_softcon.pth",
    ("vit_small_patch14_dinov2", "s2"): f"{_VIT}/B13_vits14_softcon_enc.pth",
    ("vit_small_patch14_dinov2", "s1"): f"{_VIT}/B2_vits14_softcon_enc.pth",
    ("vit_base_patch14_dinov2", "s2"): f"{_VIT}/B13_vitb14_softcon_enc.pth",
    ("vit_base_patch14_dinov2", "s1"): f"{_VIT}/B2_vitb14_softcon_enc.pth",
}

register_all([
    published(
        arch, f"softcon_{mod}", url=url, modality=mod, norm="s2stats" if mod == "s2" else "s1stats",
        family=FAMILY, license=LICENSE, citation=CITATION, method="softcon",
        proof=TORCHGEO_PROOF.format(module=_ARCH[arch][1], builder=arch), patch_size=_ARCH[arch][2],
        description=f"SoftCon {_ARCH[arch][0]} encoder, "
                    f"{'Sentinel-2 L1C, 13 bands' if mod == 's2' else 'Sentinel-1 GRD VV+VH (dB)'}, SSL4EO-S12",
        extra={"feature_levels": "4 ViT blocks (evenly spaced) at stride 14" if _ARCH[arch][1] == "vit"
               else "ResNet stages at strides 2, 4, 8, 16, 32"},
    )
    for (arch, mod), url in _FILES.items()
])
