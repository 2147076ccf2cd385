"""SSL4EO-S12 (Wang et al., 2023): self-supervised baselines pretrained on SSL4EO-S12.

MoCo-v2/v3, DINO and MAE encoders (ResNet-18, ResNet-50, ViT-S/16; MAE also ViT-B/16, ViT-L/16 and
ViT-H/14) for Sentinel-2 L1C (all 13 bands, or RGB) and Sentinel-1 GRD (VV, VH), CC-BY-4.0. The files are the timm state
dicts TorchGeo hosts (``torchgeo.models.ResNet18_Weights``/``ResNet50_Weights``/``ViTSmall16_Weights``);
the authors' own containers (MoCo ``module.encoder_q.``, DINO ``teacher.backbone.``) load too through
:meth:`eokit.models.timm_backbone.TimmBackbone.convert_checkpoint`. The data2vec ViT-S/16 is published
only on Google Drive in a BEiT layout and is not registered.
"""

from __future__ import annotations

from eokit.models.fm._ssl4eo_s12 import TORCHGEO_PROOF, ensure_timm_arch, published, register_all

FAMILY = "SSL4EO-S12"
LICENSE = "CC-BY-4.0"
CITATION = ("Wang, Braham, Xiong, Liu, Albrecht, Zhu. SSL4EO-S12: A large-scale multimodal, multitemporal "
            "dataset for self-supervised learning in Earth observation. IEEE GRSM 2023. arXiv:2211.07044")

_HF = "https://hf.co/torchgeo"
_WY = "https://huggingface.co/wangyi111/SSL4EO-S12/resolve/75c72195d35201dc1fb210818993518c25da566b"

# the larger MAE encoders need timm ViT-B/16, ViT-L/16 and ViT-H/14 (tests: 4 blocks; L and H 256 wide)
_NARROW = {"embed_dim": 256, "num_heads": 4}
for _name, _desc, _test in (
    ("vit_base_patch16_224", "ViT-B/16", {"img_size": 32, "depth": 4}),
    ("vit_large_patch16_224", "ViT-L/16", {"img_size": 32, "depth": 4, **_NARROW}),
    ("vit_huge_patch14_224", "ViT-H/14", {"img_size": 28, "depth": 4, **_NARROW}),
):
    ensure_timm_arch(_name, "vit", f"{_desc} (Dosovitskiy et al., 2021)", _test)

# arch, tag, url, modality, SSL method, torchgeo builder module
_ENTRIES = [
    ("resnet18", "ssl4eo_s2_moco", f"{_HF}/resnet18_sentinel2_all_moco/resolve/5b8cddc9a14f3844350b7f40b85bcd32aed75918/"
     "resnet18_sentinel2_all_moco-59bfdff9.pth", "s2", "moco", "resnet"),
    ("resnet18", "ssl4eo_s2rgb_moco", f"{_HF}/resnet18_sentinel2_rgb_moco/resolve/e1c032e7785fd0625224cdb6699aa138bb304eec/"
     "resnet18_sentinel2_rgb_moco-e3a335e3.pth", "s2rgb", "moco", "resnet"),
    ("resnet50", "ssl4eo_s2_moco", f"{_HF}/resnet50_sentinel2_all_moco/resolve/da4f3c9dbe09272eb902f3b37f46635fa4726879/"
     "resnet50_sentinel2_all_moco-df8b932e.pth", "s2", "moco", "resnet"),
    ("resnet50", "ssl4eo_s2rgb_moco", f"{_HF}/resnet50_sentinel2_rgb_moco/resolve/efd9723b59a88e9dc1420dc1e96afb25b0630a3c/"
     "resnet50_sentinel2_rgb_moco-2b57ba8b.pth", "s2rgb", "moco", "resnet"),
    ("resnet50", "ssl4eo_s2_dino", f"{_HF}/resnet50_sentinel2_all_dino/resolve/d7f14bf5530d70ac69d763e58e77e44dbecfec7c/"
     "resnet50_sentinel2_all_dino-d6c330e9.pth", "s2", "dino", "resnet"),
    ("resnet50", "ssl4eo_s1_moco", f"{_HF}/resnet50_sentinel1_all_moco/resolve/e79862c667853c10a709bdd77ea8ffbad0e0f1cf/"
     "resnet50_sentinel1_all_moco-906e4356.pth", "s1", "moco", "resnet"),
    ("vit_small_patch16_224", "ssl4eo_s2_moco", f"{_HF}/vit_small_patch16_224_sentinel2_all_moco/resolve/"
     "1cb683f6c14739634cdfaaceb076529adf898c74/vit_small_patch16_224_sentinel2_all_moco-67c9032d.pth", "s2",
     "moco-v3", "vit"),
    ("vit_small_patch16_224", "ssl4eo_s2_dino", f"{_HF}/vit_small_patch16_224_sentinel2_all_dino/resolve/"
     "5b41dd418a79de47ac9f5be3e035405a83818a62/vit_small_patch16_224_sentinel2_all_dino-36bcc127.pth", "s2",
     "dino", "vit"),
    ("vit_small_patch16_224", "ssl4eo_s2_mae", f"{_WY}/B13_vits16_mae_ep99_enc.pth", "s2", "mae", "vit"),
    ("vit_small_patch16_224", "ssl4eo_s1_mae", f"{_WY}/B2_vits16_mae_ep99_enc.pth", "s1", "mae", "vit"),
    ("vit_base_patch16_224", "ssl4eo_s2_mae", f"{_WY}/B13_vitb16_mae_ep99_enc.pth", "s2", "mae", "vit"),
    ("vit_base_patch16_224", "ssl4eo_s1_mae", f"{_WY}/B2_vitb16_mae_ep99_enc.pth", "s1", "mae", "vit"),
    ("vit_large_patch16_224", "ssl4eo_s2_mae", f"{_WY}/B13_vitl16_mae_ep99_enc.pth", "s2", "mae", "vit"),
    ("vit_large_patch16_224", "ssl4eo_s1_mae", f"{_WY}/B2_vitl16_mae_ep99_enc.pth", "s1", "mae", "vit"),
    ("vit_huge_patch14_224", "ssl4eo_s2_mae", f"{_WY}/B13_vith14_mae_ep199_enc.pth", "s2", "mae", "vit"),
    ("vit_huge_patch14_224", "ssl4eo_s1_mae", f"{_WY}/B2_vith14_mae_ep199_enc.pth", "s1", "mae", "vit"),
]

_WHAT = {"s2": "Sentinel-2 L1C, 13 bands", "s2rgb": "Sentinel-2 L1C RGB (B4, B3, B2)",
         "s1": "Sentinel-1 GRD VV+VH (dB)"}
_ARCH = {"resnet18": "ResNet-18", "resnet50": "ResNet-50", "vit_small_patch16_224": "ViT-S/16",
         "vit_base_patch16_224": "ViT-B/16", "vit_large_patch16_224": "ViT-L/16", "vit_huge_patch14_224": "ViT-H/14"}
_EPOCHS = {"vit_huge_patch14_224": 200}

register_all([
    published(
        arch, tag, url=url, modality=mod, norm="s1stats" if mod == "s1" else "div10k", family=FAMILY,
        license=LICENSE, citation=CITATION, method=method,
        proof=TORCHGEO_PROOF.format(module=module, builder=arch),
        patch_size=(14 if "patch14" in arch else 16) if module == "vit" else None,
        description=f"SSL4EO-S12 {method.upper()} {_ARCH[arch]} encoder, {_WHAT[mod]}, "
                    f"{_EPOCHS.get(arch, 100)} epochs (timm state dict as hosted for TorchGeo)",
        extra={"feature_levels": f"4 evenly spaced ViT blocks at stride {14 if 'patch14' in arch else 16}"
               if module == "vit" else "ResNet stages at strides 2, 4, 8, 16, 32"},
    )
    for arch, tag, url, mod, method, module in _ENTRIES
])
