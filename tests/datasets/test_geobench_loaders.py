"""GEO-Bench v1.0 reader: real Chesapeake chips, band naming fixes, labels, never unpickling."""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
from pathlib import Path
from types import ModuleType

import h5py
import numpy as np
import pytest

from eokit.datasets import DATASETS, get_dataset
from eokit.errors import DatasetError

DATA = Path(__file__).resolve().parents[1] / "data"
TASKS = ("m_bigearthnet", "m_brick_kiln", "m_eurosat", "m_forestnet", "m_pv4ger", "m_so2sat",
         "m_cashew_plant", "m_chesapeake_landcover", "m_nz_cattle", "m_neontree", "m_pv4ger_seg",
         "m_sa_crop_type")


def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_geobench", DATA / "geobench" / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_all_twelve_tasks_registered_with_published_folders() -> None:
    for name in TASKS:
        spec = DATASETS.get(name).spec
        assert spec.folder.startswith("geobench/") and spec.folder.split("/")[-1].lower().replace("-", "_") == name


def test_chesapeake_real_chips(mirror: Path) -> None:
    root = mirror / "segmentation" / "geobench_cvpr_chesapeake_landcover"
    ds = get_dataset("m_chesapeake_landcover", root=root, split="test")
    assert len(ds) == 5
    stats = json.loads((root / "label_stats.json").read_text())
    for i in range(len(ds)):
        s = ds[i]
        assert s["bands"] == ("R", "G", "B", "N") and s["sensor"] == "naip"
        assert s["image"].shape == (4, 256, 256) and 0 <= float(s["image"].min()) <= float(s["image"].max()) <= 1
        with h5py.File(root / f"{s['id']}.hdf5", "r") as f:
            np.testing.assert_array_equal(s["image"][0].numpy(), f["Red"][:])
            np.testing.assert_array_equal(s["image"][3].numpy(), f["NearInfrared"][:])
        freq = np.bincount(s["mask"].numpy().ravel(), minlength=7) / s["mask"].numel()
        np.testing.assert_allclose(freq, stats[s["id"]], atol=1e-9)  # the published label statistics
    assert set(ds.band_stats()) >= {"R", "G", "B", "N"}


def test_pickle_attribute_is_never_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = gen()
    roots = {t: g.write_task(tmp_path, t) for t in g.TASKS}

    def refuse(*a, **k):
        raise AssertionError("eokit unpickled GEO-Bench metadata")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    for task, root in roots.items():
        name = task.lower().replace("-", "_")
        ds = get_dataset(name, root=root, split="train")
        assert len(ds) == 3 and ds[0]["image"].dtype.is_floating_point


def test_eurosat_and_brick_kiln_band_fixes(tmp_path: Path) -> None:
    g = gen()
    root = g.write_task(tmp_path, "m-eurosat")
    s = get_dataset("m_eurosat", root=root)[0]
    assert s["bands"] == ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
    with h5py.File(root / f"{s['id']}.hdf5", "r") as f:  # geo-bench issue #28: key 12 holds B8A
        np.testing.assert_array_equal(s["image"][s["bands"].index("B8A")].numpy(), f["12 - SWIR"][:])
        np.testing.assert_array_equal(s["image"][s["bands"].index("B09")].numpy(), f["08A - Vegetation Red Edge"][:])
    label_map = json.loads((root / "label_map.json").read_text())
    assert s["id"] in label_map[str(int(s["label"]))]
    kiln = get_dataset("m_brick_kiln", root=g.write_task(tmp_path, "m-brick-kiln"))[0]
    assert set(kiln["bands"]) >= {"TCI_R", "TCI_G", "TCI_B", "B8A"} and "B06" not in kiln["bands"]


def test_multilabel_timeless_and_multiband(tmp_path: Path) -> None:
    g = gen()
    root = g.write_task(tmp_path, "m-bigearthnet")
    s = get_dataset("m_bigearthnet", root=root, split="val")[0]
    stats = json.loads((root / "label_stats.json").read_text())
    assert s["label"].tolist() == stats[s["id"]] and s["label"].shape == (43,)
    assert "B10" not in s["bands"] and len(s["bands"]) == 12
    neon = get_dataset("m_neontree", root=g.write_task(tmp_path, "m-NeonTree"))[0]
    assert neon["bands"][:3] == ("R", "G", "B") and "Neon_CHM" in neon["bands"]
    assert [b for b in neon["bands"] if b.startswith("Neon_Hyperspectral_")] == [
        f"Neon_Hyperspectral_{i:03d}" for i in range(g.HYPERSPECTRAL_CHANNELS)
    ]
    so2sat = get_dataset("m_so2sat", root=g.write_task(tmp_path, "m-so2sat"))[0]
    assert len(set(so2sat["bands"])) == 18 and "01 - VH.Real" in so2sat["bands"] and "B02" in so2sat["bands"]
    forest = get_dataset("m_forestnet", root=g.write_task(tmp_path, "m-forestnet"))[0]
    assert "05 - NIR" in forest["bands"]  # Landsat keys are not renamed as Sentinel-2


def test_partitions_and_bad_input(tmp_path: Path) -> None:
    g = gen()
    root = g.write_task(tmp_path, "m-pv4ger")
    assert len(get_dataset("m_pv4ger", root=root, partition="0.01x_train")) == 1
    with pytest.raises(DatasetError, match="partition file"):
        get_dataset("m_pv4ger", root=root, partition="0.5x_train")
    (root / "id_00001.hdf5").write_bytes(b"\x89HDF corrupted")
    ds = get_dataset("m_pv4ger", root=root)
    with pytest.raises(DatasetError, match="id_00001.hdf5"):
        ds[1]
    assert get_dataset("m_pv4ger", root=root, skip_invalid=True)[1]["id"] == "id_00002"
    (root / "label_map.json").unlink()
    with pytest.raises(DatasetError, match="label_map.json"):
        get_dataset("m_pv4ger", root=root)
    seg = g.write_task(tmp_path / "seg", "m-nz-cattle")
    with h5py.File(seg / "id_00000.hdf5", "a") as f:
        del f["label"]
        f.create_dataset("label", data=np.zeros((8, 8), np.int64))
    with pytest.raises(DatasetError, match="must share the image grid"):
        get_dataset("m_nz_cattle", root=seg)[0]


def test_default_root_falls_back_to_v091_folder_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = gen().write_task(tmp_path / "staging", "m-cashew-plant")
    bench = tmp_path / "data" / "geobench" / "segmentation_v0.9.1"
    bench.mkdir(parents=True)
    shutil.move(folder, bench / "m-cashew-plantation")  # the v0.9.1 Zenodo release's folder name
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path / "data"))
    ds = get_dataset("m_cashew_plant")
    assert ds.root == bench / "m-cashew-plantation" and len(ds) == 3
