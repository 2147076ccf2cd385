"""BigEarthNet S2: the mirror's real example patches in the v1 layout, and the same patches copied
into the official v2 (reBEN) layout with a ``metadata.parquet`` in the published schema."""

from __future__ import annotations

import bz2
import json
import shutil
from pathlib import Path

import pandas as pd

EXAMPLES = "multilabel/bigearthnet_examples"


def v1_kwargs(mirror: Path, split: str = "train", **extra: object) -> dict:
    return {"root": mirror / EXAMPLES, "split": split, "layout": "v1", "s2_dir": "BigEarthNet-S2-Example",
            "s1_dir": "BigEarthNet-S1-Example", "splits_dir": "splits", "missing": "skip", **extra}


def build_v2(tmp: Path, mirror: Path) -> Path:
    """v2 layout: BigEarthNet-S2/<tile>/<patch_id>/<patch_id>_Bxx.tif, BigEarthNet-S1/<tile>/<s1>/..."""
    from eokit.datasets.catalog.multilabel import CLASSES_19, CLASSES_43, MAP_43_TO_19

    src = mirror / EXAMPLES
    root = tmp / "bigearthnet_v2"
    splits = {}
    for s in ("train", "val", "test"):
        for name in bz2.decompress((src / "splits" / f"{s}.csv.bz2").read_bytes()).decode().split():
            splits[name] = "validation" if s == "val" else s
    rows = []
    for s1 in sorted((src / "BigEarthNet-S1-Example").iterdir()):
        meta = json.loads((s1 / f"{s1.name}_labels_metadata.json").read_text())
        v1 = meta["corresponding_s2_patch"]
        if v1 not in splits:
            continue  # snow/cloud patches are not in v2's metadata.parquet
        tile = s1.name.split("_")[5]  # e.g. 33UUP
        head, row, col = v1.rsplit("_", 2)
        pid = f"{head}_N9999_R022_T{tile}_{row}_{col}"
        for f in (src / "BigEarthNet-S2-Example" / v1).glob("*.tif"):
            dst = root / "BigEarthNet-S2" / "_".join(pid.split("_")[:-2]) / pid
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst / f.name.replace(v1, pid))
        for f in s1.glob("*.tif"):
            dst = root / "BigEarthNet-S1" / "_".join(s1.name.split("_")[:-3]) / s1.name
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst / f.name)
        labels19 = sorted({CLASSES_19[MAP_43_TO_19[CLASSES_43.index(n)]] for n in meta["labels"]
                           if CLASSES_43.index(n) in MAP_43_TO_19})
        rows.append({"patch_id": pid, "labels": labels19, "split": splits[v1], "country": "n/a",
                     "s1_name": s1.name, "s2v1_name": v1, "contains_seasonal_snow": False,
                     "contains_cloud_or_shadow": False})
    pd.DataFrame(rows).to_parquet(root / "metadata.parquet")
    return root


def make(tmp: Path, mirror: Path | None) -> list[dict] | None:
    if mirror is None:
        return None
    return [v1_kwargs(mirror), v1_kwargs(mirror, "test", num_classes=43),
            {"root": build_v2(tmp, mirror), "split": "train"}]
