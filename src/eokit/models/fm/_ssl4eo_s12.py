"""Facts shared by the models pretrained on SSL4EO-S12 (SSL4EO-S12 baselines, DeCUR, SoftCon).

All three come from the Zhu lab (TUM) and are timm architectures (ResNet-18/50, ViT-S/16,
DINOv2 ViT-S/14 and ViT-B/14), so their weights are registered on eokit's timm archs and
loaded by :class:`eokit.models.timm_backbone.TimmBackbone`. Facts (band orders, statistics,
URLs) follow TorchGeo 0.8.1's weights enums (``torchgeo.models.resnet``, ``torchgeo.models.vit``),
which host or point at the published files; the loaders there read them into timm models
directly, so the files are timm state dicts.
"""

from __future__ import annotations

from typing import Any

from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.timm_backbone import build_timm
from eokit.models.weights import WeightSpec

# SSL4EO-S12 Sentinel-2 L1C: all 13 bands in ESA order (B1..B8, B8A, B9, B10, B11, B12)
S2_L1C_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
S2_RGB_BANDS = ("B04", "B03", "B02")
S1_BANDS = ("VV", "VH")
S2_SENSOR = "sentinel2_l1c"
S1_SENSOR = "sentinel1_grd_db"  # SSL4EO-S12 S1 GRD from Google Earth Engine: backscatter in dB

# per-band SSL4EO-S12 L1C statistics (digital numbers; reflectance = DN / 10000)
S2_MEAN_DN = (1612.9, 1397.6, 1322.3, 1373.1, 1561.0, 2108.4, 2390.7, 2318.7, 2581.0, 837.7, 22.0, 2195.2,
              1537.4)
S2_STD_DN = (791.0, 854.3, 878.7, 1144.9, 1127.5, 1164.2, 1276.0, 1249.5, 1345.9, 577.5, 47.5, 1340.0, 1142.9)
# SSL4EO-S12 S1 GRD statistics in dB (VV, VH)
S1_MEAN_DB = (-12.59, -20.26)
S1_STD_DB = (5.26, 5.91)

DIV10K = "divide by 10000 (reflectance 0-1), no further standardisation; Resize 256 + CenterCrop 224 as published"
S2_STATS = ("standardise per band with the SSL4EO-S12 L1C mean/std (DN 1612.9... / 791.0..., i.e. mean/std "
            "below after /10000); Resize 256 + CenterCrop 224 as published")
S1_STATS = ("standardise per band with the SSL4EO-S12 S1 mean/std in dB (VV -12.59/5.26, VH -20.26/5.91); "
            "Resize 256 + CenterCrop 224 as published")

TORCHGEO_PROOF = "equivalence: torchgeo 0.8.1 torchgeo.models.{module}.{builder}"


def stats(kind: str, bands: tuple[str, ...]) -> tuple[tuple[float, ...], tuple[float, ...], str]:
    """(mean, std, rule) in the sensor's reflectance units for a published normalisation ``kind``.

    ``div10k``: Sentinel-2 DN / 10000 (mean 0, std 1 after the sensor's 1e-4 scale); ``s2stats``:
    the SSL4EO-S12 L1C per-band statistics; ``s1stats``: the SSL4EO-S12 S1 statistics in dB.
    """
    if kind == "div10k":
        return (0.0,) * len(bands), (1.0,) * len(bands), DIV10K
    if kind == "s2stats":
        idx = [S2_L1C_BANDS.index(b) for b in bands]
        return (tuple(round(S2_MEAN_DN[i] * 1e-4, 6) for i in idx),
                tuple(round(S2_STD_DN[i] * 1e-4, 6) for i in idx), S2_STATS)
    if kind == "s1stats":
        return S1_MEAN_DB, S1_STD_DB, S1_STATS
    raise ValueError(f"unknown normalisation kind {kind!r}")


def sha_prefix(url: str) -> str | None:
    """The sha256 prefix TorchGeo puts in its file names (``name-1c691b4f.pth``), or None."""
    stem = url.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    tail = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return tail if len(tail) == 8 and all(c in "0123456789abcdef" for c in tail) else None


def published(arch: str, tag: str, *, url: str, modality: str, norm: str, family: str, license: str,
              citation: str, method: str, proof: str, description: str, patch_size: int | None = None,
              extra: dict[str, Any] | None = None) -> WeightSpec:
    """A WeightSpec for one published SSL4EO-S12-pretrained checkpoint (``modality``: s2, s2rgb or s1)."""
    bands, sensor = {"s2": (S2_L1C_BANDS, S2_SENSOR), "s2rgb": (S2_RGB_BANDS, S2_SENSOR),
                     "s1": (S1_BANDS, S1_SENSOR)}[modality]
    mean, std, rule = stats(norm, bands)
    prefix = sha_prefix(url)
    sha_note = (f"no full sha256 is published (the file name carries its first 8 hex digits, {prefix})"
                if prefix else "no sha256 is published")
    return WeightSpec(
        arch, tag, source="url", url=url, sha256=None, bands=bands, sensor=sensor, mean=mean, std=std,
        gsd=10.0, input_size=224, patch_size=patch_size, license=license, family=family, citation=citation,
        normalization=rule, proof=proof, description=f"{description}; {sha_note}",
        extra={"ssl_method": method, "pretraining_data": "SSL4EO-S12",
               **({"sha256_prefix": prefix} if prefix else {}), **(extra or {})},
    )


def register_all(specs: list[WeightSpec]) -> None:
    """Register each weights entry once (a module imported twice registers nothing new)."""
    from eokit.models.registry import WEIGHTS

    for spec in specs:
        if spec.name not in WEIGHTS:
            register_weights(spec)


def ensure_timm_arch(name: str, family: str, description: str, test_kwargs: dict[str, Any]) -> None:
    """Register a timm architecture eokit's zoo does not have yet (guarded: another family may add it)."""
    if name not in ARCHS:
        register_arch(ArchSpec(name, build_timm(name), family, f"timm {description}", {"dense": "upernet"},
                               test_kwargs))
