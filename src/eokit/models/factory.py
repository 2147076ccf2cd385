"""create_backbone: name + bands + weights -> a Backbone with its weights loaded and adapted."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from eokit.errors import LicenseError, ModelError
from eokit.models.backbone import Backbone
from eokit.models.band_adapter import NEW_BAND_INITS, BandLike
from eokit.models.registry import get_arch, get_weight_spec, split_name
from eokit.models.weights import WeightSpec, fetch, read_safetensors
from eokit.sensors import Band, Sensor, get_sensor

WeightsArg = str | os.PathLike[str] | None


NONCOMMERCIAL_ENV = "EOKIT_ALLOW_NONCOMMERCIAL"


def _is_path(weights: WeightsArg) -> bool:
    if weights is None:
        return False
    if isinstance(weights, os.PathLike):
        return True
    w = str(weights)
    if w.startswith("file:"):
        return True
    return w.endswith((".safetensors", ".pt", ".pth", ".bin", ".ckpt")) or os.sep in w or Path(w).exists()


def resolve_spec(name: str, weights: WeightsArg) -> tuple[str, WeightSpec, Path | None]:
    """(arch, spec, local weight file or None) for a backbone name and a ``weights`` argument.

    ``weights`` may be a tag, a path or ``file:PATH`` (a local file), or ``url:URL`` (downloaded
    through the verified downloader). With ``name='arch.tag'`` a file or URL replaces where the
    registered weights come from but keeps their data contract (bands, normalisation): the way to
    use a published checkpoint placed by hand.
    """
    arch, tag = split_name(name)
    base = get_weight_spec(arch, tag) if tag is not None else None
    w = None if weights is None else str(weights)
    if w is not None and w.startswith("url:"):
        url = w[4:]
        if base is not None and base.pretrained:
            return arch, replace(base, source="url", url=url, sha256=None), None
        return arch, WeightSpec(arch, "url", source="url", url=url, description=f"weights from {url}"), None
    if _is_path(weights):
        path = Path(w[5:] if w and w.startswith("file:") else weights).expanduser()  # type: ignore[arg-type]
        if base is not None and base.pretrained:
            return arch, replace(base, source="file", file=str(path)), path
        spec = WeightSpec(arch, "file", source="file", file=str(path), description=f"local file {path}")
        return arch, spec, path
    if weights is not None and tag is not None and str(weights) != tag:
        raise ModelError(f"{name!r} names weights {tag!r} but weights={weights!r}; give one of them")
    return arch, get_weight_spec(arch, str(weights) if weights is not None else tag), None


def noncommercial_allowed(allow: bool | None = None) -> bool:
    """``allow`` if given, else ``$EOKIT_ALLOW_NONCOMMERCIAL`` (default: allowed, with the licence shown)."""
    if allow is not None:
        return allow
    return os.environ.get(NONCOMMERCIAL_ENV, "1").strip().lower() not in ("0", "false", "no")


def check_license(spec: WeightSpec, allow_noncommercial: bool | None = None) -> None:
    """Refuse non-commercial weights when the user disallowed them (LicenseError names the fix)."""
    if spec.noncommercial and not noncommercial_allowed(allow_noncommercial):
        raise LicenseError(
            f"weights {spec.name!r} are licensed {spec.license} (non-commercial use only) but "
            f"allow_noncommercial is false; pick weights with a commercial-use licence (eokit models list "
            f"shows the licence column) or set allow_noncommercial: true / {NONCOMMERCIAL_ENV}=1"
        )


def weights_path(spec: WeightSpec) -> Path:
    """Where the file of ``spec`` is (downloading it when it is a URL not yet in the cache)."""
    if spec.source == "file":
        return Path(spec.file or "").expanduser()
    if spec.source != "url" or not spec.url:
        raise ModelError(f"weights {spec.name!r} have no file to download (source {spec.source!r})")
    path = fetch(spec.url, spec.sha256, filename=spec.extra.get("filename"), name=spec.name)
    if spec.sha256 is None and spec.extra.get("sha256_prefix"):
        check_sha256_prefix(path, str(spec.extra["sha256_prefix"]), spec.name)
    return path


def check_sha256_prefix(path: Path, prefix: str, name: str) -> None:
    """Where only a sha256 prefix is published (TorchGeo's ``name-1c691b4f.pth``), the file must match it.

    A mismatching file is deleted and ChecksumError names it, the prefix and the actual digest.
    """
    from eokit.datasets.download import file_digest
    from eokit.errors import ChecksumError

    digest = file_digest(path)
    if not digest.startswith(prefix.lower()):
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{name}: sha256 mismatch: the published sha256 starts with {prefix} but {str(path)!r} has {digest}; "
            "the download is corrupt or the source changed. The file was deleted: download it again (a file "
            f"you trust despite this loads with weights='file:PATH' beside the name {name!r})"
        )


def download_weights(name: str) -> Path:
    """``eokit models download NAME``: fetch (or find in the cache) the file of ``arch.tag``."""
    spec = get_weight_spec(name)
    if spec.source == "timm":
        raise ModelError(f"{spec.name!r} are timm hub weights; timm downloads them on first use")
    return weights_path(spec)


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
    pretrained: bool = True,
    allow_noncommercial: bool | None = None,
    **kwargs: Any,
) -> Backbone:
    """Build a registered backbone for ``bands`` and load ``weights``.

    ``name`` is an architecture (``'resnet18'``) or ``'arch.tag'``;
    ``weights`` is None (the tag in ``name``, else random init), a tag
    (``'imagenet'``) or a local ``.safetensors`` path. A file's bands come from
    its metadata (written by :func:`save_backbone_weights`), from
    ``weight_bands``/``weight_sensor``, or else are taken as ImageNet R, G, B.
    Bands the weights do not know get an explicit initialisation and a warning
    (``new_band_init='mean'|'zero'|'random'``). ``pretrained=False`` builds the
    architecture with the weights' data contract but loads nothing (shapes, tests);
    non-commercial weights are refused when ``allow_noncommercial`` is false.
    """
    arch, spec, path = resolve_spec(name, weights)
    check_license(spec, allow_noncommercial)
    tensors = None
    if not pretrained:
        pass
    elif path is not None:
        tensors, meta = read_safetensors(path)
        if not spec.bands or weight_bands is not None:
            wb, ws = _file_contract(arch, meta, weight_bands, weight_sensor)
            spec = replace(spec, bands=wb, sensor=get_sensor(ws).name)
    elif spec.source in ("url", "file"):
        tensors, _ = read_safetensors(weights_path(spec))
    if bands is None:
        if not spec.bands:
            raise ModelError(f"{spec.name} accepts any bands: pass bands=(...) (and sensor=)")
        bands, sensor = spec.bands, sensor or spec.sensor
    if new_band_init not in NEW_BAND_INITS:
        raise ModelError(f"new_band_init={new_band_init!r} is not one of {NEW_BAND_INITS}")
    bb: Backbone = get_arch(arch).builder(bands, sensor, spec, **kwargs)
    bb.new_band_init = new_band_init
    if spec.source == "timm" and pretrained:
        tensors = bb.checkpoint_from_timm()  # type: ignore[operator]  # TimmBackbone only (source "timm")
    if tensors is not None:
        ckpt_bands: tuple[Band, ...] = spec.band_objects()
        bb.load_checkpoint(tensors, ckpt_bands)
    return bb
