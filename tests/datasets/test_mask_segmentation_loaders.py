"""Dubai aerial land cover, SPARCS and the generic mask-folder reader on real and generated data."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from eokit.datasets import get_dataset
from eokit.datasets.catalog._util import IGNORE_INDEX
from eokit.datasets.catalog.mask_segmentation import DUBAI_COLOURS, SPARCS_CLASSES
from eokit.errors import DatasetError

DATA = Path(__file__).resolve().parents[1] / "data"


def _provider(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"eokit_testdata_{name}_mask", DATA / name / "data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- Dubai aerial land cover ----------------------------------------------------------------------

def test_dubai_real_masks_decode_to_class_ids_with_manifest_counts(mirror: Path) -> None:
    root = mirror / "segmentation" / "dubai_aerial_landcover"
    splits = {s: get_dataset("dubai_aerial_landcover", root=root, split=s) for s in ("train", "val", "test")}
    tiles = {s: {it[0] for it in ds.items} for s, ds in splits.items()}
    assert sum(len(ds) for ds in splits.values()) == 54
    assert not (tiles["train"] & tiles["val"]) and not (tiles["train"] & tiles["test"]) and not (tiles["val"] & tiles["test"])
    assert [len(t) for t in tiles.values()] == [4, 1, 1]  # seeded split over the 6 tiles
    counts = np.zeros(len(DUBAI_COLOURS), np.int64)
    direct = np.zeros(len(DUBAI_COLOURS), np.int64)
    ignored = 0
    for ds in splits.values():
        for _, _, mask_path in ds.items:
            mask = ds.decode_mask(mask_path)
            assert set(np.unique(mask).tolist()) <= {IGNORE_INDEX, *range(6)}
            counts += np.bincount(mask[mask >= 0], minlength=6)
            ignored += int((mask == IGNORE_INDEX).sum())
            rgb = np.asarray(Image.open(mask_path).convert("RGB"))
            direct += [int(((rgb[..., 0] == r) & (rgb[..., 1] == g) & (rgb[..., 2] == b)).sum()) for r, g, b in DUBAI_COLOURS]
    assert counts.tolist() == direct.tolist()
    share = counts / counts.sum()
    # MANIFEST pixel shares: building 11.9 %, land 39.1 %, road 7.7 %, vegetation 9.6 %, water 31.1 %, unlabeled 0.7 %
    assert np.allclose(share, [0.119, 0.391, 0.077, 0.096, 0.311, 0.007], atol=0.0006), share.round(4)
    assert 0 < ignored < 1e-4 * counts.sum()  # the few black pixels


def test_dubai_sample_fields(mirror: Path) -> None:
    ds = get_dataset("dubai_aerial_landcover", root=mirror / "segmentation" / "dubai_aerial_landcover", split="val")
    s = ds[0]
    assert s["bands"] == ("R", "G", "B") and s["sensor"] == "rgb"
    assert s["image"].shape[1:] == s["mask"].shape and s["image"].max() > 100
    assert s["id"].startswith("Tile ")


def test_dubai_unknown_colour_names_file_and_colour(tmp_path: Path) -> None:
    root = _provider("dubai_aerial_landcover").write(tmp_path / "dubai", tiles=6)
    bad = root / "Tile 2" / "masks" / "image_part_001.png"
    rgb = np.asarray(Image.open(bad).convert("RGB")).copy()
    rgb[3, 5] = (80, 227, 194)  # the classes.json colour of "Water", which no mask uses
    Image.fromarray(rgb).save(bad)
    ds = get_dataset("dubai_aerial_landcover", root=root, split="train")
    ds.items = [it for it in ds.items if it[2] == bad] or [("Tile 2", root / "Tile 2" / "images" / "image_part_001.jpg", bad)]
    with pytest.raises(DatasetError, match=r"image_part_001\.png.*\(80, 227, 194\).*row 3, col 5"):
        ds[0]


def test_dubai_fixture_black_is_ignored_and_palette_masks_read(tmp_path: Path) -> None:
    root = _provider("dubai_aerial_landcover").write(tmp_path / "dubai", tiles=6)
    ds = get_dataset("dubai_aerial_landcover", root=root, split="train")
    for i in range(len(ds)):
        m = ds[i]["mask"]
        assert int(m[0, 0]) == IGNORE_INDEX and set(m.unique().tolist()) - {IGNORE_INDEX} <= set(range(6))


# -- SPARCS -------------------------------------------------------------------------------------

SPARCS_COUNTS = [1_417_826, 22_365, 406_897, 1_189_995, 13_619_809, 3_343_108, 0]  # SOURCE.md


def test_sparcs_real_whole_scenes_match_official_counts(mirror: Path) -> None:
    root = mirror / "segmentation" / "sparcs_l8_cloud"
    counts = np.zeros(len(SPARCS_CLASSES), np.int64)
    scenes: dict[str, set[str]] = {}
    for split in ("train", "val", "test"):
        ds = get_dataset("sparcs_l8_cloud", root=root, split=split, chip_size=None)
        scenes[split] = {it[0] for it in ds.items}
        for sid, *_ in ds.items:
            counts += np.bincount(ds._mask(sid).ravel(), minlength=7)
    assert counts.tolist() == SPARCS_COUNTS
    assert [len(v) for v in scenes.values()] == [14, 2, 4]
    assert len(set().union(*scenes.values())) == 20


def test_sparcs_real_chips_cover_the_scene(mirror: Path) -> None:
    ds = get_dataset("sparcs_l8_cloud", root=mirror / "segmentation" / "sparcs_l8_cloud", split="test", chip_size=256)
    assert len(ds) == 4 * 16  # 4 test scenes, 4 x 4 chips (the last row/column end at the edge)
    sid = ds.items[0][0]
    full = np.full((1000, 1000), -9, np.int64)
    for i, it in enumerate(ds.items):
        if it[0] != sid:
            continue
        s = ds[i]
        assert s["bands"] == ("B6", "B5", "B4") and s["sensor"] == "landsat8"
        assert s["image"].shape == (3, 256, 256) and float(s["image"].min()) >= 0.0 and float(s["image"].max()) <= 1.0
        _, x, y, c = it
        full[y:y + c, x:x + c] = s["mask"].numpy()
    assert (full == ds._mask(sid)).all()


def test_sparcs_bad_code_is_an_error(tmp_path: Path) -> None:
    root = _provider("sparcs_l8_cloud").write(tmp_path / "sparcs")
    path = sorted((root / "sending").glob("*_mask.png"))[0]
    codes = np.asarray(Image.open(path)).copy()
    codes[2, 7] = 9
    img = Image.fromarray(codes, mode="P")
    img.putpalette(_provider("sparcs_l8_cloud").PALETTE)
    img.save(path)
    with pytest.raises(DatasetError, match=r"_mask\.png.*value 9 at row 2, col 7.*codes are 0-6"):
        for split in ("train", "val", "test"):
            get_dataset("sparcs_l8_cloud", root=root, split=split, chip_size=16)


def test_sparcs_data_stack_has_landsat8_band_names(tmp_path: Path) -> None:
    prov = _provider("sparcs_l8_cloud")
    root = prov.write(tmp_path / "sparcs", data=True)
    ds = get_dataset("sparcs_l8_cloud", root=root, split="train", image="data", chip_size=16)
    assert len(ds) == 4 * 9  # 4 train scenes, 3 x 3 chips of 16 px (last ones end at px 40)
    s = ds[0]
    assert s["bands"] == ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B9", "B10", "B11")
    assert s["image"].shape == (10, 16, 16) and float(s["image"].min()) >= 5000  # raw DN
    root2 = prov.write(tmp_path / "photo_only")
    with pytest.raises(DatasetError, match=r"_data\.tif.*use image='photo'"):
        get_dataset("sparcs_l8_cloud", root=root2, split="train", image="data")


# -- mask_folder --------------------------------------------------------------------------------

def test_mask_folder_seeded_split_classes_and_ignore(tmp_path: Path) -> None:
    root = _provider("mask_folder").write(tmp_path / "mine", n=10)
    parts = {s: get_dataset("mask_folder", root=root, split=s, ignore_index=255) for s in ("train", "val", "test")}
    stems = [sorted(p.stem for p, _ in ds.items) for ds in parts.values()]
    assert [len(s) for s in stems] == [7, 1, 2] and len({s for group in stems for s in group}) == 10
    ds = parts["train"]
    assert ds.classes == ("class_0", "class_1", "class_2")  # found by scanning the masks
    m = ds[0]["mask"]
    assert int(m[0, 0]) == IGNORE_INDEX and set(m.unique().tolist()) == {IGNORE_INDEX, 0, 1, 2}
    again = get_dataset("mask_folder", root=root, split="train", ignore_index=255)
    assert [p for p, _ in again.items] == [p for p, _ in ds.items]  # the split file keeps it stable


def test_mask_folder_classes_list_and_bad_value(tmp_path: Path) -> None:
    root = _provider("mask_folder").write(tmp_path / "mine", n=4)
    (root / "classes.txt").write_text("water\nland\nurban\n")
    ds = get_dataset("mask_folder", root=root, split="all", ignore_index=255)
    assert ds.classes == ("water", "land", "urban") and ds.spec.classes == ds.classes
    ds2 = get_dataset("mask_folder", root=root, split="all", classes=["water", "land"], ignore_index=255)
    with pytest.raises(DatasetError, match=r"tile_00\.png.*value 2 .*2 classes"):
        ds2[0]


def test_mask_folder_layout_errors(tmp_path: Path) -> None:
    root = _provider("mask_folder").write(tmp_path / "mine", n=3)
    (root / "masks" / "tile_01.png").unlink()
    with pytest.raises(DatasetError, match=r"have no mask of the same stem.*tile_01\.png"):
        get_dataset("mask_folder", root=root, split="all")
    (root / "masks" / "tile_01.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"tile_01\.jpg.*is a JPEG"):
        get_dataset("mask_folder", root=root, split="all")
    with pytest.raises(DatasetError, match=r"not a folder"):
        get_dataset("mask_folder", root=tmp_path, split="all")


def test_mask_folder_split_folders_and_colour_masks(tmp_path: Path) -> None:
    prov = _provider("mask_folder")
    for split, n in (("train", 3), ("test", 2)):
        prov.write(tmp_path / "mine" / split, n=n, colour=True)
    colors = {k: list(v) for k, v in prov.COLOURS.items()}
    ds = get_dataset("mask_folder", root=tmp_path / "mine", split="test", colors=colors, sensor="rgb")
    assert len(ds) == 2 and ds.classes == ("water", "land", "urban")
    s = ds[1]
    assert s["bands"] == ("R", "G", "B") and set(s["mask"].unique().tolist()) == {0, 1, 2}
    assert len(get_dataset("mask_folder", root=tmp_path / "mine", split="all", colors=colors)) == 5
    with pytest.raises(DatasetError, match="none for split 'val'"):
        get_dataset("mask_folder", root=tmp_path / "mine", split="val", colors=colors)
