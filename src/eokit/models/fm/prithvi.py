"""Prithvi-EO-1.0 and Prithvi-EO-2.0 (IBM/NASA): temporal ViTs on six HLS bands.

A Prithvi encoder embeds a (C, T, H, W) cube with a 3-D patch embedding (tubelet of one
frame by ``p x p`` pixels), adds a fixed 3-D sine-cosine position embedding over
(frame, row, column) and, in the TL variants, learned-scale sine-cosine encodings of the
acquisition date (year, day of year) and location (lat, lon). The published checkpoints are
the whole MAE (encoder and decoder); eokit keeps the encoder.

Facts from Jakubik et al. (2023) and Szwarcman et al. (2024) and the Hugging Face model cards
of ``ibm-nasa-geospatial``; the reference implementation is TerraTorch's ``prithvi_mae.py``,
which the equivalence tests in ``tests/models/fm/test_fm_prithvi.py`` import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import BandError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike
from eokit.models.fm._vit import SHA_NOTE, block_indices
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.state_dict import drop_keys, strip_prefix, unwrap
from eokit.models.weights import WeightSpec
from eokit.sensors import Sensor

HLS_BANDS = ("BLUE", "GREEN", "RED", "NIR_NARROW", "SWIR_1", "SWIR_2")


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(M,) positions -> (M, dim) sine-cosine embedding (MAE convention: sines first), float64."""
    if dim % 2:
        raise ModelError(f"sine-cosine embedding needs an even dimension, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    angles = positions.double().reshape(-1)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_3d(dim: int, grid: tuple[int, int, int]) -> torch.Tensor:
    """Fixed (T*H*W, dim) position embedding: 6/16 of ``dim`` for columns, 6/16 rows, 4/16 frames."""
    if dim % 16:
        raise ModelError(f"Prithvi's 3-D position embedding needs embed_dim divisible by 16, got {dim}")
    t, h, w = grid
    col = sincos_1d(dim // 16 * 6, torch.arange(w)).repeat(t * h, 1)
    row = sincos_1d(dim // 16 * 6, torch.arange(h)).repeat_interleave(w, dim=0).repeat(t, 1)
    frame = sincos_1d(dim // 16 * 4, torch.arange(t)).repeat_interleave(h * w, dim=0)
    return torch.cat([col, row, frame], dim=1).float()


def time_coords(dates: Sequence[Sequence[str]]) -> torch.Tensor:
    """ISO dates of a batch of time series (B lists of T dates, a Sample's ``dates``) -> (B, T, 2) year, day of year.

    The ``time=`` input of the TL variants.
    """
    import datetime as dt

    try:
        rows = [[(float(d.year), float(d.timetuple().tm_yday)) for d in map(dt.date.fromisoformat, series)]
                for series in dates]
    except (TypeError, ValueError) as exc:
        raise ModelError(f"time_coords: dates must be ISO strings like '2021-06-30' per sample and frame ({exc}); "
                         f"got {list(dates)[:2]}") from None
    if len({len(r) for r in rows}) != 1:
        raise ModelError(f"time_coords: every sample needs the same number of dates, got {[len(r) for r in rows]}")
    return torch.tensor(rows, dtype=torch.float32)


class PatchEmbed3d(nn.Module):
    """Non-overlapping (1, p, p) tubelets of a (B, C, T, H, W) cube -> (B, T*h*w, D) tokens."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, tubelet: int = 1) -> None:
        super().__init__()
        kernel = (tubelet, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class CoordEncoder(nn.Module):
    """Sine-cosine encoding of two coordinates (year & day of year, or lat & lon) times a learned scale."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.first_dim = embed_dim // 2
        self.second_dim = embed_dim - self.first_dim
        self.scale = nn.Parameter(torch.full((1,), 0.1))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """(..., 2) -> (..., embed_dim)."""
        lead = coords.shape[:-1]
        a = _sincos_float(self.first_dim, coords[..., 0])
        b = _sincos_float(self.second_dim, coords[..., 1])
        return self.scale * torch.cat([a, b], dim=-1).reshape(*lead, -1)


def _sincos_float(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """Sine-cosine embedding computed in the coordinates' own float dtype (as the published model does)."""
    pos = pos.float() if not pos.is_floating_point() else pos
    omega = torch.arange(dim // 2, dtype=pos.dtype, device=pos.device)
    omega = 1.0 / 10000 ** (omega / (dim / 2.0))
    angles = pos.reshape(-1)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class PrithviBackbone(Backbone):
    """Prithvi encoder: (B, C, H, W) or (B, T, C, H, W) HLS cubes -> Features.

    ``num_frames`` is the number of frames the backbone takes (1 for single images; the
    published models were pre-trained on 3 or 4); the position embedding is recomputed for it.
    Maps come from 4 evenly spaced blocks at stride = patch size with the frames stacked along
    channels (``num_frames * embed_dim``, TerraTorch's layout; the deepest map is after the final
    norm), pooled is the mean of the normalised patch tokens.
    """

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "prithvi_eo_v2_300",
        embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        patch_size: int = 16,
        num_frames: int = 1,
        img_size: int | None = None,
        coords: bool = False,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        if num_frames < 1:
            raise ModelError(f"{arch}: num_frames must be >= 1, got {num_frames}")
        self.embed_dim, self.patch_size, self.num_frames = embed_dim, patch_size, num_frames
        self.img_size = img_size or spec.input_size
        self.patch_embed = PatchEmbed3d(self.in_chans, embed_dim, patch_size)
        self.coords = coords
        self.temporal_embed_enc = CoordEncoder(embed_dim) if coords else None
        self.location_embed_enc = CoordEncoder(embed_dim) if coords else None
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        dpr = [float(x) for x in torch.linspace(0, drop_path_rate, depth)]
        # imported here: reading the catalogue does not import timm
        from timm.models.vision_transformer import Block

        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=dpr[i], norm_layer=nn.LayerNorm)
            for i in range(depth)  # LayerNorm eps 1e-5, as published (timm's default is 1e-6)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.out_indices = block_indices(depth)
        self.feature_info = [{"channels": embed_dim * num_frames, "stride": patch_size} for _ in self.out_indices]
        self.num_features = embed_dim
        self.first_conv_keys = ["patch_embed.proj.weight"]
        self._pos_cache: dict[tuple[int, int, int], torch.Tensor] = {}
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)

    # -- position embedding ------------------------------------------------------------------
    def pos_embed(self, frames: int, h: int, w: int) -> torch.Tensor:
        """(1, 1 + frames*h*w, D) fixed position embedding (cls first) for a token grid.

        Computed on the grid of ``img_size`` and, for another input size, interpolated bicubically
        (corners aligned) to it, as the published model does.
        """
        key = (frames, h, w)
        if key not in self._pos_cache:
            g = self.img_size // self.patch_size
            pos = sincos_3d(self.embed_dim, (frames, g, g))
            if (h, w) != (g, g):
                grid = pos.reshape(frames, g, g, self.embed_dim).permute(0, 3, 1, 2)
                grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=True)
                pos = grid.permute(0, 2, 3, 1).reshape(-1, self.embed_dim)
            self._pos_cache[key] = torch.cat([torch.zeros(1, self.embed_dim), pos])[None]
        return self._pos_cache[key]

    # -- forward -------------------------------------------------------------------------------
    def forward(self, image: torch.Tensor, bands: Sequence[str] | None = None, *,  # type: ignore[override]
                time: torch.Tensor | None = None, location: torch.Tensor | None = None) -> Features:
        """Features of (B, C, H, W) or (B, T, C, H, W) ``image``.

        ``time``: (B, T, 2) or (B, 2) year and day of year of each frame (:func:`time_coords` makes
        it from a batch's ``dates``); ``location``: (B, 2)
        latitude and longitude in degrees. Only the TL variants use them; without them (as in
        their pre-training's metadata dropout) the encodings are left out.
        """
        if image.ndim not in (4, 5):
            raise BandError(f"{self.arch}: expected (B, C, H, W) or (B, T, C, H, W), got shape {tuple(image.shape)}")
        cube = image if image.ndim == 5 else image[:, None]
        cube = self.select_bands(cube, bands)
        return self._forward(cube.transpose(1, 2), time, location)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._forward(x[:, :, None], None, None)

    def _forward(self, x: torch.Tensor, time: torch.Tensor | None, location: torch.Tensor | None) -> Features:
        b, _, t, h, w = x.shape
        p = self.patch_size
        if t != self.num_frames:
            raise ModelError(
                f"{self.arch}: input has {t} frame(s) but the backbone was built for num_frames={self.num_frames}; "
                f"build it with num_frames={t} (create_backbone(..., num_frames={t}))"
            )
        if h < p or w < p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is smaller than the patch size {p}")
        gh, gw = h // p, w // p
        tokens = self.patch_embed(x)  # B, t*gh*gw, D (pixels beyond the last full patch are ignored)
        pos = self.pos_embed(t, gh, gw).to(tokens)
        tokens = tokens + pos[:, 1:]
        if self.temporal_embed_enc is not None and time is not None:
            tc = time.to(tokens.device)
            tc = tc[:, None] if tc.ndim == 2 else tc
            if tc.shape[:2] != (b, t) or tc.shape[-1] != 2:
                raise ModelError(f"{self.arch}: time must be (B, T, 2) year and day of year, got {tuple(time.shape)} "
                                 f"for an input of {b} samples x {t} frames")
            tokens = tokens + self.temporal_embed_enc(tc).repeat_interleave(gh * gw, dim=1)
        if self.location_embed_enc is not None and location is not None:
            if tuple(location.shape) != (b, 2):
                raise ModelError(f"{self.arch}: location must be (B, 2) latitude and longitude, got "
                                 f"{tuple(location.shape)}")
            tokens = tokens + self.location_embed_enc(location.to(tokens.device))[:, None]
        for enc, given in ((self.temporal_embed_enc, time), (self.location_embed_enc, location)):
            if enc is not None and given is None:  # keep the scale in the graph (DDP); adds exactly zero
                tokens = tokens + 0.0 * enc.scale
        cls = (self.cls_token + pos[:, :1]).expand(b, -1, -1)
        tokens = torch.cat([cls, tokens], dim=1)
        maps = []
        last = len(self.blocks) - 1
        for i, blk in enumerate(self.blocks):
            tokens = blk(tokens)
            if i == last:
                tokens = self.norm(tokens)
            if i in self.out_indices:
                grid = tokens[:, 1:].reshape(b, t, gh, gw, self.embed_dim)
                maps.append(grid.permute(0, 1, 4, 2, 3).reshape(b, t * self.embed_dim, gh, gw))
        pooled = maps[-1].mean(dim=(2, 3)) if self.pooling_pruned else tokens[:, 1:].mean(dim=1)
        return Features(pooled=pooled, maps=maps)

    # -- weights -------------------------------------------------------------------------------
    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Published MAE -> encoder keys.

        Prithvi-EO-2.0 files hold ``encoder.*``/``decoder.*``; Prithvi-EO-1.0 files the flat MAE
        (``blocks.*`` beside ``decoder_*``, ``mask_token``). The decoder is dropped, and so is the
        fixed sine-cosine ``pos_embed`` (recomputed for the input's frames and size); the date and
        location scales are dropped for a variant without them.
        """
        sd = unwrap(dict(state_dict), ("state_dict", "model"))
        sd = {k.replace("_timm_module.", ""): v for k, v in sd.items()}
        sd = strip_prefix(sd, ("encoder.",))
        sd = drop_keys(sd, ("decoder", "mask_token", "pos_embed"))
        if not self.coords:
            sd = drop_keys(sd, ("temporal_embed_enc.", "location_embed_enc."))
        return sd


_LICENSE = "Apache-2.0"
_CITE_V1 = ("Jakubik et al. (2023), Foundation Models for Generalist Geospatial Artificial Intelligence, "
            "arXiv:2310.18660")
_CITE_V2 = ("Szwarcman et al. (2024), Prithvi-EO-2.0: A Versatile Multi-Temporal Foundation Model for Earth "
            "Observation Applications, arXiv:2412.02732")
_PROOF = "equivalence: terratorch 1.2.13 terratorch.models.backbones.prithvi_mae"
# HLS statistics as published (reflectance x 10000), Blue, Green, Red, NIR Narrow, SWIR 1, SWIR 2
_V1_MEAN = (775.0, 1081.0, 1229.0, 2497.0, 2204.0, 1611.0)
_V1_STD = (1282.0, 1270.0, 1399.0, 1368.0, 1292.0, 1155.0)
_V2_MEAN = (1087.0, 1342.0, 1433.0, 2734.0, 1958.0, 1363.0)
_V2_STD = (2248.0, 2179.0, 2178.0, 1850.0, 1242.0, 1049.0)

# arch, family, HF repo, file, description, size kwargs, published frames, stats, citation
_VARIANTS: list[tuple[str, str, str, str, str, dict[str, Any], int, str]] = [
    ("prithvi_eo_v1_100", "Prithvi-EO-1.0", "Prithvi-EO-1.0-100M", "Prithvi_EO_V1_100M.pt",
     "Prithvi-EO-1.0 100M: ViT-B/16 (768-d, 12 blocks) with 3-D patch and position embeddings",
     {"embed_dim": 768, "depth": 12, "num_heads": 12, "patch_size": 16}, 3, "v1"),
    ("prithvi_eo_v2_tiny_tl", "Prithvi-EO-2.0", "Prithvi-EO-2.0-tiny-TL", "Prithvi_EO_V2_tiny_TL.pt",
     "Prithvi-EO-2.0 tiny-TL: ViT-Ti/16 (192-d, 12 blocks) with date and location embeddings",
     {"embed_dim": 192, "depth": 12, "num_heads": 3, "patch_size": 16, "coords": True}, 1, "v2"),
    ("prithvi_eo_v2_100_tl", "Prithvi-EO-2.0", "Prithvi-EO-2.0-100M-TL", "Prithvi_EO_V2_100M_TL.pt",
     "Prithvi-EO-2.0 100M-TL: ViT-B/16 (768-d, 12 blocks) with date and location embeddings",
     {"embed_dim": 768, "depth": 12, "num_heads": 12, "patch_size": 16, "coords": True}, 4, "v2"),
    ("prithvi_eo_v2_300", "Prithvi-EO-2.0", "Prithvi-EO-2.0-300M", "Prithvi_EO_V2_300M.pt",
     "Prithvi-EO-2.0 300M: ViT-L/16 (1024-d, 24 blocks) with 3-D patch and position embeddings",
     {"embed_dim": 1024, "depth": 24, "num_heads": 16, "patch_size": 16}, 4, "v2"),
    ("prithvi_eo_v2_300_tl", "Prithvi-EO-2.0", "Prithvi-EO-2.0-300M-TL", "Prithvi_EO_V2_300M_TL.pt",
     "Prithvi-EO-2.0 300M-TL: ViT-L/16 (1024-d, 24 blocks) with date and location embeddings",
     {"embed_dim": 1024, "depth": 24, "num_heads": 16, "patch_size": 16, "coords": True}, 4, "v2"),
    ("prithvi_eo_v2_600", "Prithvi-EO-2.0", "Prithvi-EO-2.0-600M", "Prithvi_EO_V2_600M.pt",
     "Prithvi-EO-2.0 600M: ViT-H/14 (1280-d, 32 blocks) with 3-D patch and position embeddings",
     {"embed_dim": 1280, "depth": 32, "num_heads": 16, "patch_size": 14}, 4, "v2"),
    ("prithvi_eo_v2_600_tl", "Prithvi-EO-2.0", "Prithvi-EO-2.0-600M-TL", "Prithvi_EO_V2_600M_TL.pt",
     "Prithvi-EO-2.0 600M-TL: ViT-H/14 (1280-d, 32 blocks) with date and location embeddings",
     {"embed_dim": 1280, "depth": 32, "num_heads": 16, "patch_size": 14, "coords": True}, 4, "v2"),
]

VARIANTS: dict[str, dict[str, Any]] = {v[0]: v[5] for v in _VARIANTS}


def build_prithvi(arch: str):
    """Builder of a registered Prithvi variant (keyword arguments override its size)."""
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> PrithviBackbone:
        return PrithviBackbone(bands, sensor, spec, arch=arch, **{**VARIANTS[arch], **kw})

    builder.__doc__ = f"Prithvi {arch}"
    return builder


def _register() -> None:
    for arch, family, repo, fname, desc, size, frames, version in _VARIANTS:
        p = size["patch_size"]
        test = {"img_size": 2 * p, "embed_dim": 64, "depth": 2, "num_heads": 2}
        register_arch(ArchSpec(arch, build_prithvi(arch), "prithvi", desc, {"dense": "upernet"}, test))
        mean, std = (_V1_MEAN, _V1_STD) if version == "v1" else (_V2_MEAN, _V2_STD)
        coords = bool(size.get("coords"))
        register_weights(WeightSpec(
            arch, "hls", source="url", url=f"https://huggingface.co/ibm-nasa-geospatial/{repo}/resolve/main/{fname}",
            sha256=None, license=_LICENSE, family=family, citation=_CITE_V1 if version == "v1" else _CITE_V2,
            description=f"{desc}; MAE pre-trained on HLS ({'US' if version == 'v1' else 'global'}, 30 m, "
                        f"{frames} frame(s)); encoder only (decoder dropped). {SHA_NOTE}",
            bands=HLS_BANDS, sensor="hls",
            mean=tuple(round(m * 1e-4, 8) for m in mean), std=tuple(round(s * 1e-4, 8) for s in std),
            normalization="(x - mean) / std on HLS surface reflectance x 10000 with the published per-band "
                          f"mean {list(mean)} and std {list(std)}",
            gsd=30.0, input_size=224, patch_size=p, proof=_PROOF,
            extra={"num_frames": frames, "tubelet": 1, "coords_encoding": ["time", "location"] if coords else [],
                   "feature_levels": "4 evenly spaced blocks, stride = patch size, frames stacked on channels",
                   "forward": "image (B, C, H, W) or (B, T, C, H, W); time (B, T, 2) year + day of year; "
                              "location (B, 2) lat, lon" if coords else
                              "image (B, C, H, W) or (B, T, C, H, W)",
                   "hf_repo": f"ibm-nasa-geospatial/{repo}"},
        ))


if "prithvi_eo_v2_300" not in ARCHS:
    _register()

__all__ = ["HLS_BANDS", "PrithviBackbone", "build_prithvi", "sincos_3d", "time_coords"]
