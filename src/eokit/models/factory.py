"""create_backbone: name + bands + weights -> a Backbone with its weights loaded and adapted."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from eokit.errors import ModelError
from eokit.models.backbone import Backbone
from eokit.models.band_adapter import NEW_BAND_INITS, BandLike
from eokit.models.registry import get_arch, get_weight_spec, split_name
from eokit.models.weights import WeightSpec, fetch, read_safetensors
from eokit.sensors import Band, Sensor, get_sensor

WeightsArg = str | os.PathLike[str] | None


def _is_path(weights: WeightsArg) -> bool:
    if weights is None:
        return False
    if isinstance(weights, os.PathLike):
        return True
    w = str(weights)
    return w.endswith((".safetensors", ".pt", ".pth", ".bin", ".ckpt")) or os.sep in w or Path(w).exists()


def resolve_spec(name: str, weights: WeightsArg) -> tuple[str, WeightSpec, Path | None]:
    """(arch, spec, local weight file or None) for a backbone name and a ``weights`` argument."""
    arch, tag = split_name(name)
    if _is_path(weights):
        path = Path(weights).expanduser()  # type: ignore[arg-type]
        spec = WeightSpec(arch, "file", source="file", file=str(path), description=f"local file {path}")
        return arch, spec, path
    if weights is not None and tag is not None and str(weights) != tag:
        raise ModelError(f"{name!r} names weights {tag!r} but weights={weights!r}; give one of them")
    return arch, get_weight_spec(arch, str(weights) if weights is not None else tag), None


def _file_contract(arch: str, meta: dict[str, str], weight_bands: Sequence[str] | None,
                   weight_sensor: str | None) -> tuple[tuple[str, ...], str]:
    if weight_bands is not None:
        return tuple(weight_bands), weight_sensor or "rgb"
    if meta.get("bands"):
        return tuple(json.loads(meta["bands"])), meta.get("sensor") or weight_sensor or "rgb"
    # Convention of timm/torchvision checkpoints without band metadata: ImageNet RGB in R, G, B order.
    return ("R", "G", "B"), "rgb"


def create_backbone(
    name: str,
    bands: Sequence[BandLike] | None = None,
    sensor: str | Sensor | None = None,
    weights: WeightsArg = None,
    *,
    weight_bands: Sequence[str] | None = None,
    weight_sensor: str | None = None,
    new_band_init: str = "mean",
    **kwargs: Any,
) -> Backbone:
    """Build a registered backbone for ``bands`` and load ``weights``.

    ``name`` is an architecture (``'resnet18'``) or ``'arch.tag'``;
    ``weights`` is None (the tag in ``name``, else random init), a tag
    (``'imagenet'``) or a local ``.safetensors`` path. A file's bands come from
    its metadata (written by :func:`save_backbone_weights`), from
    ``weight_bands``/``weight_sensor``, or else are taken as ImageNet R, G, B.
    Bands the weights do not know get an explicit initialisation and a warning
    (``new_band_init='mean'|'zero'|'random'``).
    """
    arch, spec, path = resolve_spec(name, weights)
    tensors = None
    if path is not None:
        tensors, meta = read_safetensors(path)
        wb, ws = _file_contract(arch, meta, weight_bands, weight_sensor)
        spec = replace(spec, bands=wb, sensor=get_sensor(ws).name)
    elif spec.source == "url":
        if not spec.url:
            raise ModelError(f"weights {spec.name!r} have source 'url' but no url")
        tensors, _ = read_safetensors(fetch(spec.url, spec.sha256, name=spec.name))
    elif spec.source == "file":
        tensors, _ = read_safetensors(spec.file or "")
    if bands is None:
        if not spec.bands:
            raise ModelError(f"{spec.name} accepts any bands: pass bands=(...) (and sensor=)")
        bands, sensor = spec.bands, sensor or spec.sensor
    if new_band_init not in NEW_BAND_INITS:
        raise ModelError(f"new_band_init={new_band_init!r} is not one of {NEW_BAND_INITS}")
    bb: Backbone = get_arch(arch).builder(bands, sensor, spec, **kwargs)
    bb.new_band_init = new_band_init
    if spec.source == "timm":
        tensors = bb.checkpoint_from_timm()  # type: ignore[operator]  # TimmBackbone only (source "timm")
    if tensors is not None:
        ckpt_bands: tuple[Band, ...] = spec.band_objects()
        bb.load_checkpoint(tensors, ckpt_bands)
    return bb
