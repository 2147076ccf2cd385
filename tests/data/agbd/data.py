"""AGBD fixture in the published HDF5 layout (``data_subset-<year>-v4_<i>-20.h5``).

One group per Sentinel-2 tile (e.g. ``32TNS``) holding ``S2_bands`` (N, 25, 25, 12) uint16 with
an ``order`` attribute (B01 … B12 without B10, B8A after B08), ``ALOS_bands`` (N, 25, 25, 2) uint16
DN (``order`` HH, HV), ``GEDI/agbd`` float32 Mg/ha, ``GEDI/{lat,lon}_{offset,decimal}``,
``GEDI/date`` and ``Sentinel_metadata/{S2_boa_offset,S2_date}``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np

ORDER = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"]
TILES = {"32TNS": 4, "18NUL": 3, "35MRS": 3, "51NTF": 2}


def write(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    with h5py.File(root / "data_subset-2019-v4_0-20.h5", "w") as f:
        for tile, n in TILES.items():
            g = f.create_group(tile)
            s2 = g.create_dataset("S2_bands", data=rng.integers(1000, 6000, (n, 25, 25, 12)).astype(np.uint16))
            s2.attrs["order"] = ORDER
            alos = g.create_dataset("ALOS_bands", data=rng.integers(1, 9000, (n, 25, 25, 2)).astype(np.uint16))
            alos.attrs["order"] = ["HH", "HV"]
            gedi = g.create_group("GEDI")
            gedi.create_dataset("agbd", data=rng.uniform(0, 400, n).astype(np.float32))
            gedi.create_dataset("lat_offset", data=np.full(n, 46, np.int16))
            gedi.create_dataset("lat_decimal", data=rng.uniform(0, 1, n).astype(np.float32))
            gedi.create_dataset("lon_offset", data=np.full(n, 9, np.int16))
            gedi.create_dataset("lon_decimal", data=rng.uniform(0, 1, n).astype(np.float32))
            gedi.create_dataset("date", data=rng.integers(0, 600, n).astype(np.int16))
            meta = g.create_group("Sentinel_metadata")
            meta.create_dataset("S2_boa_offset", data=np.ones(n, np.uint8))
            meta.create_dataset("S2_date", data=rng.integers(0, 600, n).astype(np.int16))
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict]:
    root = write(tmp / "agbd")
    return [
        {"root": root, "split": "train"},
        {"root": root, "split": "test", "modalities": ("s2",), "patch_size": 15,
         "split_tiles": {"test": ["18NUL"]}},
    ]


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "agbd")))
