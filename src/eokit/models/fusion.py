"""Multi-modal fusion backbones: early, late and cross-attention fusion of modalities (S1 + S2, ...).

A fusion backbone is a :class:`~eokit.models.backbone.Backbone` over the *stacked* bands of a
multi-modal sample (``eokit.data.modalities``): it knows which bands belong to which modality
(``modalities={'s1': ['VV', 'VH'], 's2': [...]}`` or ``{'s1': {'bands': [...], 'sensor': ...}}``)
and returns one :class:`Features`, so every head, ``create_model``, ``eokit train`` and
``eokit bench`` use it like any backbone (``fusion_early``, ``fusion_late``,
``fusion_cross_attention``; per-modality encoders are any registered architecture).

- **early**: the bands of all modalities go through one encoder.
- **late**: one encoder per modality; each level's maps are projected to common channels and
  averaged over the modalities present.
- **cross_attention**: as late, but on the deepest ``attn_levels`` levels the tokens (pixels) of
  each modality attend to the tokens of the other modalities before the average.

A missing modality (its bands absent from ``bands=`` at forward time, or named in
:meth:`FusionBackbone.absent`) is **zeroed** by early fusion (its channels set to 0, the
normalised mean) and **dropped** by late and cross-attention fusion (its encoder does not run,
the average and the attention keys leave it out). ``modality_dropout=p`` removes one modality at
random from a training sample with probability ``p``, the same way. A modality (or band) the
model was not trained on raises :class:`~eokit.errors.ModalityError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from eokit.errors import BandError, ModalityError, ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike, resolve_bands
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, band_key, get_sensor, match_bands

FUSION_TYPES = ("early", "late", "cross_attention")
MISSING_POLICY = {"early": "zeroed", "late": "dropped", "cross_attention": "dropped"}
"""What each fusion type does with a missing modality."""

ModalitySpec = Mapping[str, Sequence[str] | Mapping[str, Any]]


def parse_modalities(modalities: ModalitySpec | None, owner: str) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """``{name: (bands, sensor)}`` from ``{name: [bands]}`` or ``{name: {'bands': [...], 'sensor': ...}}``."""
    if not modalities:
        raise ModelError(
            f"{owner} needs modalities={{name: [bands]}} (e.g. {{'s1': ['VV', 'VH'], 's2': ['B02', 'B03']}}); "
            "eokit train and eokit bench fill it from a multi-modal dataset"
        )
    out: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for name, value in modalities.items():
        if isinstance(value, Mapping):
            bands, sensor = value.get("bands"), value.get("sensor")
        else:
            bands, sensor = value, None
        if isinstance(bands, str) or not bands:
            raise ModelError(f"{owner}: modality {name!r} needs a list of band names, got {bands!r}")
        out[str(name)] = (tuple(str(b) for b in bands), None if sensor is None else str(sensor))
    return out


def _per_modality(value: Any, names: Sequence[str], what: str, owner: str, *, kwargs: bool = False) -> dict[str, Any]:
    """``value`` for every modality: one value for all, or ``{modality: value}``."""
    if not isinstance(value, Mapping):
        return {n: value for n in names}
    if kwargs and not (value and all(isinstance(v, Mapping) for v in value.values())):
        return {n: dict(value) for n in names}  # the same keyword arguments for every encoder
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ModalityError(f"{owner}: {what} names modalities {unknown} the model does not have ({list(names)})")
    if kwargs:
        return {n: dict(value.get(n) or {}) for n in names}
    missing = [n for n in names if n not in value]
    if missing:
        raise ModelError(f"{owner}: {what} names modalities {sorted(value)} but not {missing}; name every modality")
    return {n: value[n] for n in names}


def _heads(channels: int) -> int:
    return next(h for h in (8, 4, 2, 1) if channels % h == 0)


def position_encoding(h: int, w: int, channels: int, device: torch.device | None = None) -> torch.Tensor:
    """(h*w, channels) 2-D sinusoidal encoding of pixel positions (rows in the first half, columns in the second)."""
    quarter = channels // 4
    out = torch.zeros(h * w, channels, device=device)
    if quarter == 0:
        return out
    freq = 1.0 / (10000 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter))
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    for i, pos in enumerate((ys.reshape(-1), xs.reshape(-1))):
        ang = pos[:, None] * freq[None]
        out[:, 2 * i * quarter:(2 * i + 1) * quarter] = ang.sin()
        out[:, (2 * i + 1) * quarter:(2 * i + 2) * quarter] = ang.cos()
    return out


class CrossAttention(nn.Module):
    """Tokens of each modality attend to the tokens of the other modalities present (one level).

    Queries and keys carry a 2-D position encoding of their pixel, so a token can find the other
    modality's tokens at its own location (the modalities share one grid)."""

    def __init__(self, channels: int, n_modalities: int) -> None:
        super().__init__()
        self.norm_q = nn.ModuleList(nn.LayerNorm(channels) for _ in range(n_modalities))
        self.norm_kv = nn.ModuleList(nn.LayerNorm(channels) for _ in range(n_modalities))
        self.attn = nn.ModuleList(nn.MultiheadAttention(channels, _heads(channels), batch_first=True)
                                  for _ in range(n_modalities))

    def forward(self, maps: Sequence[torch.Tensor | None], present: torch.Tensor) -> list[torch.Tensor | None]:
        """``maps[m]`` (B, C, h, w) or None (modality dropped); ``present`` (B, M) bool."""
        tokens = [None if m is None else m.flatten(2).transpose(1, 2) for m in maps]  # (B, hw, C)
        ref = next(m for m in maps if m is not None)
        pos = position_encoding(ref.shape[-2], ref.shape[-1], ref.shape[1], ref.device).to(ref.dtype)
        out: list[torch.Tensor | None] = []
        for i, q in enumerate(tokens):
            others = [j for j, t in enumerate(tokens) if j != i and t is not None]
            if q is None or not others:
                out.append(maps[i])
                continue
            values = torch.cat([self.norm_kv[j](tokens[j]) for j in others], dim=1)  # type: ignore[arg-type]
            keys = values + pos.repeat(len(others), 1)
            hw = q.shape[1]
            pad = torch.cat([(~present[:, j])[:, None].expand(-1, hw) for j in others], dim=1)  # True = ignore
            none_left = pad.all(dim=1)
            pad = pad & ~none_left[:, None]  # a sample with no other modality: attend anyway, then zero it
            a, _ = self.attn[i](self.norm_q[i](q) + pos, keys, values, key_padding_mask=pad, need_weights=False)
            a = a * (~none_left).to(a.dtype)[:, None, None]
            y = q + a
            out.append(y.transpose(1, 2).reshape(maps[i].shape))  # type: ignore[union-attr]
        return out


class FusionBackbone(Backbone):
    """A backbone over the stacked bands of several modalities (see the module docstring)."""

    band_flexible = True  # any subset of whole modalities works at forward time (missing ones removed)

    def __init__(
        self,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        fusion: str,
        modalities: ModalitySpec | None = None,
        encoder: str | Mapping[str, str] = "resnet18",
        encoder_weights: str | Mapping[str, str | None] | None = None,
        encoder_kwargs: Mapping[str, Any] | None = None,
        modality_dropout: float = 0.0,
        attn_levels: int = 1,
    ) -> None:
        self.arch = f"fusion_{fusion}"
        if fusion not in FUSION_TYPES:
            raise ModelError(f"fusion {fusion!r} is not one of {FUSION_TYPES}")
        mods = parse_modalities(modalities, self.arch)
        given = [b.name if isinstance(b, Band) else str(b) for b in bands]
        owner = {band_key(b): n for n, (bs, _) in mods.items() for b in bs}
        stray = [b for b in given if band_key(b) not in owner]
        if stray:
            raise ModalityError(
                f"{self.arch}: bands {stray} belong to no modality of {_describe(mods)}; add them to a modality "
                "in modalities= or leave them out of bands="
            )
        absent = [b for n, (bs, _) in mods.items() for b in bs if band_key(b) not in {band_key(g) for g in given}]
        if absent:
            raise BandError(f"{self.arch}: bands {absent} of {_describe(mods)} are not in bands={given}")
        if not 0.0 <= modality_dropout < 1.0:
            raise ModelError(f"{self.arch}: modality_dropout must be in [0, 1), got {modality_dropout}")
        band_objs = {n: resolve_bands(list(bs), s) if s or _resolvable(bs) else tuple(Band(b, 0.0, 0.0, 0.0) for b in bs)
                     for n, (bs, s) in mods.items()}
        # the stacked order is the modalities' order (as multimodal_sample stacks them)
        super().__init__([b for n in mods for b in band_objs[n]], None, spec)
        self.fusion = fusion
        self.modality_names: tuple[str, ...] = tuple(mods)
        self.modality_bands: dict[str, tuple[str, ...]] = {n: tuple(b.name for b in band_objs[n]) for n in mods}
        self.modality_sensors: dict[str, str | None] = {n: s for n, (_, s) in mods.items()}
        self.modality_dropout = float(modality_dropout)
        self._absent: set[str] = set()
        self._positions_cache: dict[tuple[str, ...], dict[str, tuple[int | None, ...]]] = {}
        sensors = {s for s in self.modality_sensors.values()}
        if sensor is not None:
            self.sensor_name = get_sensor(sensor).name
        elif len(sensors) == 1 and None not in sensors:
            self.sensor_name = get_sensor(str(sensors.pop())).name
        from eokit.models.factory import create_backbone

        archs = _per_modality(encoder, self.modality_names, "encoder", self.arch)
        weights = _per_modality(encoder_weights, self.modality_names, "encoder_weights", self.arch)
        kwargs = _per_modality(dict(encoder_kwargs or {}), self.modality_names, "encoder_kwargs", self.arch, kwargs=True)
        if fusion == "early":
            first = self.modality_names[0]
            if len(set(archs.values())) > 1:
                raise ModelError(f"{self.arch}: early fusion has one encoder; give one encoder, not {archs}")
            self.encoders = nn.ModuleDict({"all": create_backbone(
                archs[first], [b for n in mods for b in band_objs[n]], None, weights[first], **kwargs[first])})
        else:
            self.encoders = nn.ModuleDict({
                n: create_backbone(archs[n], band_objs[n], self.modality_sensors[n], weights[n], **kwargs[n])
                for n in self.modality_names
            })
        self._build_fusion(attn_levels)

    # -- structure ----------------------------------------------------------------
    def _build_fusion(self, attn_levels: int) -> None:
        encs = [(n, self.encoder(n)) for n in self.encoders]
        ref_name, ref = encs[0]
        for name, enc in encs[1:]:
            if enc.strides != ref.strides:
                raise ModelError(
                    f"{self.arch}: the encoders' feature maps differ in strides ({ref_name}: {ref.strides}, "
                    f"{name}: {enc.strides}); use encoders of one family (e.g. encoder='resnet18' for all)"
                )
        self.feature_info = [dict(f) for f in ref.feature_info]
        self.num_features = ref.num_features
        self.proj = nn.ModuleDict({
            n: nn.ModuleList(nn.Identity() if c == r else nn.Conv2d(c, r, 1)
                             for c, r in zip(e.channels, ref.channels, strict=True))
            for n, e in encs
        })
        self.pool_proj = nn.ModuleDict({
            n: nn.Identity() if e.num_features == ref.num_features else nn.Linear(e.num_features, ref.num_features)
            for n, e in encs
        })
        levels = len(self.feature_info)
        if self.fusion == "cross_attention":
            if not 1 <= attn_levels <= levels:
                raise ModelError(f"{self.arch}: attn_levels must be in 1..{levels}, got {attn_levels}")
            first_attn = levels - attn_levels
            self.cross = nn.ModuleDict({
                str(i): CrossAttention(self.feature_info[i]["channels"], len(encs)) for i in range(first_attn, levels)
            })
            self.num_features = self.feature_info[-1]["channels"]  # pooled = mean of the fused deepest map

    def encoder(self, name: str) -> Backbone:
        """The encoder of modality ``name`` (``'all'`` for early fusion)."""
        return cast(Backbone, self.encoders[name])

    def _prune_pooling(self) -> None:
        for n in self.encoders:
            self.encoder(n).prune_pooling()
        self.pool_proj = nn.ModuleDict({n: nn.Identity() for n in self.encoders})

    # -- missing modalities ------------------------------------------------------
    @contextlib.contextmanager
    def absent(self, *names: str) -> Iterator[None]:
        """Within the block, treat modalities ``names`` as missing (zeroed or dropped, see MISSING_POLICY)."""
        self._check_names(names)
        old = self._absent
        self._absent = set(names)
        try:
            yield
        finally:
            self._absent = old

    def _check_names(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in self.modality_names]
        if unknown:
            raise ModalityError(
                f"{self.arch}: modalities {unknown} were not part of training; this model knows "
                f"{list(self.modality_names)} ({_describe_bands(self.modality_bands)}). Train a model with "
                f"them, or leave them out"
            )

    def _split(self, image: torch.Tensor, bands: Sequence[str] | None) -> dict[str, torch.Tensor]:
        """The image of each modality present in ``bands`` (all of them when ``bands`` is None)."""
        if bands is None:
            if image.shape[-3] != self.in_chans:
                raise BandError(f"{self.arch}: expected {self.in_chans} channels {list(self.bands)}, got "
                                f"{image.shape[-3]}; pass bands= with the image's band names")
            names = list(self.bands)
        else:
            names = [b.name if isinstance(b, Band) else str(b) for b in bands]
            if len(names) != image.shape[-3]:
                raise BandError(f"{self.arch}: image has {image.shape[-3]} channels but bands lists {len(names)}: {names}")
        pos = self._positions(tuple(names))
        used = {i for p in pos.values() for i in p if i is not None}
        stray = [b for i, b in enumerate(names) if i not in used]
        if stray:
            raise ModalityError(
                f"{self.arch}: input bands {stray} belong to no modality this model was trained on "
                f"({_describe_bands(self.modality_bands)}); drop them, or train a model with that modality"
            )
        out: dict[str, torch.Tensor] = {}
        for n, bs in self.modality_bands.items():
            idx = pos[n]
            if all(i is not None for i in idx):
                out[n] = image[:, list(idx)]  # type: ignore[arg-type]  # no None left
            elif any(i is not None for i in idx):
                missing = [b for b, i in zip(bs, idx, strict=True) if i is None]
                raise BandError(f"{self.arch}: modality {n!r} is incomplete: bands {missing} are missing from "
                                f"{names}; give all of {list(bs)} or none (a missing modality)")
        if not out:
            raise ModalityError(f"{self.arch}: no modality in bands {names}; give at least one of "
                                f"{_describe_bands(self.modality_bands)}")
        return out

    def _positions(self, names: tuple[str, ...]) -> dict[str, tuple[int | None, ...]]:
        """Where each modality band is in ``names`` (None: absent), resolved by name, alias or wavelength."""
        cached = self._positions_cache.get(names)
        if cached is not None:
            return cached
        own = Sensor(self.arch, self.band_objects)  # the bands' own aliases and common names resolve
        out: dict[str, tuple[int | None, ...]] = {}
        for n, bs in self.modality_bands.items():
            idx: list[int | None] = []
            for b in bs:
                try:
                    idx.append(match_bands([b], list(names), own, where=f"the input bands {list(names)}",
                                           what=self.arch)[0])
                except BandError:
                    idx.append(None)
            out[n] = tuple(idx)
        self._positions_cache[names] = out
        return out

    def _present(self, images: Mapping[str, torch.Tensor], batch: int, device: torch.device) -> torch.Tensor:
        """(B, M) bool: which modality each sample has (after absences and modality dropout)."""
        present = torch.tensor([n in images and n not in self._absent for n in self.modality_names],
                               device=device).expand(batch, -1).clone()
        if not present.any():
            raise ModalityError(f"{self.arch}: every modality is missing ({list(self.modality_names)})")
        if self.training and self.modality_dropout > 0 and present.sum(1).min() > 1:
            drop = torch.rand(batch, device=device) < self.modality_dropout
            choice = torch.multinomial(present.float(), 1).squeeze(1)  # one present modality per sample
            present[drop, choice[drop]] = False
        return present

    # -- forward --------------------------------------------------------------------
    def forward(self, image: torch.Tensor, bands: Sequence[str] | None = None) -> Features:
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected an image batch (B, C, H, W), got shape {tuple(image.shape)}")
        return self.forward_modalities(self._split(image, bands))

    def forward_modalities(self, images: Mapping[str, torch.Tensor]) -> Features:
        """Features of ``{modality: (B, C_m, H, W)}`` (each in its bands' order); absent ones are missing."""
        self._check_names(list(images))
        first = next(iter(images.values()))
        b, device = first.shape[0], first.device
        present = self._present(images, b, device)
        if self.fusion == "early":
            parts = []
            for i, n in enumerate(self.modality_names):
                c = len(self.modality_bands[n])
                if n in images:
                    x = images[n] * present[:, i].to(first.dtype)[:, None, None, None]
                else:
                    x = first.new_zeros((b, c, *first.shape[-2:]))
                parts.append(x)
            return self.encoder("all").forward_features(torch.cat(parts, dim=1))
        feats: dict[str, Features] = {}
        for n in self.modality_names:
            if n in images and bool(present[:, self.modality_names.index(n)].any()):
                feats[n] = self.encoder(n).forward_features(images[n])
        maps: list[torch.Tensor] = []
        for level in range(len(self.feature_info)):
            per = [cast(nn.ModuleList, self.proj[n])[level](feats[n].maps[level]) if n in feats else None
                   for n in self.modality_names]
            if str(level) in getattr(self, "cross", {}):
                per = self.cross[str(level)](per, present)
            maps.append(_masked_mean(per, present))
        if self.fusion == "cross_attention" or self.pooling_pruned:
            pooled = maps[-1].mean(dim=(2, 3))
        else:
            pooled = _masked_mean([self.pool_proj[n](feats[n].pooled) if n in feats else None
                                   for n in self.modality_names], present)
        return Features(pooled, maps)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self.forward(x, None)

    def extra_repr(self) -> str:
        return f"fusion={self.fusion!r}, modalities={_describe_bands(self.modality_bands)}, " \
               f"missing={MISSING_POLICY[self.fusion]}, modality_dropout={self.modality_dropout}"


def _masked_mean(values: Sequence[torch.Tensor | None], present: torch.Tensor) -> torch.Tensor:
    """Mean over the modalities present in each sample; ``values[m]`` (B, ...) or None (absent)."""
    total: torch.Tensor | None = None
    count: torch.Tensor | None = None
    for i, v in enumerate(values):
        if v is None:
            continue
        w = present[:, i].to(v.dtype).view(-1, *([1] * (v.ndim - 1)))
        total = v * w if total is None else total + v * w
        count = w if count is None else count + w
    assert total is not None and count is not None  # _present guarantees one modality
    return total / count.clamp(min=1.0)


def _resolvable(bands: Sequence[str]) -> bool:
    from eokit.sensors import list_sensors

    return any(all(s.has(b) for b in bands) for s in list_sensors())


def _describe(mods: Mapping[str, tuple[tuple[str, ...], str | None]]) -> str:
    return _describe_bands({n: bs for n, (bs, _) in mods.items()})


def _describe_bands(mods: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{n}: {', '.join(bs)}" for n, bs in mods.items())


def build_fusion(fusion: str) -> Any:
    """The ArchSpec builder of ``fusion_<fusion>``."""

    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, **kw: Any) -> Backbone:
        return FusionBackbone(bands, sensor, spec, fusion=fusion, **kw)

    return builder


def is_fusion(model: nn.Module) -> bool:
    """True when ``model`` is a fusion backbone or a model built on one."""
    return isinstance(model, FusionBackbone) or isinstance(getattr(model, "backbone", None), FusionBackbone)


def fusion_backbone(model: nn.Module) -> FusionBackbone:
    """The fusion backbone of ``model`` (a FusionBackbone, or an EOModel built on one)."""
    bb = model if isinstance(model, FusionBackbone) else getattr(model, "backbone", None)
    if not isinstance(bb, FusionBackbone):
        raise ModalityError(f"{type(model).__name__} is not a multi-modal fusion model; build one with "
                            f"backbone='fusion_late' (or {', '.join('fusion_' + f for f in FUSION_TYPES)})")
    return bb


__all__ = ["FUSION_TYPES", "MISSING_POLICY", "FusionBackbone", "build_fusion", "fusion_backbone", "is_fusion",
           "parse_modalities", "position_encoding"]
