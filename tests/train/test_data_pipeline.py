"""Band selection by name, measured statistics and batching of the training data pipeline."""

from __future__ import annotations

import pytest
import torch

from eokit.errors import BandError, DatasetError
from eokit.train.data import SelectBands, collate, dataset_stats


def test_select_bands_by_name_and_alias() -> None:
    img = torch.arange(4.0).view(4, 1, 1).expand(4, 2, 2)
    s = {"image": img, "image2": img + 10, "bands": ("B02", "B03", "B04", "B08")}
    out = SelectBands(["red", "B8", "B2"], sensor="sentinel2_l1c")(s)
    assert out["bands"] == ("B04", "B08", "B02")
    assert out["image"][:, 0, 0].tolist() == [2.0, 3.0, 0.0] and out["image2"][:, 0, 0].tolist() == [12.0, 13.0, 10.0]
    with pytest.raises(BandError, match="B11"):
        SelectBands(["B11"], sensor="sentinel2_l1c")(s)


def test_dataset_stats_match_torch() -> None:
    g = torch.Generator().manual_seed(0)
    data = [{"image": torch.randn(2, 8, 8, generator=g) * torch.tensor([[[3.0]], [[0.5]]]) + 7, "bands": ("a", "b")}
            for _ in range(10)]
    norm = dataset_stats(data, ("a", "b"), n=10)
    allpix = torch.stack([d["image"] for d in data]).transpose(0, 1).reshape(2, -1)
    mean, std = norm.vectors(("a", "b"))
    assert torch.allclose(mean.flatten(), allpix.mean(1), atol=1e-4)
    assert torch.allclose(std.flatten(), allpix.std(1, unbiased=False), atol=1e-4)


def test_collate_keeps_detection_images_of_other_sizes_as_a_list() -> None:
    a = {"image": torch.zeros(3, 8, 8), "boxes": torch.zeros(1, 4), "labels": torch.zeros(1, dtype=torch.long),
         "bands": ("R", "G", "B")}
    b = {**a, "image": torch.zeros(3, 6, 10)}
    batch = collate([a, b])
    assert isinstance(batch["image"], list) and [t.shape[-1] for t in batch["image"]] == [8, 10]
    assert len(batch["boxes"]) == 2
    with pytest.raises(DatasetError, match="crop_size"):
        collate([{"image": torch.zeros(1, 4, 4), "bands": ("x",)}, {"image": torch.zeros(1, 5, 5), "bands": ("x",)}])
