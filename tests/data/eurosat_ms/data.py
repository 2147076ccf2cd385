"""EuroSAT MS in its official layout, built from the real EuroSAT GeoTIFFs of the data mirror.

Copies 3 real 13-band files per class into
``ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<n>.tif`` and writes
``eurosat-{train,val,test}.txt`` in the published format (one ``<Class>_<n>.jpg`` per line).
"""

from __future__ import annotations

import shutil
from pathlib import Path

BASE = "ds/images/remote_sensing/otherDatasets/sentinel_2/tif"


def build(tmp: Path, mirror: Path, per_class: int = 3) -> Path:
    root = tmp / "eurosat_ms"
    src = mirror / "classification" / "eurosat_ms_subset"
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for cls_dir in sorted((src / "train").iterdir()):
        out = root / BASE / cls_dir.name
        out.mkdir(parents=True)
        train = sorted(cls_dir.glob("*.tif"))[:per_class]
        test = sorted((src / "test" / cls_dir.name).glob("*.tif"))[:1]
        for i, f in enumerate(train + test):
            shutil.copy(f, out / f.name)
            split = "test" if f in test else ("val" if i == 0 else "train")
            lists[split].append(f.stem + ".jpg")
    for split, names in lists.items():
        (root / f"eurosat-{split}.txt").write_text("\n".join(names) + "\n")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    root = build(tmp, mirror)
    return [{"root": root, "split": "train"}, {"root": root, "split": "test"}]
