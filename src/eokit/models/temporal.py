"""Temporal aggregation of per-date features (L-TAE attention, mean or max pooling) and time inputs.

A time series (B, T, C, H, W) is encoded date by date with the shared
backbone; each feature level (B, T, D, h, w) and the pooled vector (B, T, D)
is then collapsed over T. ``ltae`` follows the Lightweight Temporal Attention
Encoder (Garnot & Landrieu, 2020): learned master queries per head, keys from
the (date-encoded) inputs, values = the head's channel group of the inputs.

Every reduction honours a ``time_mask`` (B, T) bool, True where a date holds an
observation: masked dates get no attention weight and count in no mean or max,
so a padded date changes nothing. :func:`check_time` validates ``doy`` and
``time_mask`` against a series and :func:`doy_from_dates` turns ISO dates into both.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import torch
from torch import nn

from eokit.errors import DatasetError, ModelError

TEMPORAL = ("ltae", "mean", "max")


def date_encoding(dates: torch.Tensor, dim: int, period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal encoding of (B, T) dates (day of year or index) -> (B, T, dim)."""
    i = torch.arange(dim, device=dates.device)
    denom = period ** (2 * (i // 2) / dim)
    ang = dates.float()[..., None] / denom
    return torch.where(i % 2 == 0, ang.sin(), ang.cos())


def doy_from_dates(dates: Sequence[str | _dt.date | None], where: str = "the series") -> tuple[torch.Tensor, torch.Tensor]:
    """``(doy, time_mask)`` of a list of ISO dates: day of year (T,) int64 and (T,) bool.

    A ``None`` (or empty) date is a missing observation: doy 0 and time_mask False,
    never filled in. A date that does not parse raises DatasetError naming it.
    """
    doy, mask = [], []
    for i, d in enumerate(dates):
        if d is None or d == "":
            doy.append(0)
            mask.append(False)
            continue
        try:
            day = d if isinstance(d, _dt.date) else _dt.date.fromisoformat(str(d).strip()[:10])
        except ValueError:
            raise DatasetError(
                f"{where}: date {i} = {d!r} is not an ISO date (YYYY-MM-DD); fix it, or give None for a "
                "missing date (it is then masked, time_mask False)"
            ) from None
        doy.append(day.timetuple().tm_yday)
        mask.append(True)
    return torch.tensor(doy, dtype=torch.int64), torch.tensor(mask, dtype=torch.bool)


def _as_tensor(v: object, what: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    try:
        return torch.as_tensor(v, device=device).to(dtype)
    except (TypeError, ValueError, RuntimeError):
        raise ModelError(f"{what} must be a (B, T) tensor or nested list of numbers, got {type(v).__name__}: "
                         f"{str(v)[:80]}") from None


def check_time(b: int, t: int, doy: object | None, time_mask: object | None, *, owner: str,
               device: torch.device | None = None, min_dates: int = 1,
               ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Validated ``(doy, time_mask)`` for a batch of ``b`` series of ``t`` dates.

    Shapes must be (B, T); a sample needs at least ``min_dates`` observed dates; observed
    days of year must lie in 1..366. Errors name ``owner``, the value and the fix.
    """
    device = device or torch.device("cpu")
    mask = None
    if time_mask is not None:
        mask = _as_tensor(time_mask, f"{owner}: time_mask", torch.bool, device)
        if mask.ndim == 1 and b == 1:
            mask = mask[None]
        if tuple(mask.shape) != (b, t):
            raise ModelError(f"{owner}: time_mask has shape {tuple(mask.shape)} but the series has B={b}, T={t} "
                             "dates; give one True/False per date (B, T)")
    n_valid = mask.sum(1) if mask is not None else torch.full((b,), t, device=device)
    if bool((n_valid < min_dates).any()):
        i = int(torch.nonzero(n_valid < min_dates)[0, 0])
        raise ModelError(
            f"{owner}: sample {i} of the batch has {int(n_valid[i])} observed date(s) (T={t}); it needs at least "
            f"{min_dates}. Use a longer time window or more dates, or drop series with too few observations"
        )
    if doy is None:
        return None, mask
    d = _as_tensor(doy, f"{owner}: doy", torch.int64, device)
    if d.ndim == 1 and b == 1:
        d = d[None]
    if d.ndim == 1 and d.shape[0] == t:  # one date list shared by the batch
        d = d[None].expand(b, t)
    if tuple(d.shape) != (b, t):
        raise ModelError(f"{owner}: doy has shape {tuple(d.shape)} but the series has B={b}, T={t} dates; "
                         "give one day of year per date")
    valid = mask if mask is not None else torch.ones_like(d, dtype=torch.bool)
    bad = valid & ((d < 1) | (d > 366))
    if bool(bad.any()):
        i, j = (int(v) for v in torch.nonzero(bad)[0])
        raise ModelError(f"{owner}: doy[{i}, {j}] = {int(d[i, j])} is not a day of year (1..366); the dates are "
                         "missing or not parsed: build doy with eokit.models.temporal.doy_from_dates, or mark "
                         "the date missing with time_mask False")
    return d, mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None, dim: int = 1) -> torch.Tensor:
    """Mean over ``dim`` (time) of the observed dates only; ``mask`` (B, T) broadcasts over trailing dims."""
    if mask is None:
        return x.mean(dim=dim)
    m = mask.view(*mask.shape, *([1] * (x.ndim - mask.ndim))).to(x.dtype)
    return (x * m).sum(dim=dim) / m.sum(dim=dim).clamp(min=1)


def masked_max(x: torch.Tensor, mask: torch.Tensor | None, dim: int = 1) -> torch.Tensor:
    """Max over ``dim`` (time) of the observed dates only."""
    if mask is None:
        return x.amax(dim=dim)
    m = mask.view(*mask.shape, *([1] * (x.ndim - mask.ndim)))
    return x.masked_fill(~m, float("-inf")).amax(dim=dim)


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

    def forward(self, x: torch.Tensor, dates: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        n, t, d = x.shape
        if dates is None:
            dates = torch.arange(t, device=x.device).expand(n, t)
        x = self.norm_in(x) + date_encoding(dates, d)
        k = self.key(x).view(n, t, self.heads, self.d_k)
        attn = torch.einsum("nthk,hk->nht", k, self.query) / self.d_k**0.5
        if mask is not None:  # masked dates get exactly zero weight
            attn = attn.masked_fill(~mask[:, None, :], float("-inf"))
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
    is left without gradient (which DDP would reject). ``time_mask`` (B, T)
    excludes padded or missing dates from every reduction.
    """

    def __init__(self, mode: str, num_features: int | None, channels: list[int] | None) -> None:
        super().__init__()
        if mode not in TEMPORAL:
            raise ModelError(f"temporal={mode!r} is not one of {TEMPORAL}")
        self.mode = mode
        self.pooled = LTAE(num_features) if mode == "ltae" and num_features else None
        self.maps = nn.ModuleList(LTAE(c) for c in channels) if mode == "ltae" and channels else None

    def _reduce(self, x: torch.Tensor, module: nn.Module | None, dates: torch.Tensor | None,
                mask: torch.Tensor | None) -> torch.Tensor:
        if self.mode == "max":
            return masked_max(x, mask)
        if self.mode == "mean" or module is None:  # ltae without a module for this part: temporal mean
            return masked_mean(x, mask)
        if x.ndim == 3:
            return module(x, dates, mask)
        b, t, c, h, w = x.shape
        seq = x.permute(0, 3, 4, 1, 2).reshape(b * h * w, t, c)
        d = None if dates is None else dates[:, None, None, :].expand(b, h, w, t).reshape(b * h * w, t)
        m = None if mask is None else mask[:, None, None, :].expand(b, h, w, t).reshape(b * h * w, t)
        return module(seq, d, m).view(b, h, w, c).permute(0, 3, 1, 2)

    def forward(self, pooled: torch.Tensor, maps: list[torch.Tensor], dates: torch.Tensor | None = None,
                time_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        mods = self.maps if self.maps is not None else [None] * len(maps)
        p = self._reduce(pooled, self.pooled, dates, time_mask)
        return p, [self._reduce(m, mod, dates, time_mask) for m, mod in zip(maps, mods, strict=True)]
