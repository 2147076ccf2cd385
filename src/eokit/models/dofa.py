"""A band-flexible ViT whose patch embedding is generated from band wavelengths (DOFA-style).

Following DOFA (Xiong et al., 2024, "Neural Plasticity-Inspired Multimodal
Foundation Model for Earth Observation"): each input band's centre wavelength
is embedded (1-D sin/cos), refined by a residual MLP, and a small transformer
(with learned weight tokens) turns the band embeddings into that band's
patch-embedding kernel and a shared bias. One set of weights therefore takes
any number of bands, in any order: Sentinel-2, Landsat, NAIP or a
hyperspectral cube. SAR bands use DOFA's pseudo-wavelength of 3.75 µm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import Block
from torch import nn

from eokit.errors import BandError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike, is_sar, resolve_bands
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, get_sensor

SAR_PSEUDO_NM = 3750.0


def wavelength_nm(band: Band) -> float:
    return SAR_PSEUDO_NM if is_sar(band) else float(band.center_nm)


def sincos_embed(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, dim) sinusoidal embedding (as in MAE/DOFA)."""
    omega = torch.arange(dim // 2, dtype=torch.float64, device=positions.device) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = positions.double()[:, None] * omega[None]
    return torch.cat([out.sin(), out.cos()], dim=1).float()


class FCResLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.l1 = nn.Linear(dim, dim)
        self.l2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.l2(F.relu(self.l1(x))))


class WeightGenerator(nn.Module):
    """Band embeddings (C, d) -> kernels (C, k*k*D) and a bias (D,)."""

    def __init__(self, wv_dim: int, out_dim: int, embed_dim: int, num_tokens: int = 64, heads: int = 4) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(wv_dim, heads, dim_feedforward=wv_dim * 2, activation="gelu",
                                           dropout=0.0, batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.fc_weight = nn.Linear(wv_dim, out_dim)
        self.fc_bias = nn.Linear(wv_dim, embed_dim)
        self.weight_tokens = nn.Parameter(torch.randn(num_tokens, wv_dim) * 0.02)
        self.bias_token = nn.Parameter(torch.randn(1, wv_dim) * 0.02)
        self.num_tokens = num_tokens

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq = torch.cat([self.weight_tokens, x, self.bias_token], dim=0)
        out = self.encoder(seq[None])[0]
        weights = self.fc_weight(out[self.num_tokens:-1] + x)
        bias = self.fc_bias(out[-1])
        return weights, bias


class DynamicPatchEmbed(nn.Module):
    """Patch embedding whose conv kernel is generated from the input bands' wavelengths."""

    def __init__(self, patch_size: int, embed_dim: int, wv_dim: int = 128, scaler: float = 0.01) -> None:
        super().__init__()
        self.patch_size, self.embed_dim, self.wv_dim, self.scaler = patch_size, embed_dim, wv_dim, scaler
        self.fclayer = FCResLayer(wv_dim)
        self.generator = WeightGenerator(wv_dim, patch_size * patch_size * embed_dim, embed_dim)

    def kernel(self, wavelengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.fclayer(sincos_embed(self.wv_dim, wavelengths))
        w, b = self.generator(emb)
        k, c = self.patch_size, wavelengths.shape[0]
        weight = w.view(c, k, k, self.embed_dim).permute(3, 0, 1, 2)
        return weight * self.scaler, b * self.scaler

    def forward(self, x: torch.Tensor, wavelengths: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != wavelengths.shape[0]:
            raise BandError(f"DOFA patch embed: {x.shape[1]} channels but {wavelengths.shape[0]} wavelengths")
        weight, bias = self.kernel(wavelengths.to(x.device))
        return F.conv2d(x, weight, bias, stride=self.patch_size)


class DofaBackbone(Backbone):
    """DOFA-style ViT: any bands at forward time; maps from 4 evenly spaced blocks (stride = patch size)."""

    band_flexible = True

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "dofa_small",
        embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 6,
        patch_size: int = 16,
        img_size: int | None = None,
        wv_dim: int = 128,
        drop_path_rate: float = 0.0,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        self.patch_size = patch_size
        self.img_size = img_size or spec.input_size
        grid = self.img_size // patch_size
        self.patch_embed = DynamicPatchEmbed(patch_size, embed_dim, wv_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + grid * grid, embed_dim) * 0.02)
        dpr = [float(x) for x in torch.linspace(0, drop_path_rate, depth)]
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio=4.0, qkv_bias=True, drop_path=dpr[i]) for i in range(depth)
        )
        self.norm: nn.LayerNorm | None = nn.LayerNorm(embed_dim)
        self.out_indices = sorted({round(depth * k / 4) - 1 for k in (1, 2, 3, 4)})
        self.feature_info = [{"channels": embed_dim, "stride": patch_size} for _ in self.out_indices]
        self.num_features = embed_dim
        nn.init.normal_(self.cls_token, std=0.02)
        self._default_wv = torch.tensor([wavelength_nm(b) for b in self.band_objects])

    def wavelengths_for(self, bands: Sequence[BandLike] | None) -> torch.Tensor:
        if bands is None:
            return self._default_wv
        fallback = get_sensor(self.sensor_name) if self.sensor_name else None
        try:
            resolved = resolve_bands(list(bands), None, fallback=fallback)
        except BandError as exc:
            raise BandError(f"{self.arch}: {exc}") from None
        return torch.tensor([wavelength_nm(b) for b in resolved])

    def forward(self, image: torch.Tensor, bands: Sequence[BandLike] | None = None,
                wavelengths: Sequence[float] | None = None) -> Features:
        """Any bands: ``bands`` names (resolved through the backbone's sensor) or ``wavelengths`` in nm."""
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected (B, C, H, W), got shape {tuple(image.shape)}")
        wv = torch.tensor(list(wavelengths), dtype=torch.float32) if wavelengths is not None \
            else self.wavelengths_for(bands)
        if wv.shape[0] != image.shape[1]:
            raise BandError(f"{self.arch}: image has {image.shape[1]} channels but {wv.shape[0]} bands/wavelengths "
                            f"were given (default bands: {list(self.bands)})")
        return self._forward(image, wv)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._forward(x, self._default_wv)

    def _forward(self, x: torch.Tensor, wv: torch.Tensor) -> Features:
        b, _, h, w = x.shape
        p = self.patch_size
        if h % p or w % p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is not a multiple of the patch size {p}; crop or "
                             "pad the input (e.g. eokit.transforms.CenterCrop)")
        tokens = self.patch_embed(x, wv).flatten(2).transpose(1, 2)  # B, N, D
        gh, gw = h // p, w // p
        pos = resample_abs_pos_embed(self.pos_embed, (gh, gw), num_prefix_tokens=1)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1) + pos
        maps = []
        for i, blk in enumerate(self.blocks):
            tokens = blk(tokens)
            if i in self.out_indices:
                maps.append(tokens[:, 1:].transpose(1, 2).reshape(b, -1, gh, gw))
        if self.norm is not None:
            tokens = self.norm(tokens)
        return Features(pooled=tokens[:, 1:].mean(dim=1), maps=maps)

    def _prune_pooling(self) -> None:
        self.norm = None

    def load_checkpoint(self, state_dict: dict[str, torch.Tensor], ckpt_bands: tuple[Band, ...]) -> None:
        """Band-independent weights: loaded as is (pos_embed resampled to this image size)."""
        sd = dict(state_dict)
        if "pos_embed" in sd and sd["pos_embed"].shape != self.pos_embed.shape:
            n = int((sd["pos_embed"].shape[1] - 1) ** 0.5)
            g = self.img_size // self.patch_size
            sd["pos_embed"] = resample_abs_pos_embed(sd["pos_embed"], (g, g), (n, n), num_prefix_tokens=1)
        super().load_checkpoint(sd, ckpt_bands)


VARIANTS: dict[str, dict[str, Any]] = {
    "dofa_tiny": {"embed_dim": 192, "depth": 6, "num_heads": 3},
    "dofa_small": {"embed_dim": 384, "depth": 12, "num_heads": 6},
}


def build_dofa(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, **kw: Any) -> DofaBackbone:
        return DofaBackbone(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    return builder
