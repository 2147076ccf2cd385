"""Temporal aggregation of per-date features: L-TAE attention, mean or max pooling.

A time series (B, T, C, H, W) is encoded date by date with the shared
backbone; each feature level (B, T, D, h, w) and the pooled vector (B, T, D)
is then collapsed over T. ``ltae`` follows the Lightweight Temporal Attention
Encoder (Garnot & Landrieu, 2020): learned master queries per head, keys from
the (date-encoded) inputs, values = the head's channel group of the inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from eokit.errors import ModelError

TEMPORAL = ("ltae", "mean", "max")


def date_encoding(dates: torch.Tensor, dim: int, period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal encoding of (B, T) dates (day of year or index) -> (B, T, dim)."""
    i = torch.arange(dim, device=dates.device)
    denom = period ** (2 * (i // 2) / dim)
    ang = dates.float()[..., None] / denom
    return torch.where(i % 2 == 0, ang.sin(), ang.cos())


class LTAE(nn.Module):
    """(N, T, D) -> (N, D) with ``heads`` learned queries; D must be divisible by ``heads``."""

    def __init__(self, dim: int, heads: int | None = None, d_k: int = 8) -> None:
        super().__init__()
        if heads is None:
            heads = next(h for h in (16, 8, 4, 2, 1) if dim % h == 0)
        if dim % heads:
            raise ModelError(f"L-TAE: feature dim {dim} is not divisible by heads={heads}")
        self.dim, self.heads, self.d_k = dim, heads, d_k
        self.norm_in = nn.LayerNorm(dim)
        self.query = nn.Parameter(torch.randn(heads, d_k) * d_k**-0.5)
        self.key = nn.Linear(dim, heads * d_k)
        self.out = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim), nn.GELU())

    def forward(self, x: torch.Tensor, dates: torch.Tensor | None = None) -> torch.Tensor:
        n, t, d = x.shape
        if dates is None:
            dates = torch.arange(t, device=x.device).expand(n, t)
        x = self.norm_in(x) + date_encoding(dates, d)
        k = self.key(x).view(n, t, self.heads, self.d_k)
        attn = torch.einsum("nthk,hk->nht", k, self.query) / self.d_k**0.5
        attn = attn.softmax(dim=-1)  # over time
        v = x.view(n, t, self.heads, d // self.heads)
        out = torch.einsum("nht,nthc->nhc", attn, v).reshape(n, d)
        self.last_attention = attn.detach()
        return self.out(out)


class TemporalAggregator(nn.Module):
    """Collapses T for the pooled vector and each feature map level.

    With ``ltae``, attention modules exist only for what the head uses:
    ``num_features`` (pooled, image heads) and/or ``channels`` (maps, dense
    heads); the other part falls back to the temporal mean, so no parameter
    is left without gradient (which DDP would reject).
    """

    def __init__(self, mode: str, num_features: int | None, channels: list[int] | None) -> None:
        super().__init__()
        if mode not in TEMPORAL:
            raise ModelError(f"temporal={mode!r} is not one of {TEMPORAL}")
        self.mode = mode
        self.pooled = LTAE(num_features) if mode == "ltae" and num_features else None
        self.maps = nn.ModuleList(LTAE(c) for c in channels) if mode == "ltae" and channels else None

    def _reduce(self, x: torch.Tensor, module: nn.Module | None, dates: torch.Tensor | None) -> torch.Tensor:
        if self.mode == "max":
            return x.amax(dim=1)
        if self.mode == "mean" or module is None:  # ltae without a module for this part: temporal mean
            return x.mean(dim=1)
        if x.ndim == 3:
            return module(x, dates)
        b, t, c, h, w = x.shape
        seq = x.permute(0, 3, 4, 1, 2).reshape(b * h * w, t, c)
        d = None if dates is None else dates[:, None, None, :].expand(b, h, w, t).reshape(b * h * w, t)
        return module(seq, d).view(b, h, w, c).permute(0, 3, 1, 2)

    def forward(self, pooled: torch.Tensor, maps: list[torch.Tensor], dates: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        mods = self.maps if self.maps is not None else [None] * len(maps)
        p = self._reduce(pooled, self.pooled, dates)
        return p, [self._reduce(m, mod, dates) for m, mod in zip(maps, mods, strict=True)]
