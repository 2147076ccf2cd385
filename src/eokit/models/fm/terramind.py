"""TerraMind v1 (IBM & ESA, 2025): the any-to-any multi-modal encoder, as a raw-pixel ViT.

TerraMind embeds each image modality on its own (a bias-free linear patch embedding over 16x16 patches,
a learned modality embedding and a fixed 2-D sin-cos position embedding), concatenates the tokens of
all modalities given and runs one pre-norm transformer (bias-free LayerNorms; base and large: bias-free
projections and SwiGLU MLPs, tiny and small: biased projections and GELU MLPs). eokit's encoder knows
the six raw-pixel modalities of the published checkpoints:

======== ============================ ==========================
eokit    TerraMind key                bands (sensor)
======== ============================ ==========================
s2l2a    untok_sen2l2a@224            12 Sentinel-2 L2A (no B10)
s2l1c    untok_sen2l1c@224            13 Sentinel-2 L1C
s2rgb    untok_sen2rgb@224            R, G, B (8-bit)
s1grd    untok_sen1grd@224            VV, VH (GRD, dB)
s1rtc    untok_sen1rtc@224            VV, VH (RTC, dB)
dem      untok_dem@224                DEM (Copernicus GLO-30)
======== ============================ ==========================

``forward(image, bands)`` encodes the weights' primary modality (band-adapted by name); built with
``modalities=("s1grd", "dem")`` (or ``"all"``), ``forward_multimodal({"s2l2a": x, "s1grd": y, ...})``
encodes several, and, like TerraTorch's
``TerraMindViT(merge_method="mean")``, averages every layer's tokens over the modalities. Maps are 4
evenly spaced blocks (the deepest after the final norm), stride 16; ``pooled`` is the token mean of
the deepest. The published file holds the whole encoder-decoder (tokenised modalities, captions,
coordinates, the decoder): those parts are dropped on load, by name; any other key is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import BandError, CheckpointMismatchError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike
from eokit.models.fm._modal import modality_channels
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, get_sensor

FAMILY = "TerraMind"
LICENSE = "Apache-2.0"
CITATION = ("Jakubik, J., Yang, F., Blumenstiel, B., et al. (2025). TerraMind: Large-Scale Generative "
            "Multimodality for Earth Observation. ICCV 2025. arXiv:2504.11171")
PROOF = "equivalence: terratorch 1.2.13 terratorch.models.backbones.terramind.model.terramind_vit"

_S2L2A = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
_S2L1C = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")

# eokit modality -> (TerraMind's embedding key, sensor, bands in channel order, pretraining mean, std in
# the sensor's raw units: TerraTorch 1.2.13 v1_pretraining_mean/std)
MODALITIES: dict[str, tuple[str, str, tuple[str, ...], tuple[float, ...], tuple[float, ...]]] = {
    "s2l2a": ("untok_sen2l2a@224", "sentinel2_l2a", _S2L2A,
              (1390.458, 1503.317, 1718.197, 1853.91, 2199.1, 2779.975, 2987.011, 3083.234, 3132.22, 3162.988,
               2424.884, 1857.648),
              (2106.761, 2141.107, 2038.973, 2134.138, 2085.321, 1889.926, 1820.257, 1871.918, 1753.829, 1797.379,
               1434.261, 1334.311)),
    "s2l1c": ("untok_sen2l1c@224", "sentinel2_l1c", _S2L1C,
              (2357.089, 2137.385, 2018.788, 2082.986, 2295.651, 2854.537, 3122.849, 3040.56, 3306.481, 1473.847,
               506.07, 2472.825, 1838.929),
              (1624.683, 1675.806, 1557.708, 1833.702, 1823.738, 1733.977, 1732.131, 1679.732, 1727.26, 1024.687,
               442.165, 1331.411, 1160.419)),
    "s2rgb": ("untok_sen2rgb@224", "rgb", ("R", "G", "B"), (87.271, 80.931, 66.667), (58.767, 47.663, 42.631)),
    "s1grd": ("untok_sen1grd@224", "sentinel1_grd_db", ("VV", "VH"), (-12.599, -20.293), (5.195, 5.890)),
    "s1rtc": ("untok_sen1rtc@224", "sentinel1_rtc_db", ("VV", "VH"), (-10.93, -17.329), (4.391, 4.459)),
    "dem": ("untok_dem@224", "copernicus_dem_glo30", ("DEM",), (670.665,), (951.272,)),
}
_BY_KEY = {v[0]: k for k, v in MODALITIES.items()}
# parts of the published encoder-decoder that the encoder does not use
_NOT_ENCODER = ("decoder", "mask_token", "tokenizer.", "register_tokens")

# terramind_register.py: base/large use bias-free SwiGLU blocks; tiny/small biased GELU MLPs
VARIANTS: dict[str, dict[str, Any]] = {
    "terramind_v1_tiny": {"dim": 192, "depth": 12, "num_heads": 3, "bias": True, "gated": False},
    "terramind_v1_small": {"dim": 384, "depth": 12, "num_heads": 6, "bias": True, "gated": False},
    "terramind_v1_base": {"dim": 768, "depth": 12, "num_heads": 12, "bias": False, "gated": True},
    "terramind_v1_large": {"dim": 1024, "depth": 24, "num_heads": 16, "bias": False, "gated": True},
}


def modality_name(name: str) -> str:
    """eokit's modality name for ``'s2l2a'``, ``'S2L2A'``, ``'untok_sen2l2a@224'`` (TerraTorch's names)."""
    if name in _BY_KEY:
        return _BY_KEY[name]
    key = name.lower().replace("_", "").replace("sen2", "s2").replace("sen1", "s1")
    return {"rgb": "s2rgb", "s1": "s1grd"}.get(key, key)


def sincos_2d(grid: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """(1, grid*grid, dim) fixed position embedding: sin/cos of the row, then of the column index."""
    if dim % 4:
        raise ModelError(f"TerraMind: dim {dim} must be divisible by 4 for the 2-D sin-cos embedding")
    omega = 1.0 / temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    r = rows.reshape(-1, 1).float() * omega
    c = cols.reshape(-1, 1).float() * omega
    return torch.cat([r.sin(), r.cos(), c.sin(), c.cos()], dim=1)[None]


class ModalityEmbedding(nn.Module):
    """Bias-free patch embedding + learned modality embedding for one modality.

    The kernel is stored as a convolution kernel (D, C, p, p), so that band adaptation works on it,
    and applied as TerraMind does: one matrix product over each patch's (row, column, band) pixels.
    """

    def __init__(self, in_chans: int, dim: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size, bias=False)
        self.mod_emb = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.mod_emb, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.patch_size
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, -1, p * p * c)
        weight = self.proj.weight.permute(0, 2, 3, 1).reshape(self.proj.weight.shape[0], -1)
        return F.linear(patches, weight) + self.mod_emb


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, bias: bool = False) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class SwiGLU(nn.Module):
    """fc2(silu(fc1 x) * fc3 x), hidden width 2/3 of ``hidden`` (base and large: bias-free)."""

    def __init__(self, dim: int, hidden: int, bias: bool = False) -> None:
        super().__init__()
        inner = int(2 * hidden / 3)
        self.fc1 = nn.Linear(dim, inner, bias=bias)
        self.fc2 = nn.Linear(inner, dim, bias=bias)
        self.fc3 = nn.Linear(dim, inner, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.silu(self.fc1(x)) * self.fc3(x))


class GeluMlp(nn.Module):
    """fc2(gelu(fc1 x)) (tiny and small)."""

    def __init__(self, dim: int, hidden: int, bias: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; LayerNorms without bias in every size."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, *, bias: bool = False,
                 gated: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6, bias=False)
        self.attn = Attention(dim, heads, bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6, bias=False)
        hidden = int(dim * mlp_ratio)
        self.mlp: nn.Module = SwiGLU(dim, hidden, bias) if gated else GeluMlp(dim, hidden, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TerraMindBackbone(Backbone):
    """TerraMind v1 encoder over raw pixels (see the module docstring).

    ``modality`` is the input of ``forward`` (default: the weights' primary modality, ``s2l2a`` for
    random init); ``modalities`` the others to build for ``forward_multimodal`` (names or ``"all"``).
    Only built modalities are loaded, so single-modality training leaves no parameter unused.
    """

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "terramind_v1_base",
        dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        bias: bool = False,
        gated: bool = True,
        patch_size: int = 16,
        img_size: int | None = None,
        modality: str | None = None,
        modalities: Sequence[str] | str | None = None,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        self.patch_size = patch_size
        self.img_size = img_size or spec.input_size
        self.dim = dim
        primary = modality_name(modality or spec.extra.get("modality") or "s2l2a")
        wanted = list(MODALITIES) if modalities == "all" else [modality_name(m) for m in modalities or ()]
        unknown = [m for m in [primary, *wanted] if m not in MODALITIES]
        if unknown:
            raise ModelError(f"{arch}: modalities {unknown} are not among TerraMind's {sorted(MODALITIES)}")
        self.primary = primary
        self._modality_bands: dict[str, tuple[Band, ...]] = {
            m: self.band_objects if m == primary else tuple(get_sensor(MODALITIES[m][1]).band(b)
                                                            for b in MODALITIES[m][2])
            for m in dict.fromkeys([primary, *wanted])
        }
        self.modalities: dict[str, tuple[str, ...]] = {
            m: tuple(b.name for b in bands) for m, bands in self._modality_bands.items()}
        self.embeddings = nn.ModuleDict(
            {m: ModalityEmbedding(len(b), dim, patch_size) for m, b in self.modalities.items()})
        self.encoder = nn.ModuleList(Block(dim, num_heads, bias=bias, gated=gated) for _ in range(depth))
        self.encoder_norm: nn.Module = nn.LayerNorm(dim, eps=1e-6, bias=False)
        self.register_buffer("pos_emb", sincos_2d(self.img_size // patch_size, dim), persistent=False)
        self.out_indices = sorted({max(round(depth * k / 4) - 1, 0) for k in (1, 2, 3, 4)})
        self.feature_info = [{"channels": dim, "stride": patch_size} for _ in self.out_indices]
        self.num_features = dim
        self.first_conv_keys = [f"embeddings.{primary}.proj.weight"]

    def _pos(self, gh: int, gw: int) -> torch.Tensor:
        pos: torch.Tensor = self.pos_emb  # type: ignore[assignment]  # a registered buffer
        g = round(pos.shape[1] ** 0.5)
        if (gh, gw) == (g, g):
            return pos
        grid = pos.reshape(1, g, g, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        return grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)

    def _tokens(self, m: str, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        h, w = x.shape[-2:]
        p = self.patch_size
        if h % p or w % p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is not a multiple of the patch size {p}; crop or "
                             "pad the input (e.g. eokit.transforms.CenterCrop)")
        emb: ModalityEmbedding = self.embeddings[m]  # type: ignore[assignment]
        return emb(x) + self._pos(h // p, w // p), (h // p, w // p)

    def _run(self, tokens: list[torch.Tensor], grid: tuple[int, int]) -> Features:
        x = torch.cat(tokens, dim=1)
        n, k = tokens[0].shape[1], len(tokens)
        b = x.shape[0]
        maps = []
        for i, blk in enumerate(self.encoder):
            x = blk(x)
            if i in self.out_indices:
                out = self.encoder_norm(x) if i == len(self.encoder) - 1 else x
                merged = out.view(b, k, n, -1).mean(dim=1)  # the mean over modalities, as merge_method="mean"
                maps.append(merged.transpose(1, 2).reshape(b, -1, *grid))
        return Features(pooled=maps[-1].mean(dim=(2, 3)), maps=maps)

    def forward_features(self, x: torch.Tensor) -> Features:
        tokens, grid = self._tokens(self.primary, x)
        return self._run([tokens], grid)

    def forward_multimodal(self, inputs: Mapping[str, torch.Tensor],
                           bands: Mapping[str, Sequence[str]] | None = None) -> Features:
        """Inputs by modality (``s2l2a``, ``s2l1c``, ``s2rgb``, ``s1grd``, ``s1rtc``, ``dem``; TerraTorch's
        names work too), each (B, C, H, W), all of one size.

        ``bands`` names each input's channels (keyed like ``inputs``), which are then selected and
        ordered by name; without it each input must be in ``self.modalities`` order.
        """
        if not inputs:
            raise BandError(f"{self.arch}: forward_multimodal needs at least one of {sorted(self.modalities)}")
        tokens, grids = [], set()
        for name, x in inputs.items():
            m = modality_name(name)
            if m not in self.modalities:
                raise BandError(f"{self.arch}: modality {name!r} is not one of {sorted(self.modalities)} (build "
                                "the backbone with modalities=[...] or 'all' for more)")
            x = modality_channels(x, (bands or {}).get(name), self._modality_bands[m], owner=self.arch,
                                  modality=m)
            t, grid = self._tokens(m, x)
            tokens.append(t)
            grids.add(grid)
        if len(grids) > 1:
            raise BandError(f"{self.arch}: modalities of different sizes {sorted(grids)} (patch grids); resample "
                            "them onto one grid first")
        return self._run(tokens, grids.pop())

    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """TerraMind's encoder-decoder checkpoint -> this encoder (eokit's own state dict passes).

        Kept: the raw-pixel embeddings of the modalities built (renamed ``embeddings.<modality>``;
        linear patch projections become convolution kernels), ``encoder.*`` and ``encoder_norm.weight``.
        Dropped by name: the decoder, mask token, tokeniser, the embeddings of other modalities (raw,
        tokenised, sequences), the fixed sin-cos ``pos_emb`` buffers (recomputed) and the all-zero
        LayerNorm bias buffers.
        """
        sd: dict[str, torch.Tensor] = {}
        p = self.patch_size
        for k, v in state_dict.items():
            if k.startswith(_NOT_ENCODER):
                continue
            if k.startswith("encoder_embeddings."):
                key, _, rest = k[len("encoder_embeddings."):].partition(".")
                if key not in _BY_KEY or _BY_KEY[key] not in self.modalities or rest == "pos_emb":
                    continue  # modalities not built (tokenised ones, captions...); fixed position embeddings
                if rest == "proj.weight" and v.ndim == 2:  # Linear over (ph, pw, c)-ordered pixels -> conv
                    v = v.reshape(v.shape[0], p, p, -1).permute(0, 3, 1, 2).contiguous()
                k = f"embeddings.{_BY_KEY[key]}.{rest}"
            elif k.endswith(("norm1.bias", "norm2.bias")) or k == "encoder_norm.bias":
                if v.abs().max() > 0:
                    raise CheckpointMismatchError(
                        f"{self.arch}: {k} is not zero; TerraMind's LayerNorms have no bias: is it a TerraMind "
                        "v1 checkpoint?")
                continue
            sd[k] = v
        return sd


def build_terramind(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> TerraMindBackbone:
        return TerraMindBackbone(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    builder.__doc__ = f"TerraMind {arch}"
    return builder


_URL = "https://huggingface.co/ibm-esa-geospatial/TerraMind-1.0-{size}/resolve/main/TerraMind_v1_{size}.pt"


def _contract(m: str) -> tuple[str, tuple[str, ...], tuple[float, ...], tuple[float, ...]]:
    """Sensor, bands and the pretraining mean/std of modality ``m`` in the sensor's reflectance units."""
    _, sensor, bands, mean, std = MODALITIES[m]
    s = get_sensor(sensor)
    return (sensor, bands, tuple(round(v * s.scale + s.offset, 7) for v in mean),
            tuple(round(v * s.scale, 7) for v in std))


_PRIMARY = {
    "s2l2a": "Sentinel-2 L2A (12 bands, no B10)",
    "s2l1c": "Sentinel-2 L1C (13 bands)",
    "s1grd": "Sentinel-1 GRD (VV, VH, dB)",
    "s1rtc": "Sentinel-1 RTC (VV, VH, dB)",
}

for _arch in VARIANTS:
    if _arch in ARCHS:
        continue
    _size = _arch.rsplit("_", 1)[1]
    register_arch(ArchSpec(
        _arch, build_terramind(_arch), "terramind",
        f"TerraMind v1 {_size} encoder (ViT-{_size[0].upper()}, patch 16, "
        f"{'bias-free SwiGLU' if VARIANTS[_arch]['gated'] else 'GELU'} blocks, per-modality embeddings: "
        f"{', '.join(MODALITIES)}); several modalities via forward_multimodal",
        {"dense": "upernet"}, {"dim": 64, "depth": 2, "num_heads": 4, "img_size": 32},
    ))
    for _m, _what in _PRIMARY.items():
        _sensor, _bands, _mean, _std = _contract(_m)
        register_weights(WeightSpec(
            _arch, _m, source="url", url=_URL.format(size=_size), sha256=None, license=LICENSE, family=FAMILY,
            citation=CITATION, bands=_bands, sensor=_sensor, mean=_mean, std=_std,
            normalization=f"standardise each band with TerraMind v1's pretraining mean/std of {_m} "
                          f"(raw values: mean {list(MODALITIES[_m][3])}, std {list(MODALITIES[_m][4])})",
            gsd=10.0, input_size=224, patch_size=16, proof=PROOF,
            description=(f"TerraMind v1 {_size} (IBM & ESA, pretrained on TerraMesh) with {_what} as the primary "
                         "input of forward(); create it with modalities='all' (or a list) to load the other "
                         "raw-pixel modality embeddings for forward_multimodal. "
                         "One published file (the encoder-decoder, ibm-esa-geospatial on Hugging Face) for every "
                         "entry of this size; no sha256 is published"),
            extra={"modality": _m, "modalities": {
                m: {"sensor": MODALITIES[m][1], "bands": list(MODALITIES[m][2]), "key": MODALITIES[m][0],
                    "mean": list(MODALITIES[m][3]), "std": list(MODALITIES[m][4])} for m in MODALITIES},
                "merge": "mean over modalities per layer (TerraMindViT merge_method='mean')",
                "feature_levels": "4 evenly spaced blocks, stride 16; pooled = token mean after the final norm"},
        ))
