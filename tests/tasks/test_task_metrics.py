"""Task metrics against scikit-learn on the same predictions; losses and output contracts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from eokit.errors import ModelError
from eokit.registry import RegistryError
from eokit.tasks import compute_metrics, get_task, list_tasks

G = torch.Generator().manual_seed(0)


def _run(task, output, batch):
    m = task.metrics()
    task.update(m, output, batch)
    return compute_metrics(m, task.class_names)


def test_registry_lists_every_task_type():
    assert set(list_tasks()) >= {"classification", "multilabel", "segmentation", "change_detection",
                                 "regression", "pixel_regression", "super_resolution", "detection"}
    with pytest.raises(RegistryError, match="segmentation"):
        get_task("segmentaton")


def test_classification_metrics_match_sklearn():
    k = 5
    logits = torch.randn(300, k, generator=G)
    y = torch.randint(0, k, (300,), generator=G)
    names = [f"c{i}" for i in range(k)]
    task = get_task("classification", class_names=names)
    # two updates (two batches) must equal one pass over everything
    m = task.metrics()
    task.update(m, logits[:120], {"label": y[:120]})
    task.update(m, logits[120:], {"label": y[120:]})
    got = compute_metrics(m, names)
    pred = logits.argmax(1).numpy()
    assert got["oa"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-6)
    assert got["aa"] == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-6)
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-6)
    assert got["kappa"] == pytest.approx(skm.cohen_kappa_score(y, pred), abs=1e-5)
    per = skm.f1_score(y, pred, average=None)
    assert list(got["f1_per_class"]) == names
    np.testing.assert_allclose(list(got["f1_per_class"].values()), per, atol=1e-6)
    loss = task.loss(logits, {"label": y})
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item())
    p = task.predict(logits)
    assert torch.equal(p["label"], logits.argmax(1)) and torch.allclose(p["probs"].sum(1), torch.ones(300))


def test_classification_output_contract():
    task = get_task("classification", num_classes=3)
    task.check_output(torch.zeros(2, 3), {"label": torch.zeros(2)})
    with pytest.raises(ModelError, match=r"\(B, 3\)"):
        task.check_output(torch.zeros(2, 4), {"label": torch.zeros(2)})
    with pytest.raises(ModelError, match="num_classes"):
        get_task("classification", num_classes=1)


def test_multilabel_metrics_match_sklearn():
    k = 6
    y = (torch.rand(200, k, generator=G) < 0.3).long()
    y[0] = 1  # every class has a positive
    logits = torch.randn(200, k, generator=G) + 1.5 * (y * 2 - 1)
    task = get_task("multilabel", num_classes=k)
    got = _run(task, logits, {"label": y.float()})
    probs = logits.sigmoid().numpy()
    pred = (probs >= 0.5).astype(int)
    assert got["map"] == pytest.approx(skm.average_precision_score(y, probs, average="macro"), abs=1e-5)
    assert got["f1_micro"] == pytest.approx(skm.f1_score(y, pred, average="micro"), abs=1e-6)
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-6)
    np.testing.assert_allclose(got["f1_per_class"], skm.f1_score(y, pred, average=None), atol=1e-6)


def test_segmentation_metrics_match_sklearn_with_ignore_index():
    k = 4
    mask = torch.randint(0, k, (3, 16, 16), generator=G)
    mask[:, :2] = -1  # nodata
    logits = torch.randn(3, k, 16, 16, generator=G)
    logits.scatter_add_(1, mask.clamp(min=0)[:, None], torch.full((3, 1, 16, 16), 1.0))  # better than chance
    task = get_task("segmentation", num_classes=k, ignore_index=-1)
    task.check_output(logits, {"mask": mask})
    got = _run(task, logits, {"mask": mask})
    valid = mask >= 0
    y, pred = mask[valid].numpy(), logits.argmax(1)[valid].numpy()
    assert got["miou"] == pytest.approx(skm.jaccard_score(y, pred, average="macro"), abs=1e-6)
    np.testing.assert_allclose(got["iou_per_class"], skm.jaccard_score(y, pred, average=None), atol=1e-6)
    assert got["oa"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-6)
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-6)
    # ignored pixels do not change the loss
    loss = task.loss(logits, {"mask": mask})
    ref = torch.nn.functional.cross_entropy(logits.permute(0, 2, 3, 1)[valid], mask[valid])
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    with pytest.raises(ModelError, match="expected"):
        task.check_output(logits[:, :3], {"mask": mask})


def test_change_detection_metrics_match_sklearn():
    mask = (torch.rand(2, 32, 32, generator=G) < 0.2).long()
    logits = torch.randn(2, 2, 32, 32, generator=G)
    logits[:, 1] += 2.0 * mask - 0.5
    task = get_task("change_detection")
    assert task.inputs == ("image", "image2") and task.num_classes == 2
    got = _run(task, logits, {"mask": mask})
    y, pred = mask.flatten().numpy(), logits.argmax(1).flatten().numpy()
    assert got["f1_change"] == pytest.approx(skm.f1_score(y, pred), abs=1e-6)
    assert got["iou_change"] == pytest.approx(skm.jaccard_score(y, pred), abs=1e-6)
    assert got["precision_change"] == pytest.approx(skm.precision_score(y, pred), abs=1e-6)
    assert got["recall_change"] == pytest.approx(skm.recall_score(y, pred), abs=1e-6)
    assert got["miou"] == pytest.approx(skm.jaccard_score(y, pred, average="macro"), abs=1e-6)

    class Siamese(torch.nn.Module):
        def forward(self, a, b):
            return torch.cat([a, b], 1)

    out = task.forward(Siamese(), {"image": torch.zeros(1, 1, 4, 4), "image2": torch.ones(1, 1, 4, 4)})
    assert out.shape == (1, 2, 4, 4) and out[0, 1].sum() == 16


def test_regression_metrics_match_sklearn():
    y = torch.randn(100, generator=G) * 3 + 10
    out = (y + torch.randn(100, generator=G)).unsqueeze(1)  # (B, 1) output is accepted
    task = get_task("regression")
    task.check_output(out, {"target": y})
    got = _run(task, out, {"target": y})
    p = out[:, 0].numpy()
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)), rel=1e-5)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-5)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-5)
    assert task.loss(out, {"target": y}).item() == pytest.approx(skm.mean_squared_error(y, p), rel=1e-5)


def test_pixel_regression_skips_invalid_pixels():
    target = torch.rand(2, 8, 8, generator=G) * 50
    target[0, 0, :] = float("nan")  # nodata in the target
    valid = torch.ones(2, 8, 8, dtype=torch.bool)
    valid[1, :, :2] = False
    out = (target.nan_to_num(0) + torch.randn(2, 8, 8, generator=G)).unsqueeze(1)
    task = get_task("pixel_regression")
    batch = {"target": target, "valid": valid}
    task.check_output(out, batch)
    got = _run(task, out, batch)
    ok = torch.isfinite(target) & valid
    y, p = target[ok].numpy(), out[:, 0][ok].numpy()
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)), rel=1e-5)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-5)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-5)
    assert torch.isfinite(task.loss(out, batch))


def test_super_resolution_psnr_ssim():
    hr = torch.rand(2, 3, 32, 32, generator=G)
    sr = (hr + 0.05 * torch.randn(2, 3, 32, 32, generator=G)).clamp(0, 1)
    task = get_task("super_resolution", data_range=1.0)
    task.check_output(sr, {"target": hr})
    got = _run(task, sr, {"target": hr})
    mse = skm.mean_squared_error(hr.flatten(), sr.flatten())
    assert got["psnr"] == pytest.approx(10 * math.log10(1.0 / mse), rel=1e-4)
    assert got["rmse"] == pytest.approx(math.sqrt(mse), rel=1e-4)
    assert 0.5 < got["ssim"] < 1.0
    same = _run(task, hr, {"target": hr})
    assert same["ssim"] == pytest.approx(1.0, abs=1e-4) and same["psnr"] > 60
    with pytest.raises(ModelError):
        task.check_output(sr[:, :, :16], {"target": hr})


def test_detection_map_perfect_and_wrong():
    boxes = [torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 35]]), torch.tensor([[5.0, 5, 15, 15]])]
    labels = [torch.tensor([0, 1]), torch.tensor([0])]
    batch = {"image": torch.zeros(2, 3, 40, 40), "boxes": boxes, "labels": labels}
    task = get_task("detection", num_classes=2)
    perfect = [{"boxes": b, "labels": lab, "scores": torch.ones(len(b))} for b, lab in zip(boxes, labels, strict=True)]
    task.check_output(perfect, batch)
    got = _run(task, perfect, batch)
    assert got["map"] == pytest.approx(1.0) and got["map_50"] == pytest.approx(1.0)
    shifted = [{"boxes": b + 100, "labels": lab, "scores": torch.ones(len(b))} for b, lab in zip(boxes, labels, strict=True)]
    assert _run(task, shifted, batch)["map"] == pytest.approx(0.0)
    assert task.loss({"a": torch.tensor(1.0), "b": torch.tensor(2.0)}, batch).item() == 3.0
