"""Contract tests, run for every registered dataset automatically.

How a dataset gets its test data (the mechanism)
-------------------------------------------------
Every dataset registered with ``@register`` (any module under
``src/eokit/datasets/catalog/`` is loaded by the registry, and plugins too) is parametrised
here by its spec name. Its test data comes from a provider script at

    tests/data/<spec.name>/data.py

that defines ``make(tmp: Path, mirror: Path | None) -> dict | list[dict] | None``
returning the keyword arguments to instantiate the loader (at least ``root``
and ``split``; any loader option such as ``cities=`` or ``layout=``). A list
gives several cases. The script either points at the real files of the data
mirror (``mirror`` is ``$EOKIT_DATA`` when its MANIFEST.md exists, else None;
return None to skip when it is needed and absent), or copies real mirror files
into the dataset's official layout under ``tmp``, or writes a tiny fixture in
the official layout (file names, dtypes, band order, label encoding) under
``tmp``, as TorchGeo's ``tests/data/*/data.py`` do. A registered dataset
without a provider fails ``test_every_dataset_has_test_data``.

What is checked
---------------
- the spec: task and tags known (generic readers, ``generic = True``, only that), exactly one resolution tag that agrees with
  ``gsd``, bands known to the sensor, licence/citation/size/layout/split policy
  filled in, download URLs http(s) with well-formed checksums (or a homepage
  when there is no direct download);
- the loader: instantiates on the provider's data, is not empty, and its
  first and last samples satisfy the Sample contract (``eokit.data.sample``)
  for the spec's task: float32 image with one channel per band name, label /
  mask / target / image2 / boxes dtypes and shapes, plain-Python metadata;
  two samples collate.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
import torch

from eokit.data.sample import collate_samples
from eokit.datasets.base import DATASETS, EODataset
from eokit.datasets.spec import TAGS, TASKS
from eokit.env import data_root
from eokit.sensors import get_sensor

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
NAMES = sorted(name for name, _ in DATASETS.items())


def _provider(name: str) -> Path:
    return DATA_DIR / name / "data.py"


def _cases(name: str, tmp: Path, missing_mirror: Callable[[str], NoReturn]) -> list[dict[str, Any]]:
    path = _provider(name)
    spec = importlib.util.spec_from_file_location(f"eokit_testdata_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = data_root()
    mirror = root if (root / "MANIFEST.md").exists() else None
    out = module.make(tmp, mirror)
    if out is None:
        missing_mirror(f"{name}: its test data needs the data mirror")
    return out if isinstance(out, list) else [out]


def test_enough_datasets_registered() -> None:
    assert len(NAMES) >= 10, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_has_test_data(name: str) -> None:
    assert _provider(name).exists(), f"dataset {name!r} has no test data provider: add {_provider(name)}"


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_valid(name: str) -> None:
    cls = DATASETS.get(name)
    spec = cls.spec
    assert spec.name == name and re.fullmatch(r"[a-z0-9_]+", name)
    assert spec.task in TASKS
    assert set(spec.tags) <= set(TAGS)
    if cls.generic:  # generic readers (class folders, GEO-Bench tasks): classes/bands/tags known per instance
        return
    gsd_tags = {"gsd<10", "gsd>=10"} & set(spec.tags)
    assert len(gsd_tags) == 1, f"{name}: needs exactly one of gsd<10 / gsd>=10, has {gsd_tags}"
    if spec.gsd is not None:
        assert gsd_tags == ({"gsd<10"} if spec.gsd < 10 else {"gsd>=10"}), (name, spec.gsd, gsd_tags)
    assert {"rgbn", "multispectral", "sar", "hyperspectral"} & set(spec.tags), f"{name}: no modality tag"
    if spec.sensor is not None:
        sensor = get_sensor(spec.sensor)
        unknown = [b for b in spec.bands if not sensor.has(b)]
        assert not unknown, f"{name}: bands {unknown} unknown to sensor {spec.sensor}"
    for field in ("license", "citation", "size", "layout", "split_policy", "folder"):
        assert getattr(spec, field) and getattr(spec, field) != "unknown", f"{name}: {field} is empty"
    assert spec.splits and len(set(spec.splits)) == len(spec.splits)
    if spec.task in ("classification", "multilabel", "segmentation", "change_detection"):
        assert spec.classes, f"{name}: a {spec.task} dataset lists its classes"
    for d in spec.downloads:
        assert d.url.startswith(("http://", "https://")), d.url
        assert d.filename and not d.filename.startswith("/") and ".." not in Path(d.filename).parts
        assert d.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", d.sha256), d.sha256
        assert d.md5 is None or re.fullmatch(r"[0-9a-f]{32}", d.md5), d.md5
    if not spec.downloads:
        assert spec.homepage.startswith("http"), f"{name}: no download and no homepage"


def _check_sample(ds: EODataset, s: dict[str, Any]) -> None:
    spec = ds.spec
    name = spec.name
    img = s["image"]
    assert isinstance(img, torch.Tensor) and img.dtype == torch.float32, (name, type(img), getattr(img, "dtype", None))
    temporal = spec.task.startswith("timeseries") or img.dim() == 4
    assert img.dim() == (4 if temporal else 3), (name, img.shape)
    bands = s["bands"]
    assert isinstance(bands, tuple) and all(isinstance(b, str) for b in bands) and bands
    assert img.shape[-3] == len(bands), (name, img.shape, bands)
    assert torch.isfinite(img).any(), f"{name}: image has no finite value"
    if s.get("sensor") is not None:
        sensor = get_sensor(s["sensor"])
        assert all(sensor.has(b) for b in bands), (name, s["sensor"], bands)
    h, w = img.shape[-2:]
    task = spec.task
    if task in ("classification", "timeseries_classification"):
        lab = s["label"]
        assert isinstance(lab, torch.Tensor) and lab.dtype == torch.int64 and lab.dim() == 0, (name, lab)
        assert 0 <= int(lab) < spec.num_classes
    elif task == "multilabel":
        lab = s["label"]
        assert isinstance(lab, torch.Tensor) and lab.dtype == torch.float32 and lab.shape == (spec.num_classes,)
        assert set(lab.unique().tolist()) <= {0.0, 1.0}
    elif task in ("segmentation", "timeseries_segmentation", "change_detection"):
        mask = s["mask"]
        assert isinstance(mask, torch.Tensor) and mask.dtype == torch.int64 and mask.shape == (h, w), (name, mask.shape)
        values = set(mask.unique().tolist()) - {-1, 255}
        assert all(0 <= v < max(spec.num_classes, 2) for v in values), (name, sorted(values)[:10])
        if task == "change_detection":
            assert s["image2"].shape == img.shape and s["image2"].dtype == torch.float32
    elif task == "pixel_regression":
        t = s["target"]
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape[-2:] == (h, w)
    elif task == "regression":
        t = s["target"]
        assert isinstance(t, float | torch.Tensor)
        assert math.isfinite(float(t if isinstance(t, float) else t.float().mean()))
    elif task == "detection":
        boxes, labels = s["boxes"], s["labels"]
        assert boxes.dtype == torch.float32 and boxes.dim() == 2 and boxes.shape[1] == 4
        assert labels.dtype == torch.int64 and labels.shape == (boxes.shape[0],)
    elif task == "super_resolution":
        t = s["target"]
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.dim() in (3, 4)
    for key in ("crs", "time", "path", "id"):
        assert s.get(key) is None or isinstance(s[key], str), (name, key, type(s.get(key)))
    for key in ("transform", "bounds"):
        v = s.get(key)
        assert v is None or (isinstance(v, tuple) and all(isinstance(x, float | int) for x in v)), (name, key, v)
    if s.get("transform") is not None:
        assert len(s["transform"]) == 6


@pytest.mark.parametrize("name", NAMES)
def test_loader_yields_valid_samples(name: str, tmp_path: Path,
                                     missing_mirror: Callable[[str], NoReturn]) -> None:
    if not _provider(name).exists():
        pytest.fail(f"no test data provider for {name!r}: add {_provider(name)}")
    cls = DATASETS.get(name)
    for kwargs in _cases(name, tmp_path, missing_mirror):
        ds = cls(**kwargs)
        assert len(ds) > 0, (name, kwargs)
        first, last = ds[0], ds[len(ds) - 1]
        for s in (first, last):
            _check_sample(ds, s)
        if first["image"].shape == last["image"].shape and first["bands"] == last["bands"]:
            batch = collate_samples([first, last])
            assert batch["image"].shape[0] == 2
