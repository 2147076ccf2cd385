"""raster_segmentation + QA decoding on the real Landsat 8 scene (pre-Collection BQA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from eokit.datasets import get_dataset
from eokit.errors import ConfigError, DatasetError
from eokit.sensors.qa import QA_PRESETS, decode_qa

L8 = ("scenes", "landsat8_LC80200392015216")


def test_presets_decode_documented_bit_layouts() -> None:
    # pre-Collection BQA: cloud confidence in bits 14-15 (values seen in the mirror's scene)
    qa = np.array([20480, 28672, 36864, 45056, 53248, 61440, 1], dtype=np.uint16)
    np.testing.assert_array_equal(decode_qa(qa, "landsat8_precollection_bqa_cloud"), [0, 0, -1, -1, 1, 1, -1])
    # Collection 1: bit 4 cloud, bits 5-6 confidence; Collection 2 QA_PIXEL: bit 3 cloud, 1 dilated, 2 cirrus
    c1 = np.array([0, 1 << 4 | 3 << 5, 2 << 5, 1 << 5, 1], dtype=np.uint16)
    np.testing.assert_array_equal(decode_qa(c1, "landsat_c1_bqa_cloud"), [0, 1, -1, 0, -1])
    c2 = np.array([21824, 1 << 3, 1 << 1, 1 << 2, 1], dtype=np.uint16)
    np.testing.assert_array_equal(decode_qa(c2, "landsat_c2_qa_pixel_cloud"), [0, 1, -1, -1, -1])
    custom = decode_qa(qa, [{"bits": [12, 13], "values": [3], "class": 2}])  # cirrus confidence high
    np.testing.assert_array_equal(custom, [0, 2, 0, 2, 0, 2, 0])
    assert set(QA_PRESETS) >= {"landsat8_precollection_bqa_cloud", "landsat_c2_qa_pixel_cloud"}


@pytest.mark.parametrize("bad", ["fmask", [{"bits": [3, 5], "values": [1], "class": 1}], [{"bits": [1]}], []])
def test_bad_qa_rules_name_the_fix(bad: object) -> None:
    with pytest.raises(ConfigError, match="QA|preset|bits|rule"):
        decode_qa(np.zeros(3, np.uint16), bad)


def test_landsat_cloud_chips_match_the_bqa_band(mirror: Path) -> None:
    root = mirror.joinpath(*L8)
    ds = get_dataset("raster_segmentation", root=root, image="l8_B*.tif", label="l8_BQA.tif", sensor="landsat8",
                     qa="landsat8_precollection_bqa_cloud", bands=["B2", "B5", "B10"], chip_size=128)
    with rasterio.open(root / "l8_BQA.tif") as d:
        bqa = d.read(1)
    with rasterio.open(root / "l8_B5.tif") as d:
        b5 = d.read(1)
    conf = (bqa >> 14) & 3
    assert len(ds) == 25  # 5 x 5 chips of 128 px over 627 x 603 px, none fully ignored
    clouds = 0
    for i in range(len(ds)):
        s = ds[i]
        x, y, w, h = ds.items[i]
        part = conf[y:y + h, x:x + w]
        mask = s["mask"].numpy()[: part.shape[0], : part.shape[1]]
        np.testing.assert_array_equal(mask, np.select([part == 3, part == 2], [1, -1], 0))
        assert (s["mask"].numpy()[part.shape[0]:, :] == -1).all()  # padding outside the scene is ignored
        np.testing.assert_array_equal(s["image"][1, : part.shape[0], : part.shape[1]].numpy(),
                                      b5[y:y + h, x:x + w].astype(np.float32))
        clouds += int((mask == 1).sum())
    assert clouds == int((conf == 3).sum()) == 22776
    assert s["bands"] == ("B2", "B5", "B10") and s["crs"] == "EPSG:32616" and ds.classes == ("clear", "cloud")
    parts = [get_dataset("raster_segmentation", root=root, split=k, image="l8_B*.tif", label="l8_BQA.tif",
                         sensor="landsat8", qa="landsat8_precollection_bqa_cloud", chip_size=128) for k in
             ("train", "val", "test")]
    ids = [set(map(str, p.items)) for p in parts]
    assert sum(len(i) for i in ids) == 25 and not (ids[0] & ids[2]) and not (ids[0] & ids[1])


def test_label_map_grid_mismatch_and_missing_band(tmp_path: Path, mirror: Path) -> None:
    root = mirror.joinpath(*L8)
    ds = get_dataset("raster_segmentation", root=root, image="l8_B4.tif", label="l8_BQA.tif",
                     label_map={53248: 1, 20480: 0}, chip_size=128)
    m = ds[0]["mask"].numpy()
    assert set(np.unique(m)) <= {-1, 0, 1}
    with pytest.raises(DatasetError, match="B12"):
        get_dataset("raster_segmentation", root=root, image="l8_B*.tif", label="l8_BQA.tif", sensor="landsat8",
                    bands=["B2", "B12"])
    with pytest.raises(DatasetError, match="grid|px"):
        get_dataset("raster_segmentation", root=root, image="l8_B8.tif", label="l8_BQA.tif")
    with pytest.raises(DatasetError, match="matches no file"):
        get_dataset("raster_segmentation", root=root, image="nothing_*.tif", label="l8_BQA.tif")
