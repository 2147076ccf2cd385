"""Bring your own data: an ImageFolder and a mask folder named in a suite YAML, ranked by `eokit bench`.

Sizes keep every test set at 20 samples or more (3 x 40 images -> 24 test images; 16 tiles of
64 px cut into 16 px tiles), so the results are rankable.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from eokit.bench.config import load_suite
from eokit.cli.main import main

CLASS_COLOURS = {"desert": (200, 170, 110), "sea": (30, 70, 160), "forest": (40, 120, 50)}


def write_image_folder(root: Path, per_class: int = 40, size: int = 16, seed: int = 0) -> Path:
    """``root/<class>/<i>.png``: 3 classes whose colour differs, with noise."""
    rng = np.random.default_rng(seed)
    for name, colour in CLASS_COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = np.asarray(colour, float) + rng.normal(0, 25, (size, size, 3))
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / name / f"{name}_{i:03d}.png")
    return root


def write_mask_folder(root: Path, tiles: int = 16, size: int = 64, seed: int = 0) -> Path:
    """``root/images/tile_<i>.png`` + ``root/masks/tile_<i>.png`` (class ids 0-2 in blobs; colour follows the class)."""
    rng = np.random.default_rng(seed)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    colours = np.asarray(list(CLASS_COLOURS.values()), float)
    for i in range(tiles):
        ids = ((np.arange(size)[None, :] // 8 + 2 * (np.arange(size)[:, None] // 8) + i) % 3).astype(np.uint8)
        img = colours[ids] + rng.normal(0, 20, (size, size, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / "images" / f"tile_{i:02d}.png")
        Image.fromarray(ids).save(root / "masks" / f"tile_{i:02d}.png")
    return root


SUITE = """
name: byod
models:
  - {name: cnn, arch: mobilecnn, options: {width: 0.25}}
datasets:
  - name: my_scenes
    loader: image_folder
    kwargs: {root: ./my_scenes}            # next to this file; classes = folder names
  - name: my_tiles
    loader: mask_folder
    kwargs: {root: ~/data/my_tiles, classes: [desert, sea, forest]}
    tile: 16                               # 16 px tiles: enough test samples to rank
protocols:
  - knn5
  - linear
  - {name: decoder, epochs: 2, batch_size: 8}
fractions: [1.0]
seeds: [0, 1]
efficiency: {enabled: false}
"""


def test_suite_file_roots_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "suites" / "my_scenes").mkdir(parents=True)
    (tmp_path / "suites" / "beside").mkdir()
    path = tmp_path / "suites" / "byod.yaml"
    d = yaml.safe_load(SUITE)
    d["datasets"].append({"name": "beside", "loader": "image_folder", "kwargs": {"root": "beside"}})
    d["datasets"].append({"name": "mirror", "loader": "image_folder", "kwargs": {"root": "classification/x"}})
    path.write_text(yaml.safe_dump(d))
    roots = [ds.kwargs["root"] for ds in load_suite(path).datasets]
    assert roots == [str(tmp_path / "suites" / "my_scenes"), str(tmp_path / "home" / "data" / "my_tiles"),
                     str(tmp_path / "suites" / "beside"), "classification/x"]


@pytest.mark.slow
def test_bench_ranks_models_on_user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_image_folder(tmp_path / "suites" / "my_scenes")
    write_mask_folder(tmp_path / "home" / "data" / "my_tiles")
    suite = tmp_path / "suites" / "byod.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(suite), "-o", str(out), "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    with open(out / "results.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["corruption"] == "none"]
    score: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        if r["metric"] in ("accuracy", "miou"):
            score.setdefault((r["dataset"], r["model"], r["protocol"]), []).append(float(r["value"]))
    for model in ("cnn", "raw_pixels"):
        assert {("my_scenes", model, "linear"), ("my_scenes", model, "knn5"), ("my_tiles", model, "decoder")} <= set(score)
    assert all(0.0 < v <= 1.0 for vs in score.values() for v in vs), score
    assert min(score["my_scenes", "raw_pixels", "knn5"]) > 0.9  # classes differ by colour: the data arrived intact
    # the leaderboard ranks the entries: its first row is an entry that scores best on one of the datasets
    entries = {(m, p) for _, m, p in score}
    lines = [ln for ln in printed.splitlines() if any(m in ln and p in ln for m, p in entries)]
    assert len(lines) >= len(entries) - 2, printed
    top = next((m, p) for m, p in sorted(entries, key=lambda e: -len(e[0])) if m in lines[0] and p in lines[0])
    best = {d: max(np.mean(v) for (d2, _, _), v in score.items() if d2 == d) for d in ("my_scenes", "my_tiles")}
    assert any(np.mean(score.get((d, *top), [-1])) == best[d] for d in best), (top, best, printed)
