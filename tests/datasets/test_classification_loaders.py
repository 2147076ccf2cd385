"""Scene classification loaders on real EuroSAT files, and their bad-input errors."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from eokit.datasets import get_dataset
from eokit.datasets.catalog.classification import (
    EUROSAT_CLASSES,
    EuroSATMS,
    ImageFolderEO,
    UCMerced,
)
from eokit.errors import DatasetError, DatasetNotFoundError

DATA = Path(__file__).resolve().parents[1] / "data"
S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
MS_COUNTS = {"AnnualCrop": (24, 6), "Forest": (24, 6), "HerbaceousVegetation": (24, 6), "Highway": (20, 5),
             "Industrial": (20, 5), "Pasture": (16, 4), "PermanentCrop": (20, 5), "Residential": (24, 6),
             "River": (20, 5), "SeaLake": (24, 6)}


def _provider(name: str):
    spec = importlib.util.spec_from_file_location(f"prov_{name}", DATA / name / "data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_image_folder_reads_real_eurosat_ms(mirror: Path) -> None:
    root = mirror / "classification" / "eurosat_ms_subset"
    for split, k in (("train", 0), ("test", 1)):
        ds = ImageFolderEO(root, split, sensor="sentinel2_l1c")
        assert ds.classes == EUROSAT_CLASSES
        counts = Counter(ds.classes[lab] for _, lab in ds.items)
        assert counts == {c: n[k] for c, n in MS_COUNTS.items()}
    s = ds[0]
    assert s["image"].shape == (13, 64, 64) and s["image"].dtype == torch.float32
    assert s["bands"] == S2 and s["sensor"] == "sentinel2_l1c" and s["crs"].startswith("EPSG:326")
    with rasterio.open(s["path"]) as f:
        raw = f.read()
    assert np.array_equal(s["image"].numpy(), raw.astype(np.float32))  # unchanged values, band order kept
    assert float(s["image"].min()) > 0 and float(s["image"].max()) < 30000
    sub = ImageFolderEO(root, "test", sensor="sentinel2_l1c", bands=["B04", "B03", "B02"])[0]
    assert sub["bands"] == ("B04", "B03", "B02") and torch.equal(sub["image"], s["image"][[3, 2, 1]])
    with pytest.raises(DatasetError, match="none for split 'val'"):
        ImageFolderEO(root, "val")


def test_image_folder_seeded_split_on_eurosat_rgb(mirror: Path, tmp_path: Path) -> None:
    root = mirror / "classification" / "eurosat_rgb"
    sf = tmp_path / "split.json"
    parts = {s: ImageFolderEO(root, s, sensor="rgb", split_file=sf) for s in ("train", "val", "test")}
    per_class = {s: Counter(ds.classes[lab] for _, lab in ds.items) for s, ds in parts.items()}
    # expected sizes come from the files on disk (the mirror grows), split 70/10/20 per class
    on_disk = {d.name: sum(1 for f in d.iterdir() if f.suffix.lower() == ".jpg")
               for d in root.iterdir() if d.is_dir()}
    assert set(on_disk) == set(parts["train"].classes) and all(on_disk.values())
    for cls, n in on_disk.items():
        for split, frac in (("train", 0.7), ("val", 0.1), ("test", 0.2)):
            assert abs(per_class[split][cls] - frac * n) <= 1, (cls, split, per_class[split][cls], n)
        assert sum(per_class[s][cls] for s in parts) == n
    assert sum(len(d) for d in parts.values()) == sum(on_disk.values())
    again = ImageFolderEO(root, "test", sensor="rgb", split_file=sf)
    assert [p for p, _ in again.items] == [p for p, _ in parts["test"].items]
    s = parts["val"][0]
    assert s["image"].shape == (3, 64, 64) and s["bands"] == ("R", "G", "B") and s["crs"] is None
    assert float(s["image"].min()) >= 0 and float(s["image"].max()) <= 255


def test_eurosat_ms_official_layout(mirror: Path, tmp_path: Path) -> None:
    root = _provider("eurosat_ms").build(tmp_path, mirror)
    ds = EuroSATMS(root, "val")
    assert len(ds) == 10 and [ds.spec.classes[lab] for _, lab in ds.items] == list(EUROSAT_CLASSES)
    s = ds[3]
    assert s["label"].item() == 3 and s["id"].startswith("Highway_") and s["bands"] == S2
    assert len(EuroSATMS(root, "train")) == 20 and len(EuroSATMS(root, "test")) == 10


def test_missing_dataset_folder_names_path_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as err:
        get_dataset("eurosat_ms", split="train")
    msg = str(err.value)
    assert str(tmp_path / "eurosat_ms") in msg and "eokit datasets download eurosat_ms" in msg


def test_missing_and_extra_class_folder(mirror: Path, tmp_path: Path) -> None:
    root = _provider("eurosat_ms").build(tmp_path, mirror)
    classes = root / "ds/images/remote_sensing/otherDatasets/sentinel_2/tif"
    (classes / "Clouds").mkdir()
    with pytest.raises(DatasetError, match="unexpected folder 'Clouds'"):
        EuroSATMS(root, "train")
    (classes / "Clouds").rmdir()
    shutil.rmtree(classes / "Pasture")
    with pytest.raises(DatasetError, match="class folder 'Pasture' is missing"):
        EuroSATMS(root, "train")
    # the generic reader: a class folder missing from one split folder
    folder = tmp_path / "folder"
    for split, classes_ in (("train", ("a", "b")), ("test", ("a",))):
        for c in classes_:
            (folder / split / c).mkdir(parents=True)
            shutil.copy(next((mirror / "classification/eurosat_rgb/Forest").iterdir()), folder / split / c / "x.jpg")
    with pytest.raises(DatasetError, match=r"class folder 'b' is missing from .*test"):
        ImageFolderEO(folder, "train")
    with pytest.raises(DatasetError, match="unexpected folder 'b'"):
        ImageFolderEO(folder, "train", classes=["a"])


def test_corrupt_file_error_and_skip_invalid(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _provider("uc_merced").build(tmp_path, per_class=2)
    bad = root / "UCMerced_LandUse/Images/agricultural/agricultural00.tif"
    bad.write_bytes(b"II*\x00 this is not a complete TIFF")
    ds = UCMerced(root, "train", split_source="seeded", fractions={"train": 1.0}, split_file=tmp_path / "s.json")
    i = next(k for k, (p, _) in enumerate(ds.items) if p == bad)
    with pytest.raises(DatasetError, match="agricultural00.tif") as err:
        ds[i]
    assert "skip_invalid=True" in str(err.value)
    ok = UCMerced(root, "train", split_source="seeded", fractions={"train": 1.0}, split_file=tmp_path / "s.json",
                  skip_invalid=True)
    with caplog.at_level(logging.WARNING):
        s = ok[i]
    assert s["path"] != str(bad) and s["image"].shape == (3, 16, 16)
    assert "agricultural00.tif" in caplog.text and "skipping" in caplog.text
    with pytest.raises(DatasetError, match="split list .*uc_merced-train.txt"):
        UCMerced(root, "train", split_source="lists")
