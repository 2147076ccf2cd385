"""Benchmark metrics on numpy predictions (checked against scikit-learn in tests).

Every function returns a ``{metric: value}`` dict; all values are "higher is
better" except ``rmse``.
"""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = -1


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    keep = (y_true >= 0) & (y_true < k)
    return np.bincount(k * y_true[keep] + np.clip(y_pred[keep], 0, k - 1), minlength=k * k).reshape(k, k)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> dict[str, float]:
    """Overall accuracy and macro-F1 over the classes present in ``y_true`` or ``y_pred``."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    k = int(max(num_classes or 0, y_true.max(initial=0) + 1, y_pred.max(initial=0) + 1))
    cm = _confusion(y_true, y_pred, k)
    tp = np.diag(cm).astype(float)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    present = (cm.sum(0) + cm.sum(1)) > 0
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"accuracy": float(tp.sum() / max(cm.sum(), 1)), "f1_macro": float(f1[present].mean())}


def multilabel_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Micro-F1 at ``threshold`` and macro average precision over classes with a positive in ``y_true``."""
    y_true = np.asarray(y_true) > 0.5
    scores = np.asarray(scores, dtype=np.float64)
    pred = scores >= threshold
    tp = float((pred & y_true).sum())
    fp = float((pred & ~y_true).sum())
    fn = float((~pred & y_true).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else 0.0
    aps = [average_precision(y_true[:, j], scores[:, j]) for j in range(y_true.shape[1]) if y_true[:, j].any()]
    return {"f1_micro": f1, "map_macro": float(np.mean(aps)) if aps else 0.0}


def average_precision(y_true: np.ndarray, score: np.ndarray) -> float:
    """Average precision (area under the step precision-recall curve, as scikit-learn computes it)."""
    y_true = np.asarray(y_true).astype(bool)
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y_true[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(t)[distinct]
    fps = (distinct + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / max(t.sum(), 1)
    prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev) * precision))


def segmentation_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, float]:
    """Mean IoU over classes present (in truth or prediction) and pixel accuracy; IGNORE_INDEX is skipped."""
    cm = _confusion(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(float)
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    iou = np.divide(tp, union, out=np.zeros_like(tp), where=union > 0)
    return {"miou": float(iou[present].mean()) if present.any() else 0.0,
            "pixel_accuracy": float(tp.sum() / max(cm.sum(), 1))}


def change_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """F1, IoU, precision and recall of the change class (1); IGNORE_INDEX is skipped."""
    cm = _confusion(y_true, y_pred, 2)
    tp, fp, fn = float(cm[1, 1]), float(cm[0, 1]), float(cm[1, 0])
    return {
        "f1_change": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0,
        "iou_change": tp / (tp + fp + fn) if tp + fp + fn > 0 else 0.0,
        "precision_change": tp / (tp + fp) if tp + fp > 0 else 0.0,
        "recall_change": tp / (tp + fn) if tp + fn > 0 else 0.0,
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    ss_res = float(((y_true - y_pred) ** 2).sum())
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {"r2": 1 - ss_res / ss_tot if ss_tot > 0 else 0.0, "rmse": float(np.sqrt(ss_res / len(y_true))),
            "mae": float(np.abs(y_true - y_pred).mean())}
