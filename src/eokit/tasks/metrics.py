"""Every metric eokit reports, implemented once (on torchmetrics) for training, ``evaluate`` and bench.

- :func:`metric_collection` — the ``MetricCollection`` of a task type (what ``Task.metrics()``
  returns; Lightning and ``eokit evaluate`` update it batch by batch);
- :func:`update_metrics` — feed it *predictions* (class ids, label probabilities, values, images
  or boxes) and targets;
- :func:`compute_metrics` — JSON-ready values (floats, per-class lists or ``{class: value}``);
  raises :class:`~eokit.errors.MetricError` when nothing valid was seen;
- :func:`score` — the three at once on whole arrays (numpy or torch): what bench calls.

Metric names per task type: classification ``oa``, ``aa``, ``f1_macro``, ``f1_per_class``,
``kappa``; multilabel ``map``, ``f1_micro``, ``f1_macro``, ``f1_per_class``; segmentation
``miou``, ``iou_per_class``, ``oa`` (pixel accuracy), ``f1_macro``; change detection adds
``f1_change``, ``iou_change``, ``precision_change``, ``recall_change``; regression and pixel
regression ``rmse``, ``mae``, ``r2``; super-resolution ``psnr``, ``ssim``, ``sam`` (spectral angle,
degrees), ``rmse``, ``mae``; detection ``map``, ``map_50``, ``map_75``, ``mar_100``, ...
:func:`rank_correlation` gives Spearman's rho and Kendall's tau-b of two score lists (the SR
protocol's fidelity-vs-downstream agreement).

Conventions (checked against scikit-learn in tests/tasks/test_metrics_agree.py): macro averages
(F1, IoU) run over the classes present in the target or the prediction; multi-label ``map`` is
the mean average precision over the labels with at least one positive target; a multi-label
prediction is positive when its probability is ``>= threshold`` (as ``MultilabelTask.predict``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, MetricCollection, R2Score
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
    MulticlassAccuracy,
    MulticlassCohenKappa,
    MulticlassF1Score,
    MulticlassJaccardIndex,
    MultilabelAveragePrecision,
    MultilabelF1Score,
)
from torchmetrics.utilities import dim_zero_cat

from eokit.errors import ConfigError, MetricError
from eokit.tasktype import TaskType

SUPPORT = "support"
"""Key of the :class:`Support` member of every collection (left out of :func:`compute_metrics`)."""


class Support(Metric):
    """How many targets a collection has seen that its metrics can be computed from.

    ``what`` names them in the error (``labelled pixels``, ``positive labels``, ...);
    fewer than ``minimum`` makes :func:`compute_metrics` raise MetricError.
    """

    full_state_update = False

    def __init__(self, what: str, *, ignore_index: int | None = None, positives: bool = False,
                 minimum: int = 1, hint: str = "") -> None:
        super().__init__()
        self.what, self.ignore_index, self.positives = what, ignore_index, positives
        self.minimum, self.hint = minimum, hint
        self.n: Tensor
        self.add_state("n", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Any, target: Any) -> None:
        if isinstance(target, list | tuple):  # detection: one {"boxes", "labels"} per image
            self.n += sum(int(t["labels"].numel()) for t in target)
            return
        if self.positives:
            ok = target == 1
        elif target.is_floating_point():
            ok = torch.isfinite(target)
        elif self.ignore_index is not None:
            ok = target != self.ignore_index
        else:
            ok = torch.ones_like(target, dtype=torch.bool)
        self.n += ok.sum()

    def compute(self) -> Tensor:
        return self.n


class PresentLabelsAveragePrecision(MultilabelAveragePrecision):
    """Macro average precision over the labels with at least one positive target.

    A label without a positive has no defined AP (scikit-learn warns, torchmetrics counts 0);
    it is left out of the mean, as in BigEarthNet's evaluation.
    """

    def __init__(self, num_labels: int) -> None:
        super().__init__(num_labels, average=None, thresholds=None)

    def compute(self) -> Tensor:  # type: ignore[override]  # one AP per present label, not curves
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Nn]o positive samples.*")
            ap = super().compute()
        has = (dim_zero_cat(self.target) == 1).any(0)
        if not bool(has.any()):
            raise MetricError("multi-label map: no label has a positive target; average precision is undefined")
        return ap[has].mean()


class SpectralAngle(Metric):
    """Mean spectral angle (SAM, degrees) between predicted and target pixel spectra (B, C, H, W).

    The angle of each pixel is ``arccos(<p, t> / (|p| |t|))`` over the C bands; the mean runs over
    every pixel of every image (torchmetrics' ``SpectralAngleMapper`` in degrees). Pixels where
    either spectrum is all zeros have no angle and are left out; single-band images (C = 1) have
    no spectrum, so they add nothing and the metric is NaN.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.total: Tensor
        self.n: Tensor
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        if preds.shape != target.shape or preds.ndim != 4:
            raise MetricError(f"spectral angle needs predictions and targets of one (B, C, H, W) shape, got "
                              f"{tuple(preds.shape)} and {tuple(target.shape)}")
        if preds.shape[1] < 2:
            return
        p, t = preds.double(), target.double()
        norm = p.norm(dim=1) * t.norm(dim=1)
        ok = norm > 0
        cos = ((p * t).sum(dim=1)[ok] / norm[ok]).clamp(-1.0, 1.0)
        self.total += torch.rad2deg(torch.arccos(cos)).sum()
        self.n += ok.sum()

    def compute(self) -> Tensor:
        return self.total / self.n if int(self.n) else torch.tensor(float("nan"), dtype=torch.float64)


def rank_correlation(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Spearman's rho and Kendall's tau-b between two paired score lists (torchmetrics).

    ``{"spearman": rho, "kendall": tau}``; raises MetricError for fewer than 3 pairs, lists of
    different lengths, non-finite values or a constant list (no ranking to correlate).
    """
    from torchmetrics.functional.regression import kendall_rank_corrcoef, spearman_corrcoef

    x = torch.tensor(np.asarray(a, dtype=np.float64))  # a copy: the inputs may be read-only views
    y = torch.tensor(np.asarray(b, dtype=np.float64))
    if x.ndim != 1 or x.shape != y.shape:
        raise MetricError(f"rank correlation needs two lists of one length, got {tuple(x.shape)} and {tuple(y.shape)}")
    if len(x) < 3:
        raise MetricError(f"rank correlation needs >= 3 pairs (e.g. 3 SR models), got {len(x)}; add models")
    if not bool(torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise MetricError(f"rank correlation of non-finite values {x.tolist()} / {y.tolist()}")
    for name, v in (("first", x), ("second", y)):
        if bool((v == v[0]).all()):
            raise MetricError(f"rank correlation is undefined: the {name} list is constant ({len(v)} x "
                              f"{float(v[0]):.4g}), so it ranks nothing")
    tau = kendall_rank_corrcoef(x, y)  # (tau, p) only when t_test=True
    return {"spearman": float(spearman_corrcoef(x, y)), "kendall": float(tau[0] if isinstance(tau, tuple) else tau)}


def _classes(k: int | None, task: TaskType) -> int:
    if not k or k < (1 if task == TaskType.MULTILABEL else 2):
        raise MetricError(f"{task} metrics need num_classes >= 2 (>= 1 labels for multilabel), got {k}; "
                          "pass the dataset's class count")
    return int(k)


_BASE = {
    TaskType.TIMESERIES_CLASSIFICATION: TaskType.CLASSIFICATION,
    TaskType.TIMESERIES_SEGMENTATION: TaskType.SEGMENTATION,
}


def _required_range(data_range: float | None) -> float:
    """PSNR/SSIM need the value range of the images; say how to give it."""
    if data_range is None:
        raise ConfigError("super-resolution metrics (PSNR, SSIM) need data_range= (the images' value range, "
                          "e.g. 1.0 for reflectance 0-1)")
    return float(data_range)


def metric_collection(
    task: TaskType | str,
    num_classes: int | None = None,
    *,
    ignore_index: int | None = None,
    data_range: float | None = None,
) -> MetricCollection:
    """The metrics of ``task`` (see the module docstring for the names), plus a ``support`` counter."""
    t = _BASE.get(TaskType.parse(task), TaskType.parse(task))
    ii = ignore_index
    members: dict[str, Metric]
    groups = True
    if t == TaskType.CLASSIFICATION:
        k = _classes(num_classes, t)
        members = {
            "oa": MulticlassAccuracy(k, average="micro"),
            "aa": MulticlassAccuracy(k, average="macro"),
            "f1_macro": MulticlassF1Score(k, average="macro"),
            "f1_per_class": MulticlassF1Score(k, average=None),
            "kappa": MulticlassCohenKappa(k),
            SUPPORT: Support("labelled samples", hint="the split is empty"),
        }
    elif t == TaskType.MULTILABEL:
        k = _classes(num_classes, t)
        members = {
            "map": PresentLabelsAveragePrecision(k),
            "f1_micro": MultilabelF1Score(k, average="micro"),
            "f1_macro": MultilabelF1Score(k, average="macro"),
            "f1_per_class": MultilabelF1Score(k, average=None),
            SUPPORT: Support("positive labels", positives=True,
                             hint="the split is empty or no sample has any of the labels"),
        }
        groups = False  # updated member by member (probabilities for map, labels for F1)
    elif t in (TaskType.SEGMENTATION, TaskType.CHANGE_DETECTION):
        k = _classes(num_classes if num_classes is not None or t == TaskType.SEGMENTATION else 2, t)
        members = {
            "miou": MulticlassJaccardIndex(k, average="macro", ignore_index=ii),
            "iou_per_class": MulticlassJaccardIndex(k, average=None, ignore_index=ii),
            "oa": MulticlassAccuracy(k, average="micro", ignore_index=ii),
            "f1_macro": MulticlassF1Score(k, average="macro", ignore_index=ii),
            SUPPORT: Support("labelled pixels", ignore_index=ii,
                             hint=f"every target pixel is ignore_index={ii}" if ii is not None else
                             "the split is empty"),
        }
        if t == TaskType.CHANGE_DETECTION:
            members.update({
                "f1_change": BinaryF1Score(ignore_index=ii),
                "iou_change": BinaryJaccardIndex(ignore_index=ii),
                "precision_change": BinaryPrecision(ignore_index=ii),
                "recall_change": BinaryRecall(ignore_index=ii),
            })
            groups = False
    elif t in (TaskType.REGRESSION, TaskType.PIXEL_REGRESSION):
        members = {
            "rmse": MeanSquaredError(squared=False),
            "mae": MeanAbsoluteError(),
            "r2": R2Score(),
            SUPPORT: Support("finite targets", minimum=2,
                             hint="r2 needs two; the split is empty or every target is masked"),
        }
    elif t == TaskType.SUPER_RESOLUTION:
        from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

        members = {
            "psnr": PeakSignalNoiseRatio(data_range=_required_range(data_range)),
            "ssim": StructuralSimilarityIndexMeasure(data_range=_required_range(data_range)),
            "sam": SpectralAngle(),
            "rmse": MeanSquaredError(squared=False),
            "mae": MeanAbsoluteError(),
            SUPPORT: Support("target pixels", hint="the split is empty"),
        }
        groups = False
    elif t == TaskType.DETECTION:
        from torchmetrics.detection import MeanAveragePrecision

        members = {
            "map": MeanAveragePrecision(box_format="xyxy", iou_type="bbox"),
            SUPPORT: Support("ground-truth boxes", hint="the split is empty or has no boxes"),
        }
    else:  # pragma: no cover - every TaskType is handled above
        raise MetricError(f"task type {t!r} has no metrics")
    return MetricCollection(dict[str, Metric | MetricCollection](members), compute_groups=groups)


def update_metrics(
    task: TaskType | str,
    metrics: MetricCollection,
    preds: Any,
    target: Any,
    *,
    ignore_index: int | None = None,
    threshold: float = 0.5,
) -> None:
    """Update ``metrics`` (from :func:`metric_collection`) with one batch of predictions.

    ``preds``: class ids (classification, segmentation, change), label probabilities in [0, 1]
    (multilabel), values (regression; pixel regression: valid pixels only), images
    (super-resolution), or torchvision-style ``[{"boxes", "scores", "labels"}]`` (detection).
    ``target``: the matching class ids, multi-hot rows, values, images or boxes.
    """
    t = _BASE.get(TaskType.parse(task), TaskType.parse(task))
    if t == TaskType.MULTILABEL:
        labels = (preds >= threshold).long()  # positive at >= threshold, as MultilabelTask.predict
        for name, metric in metrics.items(keep_base=True):
            metric.update(preds if name == "map" else labels, target)
    elif t == TaskType.CHANGE_DETECTION:
        change = (target == 1).long()
        if ignore_index is not None:
            change = torch.where(target == ignore_index, target, change)
        for name, metric in metrics.items(keep_base=True):
            if name.endswith("_change"):
                metric.update((preds == 1).long(), change)
            else:
                metric.update(preds, target)
    elif t == TaskType.SUPER_RESOLUTION:
        for name, metric in metrics.items(keep_base=True):
            if name in ("rmse", "mae"):
                metric.update(preds.flatten(), target.flatten())
            else:
                metric.update(preds, target)
    else:
        metrics.update(preds, target)


def compute_metrics(metrics: MetricCollection, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """``metrics.compute()`` as JSON-ready values: scalars -> float, vectors -> list (per class).

    Per-class vectors (keys ending in ``_per_class``) are given as a ``{class_name: value}``
    dict when ``class_names`` is known. Raises MetricError when the collection's ``support``
    (valid samples, labelled pixels, positive labels, boxes) is below what its metrics need.
    """
    members = dict(metrics.items(keep_base=True))
    support = members.get(SUPPORT)
    if isinstance(support, Support):
        with warnings.catch_warnings():  # nothing updated at all: n = 0, reported below
            warnings.filterwarnings("ignore", message=".*before the ``update`` method.*")
            n = int(support.compute())
        if n < support.minimum:
            raise MetricError(
                f"metrics {', '.join(k for k in members if k != SUPPORT)} are undefined: {n} "
                f"{support.what} seen (need >= {support.minimum})"
                + (f"; {support.hint}" if support.hint else "")
                + ". Score a split that has valid targets."
            )
    out: dict[str, Any] = {}
    for key, value in metrics.compute().items():
        if key == SUPPORT:
            continue
        if isinstance(value, dict):  # e.g. MeanAveragePrecision
            for k, v in value.items():
                if isinstance(v, Tensor) and v.numel() == 1 and v.is_floating_point():
                    out[f"{key}_{k}" if key != "map" else k] = float(v)
            continue
        v = value.detach().float().cpu()
        if v.numel() == 1:
            out[key] = float(v)
        else:
            vals = [float(x) for x in v.flatten()]
            if class_names and len(class_names) == len(vals):
                out[key] = dict(zip(class_names, vals, strict=True))
            else:
                out[key] = vals
    return out


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else torch.from_numpy(np.ascontiguousarray(x))


def score(
    task: TaskType | str,
    target: Any,
    preds: Any,
    *,
    num_classes: int | None = None,
    ignore_index: int | None = None,
    threshold: float = 0.5,
    data_range: float | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every metric of ``task`` on whole arrays (see :func:`update_metrics` for what ``preds`` holds).

    Class ids must lie in ``[0, num_classes)`` (targets may also equal ``ignore_index``).
    Raises MetricError on an empty set, all-ignored pixels or no positive label.
    """
    t = _BASE.get(TaskType.parse(task), TaskType.parse(task))
    if t == TaskType.DETECTION:
        m = metric_collection(t, num_classes)
        update_metrics(t, m, list(preds), list(target))
        return compute_metrics(m, class_names)
    y, p = _as_tensor(target), _as_tensor(preds)
    if y.shape[0] != p.shape[0]:
        raise MetricError(f"{t}: {p.shape[0]} predictions for {y.shape[0]} targets")
    if y.numel() == 0:
        raise MetricError(f"{t}: no samples to score (empty target array); score a split that has items")
    if t == TaskType.MULTILABEL:
        y = (y > 0.5).long()
        p = p.double()
        num_classes = num_classes or int(y.shape[1])
    elif t.classes:
        y, p = y.long(), p.long()
        k = num_classes or (2 if t == TaskType.CHANGE_DETECTION else 0)
        valid = y != ignore_index if ignore_index is not None else torch.ones_like(y, dtype=torch.bool)
        bad = [int(v) for v in torch.unique(torch.cat([y[valid], p.flatten()])) if not 0 <= int(v) < k]
        if bad:
            raise MetricError(f"{t}: class ids {bad[:5]} are outside [0, {k}) (num_classes={k}"
                              + (f", ignore_index={ignore_index}" if ignore_index is not None else "")
                              + "); pass the dataset's class count")
    else:
        y, p = y.double(), p.double()
        if t == TaskType.PIXEL_REGRESSION or t == TaskType.REGRESSION:
            y, p = y.flatten(), p.flatten()
            ok = torch.isfinite(y)
            y, p = y[ok], p[ok]
    m = metric_collection(t, num_classes, ignore_index=ignore_index, data_range=data_range)
    update_metrics(t, m, p, y, ignore_index=ignore_index, threshold=threshold)
    return compute_metrics(m, class_names)
