"""Augmentations keep image, mask, boxes and a super-resolution target aligned; normalisation goes by band name."""

from __future__ import annotations

import pytest
import torch

from eokit.errors import BandError, ConfigError
from eokit.transforms import (
    CenterCrop,
    Compose,
    NormalizeBands,
    RandomCrop,
    RandomFlip,
    RandomRot90,
    batch_flip_rot90,
    crop,
    hflip,
    rot90,
    vflip,
)


def _box_sample() -> dict:
    """An image whose channel 0 is 1 inside two boxes, a mask equal to it and those boxes (xyxy)."""
    h, w = 24, 32
    boxes = torch.tensor([[2.0, 3, 10, 8], [20, 10, 31, 22]])
    img = torch.zeros(2, h, w)
    for x1, y1, x2, y2 in boxes.long().tolist():
        img[0, y1:y2, x1:x2] = 1
    img[1] = torch.arange(h * w, dtype=torch.float32).view(h, w)
    return {"image": img, "mask": img[0].long(), "boxes": boxes, "labels": torch.tensor([0, 1]),
            "bands": ("B04", "B03")}


def _boxes_match_image(s: dict) -> None:
    img = s["image"][0]
    assert torch.equal(s["mask"], img.long())
    painted = torch.zeros_like(img)
    for x1, y1, x2, y2 in s["boxes"].round().long().tolist():
        painted[y1:y2, x1:x2] = 1
    assert torch.equal(painted, img), "boxes no longer cover the object pixels"


@pytest.mark.parametrize("op", [hflip, vflip, lambda s: rot90(s, 1), lambda s: rot90(s, 2),
                                lambda s: rot90(s, 3), lambda s: crop(s, 4, 5, 16, 20)])
def test_geometric_ops_keep_boxes_and_mask_aligned(op):
    s = op(_box_sample())
    _boxes_match_image(s)


def test_random_pipeline_is_seeded_and_aligned():
    t = Compose([RandomCrop(20, torch.Generator().manual_seed(1)), RandomFlip(0.5, torch.Generator().manual_seed(2)),
                 RandomRot90(torch.Generator().manual_seed(3))])
    for _ in range(10):
        _boxes_match_image(t(_box_sample()))
    a = Compose([RandomFlip(generator=torch.Generator().manual_seed(5))])(_box_sample())
    b = Compose([RandomFlip(generator=torch.Generator().manual_seed(5))])(_box_sample())
    assert torch.equal(a["image"], b["image"])


def test_crop_drops_boxes_outside_and_scales_sr_target():
    s = _box_sample()
    s["target"] = torch.arange(2 * 48 * 64, dtype=torch.float32).view(2, 48, 64)  # x2 super-resolution
    c = crop(s, 0, 0, 12, 16)
    assert c["boxes"].shape == (1, 4) and c["labels"].tolist() == [0]
    assert c["target"].shape == (2, 24, 32) and torch.equal(c["target"], s["target"][:, :24, :32])
    assert CenterCrop(16)(s)["image"].shape == (2, 16, 16)
    with pytest.raises(ConfigError, match="crop_size"):
        RandomCrop(40)(s)


def test_batch_flip_rot90_gives_dihedral_variants():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    y = batch_flip_rot90(x, torch.Generator().manual_seed(0))
    variants = {tuple(v.flatten().tolist()) for v in y}
    assert 4 <= len(variants) <= 8
    assert all(sorted(v) == list(range(16)) for v in variants)


def test_normalize_by_band_name_in_any_order():
    n = NormalizeBands({"B04": (0.1, 0.5), "B03": (0.2, 0.25)}, scale=1e-4, sensor="sentinel2_l1c")
    img = torch.full((2, 2, 2), 1000.0)
    a = n({"image": img, "bands": ("B04", "B03")})["image"]
    b = n({"image": img, "bands": ("B3", "red")})["image"]  # aliases, other order
    assert torch.allclose(a[:, 0, 0], torch.tensor([0.0, -0.4]), atol=1e-6)
    assert torch.allclose(b[:, 0, 0], torch.tensor([-0.4, 0.0]), atol=1e-6)
    with pytest.raises(BandError, match="B08"):
        n({"image": torch.zeros(1, 2, 2), "bands": ("B08",)})
    again = NormalizeBands(**n.to_dict())
    assert torch.equal(again({"image": img, "bands": ("B04", "B03")})["image"], a)


def test_normalize_from_sensor_uses_sensor_scale_and_stats():
    n = NormalizeBands.from_sensor("sentinel2_l1c", ["B02", "B8A"])
    from eokit.sensors import get_sensor

    s = get_sensor("sentinel2_l1c")
    m, sd = s.stats(["B02", "B8A"])
    x = torch.full((2, 1, 1), 1234.0)
    y = n({"image": x, "bands": ("B02", "B8A"), "image2": x})
    assert torch.allclose(y["image"].flatten(), (1234.0 * s.scale - torch.tensor(m)) / torch.tensor(sd))
    assert torch.equal(y["image"], y["image2"])
