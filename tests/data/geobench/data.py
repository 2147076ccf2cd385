"""Tiny GEO-Bench v1.0 task folders in the published layout (used by the m_* providers).

Each sample is ``<name>.hdf5`` with one HDF5 dataset per band, named as the
GEO-Bench converters name them (``"04 - Red"``, ``"Red"``, ``"01 - VH.Real"``,
a 3-D ``Neon_Hyperspectral``), ``label`` for segmentation, and a ``pickle``
file attribute like the real files carry. That attribute holds a pickle that
would raise if anyone unpickled it. The folder also has
``default_partition.json``, ``0.01x_train_partition.json``, ``band_stats.json``
and ``label_map.json`` (classification) or ``label_stats.json`` (multi-label).
Run it to write every task into ./geobench_fixture.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import h5py
import numpy as np

S2_13 = [
    "01 - Coastal aerosol", "02 - Blue", "03 - Green", "04 - Red", "05 - Vegetation Red Edge",
    "06 - Vegetation Red Edge", "07 - Vegetation Red Edge", "08 - NIR", "08A - Vegetation Red Edge",
    "09 - Water vapour", "10 - SWIR - Cirrus", "11 - SWIR", "12 - SWIR",
]
S1_8 = [
    "01 - VH.Real", "02 - VH.Imaginary", "03 - VV.Real", "04 - VV.Imaginary", "05 - VH.LEE Filtered",
    "06 - VV.LEE Filtered", "07 - VH.LEE Filtered.Real", "08 - VV.LEE Filtered.Imaginary",
]
RGB = ["Red", "Green", "Blue"]

# task -> (kind, band keys, number of classes, patch size)
TASKS = {
    "m-bigearthnet": ("multilabel", [k for k in S2_13 if not k.startswith("10")], 43, 12),
    "m-brick-kiln": ("classification", S2_13, 2, 8),
    "m-eurosat": ("classification", S2_13, 10, 8),
    "m-forestnet": ("classification", ["02 - Blue", "03 - Green", "04 - Red", "05 - NIR", "06 - SWIR1",
                                       "07 - SWIR2"], 12, 16),
    "m-pv4ger": ("classification", RGB, 2, 16),
    "m-so2sat": ("classification", S1_8 + [k for k in S2_13 if k[:2] not in ("01", "09", "10")], 17, 8),
    "m-cashew-plant": ("segmentation", S2_13, 7, 16),
    "m-chesapeake-landcover": ("segmentation", ["Blue", "Green", "NearInfrared", "Red"], 7, 16),
    "m-nz-cattle": ("segmentation", RGB, 2, 16),
    "m-NeonTree": ("segmentation", [*RGB, "Neon_CHM", "Neon_Hyperspectral"], 2, 16),
    "m-pv4ger-seg": ("segmentation", RGB, 2, 16),
    "m-SA-crop-type": ("segmentation", S2_13, 10, 16),
}
N_SAMPLES = 6
HYPERSPECTRAL_CHANNELS = 5


class _Trap:
    """Unpickling this raises: proves a reader never unpickles the attribute."""

    def __reduce__(self):
        return (eval, ("(_ for _ in ()).throw(RuntimeError('the pickle attribute was unpickled'))",))


def write_task(root: Path, task: str, seed: int = 0) -> Path:
    kind, keys, n_classes, size = TASKS[task]
    rng = np.random.default_rng(seed)
    folder = root / task
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"id_{i:05d}" for i in range(N_SAMPLES)]
    labels = {}
    for i, name in enumerate(names):
        with h5py.File(folder / f"{name}.hdf5", "w") as f:
            for key in keys:
                if key == "Neon_Hyperspectral":
                    data = rng.integers(0, 4000, (size, size, HYPERSPECTRAL_CHANNELS)).astype(np.int16)
                elif key in RGB or key == "NearInfrared":
                    data = rng.random((size, size)).astype(np.float32)
                else:
                    data = rng.integers(1, 5000, (size, size)).astype(np.int16)
                f.create_dataset(key, data=data)
            if kind == "segmentation":
                lab = rng.integers(0, n_classes, (size, size)).astype(np.int64)
                lab[0, : n_classes] = np.arange(n_classes)  # every class present somewhere
                f.create_dataset("label", data=lab)
                labels[name] = (np.bincount(lab.ravel(), minlength=n_classes) / lab.size).tolist()
            elif kind == "classification":
                labels[name] = i % n_classes
            else:
                hot = np.zeros(n_classes)
                hot[[i % n_classes, (3 * i + 1) % n_classes]] = 1
                labels[name] = hot.tolist()
            f.attrs["pickle"] = str(pickle.dumps({"trap": _Trap()}))
    partition = {"train": names[:3], "valid": names[3:4], "test": names[4:]}
    (folder / "default_partition.json").write_text(json.dumps(partition, indent=2))
    (folder / "0.01x_train_partition.json").write_text(
        json.dumps({"train": names[:1], "valid": names[3:4], "test": names[4:]}, indent=2)
    )
    stats = {k: {"mean": 1.0, "std": 2.0, "min": 0.0, "max": 9.0} for k in keys}
    (folder / "band_stats.json").write_text(json.dumps(stats, indent=2))
    if kind == "classification":
        label_map: dict[str, list[str]] = {}
        for name, lab in labels.items():
            label_map.setdefault(str(lab), []).append(name)
        (folder / "label_map.json").write_text(json.dumps(label_map, indent=2))
    else:
        (folder / "label_stats.json").write_text(json.dumps(labels, indent=2))
    return folder


def make_task(tmp: Path, task: str, split: str = "train") -> dict:
    return {"root": write_task(tmp, task), "split": split}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "geobench_fixture")
    for t in TASKS:
        print(write_task(out, t))
