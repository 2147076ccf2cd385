"""Masked autoencoding for eokit's ViTs: SatMAE spectral groups and SatMAE++ multi-scale reconstruction.

The objective is MAE's (He et al., 2022, "Masked Autoencoders Are Scalable Vision Learners"): the encoder sees
a random ``1 - mask_ratio`` of the patch tokens, a light transformer decoder fills in mask tokens and predicts
the pixels of every patch, and the loss is the mean squared error on the masked patches (per-patch normalised
targets with ``norm_pix_loss``).

Two EO extensions, both written so that one set of weights serves every sensor:

- **Spectral groups** (SatMAE, Cong et al., NeurIPS 2022): the bands are split into groups of similar
  wavelength and each group is embedded into its own tokens, with a group encoding, so a token is (place,
  group). :func:`spectral_groups` derives the groups from the bands' centre wavelengths (visible, red-edge +
  NIR, SWIR, thermal, SAR), so Sentinel-2, Landsat, RGB (one group) and Sentinel-1 (one group) all work; with
  the wavelength-conditioned DOFA backbone each group's tokens come from the same generated patch embedding,
  restricted to the group's bands. ``mask_mode='consistent'`` masks the same places in every group (SatMAE's
  ``spatial_mask``), ``'independent'`` masks each (place, group) token on its own. Targets are normalised
  per patch within a group (as MAESTRO's patch-group-wise normalisation).
- **Multi-scale reconstruction** (SatMAE++, Noman et al., CVPR 2024, "Rethinking Transformers Pre-training for
  Multi-Spectral Satellite Imagery", github.com/techmn/satmae_pp ``models_mae_group_channels.py`` and
  ``engine_pretrain.py``): the encoder gets the image downsampled by ``2**scales``; the decoder reconstructs it
  at that base scale (MSE on masked patches), and convolutional upsampling blocks (transposed conv 4x4/2 ->
  LayerNorm -> leaky ReLU -> residual block -> LayerNorm, a 3x3 projection out) turn the unpatchified
  prediction into the image at 2x, 4x ... the base scale, up to the chip's own size (L1 on all pixels). The
  loss is ``(1 - ms_weight) * mse + ms_weight * mean(L1 over scales)`` (SatMAE++: 0.6 / 0.4). To serve any
  number of bands, the prediction head and the upsampler run per band, conditioned on the band's wavelength
  (SatMAE++ has one linear layer per group and a fixed band count). With ``norm_pix_loss`` the upsampler gets
  the prediction back in image units, de-normalised with each target patch's own mean and std (SatMAE++ feeds
  it the normalised prediction, from which the levels of the larger images cannot be recovered).

``scales=0`` is plain (grouped) MAE. The encoder is the backbone: :meth:`export_backbone` returns it, and its
weights load as ``dofa_tiny``/``dofa_small``/... (or the timm ViT) everywhere in eokit; the group encodings,
encoder norm, decoder and upsampler stay here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import PretrainError
from eokit.models.backbone import Backbone
from eokit.models.band_adapter import is_sar
from eokit.models.dofa import DofaBackbone, sincos_embed, vit_blocks
from eokit.models.state_dict import resize_pos_embed
from eokit.models.timm_backbone import TimmBackbone
from eokit.pretrain.augment import flip_rot90, normalize, random_resized_crop
from eokit.pretrain.methods.base import PretrainBatch, PretrainMethod, register_method
from eokit.sensors import Band

# spectral regions (upper edge in nm, exclusive); SAR bands form their own group
REGIONS: tuple[tuple[str, float], ...] = (
    ("visible", 700.0), ("rededge_nir", 1000.0), ("swir", 3000.0), ("thermal", 1.0e5))
REGION_NAMES: tuple[str, ...] = (*(r for r, _ in REGIONS), "sar")
MASK_MODES = ("consistent", "independent")
GROUPINGS = ("auto", "none")


def band_region(band: Band) -> str:
    """The spectral region of a band: visible, rededge_nir, swir, thermal or sar."""
    if is_sar(band):
        return "sar"
    for name, upper in REGIONS:
        if band.center_nm < upper:
            return name
    return "thermal"


def spectral_groups(bands: Sequence[Band]) -> list[tuple[str, list[int]]]:
    """Band positions grouped by spectral region, in region order: ``[(region, [i, ...]), ...]``.

    Sentinel-2 L1C: visible (B01-B04), rededge_nir (B05-B09), swir (B10-B12); RGB: one visible group;
    Sentinel-1: one sar group. Bands without a wavelength raise PretrainError.
    """
    missing = [b.name for b in bands if not b.center_nm or b.center_nm <= 0]
    if missing:
        raise PretrainError(f"spectral groups: bands {missing} have no centre wavelength; give the sensor's bands "
                            "wavelengths (Band(name, center_nm=...)) or set spectral_groups: none")
    by_region: dict[str, list[int]] = {}
    for i, b in enumerate(bands):
        by_region.setdefault(band_region(b), []).append(i)
    return [(r, by_region[r]) for r in REGION_NAMES if r in by_region]


def sincos_2d(dim: int, grid: tuple[int, int], device: torch.device) -> torch.Tensor:
    """(h*w, dim) fixed 2-D sin/cos position embedding (MAE's), half the channels per axis."""
    h, w = grid
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.cat([sincos_embed(dim // 2, ys.reshape(-1)), sincos_embed(dim // 2, xs.reshape(-1))], dim=1)


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, L, p*p) non-overlapping patches, row-major."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(b, c, (h // p) * (w // p), p * p)


def unpatchify(x: torch.Tensor, p: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B, C, L, p*p) -> (B, C, H, W); the inverse of :func:`patchify`."""
    b, c = x.shape[:2]
    h, w = grid
    return x.reshape(b, c, h, w, p, p).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h * p, w * p)


def random_mask(b: int, groups: int, length: int, ratio: float, mode: str,
                device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the kept tokens (B, K) and the mask (B, G*L; 1 = masked) over G groups of L tokens.

    ``consistent``: the same ``int(L * (1 - ratio))`` places are kept in every group; ``independent``:
    ``int(G * L * (1 - ratio))`` (place, group) tokens are kept at random. At least one token is kept.
    """
    if mode == "consistent":
        keep = max(int(length * (1 - ratio)), 1) * groups
        noise = torch.rand(b, 1, length, device=device).expand(b, groups, length).reshape(b, -1)
    else:
        keep = max(int(groups * length * (1 - ratio)), 1)
        noise = torch.rand(b, groups * length, device=device)
    ids = torch.argsort(noise, dim=1, stable=True)[:, :keep]
    mask = torch.ones(b, groups * length, device=device)
    mask.scatter_(1, ids, 0.0)
    return ids, mask


class _LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of (B, C, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class UpsampleBlock(nn.Module):
    """SatMAE++'s upsampling block: 2x transposed conv -> LN -> leaky ReLU -> residual conv block -> LN.

    Returns the features (for the next block) and their projection to ``out_channels`` (the reconstruction).
    """

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(channels, channels, kernel_size=4, stride=2, padding=1)
        self.up_norm = _LayerNorm2d(channels, eps=1e-6)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.res_norm = _LayerNorm2d(channels, eps=1e-6)
        self.proj = nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.leaky_relu(self.up_norm(self.up(x)))
        x = self.res_norm(x + 0.5 * self.conv2(F.relu(self.conv1(x))))
        return x, self.proj(x)


class _VitParts:
    """What MAE needs of an encoder: group patch embedding, positions, prefix token, blocks, norm."""

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone
        self.dofa = isinstance(backbone, DofaBackbone)
        if self.dofa:
            assert isinstance(backbone, DofaBackbone)
            self.patch_size = int(backbone.patch_size)
            self.dim = int(backbone.num_features)
            self.norm: nn.Module | None = None
        else:
            model: Any = backbone.model  # type: ignore[attr-defined]  # a timm VisionTransformer (checked)
            self.patch_size = int(model.patch_embed.patch_size[0])
            self.dim = int(model.embed_dim)
            self.norm = model.norm

    def pre(self, t: torch.Tensor) -> torch.Tensor:
        """timm's norm_pre (identity in plain ViTs); nothing for DOFA."""
        return t if self.dofa else self.backbone.model.norm_pre(t)  # type: ignore[union-attr,operator]

    @property
    def blocks(self) -> nn.ModuleList:
        b = self.backbone
        return b.blocks if self.dofa else b.model.blocks  # type: ignore[union-attr,return-value]

    def cls_and_pos(self, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The prefix token (1, 1, D) with its position and the patch positions (1, L, D)."""
        if self.dofa:
            pos = self.backbone.pos_embed_for(grid)  # type: ignore[operator]
            cls = self.backbone.cls_token  # type: ignore[union-attr]
        else:
            model: Any = self.backbone.model  # type: ignore[union-attr]
            pos = resize_pos_embed(model.pos_embed, grid)
            cls = model.cls_token
        return cls + pos[:, :1], pos[:, 1:]

    def embed_groups(self, x: torch.Tensor, wavelengths: torch.Tensor | None,
                     groups: list[tuple[int, list[int]]]) -> list[torch.Tensor]:
        """(B, C, H, W) -> one (B, L, D) token set per group.

        DOFA: the kernels of all bands are generated together (as the backbone does at inference) and each group
        convolves its own bands, so the sum of the group tokens is the all-band embedding plus (G - 1) biases.
        """
        if self.dofa:
            pe: Any = self.backbone.patch_embed  # type: ignore[union-attr]
            weight, bias = pe.kernel(wavelengths.to(x.device))  # type: ignore[union-attr]
            return [F.conv2d(x[:, idx], weight[:, idx].to(x.dtype), bias.to(x.dtype), stride=self.patch_size,
                             padding=1).flatten(2).transpose(1, 2) for _, idx in groups]
        t = self.backbone.model.patch_embed(x)  # type: ignore[union-attr,operator]
        return [t.reshape(t.shape[0], -1, t.shape[-1]) if t.ndim == 4 else t]


def check_maskable_vit(backbone: Backbone, method: str) -> None:
    """Raise PretrainError unless ``backbone`` is a ViT whose patch tokens a masked method can drop."""
    if isinstance(backbone, DofaBackbone):
        return
    model = getattr(backbone, "model", None)
    if isinstance(backbone, TimmBackbone) and backbone.arch.startswith("vit_") \
            and getattr(model, "cls_token", None) is not None and getattr(model, "pos_embed", None) is not None \
            and getattr(model, "num_prefix_tokens", 1) == 1:
        return
    arch = getattr(backbone, "arch", type(backbone).__name__)
    raise PretrainError(
        f"{method} cannot train backbone {arch!r}: it needs a ViT whose patch tokens can be masked, i.e. "
        f"{MAE_ARCHS} with one class token and absolute positions; pick one of those archs or use "
        "method: dino or contrastive, which train any backbone")


MAE_ARCHS = "DOFA ViTs (dofa_tiny, dofa_small, dofa_base_patch16, dofa_large_patch16) and timm ViTs (vit_*)"


@register_method
class MAE(PretrainMethod):
    """Masked autoencoder with spectral-group tokens and SatMAE++ multi-scale reconstruction (see the module).

    Options: ``mask_ratio`` (0.75), ``mask_mode`` (consistent|independent), ``spectral_groups``
    (auto: by wavelength; none: all bands in one token per place, as the exported backbone sees them),
    ``norm_pix_loss`` (True), ``scales`` (1: upsampling blocks after the base scale; 0 = plain MAE),
    ``ms_weight`` (0.4), ``ms_channels`` (8 per band; SatMAE++ uses 4 per band, mixed across bands),
    ``decoder_dim`` (128), ``decoder_depth`` (2), ``decoder_heads`` (4), ``crop_scale`` ((0.2, 1.0); None: no
    random resized crop), ``flips`` (True).
    """

    name = "mae"

    def __init__(self, backbone: Backbone, *, mask_ratio: float = 0.75, mask_mode: str = "consistent",
                 spectral_groups: str = "auto", norm_pix_loss: bool = True, scales: int = 1,
                 ms_weight: float = 0.4, ms_channels: int = 8, decoder_dim: int = 128, decoder_depth: int = 2,
                 decoder_heads: int = 4, crop_scale: tuple[float, float] | None = (0.2, 1.0),
                 flips: bool = True) -> None:
        super().__init__(backbone, mask_ratio=mask_ratio, mask_mode=mask_mode, spectral_groups=spectral_groups,
                         norm_pix_loss=norm_pix_loss, scales=scales, ms_weight=ms_weight)
        if not 0.0 <= mask_ratio < 1.0:
            raise PretrainError(f"mae: mask_ratio {mask_ratio!r} must be in [0, 1) (MAE uses 0.75)")
        if mask_mode not in MASK_MODES:
            raise PretrainError(f"mae: mask_mode {mask_mode!r} is not one of {list(MASK_MODES)}")
        if spectral_groups not in GROUPINGS:
            raise PretrainError(f"mae: spectral_groups {spectral_groups!r} is not one of {list(GROUPINGS)}")
        if decoder_dim % 4:
            raise PretrainError(f"mae: decoder_dim {decoder_dim!r} must be a multiple of 4 (2-D sin/cos positions)")
        if scales < 0 or not 0.0 <= ms_weight <= 1.0:
            raise PretrainError(f"mae: scales {scales!r} must be >= 0 and ms_weight {ms_weight!r} in [0, 1]")
        self.parts = _VitParts(backbone)
        if not self.parts.dofa and spectral_groups != "none":
            spectral_groups = "none"  # a timm ViT's patch embedding is one fixed conv over all its bands
        self.mask_ratio, self.mask_mode, self.grouping = float(mask_ratio), mask_mode, spectral_groups
        self.norm_pix_loss, self.scales, self.ms_weight = bool(norm_pix_loss), int(scales), float(ms_weight)
        self.crop_scale, self.flips = crop_scale, bool(flips)
        d, p = self.parts.dim, self.parts.patch_size
        n_regions = len(REGION_NAMES) + 1  # + one for "all bands" (spectral_groups: none)
        self.group_embed = nn.Parameter(torch.zeros(n_regions, d))  # zero: starts as the exported encoder sees it
        self.enc_norm = nn.LayerNorm(d, eps=1e-6) if self.parts.norm is None else nn.Identity()
        self.decoder_embed = nn.Linear(d, decoder_dim)
        self.mask_token = nn.Parameter(torch.randn(1, 1, decoder_dim) * 0.02)
        self.decoder_group = nn.Parameter(torch.randn(n_regions, decoder_dim) * 0.02)
        self.decoder_blocks = vit_blocks(decoder_dim, decoder_depth, decoder_heads, 1e-6)
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        # per-band prediction: the decoder token plus the band's wavelength query -> the band's p*p pixels
        self.band_query = nn.Sequential(nn.Linear(64, decoder_dim), nn.GELU(), nn.Linear(decoder_dim, decoder_dim))
        self.pred = nn.Sequential(nn.LayerNorm(decoder_dim, eps=1e-6), nn.Linear(decoder_dim, decoder_dim),
                                  nn.GELU(), nn.Linear(decoder_dim, p * p))
        # SatMAE++ upsampler, run per band (1 channel in and out) with a wavelength bias
        self.up_in = nn.Conv2d(1, ms_channels, 1)
        self.up_wave = nn.Linear(64, ms_channels)
        self.up_norm = _LayerNorm2d(ms_channels, eps=1e-6)
        self.up_blocks = nn.ModuleList(UpsampleBlock(ms_channels, 1) for _ in range(self.scales))
        for m in [self.decoder_embed, self.band_query, self.pred, self.up_wave]:
            m.apply(_init_linear)

    @classmethod
    def check_backbone(cls, backbone: Backbone) -> None:
        check_maskable_vit(backbone, cls.name)

    # -- pieces -------------------------------------------------------------------------------
    def groups_for(self, bands: Sequence[Band]) -> list[tuple[int, list[int]]]:
        """(group-encoding index, band positions) per token group for these bands."""
        if self.grouping == "none":
            return [(len(REGION_NAMES), list(range(len(bands))))]
        return [(REGION_NAMES.index(r), idx) for r, idx in spectral_groups(bands)]

    def _wave_embed(self, wavelengths: torch.Tensor, device: torch.device) -> torch.Tensor:
        # log-wavelength keeps optical (400-2500 nm) and SAR (~5.5e7 nm) bands apart at a useful scale
        return sincos_embed(64, (wavelengths.to(device).double().log() * 100.0).float())

    def _prepare(self, batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Augmented, normalised full-size image and the encoder's (downsampled) input."""
        x = batch.image
        size = x.shape[-1]
        if x.shape[-1] != x.shape[-2]:
            raise PretrainError(f"mae: chips must be square, got {tuple(x.shape[-2:])}; set the chip size")
        if self.crop_scale is not None:
            x = random_resized_crop(x, size, tuple(self.crop_scale))  # type: ignore[arg-type]
        if self.flips:
            x = flip_rot90(x)
        x = normalize(x, batch.mean, batch.std)
        base = size // 2**self.scales
        p = self.parts.patch_size
        if size % 2**self.scales or base % p or base < p:
            raise PretrainError(
                f"mae: chip size {size} with scales={self.scales} gives an encoder input of {size / 2**self.scales:g} "
                f"px, which must be a multiple of the patch size {p}; use chips of a multiple of "
                f"{p * 2**self.scales} px or fewer scales")
        x_in = x if self.scales == 0 else F.interpolate(x, size=(base, base), mode="area")
        return x, x_in

    def forward_encoder(self, x: torch.Tensor, wavelengths: torch.Tensor,
                        groups: list[tuple[int, list[int]]]
                        ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], tuple[int, int]]:
        """Visible tokens through the encoder: (B, 1 + K, D) latent, ((B, G*L) mask, (B, K) kept ids), grid."""
        p = self.parts.patch_size
        grid = (x.shape[-2] // p, x.shape[-1] // p)
        cls, pos = self.cls_and_pos(grid)
        gidx = torch.tensor([g for g, _ in groups], device=x.device)
        toks = torch.stack(self.parts.embed_groups(x, wavelengths, groups), dim=1)  # (B, G, L, D)
        toks = toks + pos[:, None] + self.group_embed[gidx][None, :, None]
        b, n_g, length, d = toks.shape
        ids, mask = random_mask(b, n_g, length, self.mask_ratio, self.mask_mode, x.device)
        vis = torch.gather(toks.reshape(b, n_g * length, d), 1, ids[..., None].expand(-1, -1, d))
        t = self.parts.pre(torch.cat([cls.expand(b, -1, -1), vis], dim=1))
        for blk in self.parts.blocks:
            t = blk(t)
        norm = self.parts.norm if self.parts.norm is not None else self.enc_norm
        return norm(t), (mask, ids), grid

    def cls_and_pos(self, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.parts.cls_and_pos(grid)

    def forward_decoder(self, latent: torch.Tensor, ids: torch.Tensor, grid: tuple[int, int],
                        groups: list[tuple[int, list[int]]], wavelengths: torch.Tensor,
                        n_bands: int) -> torch.Tensor:
        """Predicted patches of every band, (B, C, L, p*p)."""
        b = latent.shape[0]
        n_g, length = len(groups), grid[0] * grid[1]
        y = self.decoder_embed(latent)
        dd = y.shape[-1]
        full = self.mask_token.to(y.dtype).expand(b, n_g * length, dd).clone()
        full.scatter_(1, ids[..., None].expand(-1, -1, dd), y[:, 1:])
        pos = sincos_2d(dd, grid, y.device).to(y.dtype)
        gidx = torch.tensor([g for g, _ in groups], device=y.device)
        full = full.view(b, n_g, length, dd) + pos[None, None] + self.decoder_group[gidx][None, :, None]
        t = torch.cat([y[:, :1], full.reshape(b, n_g * length, dd)], dim=1)
        for blk in self.decoder_blocks:
            t = blk(t)
        t = self.decoder_norm(t)[:, 1:].reshape(b, n_g, length, dd)
        query = self.band_query(self._wave_embed(wavelengths, y.device).to(y.dtype))  # (C, dd)
        out = t.new_zeros(b, n_bands, length, self.parts.patch_size**2)
        for gi, (_, idx) in enumerate(groups):
            ix = torch.tensor(idx, device=y.device)
            out[:, ix] = self.pred(t[:, gi, None] + query[ix][None, :, None]).to(out.dtype)
        return out

    def forward_multiscale(self, pred_img: torch.Tensor, wavelengths: torch.Tensor) -> list[torch.Tensor]:
        """SatMAE++ upsampling of the base-scale reconstruction, per band: [(B, C, 2H, 2W), (B, C, 4H, 4W), ...]."""
        b, c, h, w = pred_img.shape
        z = self.up_in(pred_img.reshape(b * c, 1, h, w))
        bias = self.up_wave(self._wave_embed(wavelengths, z.device).to(z.dtype))  # (C, ms)
        z = self.up_norm(F.gelu(z + bias.repeat(b, 1)[:, :, None, None]))
        outs = []
        for blk in self.up_blocks:
            z, o = blk(z)
            outs.append(o.reshape(b, c, *o.shape[-2:]))
        return outs

    # -- objective -------------------------------------------------------------------------------
    def training_loss(self, batch: PretrainBatch) -> tuple[torch.Tensor, dict[str, float]]:
        x, x_in = self._prepare(batch)
        if self.parts.dofa:
            wv_model = self.backbone.wavelengths_for(list(batch.bands))  # type: ignore[operator]
        else:
            x_in = self.backbone.select_bands(x_in, [b.name for b in batch.bands])
            x = self.backbone.select_bands(x, [b.name for b in batch.bands])
            wv_model = None
        wv = batch.wavelengths if self.parts.dofa else torch.tensor(self.backbone.wavelengths, dtype=torch.float64)
        bands = list(batch.bands) if self.parts.dofa else list(self.backbone.band_objects)
        groups = self.groups_for(bands)
        latent, (mask, ids), grid = self.forward_encoder(x_in, wv_model if wv_model is not None else wv, groups)
        n_bands = x_in.shape[1]
        pred = self.forward_decoder(latent, ids, grid, groups, wv, n_bands)  # (B, C, L, p*p)
        p = self.parts.patch_size
        target = patchify(x_in, p)
        mse = self.masked_mse(pred, target, mask, groups)
        logs = {"mse": float(mse.detach())}
        loss = mse
        if self.scales:
            base = pred
            if self.norm_pix_loss:  # back to image units with each patch's own statistics (as MAE's visualisation)
                mean, std = self.patch_stats(target, groups)
                base = pred.float() * std + mean
            ups = self.forward_multiscale(unpatchify(base, p, grid).to(pred.dtype), wv)
            l1s = []
            for k, up in enumerate(ups, start=1):
                size = x_in.shape[-1] * 2**k
                tgt = x if size == x.shape[-1] else F.interpolate(x, size=(size, size), mode="area")
                l1s.append(F.l1_loss(up.float(), tgt.float()))
                logs[f"l1_{2**k}x"] = float(l1s[-1].detach())
            loss = (1 - self.ms_weight) * mse + self.ms_weight * torch.stack(l1s).mean()
        logs["mask_ratio"] = float(mask.mean())
        return loss, logs

    def patch_stats(self, target: torch.Tensor, groups: list[tuple[int, list[int]]]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per patch and group mean and std of the target, broadcast to its bands: two (B, C, L, 1) tensors."""
        b, c, length, _ = target.shape
        mean = target.new_zeros(b, c, length, 1, dtype=torch.float32)
        std = torch.ones_like(mean)
        for _, idx in groups:
            tg = target[:, idx].float()
            mean[:, idx] = tg.mean(dim=(1, 3), keepdim=True).expand(-1, len(idx), -1, -1)
            std[:, idx] = (tg.var(dim=(1, 3), keepdim=True) + 1e-6).sqrt().expand(-1, len(idx), -1, -1)
        return mean, std

    def masked_mse(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                   groups: list[tuple[int, list[int]]]) -> torch.Tensor:
        """Mean squared error over the masked (place, group) tokens; targets normalised per patch and group."""
        b = pred.shape[0]
        length = target.shape[2]
        mask = mask.view(b, len(groups), length)
        tg_all = target.float()
        if self.norm_pix_loss:
            mean, std = self.patch_stats(target, groups)
            tg_all = (tg_all - mean) / std
        total = pred.new_zeros((), dtype=torch.float32)
        for gi, (_, idx) in enumerate(groups):
            err = ((pred[:, idx].float() - tg_all[:, idx]) ** 2).mean(dim=(1, 3))  # (B, L)
            total = total + (err * mask[:, gi]).sum()
        return total / mask.sum().clamp_min(1.0)


def _init_linear(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
