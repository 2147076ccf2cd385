"""TempCNN Formosat-2 pixel series on the mirror's real CSVs."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from eokit.datasets import get_dataset
from eokit.datasets.catalog.timeseries import TEMPCNN_CLASSES, TempCNNFormosat2
from eokit.errors import DatasetError
from eokit.tasktype import TaskType


@pytest.fixture()
def root(mirror: Path) -> Path:
    return mirror / "timeseries" / "tempcnn_formosat2"


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return [r for r in csv.reader(fh) if r]


def test_official_split_as_the_csvs_say(root: Path) -> None:
    polygons = {}
    for split in ("train", "test"):
        rows = _rows(root / "example" / f"{split}_dataset.csv")
        ds = TempCNNFormosat2(root, split)
        assert ds.spec.task == TaskType.TIMESERIES_CLASSIFICATION and len(ds) == len(rows)
        assert Counter(int(ds[i]["label"]) for i in range(len(ds))) == Counter(int(float(r[0])) for r in rows)
        polygons[split] = {int(float(r[1])) for r in rows}
        assert {ds[i]["polygon"] for i in range(len(ds))} == polygons[split]
        last = ds[len(ds) - 1]
        want = np.array([float(v) for v in rows[-1][2:]], dtype=np.float32).reshape(149, 3)
        assert last["image"].shape == (149, 3, 1, 1)
        assert np.array_equal(last["image"][:, :, 0, 0].numpy(), want)  # T x C, NIR/R/G per date
        assert last["bands"] == ("B4", "B3", "B2") and last["sensor"] == "formosat2"
        assert last["dates"] is None and last["time"] is None and last["id"] == f"{split}-{len(rows)}"
    assert not polygons["train"] & polygons["test"]  # the official split shares no plot
    assert len(TEMPCNN_CLASSES) == 13


def test_dates_give_day_of_year(root: Path) -> None:
    days = [date(2006, 2, 1) + timedelta(days=2 * i) for i in range(149)]
    ds = get_dataset("tempcnn_formosat2", root=root, split="test", dates=[d.isoformat() for d in days])
    s = ds[5]
    assert s["dates"][0] == "2006-02-01" and s["time"] == "2006-02-01" and s["doy"][:3] == [32, 34, 36]
    with pytest.raises(DatasetError, match="lists 3 dates; the series have 149"):
        TempCNNFormosat2(root, "test", dates=["2006-01-01"] * 3)
    with pytest.raises(DatasetError, match="ISO dates"):
        TempCNNFormosat2(root, "test", dates=["day 1"] * 149)


def test_bad_files_are_named(root: Path, tmp_path: Path) -> None:
    (tmp_path / "example").mkdir()
    shutil.copytree(root / "map", tmp_path / "map")
    rows = _rows(root / "example" / "train_dataset.csv")[:3]
    path = tmp_path / "example" / "train_dataset.csv"
    path.write_text("\n".join(",".join(r[:-3]) for r in rows) + "\n")
    with pytest.raises(DatasetError, match=r"train_dataset.csv' has 446 columns; a TempCNN row has 449"):
        TempCNNFormosat2(tmp_path, "train")
    rows[1][0] = "13"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(DatasetError, match=r"row 2: class 13 is not one of 0..12"):
        TempCNNFormosat2(tmp_path, "train")
    rows[1][0] = "0"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    assert len(TempCNNFormosat2(tmp_path, "train")) == 3
    (tmp_path / "map" / "class_map.txt").write_text("value,class,colour\n1,maize,#ffff00\n")
    with pytest.raises(DatasetError, match="not the TempCNN Formosat-2 release"):
        TempCNNFormosat2(tmp_path, "train")
    with pytest.raises(DatasetError, match="test_dataset.csv' not found"):
        TempCNNFormosat2(tmp_path, "test")
