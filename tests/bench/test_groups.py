"""Capability groups follow GEO-Bench-2's definitions; the quick suite's datasets land where they should."""

from __future__ import annotations

import dataclasses

import pytest

from eokit.bench.config import load_suite
from eokit.bench.groups import GROUP_DEFINITIONS, GROUPS, capability_groups, dataset_groups
from eokit.datasets.base import DATASETS
from eokit.datasets.spec import DatasetSpec
from eokit.errors import ConfigError

# GEO-Bench-2: Multi-Temporal = "more than one timestamp used as input" (bi-temporal change pairs count),
# Pixel-wise = segmentation and pixel regression, <10 m / 10-30 m by GSD, RGB/NIR = only those bands.
QUICK_EXPECTED = {
    "eurosat_rgb": ["Classification", ">=10 m", "RGB/NIR"],
    "eurosat_ms": ["Multi-Spectral-Dependent", "Classification", ">=10 m"],
    "bigearthnet_s2": ["Multi-Spectral-Dependent", "Classification", ">=10 m"],
    "chesapeake": ["Pixel-wise", "<10 m", "RGB/NIR"],
    "sen1floods11": ["Multi-Spectral-Dependent", "Pixel-wise", ">=10 m"],
    "oscd": ["Multi-Spectral-Dependent", "Multi-Temporal", "Pixel-wise", ">=10 m"],
    "levir_cd": ["Multi-Temporal", "Pixel-wise", "<10 m", "RGB/NIR"],
}


def _quick_specs() -> dict[str, DatasetSpec]:
    suite = load_suite("quick")
    out = {}
    for d in suite.datasets:
        key = d.spec or d.loader
        if key in DATASETS:
            out[d.name] = dataclasses.replace(DATASETS.get(key).spec, name=d.name)
    return out


def test_quick_suite_capability_groups() -> None:
    specs = _quick_specs()
    checked = [n for n in QUICK_EXPECTED if n in specs]
    assert len(checked) >= 4, f"quick suite lost its datasets: {sorted(specs)}"
    for name in checked:
        assert dataset_groups(specs[name]) == QUICK_EXPECTED[name], name
    for name, spec in specs.items():  # datasets added to the suite later still join a group
        assert dataset_groups(spec), f"{name} joins no capability group"
    groups = capability_groups(list(specs), specs)
    assert groups["Core"] == sorted(specs)  # no `core:` list in the suite: Core is all of it
    for g, members in groups.items():
        assert g in GROUPS and members == sorted(members)
    if {"oscd", "levir_cd"} <= set(specs):
        assert {"oscd", "levir_cd"} <= set(groups["Multi-Temporal"])
        assert not {"eurosat_rgb", "chesapeake"} & set(groups["Multi-Temporal"])


def test_every_group_has_a_definition() -> None:
    assert set(GROUP_DEFINITIONS) == set(GROUPS)
    assert all(GROUP_DEFINITIONS[g] for g in GROUPS)


def _spec(name: str, task: str, bands: tuple[str, ...], sensor: str | None, gsd: float | None,
          tags: set[str] = frozenset()) -> DatasetSpec:  # type: ignore[assignment]
    return DatasetSpec(name=name, task=task, sensor=sensor, bands=bands, gsd=gsd, tags=frozenset(tags))


def test_group_rules_edges() -> None:
    # 10-30 m only: a 60 m dataset is in neither resolution group
    coarse = _spec("coarse", "classification", ("B04", "B03", "B02"), "sentinel2_l1c", 60.0)
    assert "<10 m" not in dataset_groups(coarse) and ">=10 m" not in dataset_groups(coarse)
    assert ">=10 m" in dataset_groups(dataclasses.replace(coarse, gsd=30.0))
    # tagged multispectral but fed RGB only: not Multi-Spectral-Dependent, RGB/NIR instead
    rgb_of_s2 = _spec("rgb_of_s2", "classification", ("B04", "B03", "B02", "B08"), "sentinel2_l1c", 10.0,
                      {"multispectral"})
    assert dataset_groups(rgb_of_s2) == ["Classification", ">=10 m", "RGB/NIR"]
    # SAR polarisations are not "bands beyond RGB+NIR"
    sar = _spec("sar", "segmentation", ("VV", "VH"), "sentinel1_grd_db", 10.0, {"multispectral", "sar"})
    assert "Multi-Spectral-Dependent" not in dataset_groups(sar) and "RGB/NIR" not in dataset_groups(sar)
    # time series classification: classification and multi-temporal
    ts = _spec("ts", "timeseries_classification", ("B02", "B03", "B04", "B08"), "sentinel2_l2a", 8.0)
    assert dataset_groups(ts) == ["Multi-Temporal", "Classification", "<10 m", "RGB/NIR"]


def test_core_is_the_suites_choice(tmp_path) -> None:
    specs = _quick_specs()
    names = sorted(specs)[:2]
    assert capability_groups(list(specs), specs, core=names)["Core"] == names
    src = tmp_path / "s.yaml"
    src.write_text("name: s\nmodels: [{name: m, arch: resnet18}]\n"
                   "datasets: [{name: a, loader: image_folder, kwargs: {root: x}}]\ncore: [b]\n")
    with pytest.raises(ConfigError, match="core"):
        load_suite(src)
