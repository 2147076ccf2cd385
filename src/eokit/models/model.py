"""EOModel = backbone + (temporal aggregation) + (Siamese fusion) + head, built by ``create_model``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import torch
from torch import nn

from eokit.errors import ModelError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike
from eokit.models.contract import DataContract
from eokit.models.factory import WeightsArg, create_backbone
from eokit.models.registry import get_arch, get_head, get_weight_spec, split_name
from eokit.models.temporal import TemporalAggregator, check_time, masked_mean
from eokit.tasktype import TaskType

# the task types a backbone + head model is built for
TASKS: tuple[TaskType, ...] = (
    TaskType.CLASSIFICATION, TaskType.MULTILABEL, TaskType.REGRESSION, TaskType.SEGMENTATION,
    TaskType.PIXEL_REGRESSION, TaskType.CHANGE_DETECTION, TaskType.SUPER_RESOLUTION, TaskType.DETECTION,
    TaskType.TIMESERIES_CLASSIFICATION,
)
HEAD_KIND = {
    "classification": "image", "timeseries_classification": "image", "multilabel": "image", "regression": "image",
    "segmentation": "dense", "pixel_regression": "dense", "change_detection": "dense",
    "super_resolution": "super_resolution", "detection": "detection",
}
DEFAULT_OUTPUTS = {"regression": 1, "pixel_regression": 1, "change_detection": 2}
FUSIONS = ("diff", "concat")


def siamese_fuse(a: torch.Tensor, b: torch.Tensor, fusion: str) -> torch.Tensor:
    """Absolute difference or channel concatenation of two dates' features."""
    return (a - b).abs() if fusion == "diff" else torch.cat([a, b], dim=1)


class EOModel(nn.Module):
    """A backbone and a head for one task; ``config`` rebuilds it with :func:`model_from_config`.

    Outputs: classification/multilabel (B, K) logits; regression (B,) (or (B, K));
    segmentation (B, K, H, W); pixel_regression (B, K, H, W) (K=1 by default);
    change_detection ``model(image, image2)`` -> (B, K, H, W) (K=2, or 1 for a
    single logit); super_resolution (B, C, sH, sW); detection: see
    :mod:`eokit.models.detection`. Time series (B, T, C, H, W) need ``temporal=``: the
    backbone encodes each observed date (``time_mask`` True) and the aggregator pools them
    (padded dates are never encoded); a series backbone (``tempcnn``, ``ltae``,
    ``temporal_transformer``) takes pixel series (B, T, C) itself. ``dates`` is the (B, T)
    day of year.
    """

    def __init__(self, backbone: Backbone, head: nn.Module, task: str, config: dict[str, Any],
                 temporal: TemporalAggregator | None = None, normalize: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.task = task
        self.temporal = temporal
        self.config = config
        self.normalizer = backbone.normalizer() if normalize else None
        self.fusion = config.get("fusion") or "diff"
        self.squeeze = task == "regression" and config["num_classes"] == 1

    @property
    def bands(self) -> tuple[str, ...]:
        return self.backbone.bands

    @property
    def data_contract(self) -> DataContract:
        """The backbone's data contract with this model's task and output count.

        With ``normalize=True`` the model normalises inside, so its contract asks for raw values.
        """
        c = replace(self.backbone.data_contract, task=self.task, num_outputs=self.config.get("num_classes"))
        return replace(c, mean=None, std=None, scale=1.0, offset=0.0) if self.normalizer is not None else c

    def transforms(self) -> Any:
        """Sample transform (``eokit.transforms.NormalizeBands``) for this model's bands."""
        return self.backbone.transforms()

    # -- encoding -------------------------------------------------------------------
    def _prepare(self, x: torch.Tensor, bands: Sequence[str] | None) -> tuple[torch.Tensor, Sequence[str] | None]:
        bb = self.backbone
        if bb.band_flexible and bands is not None:
            if self.normalizer is not None:
                from eokit.models.band_adapter import resolve_bands
                from eokit.sensors import get_sensor

                fb = get_sensor(bb.sensor_name) if bb.sensor_name else None
                x = bb.spec.transforms(resolve_bands(list(bands), None, fallback=fb), bb.sensor_name).apply(x, bands)
            return x, bands
        x = bb.select_bands(x, bands)
        if self.normalizer is not None:
            x = self.normalizer(x)
        return x, None

    def encode(self, image: torch.Tensor, bands: Sequence[str] | None = None,
               dates: torch.Tensor | None = None, time_mask: torch.Tensor | None = None
               ) -> tuple[Features, torch.Tensor]:
        """Features of ``image`` (time series collapsed by the temporal aggregator) and the prepared image."""
        bb = self.backbone
        if getattr(bb, "series", False):
            x = bb.select_series_bands(bb.as_series(image), bands)  # type: ignore[operator]  # SeriesBackbone
            if self.normalizer is not None:  # per band: channels last -> (B, C, T, 1) and back
                x = self.normalizer(x.transpose(1, 2)[..., None])[..., 0].transpose(1, 2)
            return bb(x, None, dates, time_mask), x
        if image.ndim == 5:
            if self.temporal is None:
                raise ModelError(
                    f"got a time series {tuple(image.shape)} but the model has no temporal aggregation; "
                    "create it with temporal='ltae' (or 'mean'/'max')"
                )
            b, t = image.shape[:2]
            dates, time_mask = check_time(b, t, dates, time_mask, owner=f"{bb.arch} (per-date encoding)",
                                          device=image.device)
            frames = image.flatten(0, 1)
            valid = time_mask.flatten() if time_mask is not None else None
            if valid is not None:  # encode only observed dates; padded ones are zeros that no pooling reads
                frames = frames[valid]
            flat, bands2 = self._prepare(frames, bands)
            f = bb(flat, bands2)
            pooled, maps = f.pooled, list(f.maps)
            if valid is not None:
                pooled = _scatter(pooled, valid)
                maps = [_scatter(m, valid) for m in maps]
                flat = _scatter(flat, valid)
            pooled = pooled.view(b, t, -1)
            maps = [m.view(b, t, *m.shape[1:]) for m in maps]
            pooled, maps = self.temporal(pooled, maps, dates, time_mask)
            return Features(pooled, maps), masked_mean(flat.view(b, t, *flat.shape[1:]), time_mask)
        if image.ndim != 4:
            raise ModelError(f"expected (B, C, H, W) or (B, T, C, H, W), got {tuple(image.shape)}")
        x, bands2 = self._prepare(image, bands)
        return self.backbone(x, bands2), x

    def forward(self, image: torch.Tensor, image2: torch.Tensor | None = None, *,
                bands: Sequence[str] | None = None, dates: torch.Tensor | None = None,
                time_mask: torch.Tensor | None = None) -> torch.Tensor:
        out_size = image.shape[-2:]
        if self.task == "change_detection" and image2 is None:
            raise ModelError("change detection needs two images: model(image, image2)")
        if self.task != "change_detection" and image2 is not None:
            raise ModelError(f"task {self.task!r} takes one image; image2 is only for change_detection")
        feats, x = self.encode(image, bands, dates, time_mask)
        if self.task == "change_detection":
            assert image2 is not None  # checked above
            f2, _ = self.encode(image2, bands, dates, time_mask)
            maps = [siamese_fuse(a, b, self.fusion) for a, b in zip(feats.maps, f2.maps, strict=True)]
            return self.head(maps, out_size)
        kind = HEAD_KIND[self.task]
        if kind == "image":
            y = self.head(feats.pooled)
            return y.squeeze(-1) if self.squeeze else y
        if kind == "super_resolution":
            return self.head(feats.maps, x)
        return self.head(feats.maps, out_size)


def _scatter(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` (one per True in ``valid``) placed at those positions, zeros elsewhere."""
    out = x.new_zeros((valid.shape[0], *x.shape[1:]))
    out[valid] = x
    return out


class DetectionModel(nn.Module):
    """EOModel counterpart for detection: ``model(images, targets)`` (torchvision semantics)."""

    def __init__(self, detector: nn.Module, config: dict[str, Any]) -> None:
        super().__init__()
        self.detector = detector
        self.backbone = cast("Backbone", detector.get_submodule("net.backbone.body"))
        self.task = "detection"
        self.config = config

    @property
    def bands(self) -> tuple[str, ...]:
        return self.backbone.bands

    @property
    def data_contract(self) -> DataContract:
        """The backbone's data contract with the detection task and class count."""
        return replace(self.backbone.data_contract, task="detection", num_outputs=self.config.get("num_classes"))

    def transforms(self) -> Any:
        """Sample transform (``eokit.transforms.NormalizeBands``) for this model's bands."""
        return self.backbone.transforms()

    def forward(self, images: Any, targets: list[dict[str, torch.Tensor]] | None = None) -> Any:
        return self.detector(images, targets)


def _head_kwargs(task: str, kind: str, bb: Backbone, k: int, fusion: str, scale: int) -> dict[str, Any]:
    if kind == "image":
        return {"num_features": bb.num_features, "num_outputs": k}
    info = bb.feature_info
    if task == "change_detection" and fusion == "concat":
        info = [{**f, "channels": 2 * f["channels"]} for f in info]
    if kind == "super_resolution":
        return {"feature_info": info, "in_chans": bb.in_chans, "scale": scale}
    return {"feature_info": info, "num_outputs": k}


# create_backbone arguments about this run (what may be loaded), not about the model: not saved in its config
RUNTIME_KWARGS = ("allow_noncommercial", "pretrained")


def create_model(
    backbone: str = "resnet18",
    task: str = "classification",
    bands: Sequence[BandLike] | None = None,
    num_classes: int | None = None,
    head: str | None = None,
    *,
    sensor: str | None = None,
    weights: WeightsArg = None,
    fusion: str = "diff",
    scale: int = 2,
    temporal: str | None = None,
    normalize: bool = False,
    head_kwargs: dict[str, Any] | None = None,
    **backbone_kwargs: Any,
) -> nn.Module:
    """Build backbone + head for ``task``.

    ``backbone`` is an architecture or ``arch.tag``; extra keyword arguments go
    to the backbone (``img_size``, ``new_band_init``, ``base_channels``...).
    ``normalize=True`` puts the weights' per-band normalisation inside the model.
    """
    if task not in TASKS:
        raise ModelError(f"task {task!r} is not one of {[t.value for t in TASKS]}")
    if fusion not in FUSIONS:
        raise ModelError(f"fusion {fusion!r} is not one of {FUSIONS}")
    arch, _ = split_name(backbone)
    kind = HEAD_KIND[task]
    arch_spec = get_arch(arch)
    if arch_spec.input == "series" and (kind != "image" or temporal):
        raise ModelError(
            f"{arch} encodes a pixel time series (B, T, C) into one vector: it serves classification and "
            f"regression tasks (image heads) without temporal=; for task {task!r}"
            f"{' with temporal=' + repr(temporal) if temporal else ''} use an image backbone with "
            "temporal='ltae' (or 'mean'/'max')"
        )
    if head is None:
        head = {"image": "linear", "super_resolution": "sr", "detection": "faster_rcnn"}.get(
            kind, arch_spec.default_head.get("dense", "upernet"))
    hspec = get_head(head)
    if hspec.kind != kind:
        from eokit.models.registry import list_heads

        allowed = [h.name for h in list_heads() if h.kind == kind]
        raise ModelError(f"head {head!r} is a {hspec.kind} head; task {task!r} needs one of {allowed}")
    k = num_classes if num_classes is not None else DEFAULT_OUTPUTS.get(task)
    if k is None and task != "super_resolution":
        raise ModelError(f"task {task!r} needs num_classes=")
    bb = create_backbone(backbone, bands, sensor, weights, **backbone_kwargs)
    if kind != "image":
        bb.prune_pooling()  # no parameter without gradient (DDP); pooled = mean of the deepest map
    config: dict[str, Any] = {
        "backbone": arch,
        "weights": bb.spec.name if bb.spec.source != "file" else f"file:{bb.spec.file}",
        "task": task,
        "head": head,
        "bands": list(bb.bands),
        "sensor": bb.sensor_name,
        "num_classes": k,
        "fusion": fusion if task == "change_detection" else None,
        "scale": scale if task == "super_resolution" else None,
        "temporal": temporal,
        "normalize": normalize,
        "backbone_kwargs": {k: v for k, v in backbone_kwargs.items() if k not in RUNTIME_KWARGS},
        "head_kwargs": dict(head_kwargs or {}),
    }
    if kind == "detection":
        if temporal:
            raise ModelError("detection does not take time series (temporal=)")
        det = hspec.builder(bb, k, **(head_kwargs or {}))
        return DetectionModel(det, config)
    h = hspec.builder(**_head_kwargs(task, kind, bb, k or 0, fusion, scale), **(head_kwargs or {}))
    agg = TemporalAggregator(temporal, bb.num_features if kind == "image" else None,
                             bb.channels if kind != "image" else None) if temporal else None
    return EOModel(bb, h, task, config, agg, normalize)


def model_from_config(config: dict[str, Any]) -> nn.Module:
    """Rebuild a model (random init) from ``model.config``; load its state dict afterwards."""
    keys = {"backbone", "task", "bands", "num_classes", "head", "sensor", "fusion", "scale", "temporal",
            "normalize", "head_kwargs"}
    missing = {"backbone", "task", "bands"} - set(config)
    if missing:
        raise ModelError(f"model config lacks {sorted(missing)}; it has {sorted(config)}")
    kw = {k: config[k] for k in keys if k in config and config[k] is not None}
    kw.setdefault("fusion", "diff")
    kw.setdefault("scale", 2)
    backbone_kwargs = dict(config.get("backbone_kwargs", {}))
    weights = config.get("weights")
    if isinstance(weights, str) and not weights.startswith("file:") and weights.split(".")[-1] != "random":
        # the same weights entry (its data contract and family facts: wavelengths, GSD, frames), loading nothing
        try:
            get_weight_spec(weights)
        except ModelError:
            pass
        else:
            kw["backbone"] = weights
            backbone_kwargs["pretrained"] = False
    return create_model(**kw, **backbone_kwargs)
