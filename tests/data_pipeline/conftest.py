"""Fixtures for the eokit.data tests: small generated mixed-CRS scenes (tests/data/mixed_crs_scenes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parents[1] / "data" / "mixed_crs_scenes" / "data.py"


@pytest.fixture(scope="session")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    spec = importlib.util.spec_from_file_location("mixed_crs_scenes_data", FIXTURE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make(tmp_path_factory.mktemp("mixed_crs"))


@pytest.fixture(scope="session")
def mixed_coll(mixed: dict):
    from eokit.data import SceneCollection

    return SceneCollection.from_paths([mixed["a"], mixed["b"], mixed["tagged"]], pattern=r"S2_(?P<date>\d{8})_")
