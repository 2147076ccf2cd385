"""DOFA ViT-B/16 and ViT-L/16 (Xiong et al. 2024): wavelength-generated patch embedding, any bands.

The architecture is :class:`eokit.models.dofa.DofaBackbone` (the published key layout; eokit's
``dofa_tiny``/``dofa_small`` are the same model at small sizes). The published files are plain
encoder state dicts (no pool norm, no head). DOFA was pretrained on Sentinel-1/2, NAIP,
Gaofen and EnMAP data and takes any bands: the entries declare Sentinel-2 L2A as their default
band set, with the sensor's statistics (DOFA normalises per dataset).
"""

from __future__ import annotations

from eokit.models.dofa import build_dofa
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.weights import WeightSpec
from eokit.sensors import get_sensor

FAMILY = "DOFA"
LICENSE = "CC-BY-4.0"
CITATION = ("Xiong, Z., Wang, Y., Zhang, F., Stewart, A. J., Hanna, J., Borth, D., Papoutsis, I., Le Saux, B., "
            "Camps-Valls, G., Zhu, X. X. (2024). Neural Plasticity-Inspired Multimodal Foundation Model for Earth "
            "Observation. arXiv:2403.15356")
PROOF = "equivalence: torchgeo 0.8.1 torchgeo.models.dofa"
BASE_URL = "https://hf.co/torchgeo/dofa/resolve/b8db318b64a90b9e085ec04ba8851233c5893666/"
TEST_KWARGS = {"img_size": 32, "embed_dim": 64, "depth": 2, "num_heads": 2}


def sensor_stats(sensor: str, bands: tuple[str, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The sensor's default per-band mean/std (reflectance units) for ``bands``."""
    s = get_sensor(sensor)
    objs = [s.band(b) for b in bands]
    return tuple(round(float(b.mean), 6) for b in objs), tuple(round(float(b.std), 6) for b in objs)


S2_BANDS = tuple(get_sensor("sentinel2_l2a").band_names)
S2_MEAN, S2_STD = sensor_stats("sentinel2_l2a", S2_BANDS)

_VARIANTS = [
    ("dofa_base_patch16", "ViT-B/16", "dofa_base_patch16_224-a0275954.pth", "a0275954"),
    ("dofa_large_patch16", "ViT-L/16", "dofa_large_patch16_224-0ff904d3.pth", "0ff904d3"),
]

for _arch, _size, _file, _prefix in _VARIANTS:
    if _arch in ARCHS:
        continue
    register_arch(ArchSpec(
        _arch, build_dofa(_arch), "dofa",
        f"DOFA {_size} (Xiong et al. 2024): patch kernels generated from band wavelengths (any bands)",
        {"dense": "upernet"}, TEST_KWARGS,
    ))
    register_weights(WeightSpec(
        _arch, "mae", source="url", url=BASE_URL + _file, sha256=None, license=LICENSE, family=FAMILY,
        citation=CITATION, bands=S2_BANDS, sensor="sentinel2_l2a", mean=S2_MEAN, std=S2_STD,
        normalization="sensor-dependent: DOFA standardises each dataset with its own per-band mean/std "
                      "(normalize_dataset.py); eokit uses the Sentinel-2 L2A defaults unless the data has its own",
        gsd=10.0, input_size=224, patch_size=16, proof=PROOF,
        description=f"DOFA {_size} MAE encoder pretrained on SatlasPretrain, Five-Billion-Pixels and HySpecNet-11k "
                    f"(TorchGeo's copy; no sha256 is published, the file name carries its first 8 hex digits "
                    f"{_prefix}). Any bands with centre wavelengths (SAR: 3.75 µm pseudo-wavelength); the default "
                    "band set is Sentinel-2 L2A",
        extra={"feature_levels": "4 evenly spaced blocks, stride 16", "pooled": "LayerNorm(mean patch token)",
               "wavelength_conditioned": True, "pretraining": "SatlasPretrain, Five-Billion-Pixels, HySpecNet-11k"},
    ))
