"""The README's example scripts run end to end on the real data mirror (one epoch each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = {"predict_water.sh": ("s2_water.tif", "s2_water.png"),
            "predict_cloud_landsat.sh": ("l8_cloud.tif", "l8_cloud.png")}


def test_every_example_script_is_run_here() -> None:
    assert sorted(p.name for p in (REPO / "examples").glob("*.sh")) == sorted(EXAMPLES)


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_script_maps_the_scene(script: str, mirror: Path, tmp_path: Path) -> None:
    env = {**os.environ, "EOKIT": str(Path(sys.executable).parent / "eokit"), "EOKIT_DATA": str(mirror),
           "EOKIT_CACHE": str(tmp_path / "cache"), "EPOCHS": "1"}
    run = subprocess.run(["bash", str(REPO / "examples" / script), str(tmp_path / "out")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    cog, png = (tmp_path / "out" / name for name in EXAMPLES[script])
    with rasterio.open(cog) as ds:
        assert ds.descriptions[:2] == ("class", "confidence") and ds.tags()["EOKIT_CLASSES"]
    width, height = Image.open(png).size
    assert width > 2 * 200 and height > 200
