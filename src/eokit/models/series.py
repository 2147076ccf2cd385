"""Pixel time-series encoders: TempCNN, a small temporal transformer and L-TAE.

Each is a :class:`~eokit.models.backbone.Backbone` whose input is a pixel time series
(B, T, C) (or (B, T, C, 1, 1), the shape of single-pixel image series) with optional
``doy`` (B, T) day of year and ``time_mask`` (B, T) bool (False = padded or missing
date), and whose output is ``Features(pooled (B, D), maps=[])``: with the ``linear``
or ``mlp`` head, ``create_model`` makes a time-series classifier. Registered as
``tempcnn``, ``temporal_transformer`` and ``ltae`` (``ArchSpec.input == "series"``).

Masking: a masked date never reaches the output. TempCNN zeroes it before and after
every convolution block (its value is irrelevant); the transformer excludes it from
attention (key padding mask) and from the pooled mean; L-TAE gives it zero attention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from eokit.errors import BandError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike
from eokit.models.temporal import LTAE, check_time, date_encoding, masked_max, masked_mean
from eokit.models.weights import WeightSpec
from eokit.sensors import Sensor

POSITIONS = ("auto", "doy", "index")
"""Where the transformer and L-TAE take date positions from: ``doy`` (required), the date
``index`` (1..T), or ``auto`` (doy when the batch has it, else the index)."""


class SeriesBackbone(Backbone):
    """Base of the pixel time-series encoders: ``forward(series, bands, doy, time_mask) -> Features``.

    Subclasses implement ``forward_series(x, doy, mask)`` on (B, T, C) in the
    encoder's band order; ``min_dates`` is the fewest observed dates a sample may have,
    ``n_dates`` (when set) the exact series length the encoder was built for.
    """

    series = True
    min_dates: int = 1
    n_dates: int | None = None
    positions: str = "auto"

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec) -> None:
        super().__init__(bands, sensor, spec)
        self.feature_info = []

    def as_series(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) from (B, T, C) or (B, T, C, 1, 1); ModelError for anything else."""
        if x.ndim == 5 and x.shape[-2:] == (1, 1):
            return x[..., 0, 0]
        if x.ndim != 3:
            raise ModelError(
                f"{self.arch}: expected a pixel time series (B, T, C) or (B, T, C, 1, 1), got shape "
                f"{tuple(x.shape)}; image time series (B, T, C, H, W) need an image backbone with "
                "temporal='ltae' (or 'mean'/'max')"
            )
        return x

    def select_series_bands(self, x: torch.Tensor, bands: Sequence[str] | None) -> torch.Tensor:
        """The channels of (B, T, C) ``x`` in this encoder's band order (picked by name when ``bands`` is given)."""
        if bands is not None and len(bands) != x.shape[-1]:
            raise BandError(f"{self.arch}: the series has {x.shape[-1]} channels per date but bands lists "
                            f"{len(bands)}: {list(bands)}")
        if bands is not None:
            index = self.band_index(bands)
            if index is not None:
                x = x[..., index]
        if x.shape[-1] != self.in_chans:
            raise BandError(
                f"{self.arch}: expected {self.in_chans} channels per date {list(self.bands)}, got {x.shape[-1]}; "
                "pass bands= with the series' band names, or build the model for the series' bands"
            )
        return x

    def forward(self, image: torch.Tensor, bands: Sequence[str] | None = None, doy: object | None = None,
                time_mask: object | None = None) -> Features:
        x = self.select_series_bands(self.as_series(image), bands)
        b, t, _ = x.shape
        if self.n_dates is not None and t != self.n_dates:
            raise ModelError(
                f"{self.arch} was built for series of n_dates={self.n_dates} dates but got T={t}; resample the "
                f"series to {self.n_dates} dates, or pad it to {self.n_dates} with time_mask False on the added "
                "dates (or build the model with n_dates=None for any length)"
            )
        d, m = check_time(b, t, doy, time_mask, owner=self.arch, device=x.device, min_dates=self.min_dates)
        if d is None and self.positions == "doy":
            raise ModelError(
                f"{self.arch} (positions='doy') needs the day of year of every date (the sample's 'doy'), but the "
                "batch has none: give the dataset its dates (e.g. dates= on the loader), or build the model with "
                "positions='index' to encode the date index instead"
            )
        if d is None or self.positions == "index":
            d = torch.arange(1, t + 1, device=x.device).expand(b, t)
        return self.forward_series(x, d, m)

    def forward_series(self, x: torch.Tensor, doy: torch.Tensor, mask: torch.Tensor | None) -> Features:
        raise NotImplementedError

    def prune_pooling(self) -> None:
        raise ModelError(f"{self.arch} encodes a series into one vector (no feature maps); use it for "
                         "classification or regression, not for dense tasks")


def _check_positions(positions: str) -> str:
    if positions not in POSITIONS:
        raise ModelError(f"positions={positions!r} is not one of {POSITIONS}")
    return positions


class TempCNN(SeriesBackbone):
    """TempCNN (Pelletier, Webb & Petitjean 2019): 1-D temporal convolutions + batch norm + dropout + dense.

    ``depth`` blocks of Conv1d(``filters``, ``kernel_size``, same padding) + BatchNorm + ReLU +
    Dropout, then (``n_dates`` given, as in the paper) flatten + Linear(``hidden``) + BatchNorm +
    ReLU + Dropout; with ``n_dates=None`` the blocks are pooled over the observed dates
    (``pool='mean'|'max'``) before the dense layer, so any series length works.
    """

    arch = "tempcnn"

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, *,
                 n_dates: int | None = None, filters: int = 64, kernel_size: int = 5, depth: int = 3,
                 hidden: int = 256, dropout: float = 0.2, pool: str = "mean") -> None:
        super().__init__(bands, sensor, spec)
        if n_dates is not None and n_dates < 1:
            raise ModelError(f"tempcnn: n_dates={n_dates} must be >= 1 (or None for any length)")
        if pool not in ("mean", "max"):
            raise ModelError(f"tempcnn: pool={pool!r} is not one of ('mean', 'max')")
        self.n_dates, self.pool = n_dates, pool
        chans = [self.in_chans] + [filters] * depth
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(chans[i], chans[i + 1], kernel_size, padding=kernel_size // 2),
                          nn.BatchNorm1d(chans[i + 1]), nn.ReLU(inplace=True), nn.Dropout(dropout))
            for i in range(depth)
        )
        flat = filters * n_dates if n_dates is not None else filters
        self.dense = nn.Sequential(nn.Linear(flat, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                   nn.Dropout(dropout))
        self.num_features = hidden
        self.first_conv_keys = []  # 1-D kernels: weights load only for the bands they were trained on

    def forward_series(self, x: torch.Tensor, doy: torch.Tensor, mask: torch.Tensor | None) -> Features:
        h = x.transpose(1, 2)  # (B, C, T)
        m = mask[:, None, :].to(h.dtype) if mask is not None else None
        for block in self.blocks:
            h = block(h * m if m is not None else h)
        if m is not None:
            h = h * m
        if self.n_dates is not None:
            h = h.flatten(1)
        else:
            h = (masked_mean if self.pool == "mean" else masked_max)(h.transpose(1, 2), mask)
        return Features(pooled=self.dense(h), maps=[])


class TemporalTransformer(SeriesBackbone):
    """A small transformer encoder over dates: linear band embedding + sinusoidal day-of-year encoding,
    ``layers`` pre-norm encoder layers (padded dates masked out of attention), masked mean pooling."""

    arch = "temporal_transformer"

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, *,
                 d_model: int = 64, heads: int = 4, layers: int = 2, ff: int = 128, dropout: float = 0.1,
                 positions: str = "auto", min_dates: int = 1, period: float = 10000.0) -> None:
        super().__init__(bands, sensor, spec)
        if d_model % heads:
            raise ModelError(f"temporal_transformer: d_model={d_model} is not divisible by heads={heads}")
        self.positions, self.min_dates, self.period = _check_positions(positions), int(min_dates), float(period)
        self.embed = nn.Sequential(nn.Linear(self.in_chans, d_model), nn.LayerNorm(d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True, norm_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.num_features = d_model
        self.first_conv_keys = []

    def forward_series(self, x: torch.Tensor, doy: torch.Tensor, mask: torch.Tensor | None) -> Features:
        h = self.embed(x) + date_encoding(doy, self.num_features, self.period)
        h = self.encoder(h, src_key_padding_mask=~mask if mask is not None else None)
        return Features(pooled=self.norm(masked_mean(h, mask)), maps=[])


class LTAEEncoder(SeriesBackbone):
    """L-TAE (Garnot & Landrieu 2020) on a pixel series: per-date linear embedding to ``d_model``,
    lightweight temporal attention (``heads`` master queries, key size ``d_k``) with day-of-year
    encoding; masked dates get zero attention."""

    arch = "ltae"

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, *,
                 d_model: int = 128, heads: int = 16, d_k: int = 8, dropout: float = 0.1,
                 positions: str = "auto", min_dates: int = 1) -> None:
        super().__init__(bands, sensor, spec)
        self.positions, self.min_dates = _check_positions(positions), int(min_dates)
        self.embed = nn.Sequential(nn.Linear(self.in_chans, d_model), nn.LayerNorm(d_model), nn.GELU(),
                                   nn.Dropout(dropout))
        self.ltae = LTAE(d_model, heads, d_k)
        self.num_features = d_model
        self.first_conv_keys = []

    def forward_series(self, x: torch.Tensor, doy: torch.Tensor, mask: torch.Tensor | None) -> Features:
        return Features(pooled=self.ltae(self.embed(x), doy, mask), maps=[])


def series_builder(cls: type[SeriesBackbone]) -> Callable[..., Backbone]:
    """The registry builder of a series encoder class."""

    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, **kw: object) -> Backbone:
        return cls(bands, sensor, spec, **kw)  # type: ignore[arg-type]  # kwargs checked by the class

    return builder
