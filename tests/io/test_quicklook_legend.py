"""Quicklook legends: the RGB bands, a value map's ramp and range, a class map's classes by name."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import rasterio
from click.testing import CliRunner
from PIL import Image
from rasterio.transform import from_origin

from eokit.cli.main import cli
from eokit.viz import class_colours, class_panel, legend, map_classes, value_range

GRID = {"driver": "GTiff", "width": 60, "height": 40, "crs": "EPSG:32631", "transform": from_origin(0, 400, 10, 10)}


def write(path: Path, data: np.ndarray, tags: dict[str, str] | None = None, nodata: float | None = None) -> Path:
    with rasterio.open(path, "w", count=1, dtype=data.dtype, nodata=nodata, **GRID) as ds:
        ds.write(data[None])
        ds.update_tags(**(tags or {}))
    return path


def colours(img: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in c) for c in img.reshape(-1, 3)}


def test_map_classes_reads_class_maps_only() -> None:
    assert map_classes({"EOKIT_OUTPUT": "classes", "EOKIT_CLASSES": "water,dry"}) == ["water", "dry"]
    assert map_classes({"EOKIT_CLASSES": "clear,cloud", "EOKIT_CLOUD_METHOD": "qa"}) == ["clear", "cloud"]
    assert map_classes({"EOKIT_OUTPUT": "probabilities", "EOKIT_CLASSES": "a,b"}) is None
    assert map_classes({}) is None


def test_class_panel_colours_valid_and_unknown_values() -> None:
    cls = np.array([[0, 1, 2], [7, 1, 0]])
    valid = np.array([[True, True, True], [True, True, False]])
    rgb = class_panel(cls, 3, valid).transpose(1, 2, 0)
    palette = class_colours(3)
    assert (rgb[0, 0] == palette[0]).all() and (rgb[0, 1] == palette[1]).all() and (rgb[0, 2] == palette[2]).all()
    assert (rgb[1, 0] == 128).all() and (rgb[1, 2] == 0).all()  # out of range: grey; invalid: black
    assert len(colours(palette[:, None, :])) == 3


def test_ramp_legend_draws_the_colour_map_and_text() -> None:
    strip = legend(300, "ndvi", ramp=("viridis", -0.2, 0.8)).transpose(1, 2, 0)
    assert strip.shape[1] == 300 and strip.dtype == np.uint8
    ends = (np.array(matplotlib.colormaps["viridis"]([0.0, 1.0]))[:, :3] * 255).astype(np.uint8)
    bar_row = next(r for r in range(strip.shape[0]) if (strip[r, 6] == ends[0]).all())
    assert (np.abs(strip[bar_row, 300 - 7].astype(int) - ends[1]) <= 2).all()
    assert (strip[:bar_row] < 128).any()  # the title is drawn above the bar
    assert (strip[bar_row + 12:] < 128).any()  # and the values below it


def test_class_legend_wraps_swatches_into_rows() -> None:
    names = [f"class_{i}" for i in range(12)]
    palette = class_colours(len(names))
    narrow = legend(240, "map", classes=list(zip(names, palette, strict=True)))
    wide = legend(1200, "map", classes=list(zip(names, palette, strict=True)))
    assert narrow.shape[1] > wide.shape[1]  # more rows
    for strip in (narrow, wide):
        found = colours(strip.transpose(1, 2, 0))
        assert all(tuple(int(v) for v in c) in found for c in palette)


def test_quicklook_draws_a_class_map_with_its_class_names(tmp_path: Path) -> None:
    rgb = write(tmp_path / "rgb.tif", np.add.outer(np.arange(40), np.arange(60)).astype("uint16"))
    cls = np.zeros((40, 60), np.uint8)
    cls[:, 30:] = 1
    cls[:5, :5] = 255  # nodata
    cmap = write(tmp_path / "water.tif", cls, {"EOKIT_OUTPUT": "classes", "EOKIT_CLASSES": "dry,water"}, nodata=255)
    out, bare = tmp_path / "q.png", tmp_path / "bare.png"
    runner = CliRunner()
    assert runner.invoke(cli, ["quicklook", str(rgb), "--map", str(cmap), "-o", str(out)]).exit_code == 0
    assert runner.invoke(cli, ["quicklook", str(rgb), "--map", str(cmap), "--no-legend", "-o", str(bare)]).exit_code == 0
    img, plain = np.asarray(Image.open(out)), np.asarray(Image.open(bare))
    assert plain.shape == (40, 60 + 8 + 60, 3)
    assert img.shape[0] > 40 and img.shape[1] >= 2 * 240  # legends under both panels, each >= 240 px
    panel = plain[:, 68:]
    assert colours(panel) == {tuple(int(v) for v in c) for c in class_colours(2)} | {(0, 0, 0)}
    legend_area = img[40:, 240 + 8:]
    assert {tuple(int(v) for v in c) for c in class_colours(2)} <= colours(legend_area)


def test_quicklook_value_map_range_is_its_percentiles(tmp_path: Path) -> None:
    rgb = write(tmp_path / "rgb.tif", np.add.outer(np.arange(40), np.arange(60)).astype("uint16"))
    values = np.linspace(-1, 1, 40 * 60, dtype="float32").reshape(40, 60)
    vmap = write(tmp_path / "ndvi.tif", values)
    assert value_range(values) == tuple(float(v) for v in np.percentile(values, [2, 98]))
    assert value_range(np.full((2, 2), np.nan)) == (0.0, 1.0)
    out = tmp_path / "v.png"
    res = CliRunner().invoke(cli, ["quicklook", str(rgb), "--map", str(vmap), "--cmap", "viridis", "-o", str(out)])
    assert res.exit_code == 0, res.output
    img = np.asarray(Image.open(out))
    lo = (np.array(matplotlib.colormaps["viridis"](0.0))[:3] * 255).astype(np.uint8)
    assert (img[0, 240 + 8] == lo).all()  # the map's first pixel (below the 2 % point) gets the ramp's start


def test_class_colours_follow_a_given_colour_map() -> None:
    blues = (np.array(matplotlib.colormaps["Blues"]([0.0, 1.0]))[:, :3] * 255).astype(np.uint8)
    assert (class_colours(2, "Blues") == blues).all()  # a continuous map: its two ends
    tab = (np.array([matplotlib.colormaps["Set1"](i)[:3] for i in range(3)]) * 255).astype(np.uint8)
    assert (class_colours(3, "Set1") == tab).all()  # a listed map: its first colours
    assert len(colours(class_colours(20)[:, None, :])) == 20  # tab20 beyond ten classes


def test_info_shows_a_maps_tags(tmp_path: Path) -> None:
    cls = write(tmp_path / "m.tif", np.zeros((40, 60), np.uint8), {"EOKIT_CLASSES": "dry,water", "EOKIT_ENGINE": "torch"})
    res = CliRunner().invoke(cli, ["info", str(cls)], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "tag EOKIT_CLASSES" in res.output and "dry,water" in res.output and "tag EOKIT_ENGINE" in res.output
    import json

    tags = json.loads(CliRunner().invoke(cli, ["info", "--json", str(cls)]).output)["tags"]
    assert tags["EOKIT_CLASSES"] == "dry,water" and tags["EOKIT_ENGINE"] == "torch"
