"""Copernicus-FM ViT-B/16 (Wang et al. 2025): a wavelength + bandwidth hypernetwork patch embedding and
metadata encodings (location, time, patch area).

Each band's kernel is generated from Fourier expansions of its centre wavelength and bandwidth
(nm; Sentinel-1 by Copernicus-FM's convention: 5e7 nm wavelength, 1e9 nm bandwidth), so any sensor with
wavelengths works. Non-spectral variables (Sentinel-5P, DEM...) go through the "variable" hypernetwork
from a 2048-d language embedding of the variable's name (``forward(..., language_embed=)``). Metadata
(lon, lat in degrees, days since 1970-01-01, patch area in km²; NaN = unknown, as by default) adds
Fourier encodings to the position embedding; unknown metadata uses the learned tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import BandError, ModelError
from eokit.models.backbone import Features
from eokit.models.band_adapter import BandLike, is_sar
from eokit.models.dofa import FCResLayer, TransformerWeightGenerator, WavelengthViT, _xavier
from eokit.models.fm.dofa import sensor_stats
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, get_sensor

FAMILY = "Copernicus-FM"
SAR_WAVELENGTH_NM = 5e7  # Copernicus-FM's convention for Sentinel-1 (C band)
SAR_BANDWIDTH_NM = 1e9
LANGUAGE_DIM = 2048  # Llama 3.2 1B embeddings of variable names
# Fourier ranges (lower, upper) of the published model: wavelength 100 nm - 1 m, bandwidth 1 nm - 1 m,
# coordinates (degrees + 180/90), patch area 1 m² - 5.1e8 km², time in days (periodic, not range-checked)
WAVELENGTH_RANGE = (100.0, 1e9)
BANDWIDTH_RANGE = (1.0, 1e9)
COORD_RANGE = (0.0001, 720.0)
AREA_RANGE = (0.001, 5.1e8)
TIME_RANGE = (1.0, 365.25)


def fourier_expand(x: torch.Tensor, lower: float, upper: float, dim: int, *, what: str = "",
                   check: bool = True) -> torch.Tensor:
    """(..., n) -> (..., n, dim): sin/cos at ``dim/2`` log-spaced periods from ``lower`` to ``upper`` (float64 maths).

    Values outside [lower, upper] (zeros excepted) would be ambiguous: a typed error names them.
    """
    if check:
        a = x.abs()
        bad = ~(((a >= lower) & (a <= upper)) | (x == 0))
        if bool(bad.any()):
            raise BandError(f"Copernicus-FM: {what} {x[bad].tolist()} outside the encoded range [{lower}, {upper}]; "
                            "pass values in that range")
    x = x.double()
    periods = torch.logspace(math.log10(lower), math.log10(upper), dim // 2, base=10, dtype=torch.float64,
                             device=x.device)
    prod = x[..., None] * (2 * math.pi / periods)
    return torch.cat([prod.sin(), prod.cos()], dim=-1).float()


class HyperPatchEmbed(nn.Module):
    """Patch embedding whose kernel a hypernetwork generates from band (or variable) embeddings."""

    def __init__(self, patch_size: int, embed_dim: int, hyper_dim: int, mode: str) -> None:
        super().__init__()
        self.patch_size, self.embed_dim, self.hyper_dim, self.mode = patch_size, embed_dim, hyper_dim, mode
        self.scaler = 0.01
        if mode == "variable":
            self.language_proj = nn.Linear(LANGUAGE_DIM, hyper_dim)
        self.weight_generator = TransformerWeightGenerator(hyper_dim, patch_size * patch_size * embed_dim, embed_dim)
        self.fclayer = FCResLayer(hyper_dim)
        self.weight_generator.apply(_xavier)
        self.fclayer.apply(_xavier)

    def band_embedding(self, wavelengths: torch.Tensor, bandwidths: torch.Tensor) -> torch.Tensor:
        """(C,) wavelengths and bandwidths (nm) -> (C, hyper_dim)."""
        return (fourier_expand(wavelengths, *WAVELENGTH_RANGE, self.hyper_dim, what="wavelengths (nm)")
                + fourier_expand(bandwidths, *BANDWIDTH_RANGE, self.hyper_dim, what="bandwidths (nm)"))

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) and per-channel embeddings (C, hyper_dim) -> tokens (B, N, D)."""
        waves = self.fclayer(embedding)
        w, b = self.weight_generator(waves)
        k, c = self.patch_size, waves.shape[0]
        weight = w.view(c, k, k, self.embed_dim).permute(3, 0, 1, 2) * self.scaler
        out = F.conv2d(x, weight, b.view(self.embed_dim) * self.scaler, stride=k, padding=1)
        return out.flatten(2).transpose(1, 2)


class CopernicusFMBackbone(WavelengthViT):
    """Copernicus-FM ViT: any bands with wavelengths (+ bandwidths), optional metadata; maps from 4 blocks."""

    norm_eps = 1e-5
    wavelength_error = " (Copernicus-FM also uses each band's bandwidth)"

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "copernicusfm_base",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        patch_size: int = 16,
        img_size: int | None = None,
        hyper_dim: int = 128,
        drop_path_rate: float = 0.0,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        self.patch_embed_spectral = HyperPatchEmbed(patch_size, embed_dim, hyper_dim, "spectral")
        # the variable hypernetwork serves one-channel variables only: frozen unless a user trains it
        # (bb.patch_embed_variable.requires_grad_(True)), dropped by prune_pooling (dense models take bands)
        self.patch_embed_variable: HyperPatchEmbed | None = HyperPatchEmbed(patch_size, embed_dim, hyper_dim,
                                                                             "variable").requires_grad_(False)
        self._init_vit(embed_dim, depth, num_heads, patch_size, img_size, drop_path_rate)
        self.coord_fc = nn.Linear(embed_dim, embed_dim)
        self.scale_fc = nn.Linear(embed_dim, embed_dim)
        self.time_fc = nn.Linear(embed_dim, embed_dim)
        self.coord_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.scale_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.time_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.band_table(list(self.band_objects))  # every band needs a wavelength

    @staticmethod
    def spectrum(bands: Sequence[Band]) -> tuple[torch.Tensor, torch.Tensor]:
        """Centre wavelengths and bandwidths (nm) as Copernicus-FM encodes them (SAR by its convention)."""
        wv = [SAR_WAVELENGTH_NM if is_sar(b) else float(b.center_nm) for b in bands]
        bw = [SAR_BANDWIDTH_NM if is_sar(b) else float(b.bandwidth_nm) for b in bands]
        return torch.tensor(wv, dtype=torch.float32), torch.tensor(bw, dtype=torch.float32)

    def forward(self, image: torch.Tensor, bands: Sequence[BandLike] | None = None, *,
                metadata: torch.Tensor | None = None, wavelengths: Sequence[float] | None = None,
                bandwidths: Sequence[float] | None = None, language_embed: torch.Tensor | None = None) -> Features:
        """Any bands (names or ``wavelengths``/``bandwidths`` in nm), or one variable channel with its
        ``language_embed`` (2048,); ``metadata`` (B, 4): lon, lat, days since 1970-01-01, patch area km² (NaN: unknown)."""
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected (B, C, H, W), got shape {tuple(image.shape)}")
        if language_embed is not None:
            if image.shape[1] != 1 or language_embed.shape[-1] != LANGUAGE_DIM:
                raise BandError(f"{self.arch}: the variable hypernetwork takes 1 channel and a {LANGUAGE_DIM}-d "
                                f"language embedding, got {image.shape[1]} channels and {tuple(language_embed.shape)}")
            pe = self.patch_embed_variable
            if pe is None:
                raise ModelError(f"{self.arch}: the variable hypernetwork was removed by prune_pooling(); "
                                 "use a backbone that was not pruned for language_embed inputs")
            emb = pe.language_proj(language_embed.reshape(1, LANGUAGE_DIM).to(image))
        else:
            if wavelengths is not None:
                wv = torch.tensor(list(wavelengths), dtype=torch.float32)
                bw = torch.tensor(list(bandwidths) if bandwidths is not None else [0.0] * len(wv),
                                  dtype=torch.float32)
            else:
                wv, bw = self.spectrum(self.band_table(bands))
            if wv.shape[0] != image.shape[1] or bw.shape[0] != wv.shape[0]:
                raise BandError(f"{self.arch}: image has {image.shape[1]} channels but {wv.shape[0]} wavelengths and "
                                f"{bw.shape[0]} bandwidths were given (default bands: {list(self.bands)})")
            pe = self.patch_embed_spectral
            emb = pe.band_embedding(wv.to(image.device), bw.to(image.device))
        return self._forward(image, pe, emb, metadata)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self.forward(x)

    def _prune_pooling(self) -> None:
        self.patch_embed_variable = None

    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        sd = super().convert_checkpoint(state_dict)
        if self.patch_embed_variable is None:
            sd = {k: v for k, v in sd.items() if not k.startswith("patch_embed_variable.")}
        return sd

    def metadata_embedding(self, metadata: torch.Tensor | None, batch: int) -> torch.Tensor:
        """(B, 1, D) sum of the coordinate, area and time embeddings (learned tokens where unknown)."""
        d = self.num_features
        if metadata is None:
            metadata = torch.full((batch, 4), float("nan"), device=self.cls_token.device)
        if metadata.shape != (batch, 4):
            raise ModelError(f"{self.arch}: metadata must be (B, 4) = lon, lat, days since 1970-01-01, patch area "
                             f"km² (NaN: unknown), got {tuple(metadata.shape)}")
        lon, lat, t, area = metadata.unbind(1)
        if torch.isnan(lon).any() or torch.isnan(lat).any():
            coord: torch.Tensor = self.coord_token
        else:
            coord = torch.cat([fourier_expand(lon + 180, *COORD_RANGE, d // 2, what="longitudes + 180"),
                               fourier_expand(lat + 90, *COORD_RANGE, d // 2, what="latitudes + 90")], dim=-1)
            coord = F.pad(coord, (0, d - coord.shape[-1]))[:, None]
        if torch.isnan(area).any():
            scale: torch.Tensor = self.scale_token
        else:
            scale = fourier_expand(area, *AREA_RANGE, d, what="patch areas (km²)")[:, None]
        if torch.isnan(t).any():
            time: torch.Tensor = self.time_token
        else:
            time = fourier_expand(t, *TIME_RANGE, d, check=False)[:, None]
        return self.coord_fc(coord) + self.scale_fc(scale) + self.time_fc(time)

    def _forward(self, x: torch.Tensor, pe: HyperPatchEmbed, emb: torch.Tensor,
                 metadata: torch.Tensor | None) -> Features:
        grid = self.check_grid(x.shape[-2], x.shape[-1])
        tokens = pe(x, emb)
        pos = self.pos_embed_for(grid) + self.metadata_embedding(metadata, x.shape[0])
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        return self.run_blocks(torch.cat([cls, tokens + pos[:, 1:]], dim=1), grid)


VARIANTS: dict[str, dict[str, Any]] = {"copernicusfm_base": {"embed_dim": 768, "depth": 12, "num_heads": 12}}


def build_copernicusfm(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> CopernicusFMBackbone:
        return CopernicusFMBackbone(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    return builder


S2_BANDS = tuple(get_sensor("sentinel2_l1c").band_names)
S2_MEAN, S2_STD = sensor_stats("sentinel2_l1c", S2_BANDS)

if "copernicusfm_base" not in ARCHS:
    register_arch(ArchSpec(
        "copernicusfm_base", build_copernicusfm("copernicusfm_base"), "copernicusfm",
        "Copernicus-FM ViT-B/16 (Wang et al. 2025): wavelength + bandwidth hypernetwork patch embedding, "
        "metadata encodings (any bands)",
        {"dense": "upernet"}, {"img_size": 32, "embed_dim": 64, "depth": 2, "num_heads": 2},
    ))
    register_weights(WeightSpec(
        "copernicusfm_base", "copernicus_pretrain", source="url",
        url="https://huggingface.co/torchgeo/copernicus-fm/resolve/f395812cc990ba25a451dbb9c9e6d95c8482947e/"
            "CopernicusFM_ViT_base_varlang-085350e4.pth",
        sha256=None, license="CC-BY-4.0", family=FAMILY,
        citation="Wang, Y., Xiong, Z., Liu, C., Stewart, A. J., Dujardin, T., Bountos, N. I., Zavras, A., Gerken, F., "
                 "Papoutsis, I., Leal-Taixé, L., Zhu, X. X. (2025). Towards a Unified Copernicus Foundation Model "
                 "for Earth Vision. arXiv:2503.11849",
        bands=S2_BANDS, sensor="sentinel2_l1c", mean=S2_MEAN, std=S2_STD,
        normalization="per-band standardisation with each dataset's own mean/std (Copernicus-Pretrain/-Bench); "
                      "eokit uses the Sentinel-2 L1C defaults unless the data has its own",
        gsd=10.0, input_size=224, patch_size=16, proof="equivalence: torchgeo 0.8.1 torchgeo.models.copernicusfm",
        description="Copernicus-FM ViT-B/16 (varlang) pretrained on Copernicus-Pretrain (Sentinel-1/2/3/5P, DEM) "
                    "by MAE + distillation (TorchGeo's copy; no sha256 is published, the file name carries its "
                    "first 8 hex digits 085350e4). Any bands with wavelengths; the default band set is Sentinel-2 "
                    "L1C. Kernel-size changes (FlexiViT resizing) are not supported: patch 16",
        extra={"modalities": {"sentinel1_grd_db": ["VV", "VH"]},
               "variables": "one-channel variables (S5P, DEM) through language_embed (2048-d, Llama 3.2 1B)",
               "metadata": "lon, lat (deg), days since 1970-01-01, patch area (km²); NaN = unknown",
               "feature_levels": "4 evenly spaced blocks, stride 16", "pooled": "LayerNorm(mean patch token)",
               "wavelength_conditioned": True},
    ))
