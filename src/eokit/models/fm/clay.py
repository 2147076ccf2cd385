"""Clay v1 and v1.5 (Made With Clay): a wavelength-conditioned MAE ViT for any sensor.

Clay's patch embedding is generated per input band: each band's wavelength (µm, sine-cosine
encoded and refined by a residual MLP) goes through a one-layer transformer with 128 learned
weight tokens, which emits that band's ``8 x 8`` kernel slice and a shared bias (DOFA-style).
Patch tokens get a 2-D sine-cosine position encoding scaled by the ground sample distance in
all but their last 8 channels, which carry the week/hour (``time``) and lat/lon (``latlon``)
encodings. The transformer is vit-pytorch's pre-norm layout (bias-free qkv/out projections).

Clay trained on several platforms, each with its own band order, wavelengths and statistics
(``configs/metadata.yaml`` of Clay-foundation/model); eokit keeps them in the weights' ``extra``
and uses them by sensor: the wavelengths Clay saw for a band, the platform's mean/std for
normalisation and its GSD. Reference implementation: TerraTorch's ``clay_v1`` and ``clay_v15``
(imported by the equivalence tests in ``tests/models/fm/test_fm_clay.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import BandError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike, is_sar, resolve_bands
from eokit.models.contract import DataContract
from eokit.models.fm._vit import SHA_NOTE, block_indices
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.state_dict import take_prefix, unwrap
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, band_key, get_sensor
from eokit.transforms import NormalizeBands

WAVE_DIM = 128  # width of the wavelength encoding (published)
LATENT_TOKENS = 128  # learned weight tokens of the kernel generator (published)
SAR_WAVES_UM = {"vv": 3.5, "vh": 4.0}  # Clay's pseudo-wavelengths of Sentinel-1 polarisations


# -- Clay's training platforms (configs/metadata.yaml) --------------------------------------------
# platform: eokit sensor, eokit band names (Clay's band order), wavelength µm, mean DN, std DN, gsd m
_S2 = ("sentinel2_l2a", ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"),
       (0.493, 0.56, 0.665, 0.704, 0.74, 0.783, 0.842, 0.865, 1.61, 2.19),
       (1105.0, 1355.0, 1552.0, 1887.0, 2422.0, 2630.0, 2743.0, 2785.0, 2388.0, 1835.0),
       (1809.0, 1757.0, 1888.0, 1870.0, 1732.0, 1697.0, 1742.0, 1648.0, 1470.0, 1379.0), 10.0)
_L8 = ("B4", "B3", "B2", "B5", "B6", "B7")
_L8_WAVES = (0.65, 0.56, 0.48, 0.86, 1.6, 2.2)
_PLATFORMS_V1: dict[str, tuple[str, tuple[str, ...], tuple[float, ...], tuple[float, ...], tuple[float, ...],
                               float]] = {
    "sentinel-2-l2a": _S2,
    "landsat-c2l1": ("landsat8", _L8, _L8_WAVES, (10678.0, 10563.0, 11083.0, 14792.0, 12276.0, 10114.0),
                     (6025.0, 5411.0, 5468.0, 6746.0, 5897.0, 4850.0), 30.0),
    "landsat-c2l2-sr": ("landsat8_sr", _L8, _L8_WAVES, (13705.0, 13310.0, 12474.0, 17801.0, 14615.0, 12701.0),
                        (9578.0, 9408.0, 10144.0, 8277.0, 5300.0, 4522.0), 30.0),
    "naip": ("naip", ("R", "G", "B", "N"), (0.65, 0.56, 0.48, 0.842), (110.16, 115.41, 98.15, 139.04),
             (47.23, 39.82, 35.43, 49.86), 1.0),
    "linz": ("rgb", ("R", "G", "B"), (0.635, 0.555, 0.465), (89.96, 99.46, 89.51), (41.83, 36.96, 31.45), 0.5),
    # v1 trained on linear backscatter (sigma0)
    "sentinel-1-rtc": ("sentinel1_grd_linear", ("VV", "VH"), (3.5, 4.0), (0.123273, 0.027337),
                       (1.492154, 0.122182), 10.0),
}
_PLATFORMS_V15 = {
    **_PLATFORMS_V1,
    # v1.5 trained on backscatter in dB
    "sentinel-1-rtc": ("sentinel1_grd_db", ("VV", "VH"), (3.5, 4.0), (-12.113, -18.673), (8.314, 8.017), 10.0),
    "modis": ("modis", ("B1", "B2", "B3", "B4", "B5", "B6", "B7"), (0.645, 0.858, 0.469, 0.555, 1.24, 1.64, 2.13),
              (1072.0, 1624.0, 931.0, 1023.0, 1599.0, 1404.0, 1051.0),
              (1643.0, 1878.0, 1449.0, 1538.0, 1763.0, 1618.0, 1396.0), 500.0),
}


def _modalities(platforms: dict[str, tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    return {p: {"sensor": s, "bands": list(b), "wavelength_um": list(w), "mean_dn": list(m), "std_dn": list(sd),
                "gsd": g} for p, (s, b, w, m, sd, g) in platforms.items()}


# -- modules ---------------------------------------------------------------------------------------
def sincos_waves(waves: torch.Tensor, dim: int = WAVE_DIM) -> torch.Tensor:
    """(C,) wavelengths in µm -> (C, dim) sine-cosine encoding (Clay's frequencies: 10000^(-i/(dim/2-1)))."""
    omega = torch.arange(dim // 2, device=waves.device).to(waves) / (dim // 2 - 1)
    omega = 1.0 / (10000**omega)
    angles = waves[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_grid(h: int, w: int, dim: int, gsd: float | torch.Tensor) -> torch.Tensor:
    """(h*w, dim) 2-D position encoding with Clay's GSD-scaled frequencies (columns then rows, sin/cos)."""
    if dim % 4:
        raise ModelError(f"Clay's position encoding needs (dim - 8) divisible by 4, got {dim}")
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    omega = torch.arange(dim // 4) / (dim // 4 - 1)
    omega = 1.0 / (10000 ** (2 * omega / dim)) * gsd
    y = rows.flatten()[:, None] * omega[None, :]
    x = cols.flatten()[:, None] * omega[None, :]
    return torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], dim=1).float()


class _ResMLP(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.l1 = nn.Linear(dim, dim)
        self.l2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.gelu(self.l2(F.gelu(self.l1(x))))


class _KernelGenerator(nn.Module):
    """Band encodings (C, WAVE_DIM) -> per-band kernels (C, D*p*p) and a bias (D,)."""

    def __init__(self, out_dim: int, embed_dim: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(WAVE_DIM, 4, activation="gelu", dropout=0.0, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.fc_weight = nn.Linear(WAVE_DIM, out_dim)
        self.fc_bias = nn.Linear(WAVE_DIM, embed_dim)
        self.weight_tokens = nn.Parameter(torch.randn(LATENT_TOKENS, WAVE_DIM) * 0.02)
        self.bias_token = nn.Parameter(torch.randn(1, WAVE_DIM) * 0.02)

    def forward(self, bands: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq = torch.cat([self.weight_tokens, bands, self.bias_token], dim=0)
        out = self.encoder(seq)
        return self.fc_weight(out[LATENT_TOKENS:-1] + bands), self.fc_bias(out[-1])


class WavelengthPatchEmbed(nn.Module):
    """(B, C, H, W) + C wavelengths (µm) -> (B, h*w, D) tokens through a generated ``p x p`` kernel."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size, self.embed_dim = patch_size, embed_dim
        self.weight_generator = _KernelGenerator(patch_size * patch_size * embed_dim, embed_dim)
        self.fclayer = _ResMLP(WAVE_DIM)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, waves_um: torch.Tensor) -> torch.Tensor:
        enc = self.fclayer(sincos_waves(waves_um.to(x.device)))
        weight, bias = self.weight_generator(enc)
        p = self.patch_size
        kernel = weight.view(weight.shape[0], self.embed_dim, p, p).transpose(0, 1)
        out = F.conv2d(x, kernel * 0.02, bias, stride=p)
        return out.flatten(2).transpose(1, 2)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.to_qkv(self.norm(x)).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class _FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([_Attention(dim, heads, dim_head), _FeedForward(dim, hidden)]) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)


class ClayBackbone(Backbone):
    """Clay encoder: any bands with known wavelengths -> Features (band-flexible).

    Maps come from 4 evenly spaced layers at stride = patch size (the deepest after the final
    norm), pooled is the mean of the normalised patch tokens.
    """

    band_flexible = True

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "clay_v15_large",
        dim: int = 1024,
        depth: int = 24,
        heads: int = 16,
        dim_head: int = 64,
        mlp_ratio: float = 4.0,
        patch_size: int = 8,
        img_size: int | None = None,
        gsd: float | None = None,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        if (dim - 8) % 4:
            raise ModelError(f"{arch}: dim - 8 must be divisible by 4 (Clay's position encoding), got dim={dim}")
        self.dim, self.patch_size = dim, patch_size
        self.img_size = img_size or spec.input_size
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.patch_embedding = WavelengthPatchEmbed(patch_size, dim)
        self.transformer = _Transformer(dim, depth, heads, dim_head, int(dim * mlp_ratio))
        self.out_indices = block_indices(depth)
        self.feature_info = [{"channels": dim, "stride": patch_size} for _ in self.out_indices]
        self.num_features = dim
        self._waves = self._wavelength_table()
        self.platform = self._find_platform()
        band_gsds = [b.gsd for b in self.band_objects if b.gsd > 0]
        self.gsd = float(gsd if gsd is not None else self.platform["gsd"] if self.platform
                         else min(band_gsds) if band_gsds else spec.gsd or 10.0)
        self._default_waves = self.wavelengths_um(self.band_objects)

    # -- per-sensor metadata -------------------------------------------------------------------------
    def _wavelength_table(self) -> dict[Band, float]:
        table: dict[Band, float] = {}
        for m in self.spec.extra.get("modalities", {}).values():
            s = get_sensor(m["sensor"])
            for name, um in zip(m["bands"], m["wavelength_um"], strict=True):
                table.setdefault(s.band(name), float(um))
        return table

    def _find_platform(self) -> dict[str, Any] | None:
        """Clay's platform of this backbone's sensor (its statistics and GSD), if Clay trained on one."""
        if self.sensor_name is None:
            return None
        own = get_sensor(self.sensor_name).name
        return next((m for m in self.spec.extra.get("modalities", {}).values() if get_sensor(m["sensor"]).name == own),
                    None)

    def wavelengths_um(self, bands: Sequence[Band]) -> torch.Tensor:
        """Clay's wavelength (µm) of each band: as Clay trained on it, else the band's centre wavelength."""
        out = []
        for b in bands:
            if b in self._waves:
                out.append(self._waves[b])
            elif is_sar(b):
                key = band_key(b.name)[:2]
                if key not in SAR_WAVES_UM:
                    raise BandError(f"{self.arch}: SAR band {b.name!r} is not VV or VH, the polarisations Clay "
                                    "knows; pass wavelengths= (nm) for it")
                out.append(SAR_WAVES_UM[key])
            elif b.center_nm > 0:
                out.append(b.center_nm / 1000.0)
            else:
                raise BandError(f"{self.arch}: band {b.name!r} has no centre wavelength, which Clay needs to "
                                "build its patch embedding; use a sensor whose bands have wavelengths or pass "
                                "wavelengths= (nm) to forward()")
        return torch.tensor(out, dtype=torch.float32)

    def _stats_spec(self) -> WeightSpec:
        """The weights' spec with the statistics of this backbone's platform (Clay's metadata), if any."""
        m = self.platform
        if m is None or m["sensor"] == self.spec.sensor:
            return self.spec
        s = get_sensor(m["sensor"])
        return replace(self.spec, bands=tuple(m["bands"]), sensor=s.name, gsd=float(m["gsd"]),
                       mean=tuple(round(v * s.scale + s.offset, 8) for v in m["mean_dn"]),
                       std=tuple(round(v * s.scale, 8) for v in m["std_dn"]))

    @property
    def data_contract(self) -> DataContract:
        """Bands, the platform's normalisation (Clay's metadata), gsd, input and patch size."""
        c = self._stats_spec().data_contract(self.band_objects, self.sensor_name)
        return replace(c, gsd=self.gsd, input_size=self.img_size, patch_size=self.patch_size)

    def transforms(self) -> NormalizeBands:
        return self._stats_spec().transforms(self.band_objects, self.sensor_name)

    # -- forward -------------------------------------------------------------------------------------
    def _resolve(self, bands: Sequence[BandLike]) -> tuple[Band, ...]:
        own = self.band_objects
        names = [b.name if isinstance(b, Band) else b for b in bands]
        if [band_key(n) for n in names] == [band_key(b.name) for b in own]:
            return own
        if all(isinstance(b, Band) for b in bands):
            return tuple(bands)  # type: ignore[arg-type]
        fallback = get_sensor(self.sensor_name) if self.sensor_name else None
        own_sensor = Sensor(self.arch, own)
        try:
            if all(own_sensor.has(n) for n in names):
                return resolve_bands(list(bands), own_sensor)
            return resolve_bands(list(bands), None, fallback=fallback)
        except BandError as exc:
            raise BandError(f"{self.arch}: {exc}; or pass wavelengths= (nm)") from None

    def forward(self, image: torch.Tensor, bands: Sequence[BandLike] | None = None, *,  # type: ignore[override]
                wavelengths: Sequence[float] | None = None, time: torch.Tensor | None = None,
                latlon: torch.Tensor | None = None, gsd: float | None = None) -> Features:
        """Features of ``image`` (B, C, H, W) with any bands.

        ``bands`` names (or ``wavelengths`` in nm) say what the channels are; ``time`` (B, 4) is
        Clay's week and hour encoding (sin, cos, sin, cos), ``latlon`` (B, 4) its lat/lon encoding
        (zeros when not given, as Clay's inference code does); ``gsd`` in metres (default: the
        platform's, else the bands' finest).
        """
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected (B, C, H, W), got shape {tuple(image.shape)}")
        if wavelengths is not None:
            waves = torch.tensor([float(w) / 1000.0 for w in wavelengths], dtype=torch.float32)
        elif bands is None:
            waves = self._default_waves
        else:
            waves = self.wavelengths_um(self._resolve(bands))
        if waves.shape[0] != image.shape[1]:
            raise BandError(f"{self.arch}: image has {image.shape[1]} channels but {waves.shape[0]} bands/wavelengths "
                            f"were given (default bands: {list(self.bands)})")
        return self._forward(image, waves, time, latlon, self.gsd if gsd is None else gsd)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._forward(x, self._default_waves, None, None, self.gsd)

    def _forward(self, x: torch.Tensor, waves: torch.Tensor, time: torch.Tensor | None, latlon: torch.Tensor | None,
                 gsd: float) -> Features:
        b, _, h, w = x.shape
        p = self.patch_size
        if h % p or w % p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is not a multiple of the patch size {p}; crop or "
                             "pad the input (e.g. eokit.transforms.CenterCrop)")
        gh, gw = h // p, w // p
        tokens = self.patch_embedding(x, waves)
        meta = []
        for name, t in (("time", time), ("latlon", latlon)):
            if t is None:
                t = torch.zeros(b, 4, device=x.device)
            if tuple(t.shape) != (b, 4):
                raise ModelError(f"{self.arch}: {name} must be (B, 4) (sin, cos, sin, cos), got {tuple(t.shape)}")
            meta.append(t.to(tokens))
        pos = sincos_grid(gh, gw, self.dim - 8, gsd).to(tokens)
        enc = torch.cat([pos.expand(b, -1, -1), torch.cat(meta, dim=1)[:, None].expand(-1, gh * gw, -1)], dim=-1)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), tokens + enc], dim=1)
        maps = []
        last = len(self.transformer.layers) - 1
        for i, layer in enumerate(self.transformer.layers):
            attn, ff = layer[0], layer[1]  # type: ignore[index]  # nn.ModuleList of [attention, feed-forward]
            tokens = attn(tokens) + tokens
            tokens = ff(tokens) + tokens
            if i == last:
                tokens = self.transformer.norm(tokens)
            if i in self.out_indices:
                maps.append(tokens[:, 1:].transpose(1, 2).reshape(b, self.dim, gh, gw))
        return Features(pooled=tokens[:, 1:].mean(dim=1), maps=maps)

    # -- weights -------------------------------------------------------------------------------------
    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Clay's Lightning checkpoint -> encoder keys: ``state_dict.model.encoder.*`` (decoder, teacher,
        projection dropped); a bare ``encoder.*`` dict or eokit's own state dict pass too."""
        sd = unwrap(dict(state_dict), ("state_dict",))
        for prefix in ("model.encoder.", "encoder."):
            if any(k.startswith(prefix) for k in sd):
                return take_prefix(sd, prefix)
        return sd


_CITE = ("Clay Foundation Model: an open-source AI model and interface for Earth, Made With Clay (2024), "
         "https://clay-foundation.github.io/model")
_VERSIONS = [
    # arch, tag, family, size, platforms, url, input size, reference module, upstream commit
    ("clay_v1_base", "v1", "Clay", {"dim": 768, "depth": 12, "heads": 12, "dim_head": 64, "mlp_ratio": 4.0},
     _PLATFORMS_V1, "https://huggingface.co/made-with-clay/Clay-legacy/resolve/main/v1/clay-v1-base.ckpt", 224,
     "clay_v1.modules", "3a0c857c9442"),
    ("clay_v15_large", "v1_5", "Clay", {"dim": 1024, "depth": 24, "heads": 16, "dim_head": 64,
                                              "mlp_ratio": 4.0},
     _PLATFORMS_V15, "https://huggingface.co/made-with-clay/Clay/resolve/main/v1.5/clay-v1.5.ckpt", 256,
     "clay_v15.model", "436d304c5f8c"),
]
VARIANTS: dict[str, dict[str, Any]] = {v[0]: v[3] for v in _VERSIONS}


def build_clay(arch: str):
    """Builder of a registered Clay variant (keyword arguments override its size)."""
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, **kw: Any) -> ClayBackbone:
        return ClayBackbone(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    builder.__doc__ = f"Clay {arch}"
    return builder


def _register() -> None:
    for arch, tag, family, size, platforms, url, input_size, ref, commit in _VERSIONS:
        version = "v1" if tag == "v1" else "v1.5"
        desc = (f"Clay {version} encoder: wavelength-conditioned ViT ({size['dim']}-d, {size['depth']} layers, patch 8), "
                "any bands with known wavelengths")
        test = {"img_size": 32, "dim": 64, "depth": 2, "heads": 2, "dim_head": 32}
        register_arch(ArchSpec(arch, build_clay(arch), "clay", desc, {"dense": "upernet"}, test))
        s2 = get_sensor(_S2[0])
        register_weights(WeightSpec(
            arch, tag, source="url", url=url, sha256=None, license="Apache-2.0", family=family, citation=_CITE,
            description=f"{desc}; MAE + DINOv2-teacher pre-training on {', '.join(platforms)}. Encoder only (the "
                        "Lightning checkpoint's decoder and teacher are dropped). " + SHA_NOTE,
            bands=_S2[1], sensor=_S2[0], mean=tuple(round(m * s2.scale, 8) for m in _S2[3]),
            std=tuple(round(s * s2.scale, 8) for s in _S2[4]),
            normalization="(DN - mean) / std per band with the platform's statistics from Clay's metadata.yaml "
                          "(Sentinel-2 L2A: mean 1105..1835, std 1809..1379 DN); eokit applies them by sensor",
            gsd=10.0, input_size=input_size, patch_size=8,
            proof=f"equivalence: terratorch 1.2.13 terratorch.models.backbones.{ref}",
            extra={"modalities": _modalities(platforms), "wavelength_um": list(_S2[2]),
                   "metadata": f"Clay-foundation/model@{commit} configs/metadata.yaml",
                   "feature_levels": "4 evenly spaced layers, stride 8",
                   "forward": "image (B, C, H, W) + bands or wavelengths (nm); time (B, 4), latlon (B, 4), gsd",
                   "filename": url.rsplit("/", 1)[-1]},
        ))


if "clay_v1_base" not in ARCHS:
    _register()

__all__ = ["ClayBackbone", "WavelengthPatchEmbed", "build_clay", "sincos_grid", "sincos_waves"]
