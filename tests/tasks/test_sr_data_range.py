"""super_resolution metrics need data_range: a typed error naming the option, not torchmetrics' TypeError."""

from __future__ import annotations

import pytest
import torch

from eokit.errors import ConfigError
from eokit.tasks import get_task


def test_super_resolution_metrics_without_data_range_name_the_option() -> None:
    task = get_task("super_resolution")
    with pytest.raises(ConfigError, match="data_range"):
        task.metrics()


def test_super_resolution_metrics_with_data_range_compute_psnr() -> None:
    metrics = get_task("super_resolution", data_range=1.0).metrics()
    target = torch.rand(2, 1, 8, 8)
    metrics.update(target, target)
    out = metrics.compute()
    assert float(out["mae"]) == 0.0 and torch.isinf(out["psnr"])  # a perfect prediction
