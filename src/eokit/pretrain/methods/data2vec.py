"""data2vec-style self-distillation for eokit's ViTs: predict the teacher's contextual features of masked patches.

data2vec (Baevski et al., ICML 2022, "data2vec: A General Framework for Self-supervised Learning in Speech,
Vision and Language") with the efficient student of data2vec 2.0 (Baevski et al., ICML 2023): the student
encoder sees only the visible ``1 - mask_ratio`` of the patch tokens (as MAE's), a light transformer decoder
fills in mask tokens, and a linear layer regresses, at every masked place, the target built by an EMA teacher
from the *unmasked* image: the average of its last ``top_k`` blocks' patch tokens, each normalised per token
without affine parameters, then normalised again. The loss is the mean squared error on masked tokens. The
teacher's momentum rises linearly from ``momentum`` to ``momentum_end`` over ``anneal_frac`` of training
(data2vec's 0.999 -> 0.9999). Targets are features, not pixels, so no band count enters the objective: the
method serves every sensor a DOFA backbone accepts. The student's backbone is exported (data2vec fine-tunes
the student). Backbones: as :class:`eokit.pretrain.methods.mae.MAE`.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import PretrainError
from eokit.models.backbone import Backbone
from eokit.models.dofa import vit_blocks
from eokit.pretrain.augment import flip_rot90, normalize, random_resized_crop
from eokit.pretrain.methods.base import PretrainBatch, PretrainMethod, register_method
from eokit.pretrain.methods.dino import ema_update
from eokit.pretrain.methods.mae import _VitParts, check_maskable_vit, random_mask, sincos_2d


def linear_momentum(start: float, end: float, progress: float, anneal_frac: float) -> float:
    """``start`` -> ``end`` linearly over the first ``anneal_frac`` of training, then ``end``."""
    if anneal_frac <= 0:
        return end
    t = min(max(progress / anneal_frac, 0.0), 1.0)
    return start + t * (end - start)


@register_method
class Data2Vec(PretrainMethod):
    """data2vec-style masked feature prediction with an EMA teacher (see the module).

    Options: ``mask_ratio`` (0.6), ``top_k`` (8 teacher blocks averaged, at most the depth), ``momentum`` (0.999), ``momentum_end`` (0.9999), ``anneal_frac`` (1.0), ``decoder_dim`` (128),
    ``decoder_depth`` (2), ``decoder_heads`` (4), ``crop_scale`` ((0.2, 1.0); None: none), ``flips`` (True).
    """

    name = "data2vec"

    def __init__(self, backbone: Backbone, *, mask_ratio: float = 0.6, top_k: int = 8, momentum: float = 0.999,
                 momentum_end: float = 0.9999, anneal_frac: float = 1.0, decoder_dim: int = 128,
                 decoder_depth: int = 2, decoder_heads: int = 4,
                 crop_scale: tuple[float, float] | None = (0.2, 1.0), flips: bool = True) -> None:
        super().__init__(backbone, mask_ratio=mask_ratio, top_k=top_k, momentum=momentum)
        if not 0.0 < mask_ratio < 1.0:
            raise PretrainError(f"data2vec: mask_ratio {mask_ratio!r} must be in (0, 1) (data2vec uses 0.6)")
        if not 0.0 <= momentum <= momentum_end <= 1.0:
            raise PretrainError(f"data2vec: need 0 <= momentum ({momentum!r}) <= momentum_end ({momentum_end!r}) "
                                "<= 1 (data2vec: 0.999 -> 0.9999)")
        if top_k < 1 or decoder_dim % 4:
            raise PretrainError(f"data2vec: top_k {top_k!r} must be >= 1 and decoder_dim {decoder_dim!r} a "
                                "multiple of 4")
        self.parts = _VitParts(backbone)
        self.teacher = copy.deepcopy(backbone)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.teacher_parts = _VitParts(self.teacher)
        depth = len(self.parts.blocks)
        self.top_k = min(int(top_k), depth)
        self.mask_ratio = float(mask_ratio)
        self.base_momentum, self.momentum_end, self.anneal_frac = float(momentum), float(momentum_end), \
            float(anneal_frac)
        self.momentum = self.base_momentum
        self.crop_scale, self.flips = crop_scale, bool(flips)
        d = self.parts.dim
        self.enc_norm = nn.LayerNorm(d, eps=1e-6) if self.parts.norm is None else nn.Identity()
        self.decoder_embed = nn.Linear(d, decoder_dim)
        self.mask_token = nn.Parameter(torch.randn(1, 1, decoder_dim) * 0.02)
        self.decoder_blocks = vit_blocks(decoder_dim, decoder_depth, decoder_heads, 1e-6)
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.regress = nn.Linear(decoder_dim, d)

    @classmethod
    def check_backbone(cls, backbone: Backbone) -> None:
        check_maskable_vit(backbone, cls.name)

    def _prepare(self, batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The augmented, normalised image in the backbone's expected band order, and its wavelengths (DOFA)."""
        x = batch.image
        if self.crop_scale is not None:
            x = random_resized_crop(x, x.shape[-1], tuple(self.crop_scale))  # type: ignore[arg-type]
        if self.flips:
            x = flip_rot90(x)
        x = normalize(x, batch.mean, batch.std)
        p = self.parts.patch_size
        if x.shape[-1] % p or x.shape[-2] % p:
            raise PretrainError(f"data2vec: chip size {tuple(x.shape[-2:])} is not a multiple of the patch size "
                                f"{p}; use chips of a multiple of {p} px")
        if self.parts.dofa:
            return x, self.backbone.wavelengths_for(list(batch.bands))  # type: ignore[operator]
        return self.backbone.select_bands(x, [b.name for b in batch.bands]), None

    def _tokens(self, parts: _VitParts, x: torch.Tensor, wv: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """(B, L, D) patch tokens with positions, the positioned prefix token (1, 1, D), the grid."""
        p = parts.patch_size
        grid = (x.shape[-2] // p, x.shape[-1] // p)
        cls, pos = parts.cls_and_pos(grid)
        toks = parts.embed_groups(x, wv, [(0, list(range(x.shape[1])))])[0]
        return toks + pos, cls, grid

    @torch.no_grad()
    def targets(self, x: torch.Tensor, wv: torch.Tensor | None) -> torch.Tensor:
        """The teacher's targets for every patch, (B, L, D): mean of its last top_k blocks, normalised."""
        toks, cls, _ = self._tokens(self.teacher_parts, x, wv)
        t = self.teacher_parts.pre(torch.cat([cls.expand(x.shape[0], -1, -1), toks], dim=1))
        blocks = self.teacher_parts.blocks
        acc = None
        for i, blk in enumerate(blocks):
            t = blk(t)
            if i >= len(blocks) - self.top_k:
                y = F.layer_norm(t[:, 1:].float(), t.shape[-1:])
                acc = y if acc is None else acc + y
        assert acc is not None
        y = acc / self.top_k
        return F.layer_norm(y, y.shape[-1:])

    def training_loss(self, batch: PretrainBatch) -> tuple[torch.Tensor, dict[str, float]]:
        x, wv = self._prepare(batch)
        target = self.targets(x, wv)
        toks, cls, grid = self._tokens(self.parts, x, wv)
        b, length, d = toks.shape
        ids, mask = random_mask(b, 1, length, self.mask_ratio, "consistent", x.device)
        vis = torch.gather(toks, 1, ids[..., None].expand(-1, -1, d))
        t = self.parts.pre(torch.cat([cls.expand(b, -1, -1), vis], dim=1))
        for blk in self.parts.blocks:
            t = blk(t)
        t = (self.parts.norm if self.parts.norm is not None else self.enc_norm)(t)
        y = self.decoder_embed(t)
        dd = y.shape[-1]
        full = self.mask_token.to(y.dtype).expand(b, length, dd).clone()
        full.scatter_(1, ids[..., None].expand(-1, -1, dd), y[:, 1:])
        full = full + sincos_2d(dd, grid, y.device).to(y.dtype)[None]
        z = torch.cat([y[:, :1], full], dim=1)
        for blk in self.decoder_blocks:
            z = blk(z)
        pred = self.regress(self.decoder_norm(z)[:, 1:]).float()
        err = ((pred - target) ** 2).mean(dim=-1)  # (B, L)
        loss = (err * mask).sum() / mask.sum().clamp_min(1.0)
        return loss, {"target_std": float(target.std()), "momentum": self.momentum}

    def after_step(self, progress: float) -> None:
        """EMA of the student's backbone into the teacher, momentum annealed linearly."""
        self.momentum = linear_momentum(self.base_momentum, self.momentum_end, float(progress), self.anneal_frac)
        ema_update(self.teacher, self.backbone, self.momentum)
