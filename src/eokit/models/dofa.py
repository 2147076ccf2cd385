"""A band-flexible ViT whose patch embedding is generated from band wavelengths (DOFA).

DOFA (Xiong et al., 2024, "Neural Plasticity-Inspired Multimodal Foundation Model for
Earth Observation"): each input band's centre wavelength is embedded (1-D sin/cos of the
wavelength in nm), refined by a residual MLP, and a small transformer (with 128 learned
weight tokens and a bias token) turns the band embeddings into that band's patch-embedding
kernel and a shared bias. One set of weights therefore takes any number of bands, in any
order: Sentinel-2, Landsat, NAIP or a hyperspectral cube. SAR bands use DOFA's
pseudo-wavelength of 3.75 µm.

The module layout (key names) is the published DOFA checkpoint's, so the published
ViT-B/16 and ViT-L/16 weights load as they are (:mod:`eokit.models.fm.dofa`); the small
``dofa_tiny``/``dofa_small`` are the same model at other sizes. The patch convolution pads
by one pixel (as the published model does) and ``pooled`` is the layer-normalised mean of
the patch tokens (DOFA's global pool; the published file has no trained pool norm).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import BandError, ModelError
from eokit.models.backbone import Backbone, Features, vit_feature_blocks
from eokit.models.band_adapter import BandLike, is_sar
from eokit.models.state_dict import StateDict, drop_keys, resize_pos_embed, strip_prefix, unwrap
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor

SAR_PSEUDO_NM = 3750.0
NUM_WEIGHT_TOKENS = 128


def wavelength_nm(band: Band) -> float:
    """DOFA's wavelength of a band: its centre (nm), or 3750 nm for SAR."""
    return SAR_PSEUDO_NM if is_sar(band) else float(band.center_nm)


def sincos_embed(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, dim) 1-D sin/cos embedding in float32 (MAE/DOFA)."""
    omega = torch.arange(dim // 2, dtype=torch.float32, device=positions.device) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = positions.float().reshape(-1)[:, None] * omega[None]
    return torch.cat([out.sin(), out.cos()], dim=1)


def _xavier(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0.01)


class FCResLayer(nn.Module):
    """Residual MLP on the wavelength embedding: x + relu(w2(relu(w1(x))))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, dim)
        self.w2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.w2(F.relu(self.w1(x))))


class TransformerWeightGenerator(nn.Module):
    """Band embeddings (C, d) -> kernels (C, k*k*D) and a bias (D,), via learned weight/bias tokens."""

    def __init__(self, wv_dim: int, out_dim: int, embed_dim: int, num_tokens: int = NUM_WEIGHT_TOKENS,
                 heads: int = 4) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(wv_dim, heads, activation="gelu", dropout=0.0, norm_first=False)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.fc_weight = nn.Linear(wv_dim, out_dim)
        self.fc_bias = nn.Linear(wv_dim, embed_dim)
        self.weight_tokens = nn.Parameter(torch.randn(num_tokens, wv_dim) * 0.02)
        self.bias_token = nn.Parameter(torch.randn(1, wv_dim) * 0.02)
        self.num_tokens = num_tokens

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq = torch.cat([self.weight_tokens, x, self.bias_token], dim=0)  # unbatched (S, d)
        out = self.transformer_encoder(seq)
        return self.fc_weight(out[self.num_tokens:-1] + x), self.fc_bias(out[-1])


class DynamicPatchEmbed(nn.Module):
    """Patch embedding whose conv kernel is generated from the input bands' wavelengths."""

    def __init__(self, patch_size: int, embed_dim: int, wv_dim: int = 128, scaler: float = 0.01) -> None:
        super().__init__()
        self.patch_size, self.embed_dim, self.wv_dim, self.scaler = patch_size, embed_dim, wv_dim, scaler
        self.weight_generator = TransformerWeightGenerator(wv_dim, patch_size * patch_size * embed_dim, embed_dim)
        self.fclayer = FCResLayer(wv_dim)
        self.weight_generator.apply(_xavier)
        self.fclayer.apply(_xavier)

    def kernel(self, wavelengths_nm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(D, C, k, k) kernel and (D,) bias for bands at ``wavelengths_nm``."""
        # DOFA embeds float32 micrometres times 1000: the same rounding as the published model
        um = (wavelengths_nm.double() / 1000).float()
        emb = self.fclayer(sincos_embed(self.wv_dim, um * 1000))
        w, b = self.weight_generator(emb)
        k, c = self.patch_size, wavelengths_nm.shape[0]
        weight = w.view(c, k, k, self.embed_dim).permute(3, 0, 1, 2)
        return weight * self.scaler, b.view(self.embed_dim) * self.scaler

    def forward(self, x: torch.Tensor, wavelengths_nm: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != wavelengths_nm.shape[0]:
            raise BandError(f"DOFA patch embed: {x.shape[1]} channels but {wavelengths_nm.shape[0]} wavelengths")
        weight, bias = self.kernel(wavelengths_nm.to(x.device))
        return F.conv2d(x, weight, bias, stride=self.patch_size, padding=1)


def vit_blocks(dim: int, depth: int, heads: int, eps: float, drop_path_rate: float = 0.0) -> nn.ModuleList:
    """``depth`` timm ViT blocks (MLP ratio 4, qkv bias) with LayerNorm(eps)."""
    # imported here: reading the catalogue does not import timm
    from timm.models.vision_transformer import Block

    dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # no tensors: builds on the meta device
    norm: Any = partial(nn.LayerNorm, eps=eps)  # timm types norm_layer as a class; a partial works the same
    return nn.ModuleList(Block(dim, heads, mlp_ratio=4.0, qkv_bias=True, drop_path=dpr[i], norm_layer=norm)
                         for i in range(depth))


out_indices = vit_feature_blocks  # the ViT feature levels (one rule for every ViT in eokit)


class WavelengthViT(Backbone):
    """Shared body of wavelength-conditioned ViTs (DOFA, Copernicus-FM): bands -> wavelengths -> features."""

    band_flexible = True
    norm_eps = 1e-6

    def _init_vit(self, embed_dim: int, depth: int, num_heads: int, patch_size: int, img_size: int | None,
                  drop_path_rate: float) -> None:
        self.patch_size = patch_size
        self.img_size = img_size or self.spec.input_size
        grid = self.img_size // patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + grid * grid, embed_dim) * 0.02)
        self.blocks = vit_blocks(embed_dim, depth, num_heads, self.norm_eps, drop_path_rate)
        self.out_indices = out_indices(depth)
        self.feature_info = [{"channels": embed_dim, "stride": patch_size} for _ in self.out_indices]
        self.num_features = embed_dim
        nn.init.normal_(self.cls_token, std=0.02)

    def check_grid(self, h: int, w: int) -> tuple[int, int]:
        p = self.patch_size
        if h % p or w % p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is not a multiple of the patch size {p}; crop or "
                             "pad the input (e.g. eokit.transforms.CenterCrop)")
        return h // p, w // p

    def pos_embed_for(self, grid: tuple[int, int]) -> torch.Tensor:
        return resize_pos_embed(self.pos_embed, grid)

    def run_blocks(self, tokens: torch.Tensor, grid: tuple[int, int]) -> Features:
        """Transformer blocks; maps from the feature levels, pooled = LayerNorm(mean patch token)."""
        b = tokens.shape[0]
        maps = []
        for i, blk in enumerate(self.blocks):
            tokens = blk(tokens)
            if i in self.out_indices:
                maps.append(tokens[:, 1:].transpose(1, 2).reshape(b, -1, *grid))
        pooled = tokens[:, 1:].mean(dim=1)
        if not self.pooling_pruned:
            pooled = F.layer_norm(pooled, pooled.shape[-1:], eps=self.norm_eps)
        return Features(pooled=pooled, maps=maps)

    def convert_checkpoint(self, state_dict: StateDict) -> StateDict:
        """Published layout -> this module: nesting/``module.`` removed, heads and pool norms dropped,
        pos_embed interpolated to this input size."""
        sd = strip_prefix(unwrap(state_dict), ("module.", "encoder."))
        sd = drop_keys(sd, ("head.", "fc_norm.", "norm.", "mask_token", "decoder"))
        if "pos_embed" in sd and sd["pos_embed"].shape != self.pos_embed.shape:
            g = self.img_size // self.patch_size
            sd["pos_embed"] = resize_pos_embed(sd["pos_embed"], (g, g))
        return sd


class DofaBackbone(WavelengthViT):
    """DOFA ViT: any bands at forward time; maps from 4 evenly spaced blocks (stride = patch size)."""

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
        self.patch_embed = DynamicPatchEmbed(patch_size, embed_dim, wv_dim)
        self._init_vit(embed_dim, depth, num_heads, patch_size, img_size, drop_path_rate)
        self._default_wv = self.wavelengths_for(list(self.band_objects))

    def wavelengths_for(self, bands: Sequence[BandLike] | None) -> torch.Tensor:
        """DOFA wavelengths (nm) of ``bands`` (default: the backbone's bands)."""
        if bands is None:
            return self._default_wv
        return torch.tensor([wavelength_nm(b) for b in self.band_table(bands)], dtype=torch.float64)

    def forward(self, image: torch.Tensor, bands: Sequence[BandLike] | None = None,
                wavelengths: Sequence[float] | None = None) -> Features:
        """Any bands: ``bands`` names (resolved through the backbone's sensor) or ``wavelengths`` in nm."""
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected (B, C, H, W), got shape {tuple(image.shape)}")
        wv = torch.tensor(list(wavelengths), dtype=torch.float64) if wavelengths is not None \
            else self.wavelengths_for(bands)
        if wv.shape[0] != image.shape[1]:
            raise BandError(f"{self.arch}: image has {image.shape[1]} channels but {wv.shape[0]} bands/wavelengths "
                            f"were given (default bands: {list(self.bands)})")
        return self._forward(image, wv)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._forward(x, self._default_wv)

    def _forward(self, x: torch.Tensor, wv: torch.Tensor) -> Features:
        grid = self.check_grid(x.shape[-2], x.shape[-1])
        tokens = self.patch_embed(x, wv).flatten(2).transpose(1, 2)  # B, N, D
        pos = self.pos_embed_for(grid)
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        return self.run_blocks(torch.cat([cls, tokens + pos[:, 1:]], dim=1), grid)


VARIANTS: dict[str, dict[str, Any]] = {
    "dofa_tiny": {"embed_dim": 192, "depth": 6, "num_heads": 3},
    "dofa_small": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "dofa_base_patch16": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "dofa_large_patch16": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
}


def build_dofa(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, **kw: Any) -> DofaBackbone:
        return DofaBackbone(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    return builder
