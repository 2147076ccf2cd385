"""Every metric computed both ways on the same seeded predictions: through bench
(``eokit.bench.protocols.bench_scores``) and through the task / ``eokit evaluate`` path
(``Task.metrics`` + ``Task.update`` on model outputs, batch by batch, + ``compute_metrics``);
both must agree with each other and with scikit-learn."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
import yaml
from sklearn import metrics as skm

from eokit.bench.config import STORED_METRICS
from eokit.bench.data import IGNORE_INDEX
from eokit.bench.protocols import bench_scores
from eokit.errors import EokitError, MetricError
from eokit.tasks import compute_metrics, get_task, score
from eokit.tasktype import TaskType

RNG = np.random.default_rng(0)


def _task_path(task, outputs, batches):
    """What training and ``eokit evaluate`` do: update per batch, compute once."""
    m = task.metrics()
    for out, batch in zip(outputs, batches, strict=True):
        task.update(m, out, batch)
    return compute_metrics(m, task.class_names)


def _logits_for(labels: np.ndarray, k: int) -> torch.Tensor:
    """Logits whose argmax over dim 1 is ``labels`` (N,) or (N, H, W)."""
    x = torch.from_numpy(RNG.normal(size=(labels.shape[0], k, *labels.shape[1:]))).float()
    onehot = torch.nn.functional.one_hot(torch.from_numpy(labels).clamp(min=0), k).movedim(-1, 1).float()
    return x + 10 * onehot


def _halves(x):
    n = len(x) // 2
    return [x[:n], x[n:]]


def _same(a: dict, b: dict, tol: float = 1e-6) -> None:
    """Two metric dicts hold the same keys and values (per-class lists element by element)."""
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(np.asarray(a[key], dtype=float), np.asarray(b[key], dtype=float),
                                   atol=tol, err_msg=key)


def _bench_agrees(task: TaskType, bench: dict, full: dict) -> None:
    for stored, name in STORED_METRICS[task].items():
        assert bench[stored] == pytest.approx(full[name], abs=1e-6), stored


def test_every_task_type_is_a_string_and_has_a_task() -> None:
    assert TaskType("segmentation") is TaskType.SEGMENTATION and TaskType.SEGMENTATION == "segmentation"
    assert {str(t) for t in TaskType} >= {"classification", "detection", "timeseries_segmentation"}
    assert get_task("segmentation", num_classes=2).config()["name"].__class__ is str
    with pytest.raises(EokitError, match="segmentation"):
        TaskType.parse("segmentaton")
    assert yaml.safe_dump({"task": TaskType.DETECTION}) == "task: detection\n"
    assert json.dumps([TaskType.MULTILABEL]) == '["multilabel"]'
    assert TaskType.CHANGE_DETECTION.dense and TaskType.CHANGE_DETECTION.temporal
    assert not TaskType.REGRESSION.classes and TaskType.MULTILABEL.classes


def test_classification_both_ways() -> None:
    k, n = 6, 400
    y = RNG.integers(0, k, n)
    p = np.where(RNG.random(n) < 0.6, y, RNG.integers(0, k, n))
    p[p == 5] = 4  # a class never predicted
    bench = bench_scores(TaskType.CLASSIFICATION, y, p, k)
    task = get_task("classification", num_classes=k)
    logits = _logits_for(p, k)
    full = _task_path(task, _halves(logits), [{"label": torch.from_numpy(v)} for v in _halves(y)])
    _same(full, score("classification", y, p, num_classes=k))
    _bench_agrees(TaskType.CLASSIFICATION, bench, full)
    assert full["oa"] == pytest.approx(skm.accuracy_score(y, p))
    assert full["aa"] == pytest.approx(skm.balanced_accuracy_score(y, p))
    assert full["f1_macro"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    np.testing.assert_allclose(full["f1_per_class"], skm.f1_score(y, p, average=None), atol=1e-6)
    assert full["kappa"] == pytest.approx(skm.cohen_kappa_score(y, p), abs=1e-5)


def test_multilabel_both_ways() -> None:
    n, k = 240, 7
    y = (RNG.random((n, k)) < 0.3).astype(np.float32)
    y[:, 6] = 0  # a label with no positive: left out of map (its AP is undefined)
    s = np.clip(y * 0.4 + RNG.random((n, k)) * 0.7, 0.01, 0.99)
    s[:60, 0] = 0.5  # ties, and exactly at the threshold (positive: >= 0.5)
    bench = bench_scores(TaskType.MULTILABEL, y, s, k)
    task = get_task("multilabel", num_classes=k)
    logits = torch.from_numpy(np.log(s / (1 - s)))  # float64: sigmoid gives s back
    full = _task_path(task, _halves(logits), [{"label": torch.from_numpy(v)} for v in _halves(y)])
    _bench_agrees(TaskType.MULTILABEL, bench, full)
    pred = s >= 0.5
    assert full["f1_micro"] == pytest.approx(skm.f1_score(y, pred, average="micro"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert full["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    aps = [skm.average_precision_score(y[:, j], s[:, j]) for j in range(6)]
    assert full["map"] == pytest.approx(np.mean(aps), abs=1e-6)


def _seg_data(k: int, shape=(6, 16, 16)) -> tuple[np.ndarray, np.ndarray]:
    y = RNG.integers(0, k, shape)
    y[0, :5] = IGNORE_INDEX
    y[1] = IGNORE_INDEX  # a chip with no labelled pixel
    p = np.where(RNG.random(y.shape) < 0.7, y, RNG.integers(0, k, y.shape))
    p[y == IGNORE_INDEX] = RNG.integers(0, k, int((y == IGNORE_INDEX).sum()))
    p[p == k - 1] = 0  # the last class is never predicted
    return y, p


def test_segmentation_both_ways() -> None:
    k = 5
    y, p = _seg_data(k)
    y[y == 3] = 2  # class 3 is in neither truth nor prediction: left out of miou (as sklearn)
    p[p == 3] = 2
    bench = bench_scores(TaskType.SEGMENTATION, y, p, k)
    task = get_task("segmentation", num_classes=k, ignore_index=IGNORE_INDEX)
    full = _task_path(task, _halves(_logits_for(p, k)), [{"mask": torch.from_numpy(v)} for v in _halves(y)])
    _bench_agrees(TaskType.SEGMENTATION, bench, full)
    keep = y.ravel() != IGNORE_INDEX
    yt, pt = y.ravel()[keep], p.ravel()[keep]
    assert full["miou"] == pytest.approx(skm.jaccard_score(yt, pt, average="macro"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per = skm.jaccard_score(yt, pt, labels=list(range(k)), average=None, zero_division=0)
        f1 = skm.f1_score(yt, pt, average="macro")
    np.testing.assert_allclose(full["iou_per_class"], per, atol=1e-6)
    assert full["oa"] == pytest.approx(skm.accuracy_score(yt, pt))
    assert full["f1_macro"] == pytest.approx(f1)


def test_change_detection_both_ways() -> None:
    y, p = _seg_data(2)
    p = np.where(RNG.random(y.shape) < 0.8, np.clip(y, 0, 1), 1 - np.clip(y, 0, 1))
    bench = bench_scores(TaskType.CHANGE_DETECTION, y, p, 2)
    task = get_task("change_detection", ignore_index=IGNORE_INDEX)
    full = _task_path(task, _halves(_logits_for(p, 2)), [{"mask": torch.from_numpy(v)} for v in _halves(y)])
    _bench_agrees(TaskType.CHANGE_DETECTION, bench, full)
    keep = y.ravel() != IGNORE_INDEX
    yt, pt = y.ravel()[keep], p.ravel()[keep]
    assert full["f1_change"] == pytest.approx(skm.f1_score(yt, pt))
    assert full["iou_change"] == pytest.approx(skm.jaccard_score(yt, pt))
    assert full["precision_change"] == pytest.approx(skm.precision_score(yt, pt))
    assert full["recall_change"] == pytest.approx(skm.recall_score(yt, pt))
    assert full["miou"] == pytest.approx(skm.jaccard_score(yt, pt, average="macro"))


def test_regression_both_ways() -> None:
    y = RNG.normal(size=120).astype(np.float32)
    p = (y + RNG.normal(scale=0.5, size=120)).astype(np.float32)
    bench = bench_scores(TaskType.REGRESSION, y, p, 0)
    task = get_task("regression")
    full = _task_path(task, [torch.from_numpy(v)[:, None] for v in _halves(p)],
                      [{"target": torch.from_numpy(v)} for v in _halves(y)])
    _bench_agrees(TaskType.REGRESSION, bench, full)
    assert full["r2"] == pytest.approx(skm.r2_score(y, p), abs=1e-5)
    assert full["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)), abs=1e-5)
    assert full["mae"] == pytest.approx(skm.mean_absolute_error(y, p), abs=1e-5)


def test_pixel_regression_and_super_resolution_both_ways() -> None:
    y = RNG.normal(size=(4, 8, 8)).astype(np.float32)
    y[0, :2] = np.nan  # unlabelled pixels
    p = (np.nan_to_num(y) + RNG.normal(scale=0.3, size=y.shape)).astype(np.float32)
    task = get_task("pixel_regression")
    full = _task_path(task, [torch.from_numpy(v)[:, None] for v in _halves(p)],
                      [{"target": torch.from_numpy(v)} for v in _halves(y)])
    ok = np.isfinite(y)
    _same(full, score("pixel_regression", y, p), 1e-5)
    assert full["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y[ok], p[ok])), abs=1e-5)
    assert full["r2"] == pytest.approx(skm.r2_score(y[ok], p[ok]), abs=1e-5)

    hr = RNG.random((4, 3, 16, 16)).astype(np.float32)
    sr = np.clip(hr + RNG.normal(scale=0.05, size=hr.shape), 0, 1).astype(np.float32)
    task = get_task("super_resolution", data_range=1.0)
    full = _task_path(task, [torch.from_numpy(v) for v in _halves(sr)],
                      [{"target": torch.from_numpy(v)} for v in _halves(hr)])
    _same(full, score("super_resolution", hr, sr, data_range=1.0), 1e-5)
    mse = float(((hr - sr) ** 2).mean())
    assert full["psnr"] == pytest.approx(10 * math.log10(1.0 / mse), abs=1e-4)
    assert full["rmse"] == pytest.approx(math.sqrt(mse), abs=1e-6)
    assert 0.5 < full["ssim"] < 1.0
    assert score("super_resolution", hr, hr, data_range=1.0)["ssim"] == pytest.approx(1.0, abs=1e-5)


def test_detection_both_ways() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]])
    target = [{"boxes": boxes, "labels": torch.tensor([0, 1])}]
    preds = [{"boxes": boxes + torch.tensor([0.0, 0, 1, 1]), "scores": torch.tensor([0.9, 0.8]),
              "labels": torch.tensor([0, 1])}]
    task = get_task("detection", num_classes=2)
    full = _task_path(task, [preds], [{"image": [torch.zeros(3, 64, 64)], "boxes": [boxes],
                                       "labels": [torch.tensor([0, 1])]}])
    assert full["map"] == pytest.approx(score("detection", target, preds)["map"])
    assert full["map_50"] == pytest.approx(1.0)


# -- nothing valid to score: a typed error, never 0.0 ------------------------------------------

@pytest.mark.parametrize(("task", "y", "p", "k", "what"), [
    (TaskType.CLASSIFICATION, np.zeros(0, np.int64), np.zeros(0, np.int64), 3, "no samples"),
    (TaskType.SEGMENTATION, np.full((2, 4, 4), IGNORE_INDEX), np.zeros((2, 4, 4), np.int64), 3,
     "0 labelled pixels"),
    (TaskType.CHANGE_DETECTION, np.full((2, 4, 4), IGNORE_INDEX), np.zeros((2, 4, 4), np.int64), 2,
     "0 labelled pixels"),
    (TaskType.MULTILABEL, np.zeros((5, 3), np.float32), np.full((5, 3), 0.2), 3, "0 positive labels"),
    (TaskType.REGRESSION, np.ones(1, np.float32), np.ones(1, np.float32), 0, "1 finite targets"),
])
def test_zero_valid_samples_raise_both_ways(task: TaskType, y, p, k, what) -> None:
    with pytest.raises(MetricError, match=what):
        bench_scores(task, y, p, k)
    if len(y) == 0:
        return
    t = get_task(task, num_classes=k or None, **({"ignore_index": IGNORE_INDEX} if task.dense else {}))
    if task == TaskType.MULTILABEL:
        out, batch = torch.from_numpy(np.log(p / (1 - p))), {"label": torch.from_numpy(y)}
    elif task.dense:
        out, batch = _logits_for(p, k), {"mask": torch.from_numpy(y)}
    else:
        out, batch = torch.from_numpy(p), {"target": torch.from_numpy(y)}
    with pytest.raises(MetricError, match=what):
        _task_path(t, [out], [batch])


def test_pixel_regression_with_every_pixel_masked_raises() -> None:
    task = get_task("pixel_regression")
    with pytest.raises(MetricError, match="0 finite targets"):
        _task_path(task, [torch.zeros(2, 1, 4, 4)], [{"target": torch.full((2, 4, 4), float("nan"))}])
    with pytest.raises(MetricError, match="finite targets"):
        score("pixel_regression", np.full((2, 4, 4), np.nan), np.zeros((2, 4, 4)))


def test_class_ids_out_of_range_raise() -> None:
    with pytest.raises(MetricError, match=r"outside \[0, 3\)"):
        score("classification", np.array([0, 1, 2]), np.array([0, 1, 5]), num_classes=3)
