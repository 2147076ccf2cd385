"""Record the real s2cloudless package's output on real Sentinel-2 L1C chips of the data mirror.

Run once, in a throwaway environment that has the package with all its dependencies
(``pip install s2cloudless==1.7.3 rasterio==1.4.4``; it pulls sentinelhub and OpenCV, which eokit
does not need), with ``EOKIT_DATA`` pointing at the mirror:

    EOKIT_DATA=/path/to/shared/data python tests/data/s2cloudless/make_reference.py

It writes ``reference.npz`` beside this script: the chips' mirror paths and windows, the cloud
probabilities of ``S2PixelCloudDetector.get_cloud_probability_maps`` and the masks of
``get_cloud_masks`` with the package defaults (threshold 0.4, average_over 1, dilation_size 1) and
with average_over=4, dilation_size=2. ``tests/data/test_cloud_masks.py`` checks eokit's
``s2cloudless`` method (which loads the same model file with lightgbm alone) against it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from s2cloudless import S2PixelCloudDetector

ALL_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
#: EuroSAT MS GeoTIFFs hold B8A last (B01..B08, B09, B10, B11, B12, B8A; cf. geo-bench issue #28).
EUROSAT_FILE_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A")
CHIPS = [
    # (path under EOKIT_DATA, file band order, window (col, row, width, height) or None)
    ("classification/eurosat_ms_subset/train/Pasture/Pasture_1185.tif", EUROSAT_FILE_BANDS, None),
    ("classification/eurosat_ms_subset/train/PermanentCrop/PermanentCrop_1895.tif", EUROSAT_FILE_BANDS, None),
    ("classification/eurosat_ms_subset/train/AnnualCrop/AnnualCrop_1227.tif", EUROSAT_FILE_BANDS, None),
    ("classification/eurosat_ms_subset/test/SeaLake/SeaLake_1300.tif", EUROSAT_FILE_BANDS, None),
    ("segmentation/sen1floods11_sample/S2Hand/Spain_7370579_S2Hand.tif", ALL_BANDS, (192, 192, 96, 96)),
]


def main() -> None:
    root = Path(os.environ["EOKIT_DATA"])
    cubes, names, windows = [], [], []
    for rel, order, win in CHIPS:
        with rasterio.open(root / rel) as ds:
            arr = ds.read(window=Window(*win) if win else None).astype(np.float32) / 10000.0
        cubes.append(arr[[order.index(b) for b in ALL_BANDS]])  # package order: all 13 in ALL_BANDS order
        names.append(rel)
        windows.append(win or (0, 0, arr.shape[2], arr.shape[1]))
    out: dict[str, np.ndarray] = {"paths": np.array(names), "windows": np.array(windows, dtype=np.int64)}
    for key, kwargs in {"default": {}, "avg4_dil2": {"average_over": 4, "dilation_size": 2}}.items():
        det = S2PixelCloudDetector(all_bands=True, **kwargs)
        probs, masks = [], []
        for cube in cubes:
            data = np.moveaxis(cube, 0, -1)[None]
            probs.append(det.get_cloud_probability_maps(data)[0])
            masks.append(det.get_cloud_masks(data)[0])
        if key == "default":
            out["prob"] = np.concatenate([p.ravel() for p in probs]).astype(np.float32)
        out[f"mask_{key}"] = np.concatenate([m.ravel() for m in masks]).astype(np.uint8)
    np.savez_compressed(Path(__file__).with_name("reference.npz"), **out)
    print({k: v.shape for k, v in out.items()}, "cloud share:", float(out["mask_default"].mean()))


if __name__ == "__main__":
    main()
