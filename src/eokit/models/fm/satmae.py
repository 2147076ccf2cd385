"""SatMAE (Cong et al. 2022) and SatMAE++ (Noman et al. 2024): MAE ViTs for fMoW-Sentinel and fMoW-RGB.

* Group-channel ViT (multispectral): 10 Sentinel-2 bands in 3 groups, B2/B3/B4/B8, B5/B6/B7/B8A and
  B11/B12, each group with its own patch embedding (patch 8, 96 px); every group gives one token per
  patch location, with a position embedding (``embed_dim - channel_embed`` wide) concatenated with a
  group embedding (``channel_embed`` wide). Bands are taken by name at forward time: a band of the
  checkpoint that is not given is imputed with 0 (the normalised mean), a band the checkpoint does not
  know joins the group nearest in wavelength with the group's mean kernel (and a warning). Maps are
  the group tokens averaged per location; ``pooled`` is the mean patch token after the final norm.
* RGB: a plain MAE ViT-L/16 (224 px) as timm ``vit_large_patch16_224``; the class token pools.

SatMAE++ pretrains the same encoders with multi-scale reconstruction (its upsampling blocks are
decoder-side and dropped). No reference implementation is importable: the proof is a key manifest of
each published pretraining checkpoint (tests/data/fm_manifests). SatMAE's weights are CC BY-NC 4.0
(non-commercial, as its repository); SatMAE++'s repository is Apache-2.0.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import BandError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike, map_bands, resolve_bands
from eokit.models.dofa import out_indices, vit_blocks
from eokit.models.fm._mae import MAE_DECODER, MaeViTBackbone
from eokit.models.registry import ARCHS, ArchSpec, register_arch, register_weights
from eokit.models.state_dict import StateDict, drop_keys, resize_pos_embed, strip_prefix, unwrap
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, get_sensor

S2 = "sentinel2_l1c"
# fMoW-Sentinel's 13 bands without B1, B9 and B10 (SatMAE's --dropped_bands 0 9 10), in channel order
GROUP_BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
CHANNEL_GROUPS = ((0, 1, 2, 6), (3, 4, 5, 7), (8, 9))
SATMAEPP_DROP = (*MAE_DECODER, "proj_up", "up_block", "channel_cls_embed")


class GroupPatchEmbed(nn.Module):
    """One group's patch embedding (a ``proj`` convolution, as timm's PatchEmbed names it)."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, patch_size)


def encoder_state(model: Any, state_dict: StateDict) -> StateDict:
    """A SatMAE/SatMAE++ pretraining checkpoint -> ``model``'s encoder keys (``model``/``module.`` nesting,
    decoder and SatMAE++ upsampling blocks dropped), its pos_embed resized to ``model``'s input size."""
    sd = drop_keys(strip_prefix(unwrap(state_dict), ("module.",)), SATMAEPP_DROP)
    pos = getattr(model, "pos_embed", None)
    if "pos_embed" in sd and pos is not None and sd["pos_embed"].shape != pos.shape:
        g = int(model.img_size) // int(model.patch_size)
        sd["pos_embed"] = resize_pos_embed(sd["pos_embed"], (g, g))
    return sd


class GroupChannelViT(Backbone):
    """SatMAE's group-channel ViT encoder; any Sentinel-2-like bands by name (see the module docstring)."""

    band_flexible = True

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "satmae_group_large",
        embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        channel_embed: int = 256,
        patch_size: int = 8,
        img_size: int | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        s2 = get_sensor(S2)
        self.group_bands = tuple(tuple(s2.band(GROUP_BANDS[i]) for i in g) for g in CHANNEL_GROUPS)
        self.patch_size, self.channel_embed_dim = patch_size, channel_embed
        self.img_size = img_size or spec.input_size
        grid = self.img_size // patch_size
        self.patch_embed = nn.ModuleList(GroupPatchEmbed(len(g), embed_dim, patch_size) for g in CHANNEL_GROUPS)
        self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid + 1, embed_dim - channel_embed) * 0.02)
        self.channel_embed = nn.Parameter(torch.randn(1, len(CHANNEL_GROUPS), channel_embed) * 0.02)
        self.blocks = vit_blocks(embed_dim, depth, num_heads, 1e-6, drop_path_rate)
        self.norm: nn.LayerNorm | None = nn.LayerNorm(embed_dim, eps=1e-6)
        self.out_indices = out_indices(depth)
        self.feature_info = [{"channels": embed_dim, "stride": patch_size} for _ in self.out_indices]
        self.num_features = embed_dim
        self._plans: dict[tuple[Band, ...], list[tuple[list[int | None], list[int]]]] = {}
        self._plan(self.band_objects)

    def _plan(self, bands: tuple[Band, ...]) -> list[tuple[list[int | None], list[int]]]:
        """Per group: the input channel of each checkpoint band (None: imputed 0) and the extra channels."""
        if bands in self._plans:
            return self._plans[bands]
        canon = [b for g in self.group_bands for b in g]
        mapping = map_bands(bands, canon)
        starts = [sum(len(g) for g in self.group_bands[:i]) for i in range(len(self.group_bands))]
        plan: list[tuple[list[int | None], list[int]]] = []
        for gi, g in enumerate(self.group_bands):
            slots: list[int | None] = [None] * len(g)
            for i, src in enumerate(mapping.source):
                if src is not None and starts[gi] <= src < starts[gi] + len(g):
                    slots[src - starts[gi]] = i
            plan.append((slots, []))
        new = [i for i, src in enumerate(mapping.source) if src is None]
        for i in new:
            nm = bands[i].center_nm
            if not nm or nm <= 0:
                raise BandError(f"{self.arch}: band {bands[i].name!r} is not a checkpoint band ({list(GROUP_BANDS)}) "
                                "and has no centre wavelength to place it in a channel group; give a band with one")
            gi = min(range(len(self.group_bands)),
                     key=lambda k: min(abs(b.center_nm - nm) for b in self.group_bands[k]))
            plan[gi][1].append(i)
        if new:
            warnings.warn(f"{self.arch}: bands {[bands[i].name for i in new]} are not in the checkpoint "
                          f"({list(GROUP_BANDS)}); each joins the channel group nearest in wavelength with that "
                          "group's mean kernel", UserWarning, stacklevel=3)
        self._plans[bands] = plan
        return plan

    def forward(self, image: torch.Tensor, bands: Sequence[BandLike] | None = None) -> Features:
        """Any bands (names resolved through the backbone's sensor, or Band objects); default: the backbone's."""
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected (B, C, H, W), got shape {tuple(image.shape)}")
        objs = self.band_objects if bands is None else self._resolve(bands)
        if len(objs) != image.shape[1]:
            raise BandError(f"{self.arch}: image has {image.shape[1]} channels but {len(objs)} bands were given")
        return self._forward(image, self._plan(tuple(objs)))

    def _resolve(self, bands: Sequence[BandLike]) -> tuple[Band, ...]:
        own = Sensor(self.arch, self.band_objects)
        given = [own.band(b) if isinstance(b, str) and own.has(b) else b for b in bands]
        fallback = get_sensor(self.sensor_name) if self.sensor_name else get_sensor(S2)
        try:
            return resolve_bands(given, None, fallback=fallback)
        except BandError as exc:
            raise BandError(f"{self.arch}: {exc}") from None

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._forward(x, self._plan(self.band_objects))

    def _forward(self, x: torch.Tensor, plan: list[tuple[list[int | None], list[int]]]) -> Features:
        b, _, h, w = x.shape
        p = self.patch_size
        if h % p or w % p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is not a multiple of the patch size {p}; crop or "
                             "pad the input (e.g. eokit.transforms.CenterCrop)")
        grid = (h // p, w // p)
        zeros = x.new_zeros(b, 1, h, w)
        tokens = []
        for (slots, extra), pe in zip(plan, self.patch_embed, strict=True):
            chans = [x[:, i:i + 1] if i is not None else zeros for i in slots] + [x[:, i:i + 1] for i in extra]
            proj: nn.Conv2d = pe.proj  # type: ignore[assignment]  # ModuleList items are typed as Module
            weight = proj.weight
            if extra:
                weight = torch.cat([weight, weight.mean(dim=1, keepdim=True).expand(-1, len(extra), -1, -1)], dim=1)
            out = F.conv2d(torch.cat(chans, dim=1), weight, proj.bias, stride=p)
            tokens.append(out.flatten(2).transpose(1, 2))  # B, L, D
        t = torch.stack(tokens, dim=1)  # B, G, L, D
        g, n = t.shape[1], t.shape[2]
        pos = resize_pos_embed(self.pos_embed, grid)
        pos_channel = torch.cat([pos[:, 1:].unsqueeze(1).expand(-1, g, -1, -1),
                                 self.channel_embed.unsqueeze(2).expand(-1, -1, n, -1)], dim=-1)
        t = (t + pos_channel).reshape(b, g * n, -1)
        cls = torch.cat([pos[:, :1], pos.new_zeros(1, 1, self.channel_embed_dim)], dim=-1) + self.cls_token
        t = torch.cat([cls.expand(b, -1, -1), t], dim=1)
        maps = []
        for i, blk in enumerate(self.blocks):
            t = blk(t)
            if i in self.out_indices:
                maps.append(t[:, 1:].reshape(b, g, n, -1).mean(dim=1).transpose(1, 2).reshape(b, -1, *grid))
        if self.norm is not None:
            t = self.norm(t)
        return Features(pooled=t[:, 1:].mean(dim=1), maps=maps)

    def _prune_pooling(self) -> None:
        self.norm = None

    def convert_checkpoint(self, state_dict: StateDict) -> StateDict:
        """Pretraining checkpoint (``model`` nesting, decoder, SatMAE++ upsampling blocks) -> the encoder."""
        return encoder_state(self, state_dict)


class SatMaeRgbBackbone(MaeViTBackbone):
    """SatMAE / SatMAE++ fMoW-RGB: MAE ViT-L/16 (timm layout); drops decoder and SatMAE++ upsampling blocks."""

    dropped = SATMAEPP_DROP


class SatMaeTemporalViT(Backbone):
    """SatMAE temporal ViT-L/16 (fMoW-RGB): frames share one patch embedding; each token carries the patch
    position (``embed_dim - time_dim`` wide) and its frame's (year - 2002, month - 1, hour) encoding
    (``time_dim`` = 3 x 128 in the published model).

    ``forward(image, bands, timestamps=)`` takes (B, C, H, W) (one frame) or (B, T, C, H, W), with
    ``timestamps`` (B, T, 3) as SatMAE encodes them (default 0: unknown); pretrained with T = 3.
    """

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        arch: str = "satmae_temporal_large_patch16",
        embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        patch_size: int = 16,
        img_size: int | None = None,
        time_dim: int = 384,
        drop_path_rate: float = 0.0,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        if embed_dim <= time_dim or time_dim % 6:
            raise ModelError(f"{arch}: time_dim {time_dim} must be a multiple of 6 below embed_dim {embed_dim}")
        self.time_dim = time_dim
        self.patch_size = patch_size
        self.img_size = img_size or spec.input_size
        grid = self.img_size // patch_size
        self.patch_embed = GroupPatchEmbed(self.in_chans, embed_dim, patch_size)
        self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid + 1, embed_dim - self.time_dim) * 0.02)
        self.blocks = vit_blocks(embed_dim, depth, num_heads, 1e-6, drop_path_rate)
        self.norm: nn.LayerNorm | None = nn.LayerNorm(embed_dim, eps=1e-6)
        self.out_indices = out_indices(depth)
        self.feature_info = [{"channels": embed_dim, "stride": patch_size} for _ in self.out_indices]
        self.num_features = embed_dim
        self.first_conv_keys = ["patch_embed.proj.weight"]

    def forward(self, image: torch.Tensor, bands: Sequence[str] | None = None,
                timestamps: torch.Tensor | None = None) -> Features:
        """Features of one frame (B, C, H, W) or a series (B, T, C, H, W); maps average the frames."""
        if image.ndim not in (4, 5):
            raise BandError(f"{self.arch}: expected (B, C, H, W) or (B, T, C, H, W), got {tuple(image.shape)}")
        x = self.select_bands(image, bands)
        return self._forward(x if x.ndim == 5 else x[:, None], timestamps)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._forward(x if x.ndim == 5 else x[:, None], None)

    def _forward(self, x: torch.Tensor, timestamps: torch.Tensor | None) -> Features:
        b, t, _, h, w = x.shape
        p = self.patch_size
        if h % p or w % p:
            raise ModelError(f"{self.arch}: image size {h}x{w} is not a multiple of the patch size {p}; crop or "
                             "pad the input (e.g. eokit.transforms.CenterCrop)")
        if timestamps is None:
            timestamps = x.new_zeros(b, t, 3)
        if timestamps.shape != (b, t, 3):
            raise ModelError(f"{self.arch}: timestamps must be (B, T, 3) = (year - 2002, month - 1, hour) per frame, "
                             f"got {tuple(timestamps.shape)} for {t} frames")
        grid = (h // p, w // p)
        proj: nn.Conv2d = self.patch_embed.proj  # type: ignore[assignment]  # a Conv2d, typed as Module
        tokens = proj(x.flatten(0, 1)).flatten(2).transpose(1, 2)  # B*T, L, D
        n = tokens.shape[1]
        ts = timestamps.reshape(-1, 3).double()
        time = torch.cat([_sincos64(self.time_dim // 3, ts[:, i]) for i in range(3)], dim=1).float()  # B*T, 384
        pos = resize_pos_embed(self.pos_embed, grid)
        tokens = tokens + torch.cat([pos[:, 1:].expand(b * t, -1, -1), time[:, None].expand(-1, n, -1)], dim=-1)
        cls = torch.cat([pos[:, :1], pos.new_zeros(1, 1, self.time_dim)], dim=-1) + self.cls_token
        z = torch.cat([cls.expand(b, -1, -1), tokens.reshape(b, t * n, -1)], dim=1)
        maps = []
        for i, blk in enumerate(self.blocks):
            z = blk(z)
            if i in self.out_indices:
                maps.append(z[:, 1:].reshape(b, t, n, -1).mean(dim=1).transpose(1, 2).reshape(b, -1, *grid))
        if self.norm is not None:
            z = self.norm(z)
        return Features(pooled=z[:, 1:].mean(dim=1), maps=maps)

    def _prune_pooling(self) -> None:
        self.norm = None

    def convert_checkpoint(self, state_dict: StateDict) -> StateDict:
        """Pretraining checkpoint (``model`` nesting, decoder, SatMAE++ upsampling blocks) -> the encoder."""
        return encoder_state(self, state_dict)


def _sincos64(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """1-D sin/cos embedding computed in float64 (as SatMAE's temporal encoding)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64, device=pos.device) / (dim / 2.0))
    out = pos.double().reshape(-1)[:, None] * omega[None]
    return torch.cat([out.sin(), out.cos()], dim=1)


GROUP_VARIANTS: dict[str, dict[str, Any]] = {
    "satmae_group_base": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "satmae_group_large": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
    "satmaepp_group_large": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
}


def build_group(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> GroupChannelViT:
        return GroupChannelViT(bands, sensor, spec, arch=arch, **{**GROUP_VARIANTS[arch], **kw})

    return builder


def build_rgb(arch: str):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                **kw: Any) -> SatMaeRgbBackbone:
        return SatMaeRgbBackbone(arch, "vit_large_patch16_224", bands, sensor, spec, **kw)

    return builder


# fMoW-Sentinel statistics (DN) of SatMAE's SentinelIndividualImageDataset, for GROUP_BANDS
_S2_MEAN_DN = (1184.3824625, 1120.77120066, 1136.26026392, 1263.73947144, 1645.40315151, 1846.87040806,
               1762.59530783, 1972.62420416, 1732.16362238, 1247.91870117)
_S2_STD_DN = (650.2842772, 712.12507725, 965.23119807, 948.9819932, 1108.06650639, 1258.36394548,
              1233.1492281, 1364.38688993, 1310.36996126, 1087.6020813)
# SentinelNormalize maps [mean - 2 std, mean + 2 std] to [0, 1] (then clips, via uint8): a standardisation
# with mean - 2 std and 4 std, in reflectance (DN * 1e-4)
S2_MEAN = tuple(round((m - 2 * s) * 1e-4, 6) for m, s in zip(_S2_MEAN_DN, _S2_STD_DN, strict=True))
S2_STD = tuple(round(4 * s * 1e-4, 6) for s in _S2_STD_DN)
S2_RULE = ("SatMAE SentinelNormalize: (DN - (mean - 2 std)) / (4 std), clipped to [0, 1] and quantised to 8 bit, "
           "with fMoW-Sentinel's per-band mean/std; eokit applies the linear part (no clip)")
RGB_MEAN = (0.4182007312774658, 0.4214799106121063, 0.3991275727748871)
RGB_STD = (0.28774282336235046, 0.27541765570640564, 0.2764017581939697)
SATMAE_CITATION = ("Cong, Y., Khanna, S., Meng, C., Liu, P., Rozi, E., He, Y., Burke, M., Lobell, D. B., Ermon, S. "
                   "(2022). SatMAE: Pre-training Transformers for Temporal and Multi-Spectral Satellite Imagery. "
                   "NeurIPS 2022")
SATMAEPP_CITATION = ("Noman, M., Naseer, M., Cholakkal, H., Anwer, R. M., Khan, S., Khan, F. S. (2024). Rethinking "
                     "Transformers Pre-training for Multi-Spectral Satellite Imagery. CVPR 2024")
PICKLE_NOTE = ("The file is a training checkpoint ({'model', 'optimizer', 'epoch', 'scaler', 'args'}); its pickled "
               "argparse args are refused by eokit's weights_only reader, whose error says how to convert it once")
_SATMAE_COMMIT = "key manifest: sustainlab-group/SatMAE@e31c11fa1bef {}"
_SATMAEPP_COMMIT = "key manifest: techmn/satmae_pp@ee173bf50247 {}"
_TEST = {"img_size": 32, "embed_dim": 64, "depth": 4, "num_heads": 2}

# arch, builder, family, description, test kwargs
_ARCHS = [
    ("satmae_group_base", build_group("satmae_group_base"), "SatMAE group-channel ViT-B/8 (10 S2 bands, 3 groups)",
     {**_TEST, "channel_embed": 16}),
    ("satmae_group_large", build_group("satmae_group_large"), "SatMAE group-channel ViT-L/8 (10 S2 bands, 3 groups)",
     {**_TEST, "channel_embed": 16}),
    ("satmaepp_group_large", build_group("satmaepp_group_large"),
     "SatMAE++ group-channel ViT-L/8 (10 S2 bands, 3 groups; multi-scale pretraining)", {**_TEST, "channel_embed": 16}),
    ("satmae_large_patch16", build_rgb("satmae_large_patch16"), "SatMAE ViT-L/16 for RGB (fMoW-RGB MAE)", _TEST),
    ("satmae_temporal_large_patch16",
     lambda bands, sensor, spec, **kw: SatMaeTemporalViT(bands, sensor, spec, **kw),
     "SatMAE temporal ViT-L/16 for RGB time series (fMoW-temporal; 3 frames with year/month/hour encodings)",
     {**_TEST, "time_dim": 48}),
    ("satmaepp_large_patch16", build_rgb("satmaepp_large_patch16"),
     "SatMAE++ ViT-L/16 for RGB (fMoW-RGB, multi-scale pretraining)", _TEST),
]


def _licence(family: str) -> tuple[str, bool, str]:
    """(licence, non-commercial, sentence): SatMAE's repository is CC BY-NC 4.0, SatMAE++'s Apache-2.0."""
    if family == "SatMAE":
        return "CC-BY-NC-4.0", True, "CC BY-NC 4.0 (the SatMAE repository's licence): non-commercial use only"
    return "Apache-2.0", False, "Apache-2.0 (the SatMAE++ repository's licence; no separate weights licence)"


def _group_weights(arch: str, family: str, url: str, size: str, proof: str, citation: str, note: str) -> WeightSpec:
    lic, nc, lic_note = _licence(family)
    return WeightSpec(
        arch, "fmow_sentinel", source="url", url=url, sha256=None, license=lic, noncommercial=nc,
        family=family, citation=citation, bands=GROUP_BANDS, sensor=S2, mean=S2_MEAN, std=S2_STD,
        normalization=S2_RULE, gsd=10.0, input_size=96, patch_size=8, proof=proof,
        description=f"{family} group-channel {size} pretrained on fMoW-Sentinel (Sentinel-2 L1C, B1/B9/B10 dropped); "
                    f"no sha256 is published. {note}. {PICKLE_NOTE}. {lic_note}",
        extra={"channel_groups": [[GROUP_BANDS[i] for i in g] for g in CHANNEL_GROUPS],
               "feature_levels": "4 evenly spaced blocks, stride 8 (group tokens averaged per location)",
               "pooled": "mean patch token after the final norm", "pretraining": "fMoW-Sentinel"},
    )


def _rgb_weights(arch: str, family: str, url: str, proof: str, citation: str, note: str) -> WeightSpec:
    lic, nc, lic_note = _licence(family)
    return WeightSpec(
        arch, "fmow_rgb", source="url", url=url, sha256=None, license=lic, noncommercial=nc,
        family=family, citation=citation, bands=("R", "G", "B"), sensor="rgb", mean=RGB_MEAN, std=RGB_STD,
        normalization="divide by 255, then fMoW-RGB mean/std", gsd=1.0, input_size=224, patch_size=16, proof=proof,
        description=f"{family} ViT-L/16 MAE encoder pretrained on fMoW-RGB (GSD about 0.3-1.5 m); no sha256 is "
                    f"published. {note}. {PICKLE_NOTE}. {lic_note}",
        extra={"feature_levels": "4 evenly spaced blocks, stride 16", "pooled": "class token after the final norm",
               "pretraining": "fMoW-RGB"},
    )


if "satmae_group_large" not in ARCHS:
    for _name, _builder, _desc, _test in _ARCHS:
        register_arch(ArchSpec(_name, _builder, "satmae", _desc, {"dense": "upernet"}, _test))
    _ZENODO = "https://zenodo.org/record/7338613/files/"
    _PP = "https://huggingface.co/mubashir04/{0}/resolve/main/{0}.pth"
    _PP_NOTE = ("The file name inside the Hugging Face repository is taken to be the repository's name; if the "
                "download fails, fetch the file from the repository page and pass weights='file:PATH'")
    register_weights(_group_weights(
        "satmae_group_base", "SatMAE", _ZENODO + "pretrain-vit-base-e199.pth", "ViT-B/8",
        _SATMAE_COMMIT.format("models_mae_group_channels.py"), SATMAE_CITATION, "200 epochs (SatMAE README)"))
    register_weights(_group_weights(
        "satmae_group_large", "SatMAE", _ZENODO + "pretrain-vit-large-e199.pth", "ViT-L/8",
        _SATMAE_COMMIT.format("models_mae_group_channels.py"), SATMAE_CITATION, "200 epochs (SatMAE README)"))
    register_weights(_group_weights(
        "satmaepp_group_large", "SatMAE++", _PP.format("checkpoint_ViT-L_pretrain_fmow_sentinel"), "ViT-L/8",
        _SATMAEPP_COMMIT.format("models_mae_group_channels.py"), SATMAEPP_CITATION, _PP_NOTE))
    register_weights(_rgb_weights(
        "satmae_large_patch16", "SatMAE", "https://zenodo.org/record/7369797/files/fmow_pretrain.pth",
        _SATMAE_COMMIT.format("models_mae.py"), SATMAE_CITATION, "800 epochs, non-temporal (SatMAE README)"))
    register_weights(replace(
        _rgb_weights("satmae_temporal_large_patch16", "SatMAE",
                     "https://zenodo.org/record/7369797/files/pretrain_fmow_temporal.pth",
                     _SATMAE_COMMIT.format("models_mae_temporal.py"), SATMAE_CITATION,
                     "Temporal: 3 frames of fMoW-RGB with (year - 2002, month - 1, hour) encodings, 50 epochs "
                     "(SatMAE README); forward(x, bands, timestamps=) takes (B, C, H, W) or (B, T, C, H, W)"),
        tag="fmow_temporal",
        extra={"num_frames": 3, "timestamps": "(B, T, 3): year - 2002, month - 1, hour (default 0)",
               "feature_levels": "4 evenly spaced blocks, stride 16 (frames averaged per location)",
               "pooled": "mean patch token after the final norm", "pretraining": "fMoW-temporal (RGB)"}))
    register_weights(_rgb_weights(
        "satmaepp_large_patch16", "SatMAE++", _PP.format("checkpoint_ViT-L_pretrain_fmow_rgb"),
        _SATMAEPP_COMMIT.format("models_mae.py"), SATMAEPP_CITATION, _PP_NOTE))
