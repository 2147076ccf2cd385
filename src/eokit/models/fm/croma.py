"""CROMA (Fuller, Millard & Green, NeurIPS 2023): contrastive radar-optical masked autoencoders.

Three encoders share one checkpoint: a Sentinel-1 ViT (VV, VH; half the depth), a Sentinel-2 ViT
(12 L1C bands, cirrus removed) and a joint cross-attention encoder whose queries are the radar tokens
and whose context is the optical tokens. Patches are 8x8 pixels embedded by a linear layer; there is no
position embedding: every attention adds a 2-D ALiBi bias (minus the patch distance times a per-head
slope), which eokit computes for the input's own patch grid, so any multiple of 8 works.

eokit's backbone exposes one encoder per ``forward`` (``s2`` or ``s1`` weights; the ``joint`` weights use
their optical encoder) and all of them through ``forward_multimodal({"s1": ..., "s2": ...})``. Maps are
4 evenly spaced blocks of the encoder (the deepest after its final norm: CROMA's "encodings"), stride
8; ``pooled`` is CROMA's GAP representation (``*_GAP_FFN`` of the token mean; ``joint_GAP`` for both).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import BandError, CheckpointMismatchError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike, is_sar
from eokit.models.fm._modal import modality_channels
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, get_sensor

FAMILY = "CROMA"
LICENSE = "MIT"
CITATION = ("Fuller, A., Millard, K., Green, J. R. (2023). CROMA: Remote Sensing Representations with "
            "Contrastive Radar-Optical Masked Autoencoders. NeurIPS 2023. arXiv:2311.00566")
PROOF = "equivalence: torchgeo 0.8.1 torchgeo.models.croma"
S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
S1_BANDS = ("VV", "VH")
SENSORS = {"s1": "sentinel1_grd_db", "s2": "sentinel2_l1c"}

VARIANTS: dict[str, dict[str, Any]] = {
    "croma_base": {"dim": 768, "depth": 12, "num_heads": 16},
    "croma_large": {"dim": 1024, "depth": 24, "num_heads": 16},
}


def alibi_2d(num_heads: int, grid: tuple[int, int], device: torch.device | None = None) -> torch.Tensor:
    """(1, heads, N, N) attention bias: minus the Euclidean patch distance times slope 2^(-8(h+1)/heads)."""
    gh, gw = grid
    rows, cols = torch.meshgrid(torch.arange(gh, device=device), torch.arange(gw, device=device), indexing="ij")
    pts = torch.stack([rows.reshape(-1), cols.reshape(-1)], dim=1).float()
    dist = torch.cdist(pts, pts)  # (N, N), patches in row-major order
    start = 2 ** (-(2 ** -(math.log2(num_heads) - 3)))
    slopes = torch.tensor([start ** (i + 1) for i in range(num_heads)], device=device)
    return (-dist[None] * slopes[:, None, None])[None]


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, d = t.shape
    return t.view(b, n, heads, d // heads).transpose(1, 2)


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention with an additive position bias (no qkv bias)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ModelError(f"CROMA: dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.input_norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        q, k, v = (_heads(t, self.heads) for t in self.to_qkv(self.input_norm(x)).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.to_out(out.transpose(1, 2).flatten(2))


class CrossAttention(nn.Module):
    """Pre-norm cross-attention (queries from x, keys/values from context, one shared norm)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.input_norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x, context = self.input_norm(x), self.input_norm(context)
        q, k, v = _heads(self.to_q(x), self.heads), _heads(self.to_k(context), self.heads), \
            _heads(self.to_v(context), self.heads)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.to_out(out.transpose(1, 2).flatten(2))


class FeedForward(nn.Module):
    """Pre-norm GELU MLP (4x); ``net`` indices follow the published checkpoint (0: in, 3: out)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.input_norm = nn.LayerNorm(dim)
        self.net = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Identity(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.input_norm(x))


class Transformer(nn.Module):
    """Residual [self-attention, feed-forward] layers and a final LayerNorm; returns every layer's output."""

    def __init__(self, dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.ModuleList([SelfAttention(dim, heads), FeedForward(dim)])
                                    for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for layer in self.layers:
            attn, ffn = cast(nn.ModuleList, layer)  # [attention, feed-forward]
            x = attn(x, bias) + x
            x = ffn(x) + x
            outs.append(x)
        outs[-1] = self.norm_out(x)
        return outs


class JointTransformer(nn.Module):
    """Residual [self-attention, cross-attention, feed-forward] layers and a final LayerNorm."""

    def __init__(self, dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([SelfAttention(dim, heads), CrossAttention(dim, heads), FeedForward(dim)])
            for _ in range(depth)
        )
        self.norm_out = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            attn, cross, ffn = cast(nn.ModuleList, layer)  # [attention, cross-attention, feed-forward]
            x = attn(x, bias) + x
            x = cross(x, context, bias) + x
            x = ffn(x) + x
        return self.norm_out(x)


class Encoder(nn.Module):
    """One modality's ViT: an 8x8 patch embedding (a convolution equal to CROMA's linear layer) + transformer."""

    def __init__(self, in_chans: int, dim: int, depth: int, patch_size: int = 8) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.linear_input = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)
        self.transformer = Transformer(dim, depth, 16)  # CROMA's modality encoders always use 16 heads

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> list[torch.Tensor]:
        tokens = self.linear_input(x).flatten(2).transpose(1, 2)  # (B, N, D), patches row-major
        return self.transformer(tokens, bias)


def _gap_ffn(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))


class CromaBackbone(Backbone):
    """CROMA encoders behind the backbone contract (see the module docstring)."""

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "croma_base",
        dim: int = 768,
        depth: int = 12,
        num_heads: int = 16,
        patch_size: int = 8,
        img_size: int | None = None,
        modality: str | None = None,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        self.patch_size = patch_size
        self.img_size = img_size or spec.input_size
        if self.img_size % patch_size:
            raise ModelError(f"{arch}: img_size {self.img_size} is not a multiple of the patch size {patch_size}")
        kind = modality or spec.extra.get("modality") or ("s1" if all(is_sar(b) for b in self.band_objects)
                                                          else "s2")
        if kind not in ("s1", "s2", "joint"):
            raise ModelError(f"{arch}: modality {kind!r} is not one of s1, s2, joint")
        self.kind = kind
        self.primary = "s1" if kind == "s1" else "s2"
        self.num_heads = num_heads
        built = ("s1", "s2") if kind == "joint" else (kind,)
        self.modalities: dict[str, tuple[str, ...]] = {}
        self._modality_bands: dict[str, tuple[Band, ...]] = {}
        for m in built:
            own = self.band_objects if m == self.primary else tuple(
                get_sensor(SENSORS[m]).band(b) for b in (S1_BANDS if m == "s1" else S2_BANDS))
            self._modality_bands[m] = own
            self.modalities[m] = tuple(b.name for b in own)
            m_depth = depth // 2 if m == "s1" else depth
            setattr(self, f"{m}_encoder", Encoder(len(own), dim, m_depth, patch_size))
            setattr(self, f"{m}_GAP_FFN", _gap_ffn(dim))
        self.joint_encoder = JointTransformer(dim, depth // 2, num_heads) if kind == "joint" else None
        p_depth = depth // 2 if self.primary == "s1" else depth
        self.out_indices = sorted({max(round(p_depth * k / 4) - 1, 0) for k in (1, 2, 3, 4)})
        self.feature_info = [{"channels": dim, "stride": patch_size} for _ in self.out_indices]
        self.num_features = dim
        self.first_conv_keys = [f"{self.primary}_encoder.linear_input.weight"]
        self._bias: dict[tuple[int, int, str], torch.Tensor] = {}

    def _attn_bias(self, grid: tuple[int, int], ref: torch.Tensor) -> torch.Tensor:
        key = (*grid, str(ref.device))
        if key not in self._bias:
            self._bias[key] = alibi_2d(self.num_heads, grid, ref.device)
        return self._bias[key].to(ref.dtype)

    def _encode(self, m: str, x: torch.Tensor) -> tuple[list[torch.Tensor], tuple[int, int]]:
        h, w = x.shape[-2:]
        p = self.patch_size
        if h % p or w % p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is not a multiple of the patch size {p}; crop or "
                             "pad the input (e.g. eokit.transforms.CenterCrop)")
        grid = (h // p, w // p)
        encoder: Encoder = getattr(self, f"{m}_encoder")
        return encoder(x, self._attn_bias(grid, x)), grid

    def _features(self, m: str, x: torch.Tensor) -> Features:
        outs, (gh, gw) = self._encode(m, x)
        b = x.shape[0]
        maps = [outs[i].transpose(1, 2).reshape(b, -1, gh, gw) for i in self.out_indices]
        gap: nn.Module | None = getattr(self, f"{m}_GAP_FFN")
        tokens = outs[-1].mean(dim=1)
        return Features(pooled=gap(tokens) if gap is not None else tokens, maps=maps)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._features(self.primary, x)

    def forward_multimodal(self, inputs: Mapping[str, torch.Tensor],
                           bands: Mapping[str, Sequence[str]] | None = None) -> Features:
        """Inputs by modality (``s1``: VV, VH; ``s2``: the 12 bands), each (B, C, H, W).

        ``bands`` names each input's channels (e.g. a multi-modal sample's ``bands``), which are then
        selected and ordered by name; without it each input must be in ``self.modalities`` order.
        One modality: that encoder's features. Both (``joint`` weights): the joint encoder's output is
        the deepest map and its token mean the pooled vector (CROMA's joint_GAP); the shallower maps are
        the optical encoder's.
        """
        unknown = sorted(set(inputs) - set(self.modalities))
        if unknown or not inputs:
            raise BandError(f"{self.arch}.{self.spec.tag}: modalities {unknown or '{}'} are not among "
                            f"{sorted(self.modalities)}; pass a dict with keys from those")
        inputs = {m: modality_channels(x, (bands or {}).get(m), self._modality_bands[m], owner=self.arch,
                                       modality=m) for m, x in inputs.items()}
        if len(inputs) == 1:
            (m, x), = inputs.items()
            return self._features(m, x)
        assert self.joint_encoder is not None  # two modalities are only built for the joint weights
        opt = self._features("s2", inputs["s2"])
        sar, grid = self._encode("s1", inputs["s1"])
        opt_tokens = opt.maps[-1].flatten(2).transpose(1, 2)
        joint = self.joint_encoder(sar[-1], opt_tokens, self._attn_bias(grid, sar[-1]))
        b = joint.shape[0]
        deepest = joint.transpose(1, 2).reshape(b, -1, *grid)
        return Features(pooled=joint.mean(dim=1), maps=[*opt.maps[:-1], deepest])

    def _prune_pooling(self) -> None:
        for m in self.modalities:
            setattr(self, f"{m}_GAP_FFN", None)

    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """CROMA's checkpoint (one sub-dict per part) -> the parts this backbone builds.

        Parts of other modalities (``s1_*`` for the optical weights, ``joint_encoder`` without both) are
        dropped; the linear patch embeddings become convolution kernels. A TorchGeo ``CROMA`` module's
        flat state dict (its ``attn_bias`` buffer is recomputed) and eokit's own state dict load too.
        """
        sd = {k: v for k, v in state_dict.items() if k != "attn_bias"}  # TorchGeo's model: a derived buffer
        parts = ("s1_encoder.", "s1_GAP_FFN.", "s2_encoder.", "s2_GAP_FFN.", "joint_encoder.")
        other = [k for k in sd if not k.startswith(parts)]
        if other:
            raise CheckpointMismatchError(
                f"{self.arch}: checkpoint keys {sorted(other)[:8]} are not under CROMA's parts {list(parts)}; "
                "is it a CROMA checkpoint (CROMA_base.pt / CROMA_large.pt)?")
        keep = [f"{m}_encoder." for m in self.modalities]
        if not self.pooling_pruned:
            keep += [f"{m}_GAP_FFN." for m in self.modalities]
        if self.joint_encoder is not None:
            keep.append("joint_encoder.")
        sd = {k: v for k, v in sd.items() if k.startswith(tuple(keep))}
        for m in self.modalities:
            key = f"{m}_encoder.linear_input.weight"
            w = sd.get(key)
            if w is not None and w.ndim == 2:  # Linear over (c, i, j)-ordered patch pixels -> conv kernel
                p = self.patch_size
                if w.shape[1] % (p * p):
                    raise CheckpointMismatchError(
                        f"{self.arch}: {key} has shape {tuple(w.shape)}, not a linear layer over {p}x{p} patches")
                sd[key] = w.reshape(w.shape[0], w.shape[1] // (p * p), p, p)
        return sd


def build_croma(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> CromaBackbone:
        return CromaBackbone(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    builder.__doc__ = f"CROMA {arch}"
    return builder


_URLS = {
    "croma_base": "https://hf.co/torchgeo/croma/resolve/387883f08af79d777167519c57cd826eda89a16f/"
                  "CROMA_base-0238d814.pt",
    "croma_large": "https://huggingface.co/torchgeo/croma/resolve/92cb1a0f4e34c6c01558baf070197c01255382f6/"
                   "CROMA_large-921e69ad.pt",
}
# use_croma.py normalises each channel by its batch statistics: clip((x - (mu - 2 sigma)) / (4 sigma), 0, 1).
# eokit's contract uses the sensor's dataset statistics for mu, sigma: mean mu - 2 sigma, std 4 sigma.
_NORM = ("per image batch and channel: clip((x - (mu - 2 sigma)) / (4 sigma), 0, 1) with the batch's channel "
         "mean mu and std sigma (use_croma.py, from SatMAE/SeCo); eokit's contract uses the sensor's dataset "
         "mu, sigma instead (mean = mu - 2 sigma, std = 4 sigma), without the clip")


def _stats(sensor: str, bands: tuple[str, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mu - 2 sigma, 4 sigma) per band from the sensor's default statistics."""
    own = [get_sensor(sensor).band(b) for b in bands]
    return tuple(round(b.mean - 2 * b.std, 6) for b in own), tuple(round(4 * b.std, 6) for b in own)


for _arch in VARIANTS:
    if _arch in ARCHS:
        continue
    _size = _arch.split("_")[1]
    register_arch(ArchSpec(
        _arch, build_croma(_arch), "croma",
        f"CROMA {_size} (ViT, patch 8, 2-D ALiBi attention bias; S1 encoder of half depth, S2 encoder, "
        "joint cross-attention encoder via forward_multimodal)",
        {"dense": "upernet"}, {"dim": 64, "depth": 2, "img_size": 32},
    ))
    _s2_mean, _s2_std = _stats("sentinel2_l1c", S2_BANDS)
    _s1_mean, _s1_std = _stats("sentinel1_grd_db", S1_BANDS)
    _s1 = {"sensor": "sentinel1_grd_db", "bands": list(S1_BANDS)}
    _s2 = {"sensor": "sentinel2_l1c", "bands": list(S2_BANDS)}
    for _tag, _sensor, _bands, _mean, _std, _mods, _what in (
        ("s2", "sentinel2_l1c", S2_BANDS, _s2_mean, _s2_std, {"s2": _s2},
         "the optical (Sentinel-2, 12 bands without B10) encoder"),
        ("s1", "sentinel1_grd_db", S1_BANDS, _s1_mean, _s1_std, {"s1": _s1},
         "the radar (Sentinel-1 GRD VV, VH in dB) encoder"),
        ("joint", "sentinel2_l1c", S2_BANDS, _s2_mean, _s2_std, {"s1": _s1, "s2": _s2},
         "all three encoders: forward() runs the optical one, forward_multimodal({'s1', 's2'}) the joint one"),
    ):
        register_weights(WeightSpec(
            _arch, _tag, source="url", url=_URLS[_arch], sha256=None, license=LICENSE, family=FAMILY,
            citation=CITATION, bands=_bands, sensor=_sensor, mean=_mean, std=_std, normalization=_NORM,
            gsd=10.0, input_size=120, patch_size=8, proof=PROOF,
            description=(f"CROMA {_size} pretrained on SSL4EO-S12 (Sentinel-1 GRD + Sentinel-2 L1C, 120x120 px): "
                         f"{_what}. One published file for all three entries (TorchGeo's copy of "
                         "antofuller/CROMA; no sha256 is published, the file name carries its first 8 hex "
                         "digits); its parts of other modalities are dropped on load"),
            extra={"modality": _tag, "modalities": _mods,
                   "container": "torch .pt: {s1_encoder, s1_GAP_FFN, s2_encoder, s2_GAP_FFN, joint_encoder}",
                   "feature_levels": "4 evenly spaced encoder blocks, stride 8; pooled = GAP-FFN of the token mean"},
        ))
