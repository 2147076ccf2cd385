"""The backbone contract every architecture implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from eokit.errors import BandError, CheckpointMismatchError
from eokit.models.band_adapter import BandLike, adapt_conv_weight, map_bands, resolve_bands
from eokit.models.contract import DataContract
from eokit.models.state_dict import check_keys
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor, band_key, get_sensor, match_bands
from eokit.transforms import Normalize, NormalizeBands


@dataclass
class Features:
    """What a backbone returns: a pooled vector and multi-scale maps (finest first)."""

    pooled: torch.Tensor  # (B, D)
    maps: list[torch.Tensor]  # [(B, C_i, H_i, W_i)], strides as in feature_info


def vit_feature_blocks(depth: int) -> list[int]:
    """The blocks a plain ViT exposes as its feature maps: 4 evenly spaced, the last included (fewer when depth < 4)."""
    return sorted({max(round(depth * k / 4) - 1, 0) for k in (1, 2, 3, 4)})


def check_state_dict(module: nn.Module, sd: dict[str, torch.Tensor], arch: str) -> None:
    """Raise CheckpointMismatchError listing missing/unexpected keys and shape mismatches."""
    check_keys(module, sd, arch)


class Backbone(nn.Module):
    """Base class: ``forward(image, bands) -> Features``.

    Subclasses set ``num_features`` and ``feature_info`` (a list of
    ``dict(channels=, stride=)``, one per map) and implement
    ``forward_features(x)`` for an image already in the backbone's band order.
    """

    arch: str = "backbone"
    band_flexible: bool = False  # True: any band set works at forward time (e.g. DOFA)
    wavelength_error = ""  # appended to the missing-wavelength error of band-flexible backbones

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec) -> None:
        super().__init__()
        if not bands:
            raise BandError(f"{self.arch}: bands must be a non-empty sequence of band names")
        self.spec = spec
        fallback = get_sensor(spec.sensor) if spec.sensor else None
        self._bands: tuple[Band, ...] = resolve_bands(list(bands), sensor, fallback=fallback)
        self.sensor_name: str | None = get_sensor(sensor).name if sensor is not None else spec.sensor
        self.num_features: int = 0
        self.feature_info: list[dict[str, int]] = []
        self.band_mapping: Any = None  # BandMapping once weights were adapted
        self.first_conv_keys: list[str] = []  # state-dict keys of band-dependent kernels (O, C, kh, kw)
        self.new_band_init: str = "mean"
        self.pooling_pruned = False  # True: pooled = mean of the deepest map (see prune_pooling)

    # -- band contract --------------------------------------------------------
    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(b.name for b in self._bands)

    @property
    def band_objects(self) -> tuple[Band, ...]:
        return self._bands

    @property
    def in_chans(self) -> int:
        return len(self._bands)

    @property
    def wavelengths(self) -> tuple[float, ...]:
        return tuple(b.center_nm for b in self._bands)

    @property
    def data_contract(self) -> DataContract:
        """What this backbone takes: its bands, their normalisation (from its WeightSpec), gsd and sizes."""
        c = self.spec.data_contract(self._bands, self.sensor_name)
        size, patch = getattr(self, "img_size", None), getattr(self, "patch_size", None)
        return replace(c, input_size=int(size) if isinstance(size, int) else c.input_size,
                       patch_size=int(patch) if isinstance(patch, int) else None)

    def transforms(self) -> NormalizeBands:
        """Sample transform normalising this backbone's bands by name (its data contract's)."""
        return self.spec.transforms(self._bands, self.sensor_name)

    def normalizer(self) -> Normalize:
        """The same normalisation as an nn.Module on tensors (for use inside a model)."""
        return self.transforms().module(self.bands)

    def band_table(self, bands: Sequence[BandLike] | None) -> tuple[Band, ...]:
        """The Band objects of ``bands`` (default: the backbone's), resolved through its sensor."""
        if bands is None:
            return self.band_objects
        own = Sensor(self.arch, self.band_objects)  # the backbone's own bands answer first, by any of their names
        given = [own.band(b) if isinstance(b, str) and own.has(b) else b for b in bands]
        fallback = get_sensor(self.sensor_name) if self.sensor_name else None
        try:
            resolved = resolve_bands(given, None, fallback=fallback)
        except BandError as exc:
            raise BandError(f"{self.arch}: {exc}") from None
        missing = [b.name for b in resolved if not b.center_nm or b.center_nm <= 0]
        if missing:
            raise BandError(
                f"{self.arch}: bands {missing} have no centre wavelength, which this wavelength-conditioned "
                f"model needs to generate their patch kernels; pass wavelengths= (nm) or bands of a sensor "
                f"with wavelengths (e.g. Band(name, center_nm=..., bandwidth_nm=...)){self.wavelength_error}")
        return resolved

    def band_index(self, bands: Sequence[str]) -> list[int] | None:
        """Positions of this backbone's bands in ``bands`` (None when identical)."""
        given = [b.name if isinstance(b, Band) else b for b in bands]
        if [band_key(g) for g in given] == [band_key(b) for b in self.bands]:
            return None
        own = Sensor(self.arch, self._bands)  # so the bands' own aliases and common names resolve
        try:
            return match_bands(self.bands, given, own, where=f"the input bands {given}",
                               what=f"{self.arch} (built for bands {list(self.bands)})")
        except BandError as exc:
            raise BandError(f"{exc}. Or build the backbone with bands={given!r} (weights are adapted by name)") from None

    def select_bands(self, image: torch.Tensor, bands: Sequence[str] | None) -> torch.Tensor:
        if bands is not None and len(bands) != image.shape[-3]:
            raise BandError(f"{self.arch}: image has {image.shape[-3]} channels but bands lists {len(bands)}: {list(bands)}")
        if bands is not None:
            index = self.band_index(bands)
            if index is not None:
                image = image[..., index, :, :]
        if image.shape[-3] != self.in_chans:
            raise BandError(
                f"{self.arch}: expected {self.in_chans} channels {list(self.bands)}, got {image.shape[-3]}; "
                "pass bands= with the image's band names"
            )
        return image

    # -- forward ----------------------------------------------------------------
    def forward(self, image: torch.Tensor, bands: Sequence[str] | None = None) -> Features:
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected an image batch (B, C, H, W), got shape {tuple(image.shape)}")
        return self.forward_features(self.select_bands(image, bands))

    def forward_features(self, x: torch.Tensor) -> Features:
        raise NotImplementedError

    def prune_pooling(self) -> None:
        """Remove layers that only serve the pooled vector (final norm, conv head).

        Dense, super-resolution and detection models call this, so that every
        parameter receives a gradient (DDP requires it). ``pooled`` then
        becomes the global mean of the deepest map.
        """
        self._prune_pooling()
        self.pooling_pruned = True
        self.num_features = self.feature_info[-1]["channels"]

    def _prune_pooling(self) -> None:
        """Subclasses drop their pooled-only layers here."""

    def forward_intermediates(self, image: torch.Tensor, bands: Sequence[str] | None = None) -> list[torch.Tensor]:
        """The multi-scale feature maps only."""
        return self.forward(image, bands).maps

    # -- weights ------------------------------------------------------------------
    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A published checkpoint's keys -> this module's keys (unwrap, prefixes, renames, dropped heads).

        Families whose published container differs from their module override this
        (see :mod:`eokit.models.state_dict` for the shared pieces); the default is identity.
        """
        return state_dict

    def load_checkpoint(self, state_dict: dict[str, torch.Tensor], ckpt_bands: tuple[Band, ...]) -> None:
        """Load a state dict trained on ``ckpt_bands``; band-dependent kernels are adapted by band name."""
        sd = dict(self.convert_checkpoint(dict(state_dict)))
        for key in self.first_conv_keys:
            if key not in sd:
                raise CheckpointMismatchError(f"{self.arch}: checkpoint lacks the first-layer kernel {key!r}")
            mapping = map_bands(self.band_objects, ckpt_bands, self.new_band_init)
            sd[key] = adapt_conv_weight(sd[key], mapping, owner=f"{self.arch}.{self.spec.tag}")
            self.band_mapping = mapping
        check_state_dict(self, sd, self.arch)
        self.load_state_dict(sd)

    @property
    def channels(self) -> list[int]:
        return [f["channels"] for f in self.feature_info]

    @property
    def strides(self) -> list[int]:
        return [f["stride"] for f in self.feature_info]

    def extra_repr(self) -> str:
        return f"weights={self.spec.name!r}, bands={list(self.bands)}"
