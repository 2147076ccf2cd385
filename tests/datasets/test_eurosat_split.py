"""EuroSAT's default split: published lists in the folder, else eokit's packaged 60/20/20 split."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest
from loopback_http import LoopbackServer

from eokit.datasets.catalog import classification as cl
from eokit.datasets.catalog.classification import (
    EUROSAT_SEEDED_SPLIT,
    EuroSATRGB,
    eurosat_seeded_split_payload,
    eurosat_split,
    fetch_eurosat_lists,
    list_sha256,
)
from eokit.errors import ChecksumError, DatasetError

SPLITS = ("train", "val", "test")


def _provider(name: str):
    path = Path(__file__).resolve().parents[1] / "data" / name / "data.py"
    spec = importlib.util.spec_from_file_location(f"eokit_testdata_{name}_split", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_split_is_what_the_rule_makes() -> None:
    text = EUROSAT_SEEDED_SPLIT.read_text()
    assert text == eurosat_seeded_split_payload(), "regenerate with scripts/make_eurosat_split.py"
    about = json.loads(text)["about"]
    assert about["sizes"] == {"train": 16200, "val": 5400, "test": 5400}
    parts = {s: eurosat_split(s) for s in SPLITS}
    assert {s: len(v) for s, v in parts.items()} == about["sizes"]
    for s, stems in parts.items():
        assert list_sha256([f"{st}.jpg" for st in stems]) == about["list_sha256"][s]
    every = [st for v in parts.values() for st in v]
    assert len(set(every)) == len(every) == 27000
    for cls, n in cl.EUROSAT_COUNTS.items():  # exactly 60/20/20 in every class
        got = {s: sum(st.rsplit("_", 1)[0] == cls for st in parts[s]) for s in SPLITS}
        assert got == {"train": n * 3 // 5, "val": n // 5, "test": n // 5}, (cls, got)


def test_eurosat_rgb_default_split_on_the_mirror(mirror: Path) -> None:
    root = mirror / "classification" / "eurosat_rgb"
    on_disk = {d.name: sum(1 for f in d.iterdir() if f.suffix == ".jpg") for d in root.iterdir() if d.is_dir()}
    sizes = json.loads(EUROSAT_SEEDED_SPLIT.read_text())["about"]["sizes"]
    parts = {s: EuroSATRGB(root, s) for s in SPLITS}
    names = {s: [p.name for p, _ in ds.items] for s, ds in parts.items()}
    assert {s: len(v) for s, v in names.items()} == sizes  # what the lists say: 16,200/5,400/5,400
    assert not set(names["train"]) & set(names["val"]) and not set(names["train"]) & set(names["test"])
    assert not set(names["val"]) & set(names["test"])
    assert sum(len(v) for v in names.values()) == sum(on_disk.values())  # the split covers the folder
    for s, ds in parts.items():
        assert ds.split_origin.startswith("eokit seeded stratified 60/20/20")
        assert ds.split_sha256 == list_sha256([f"{st}.jpg" for st in eurosat_split(s)])
        labels = Counter(ds.spec.classes[lab] for _, lab in ds.items)
        assert all(lab == p.parent.name for p, lab in ((p, ds.spec.classes[k]) for p, k in ds.items[:50]))
        assert labels == {c: n * (3 if s == "train" else 1) // 5 for c, n in on_disk.items()}
    s = parts["test"][0]
    assert s["image"].shape == (3, 64, 64) and s["bands"] == ("R", "G", "B")
    assert s["id"] == Path(names["test"][0]).stem


def test_lists_in_the_folder_win_and_are_hashed(mirror: Path, tmp_path: Path) -> None:
    root = _provider("eurosat_rgb").build(tmp_path, mirror)
    ds = EuroSATRGB(root, "val")
    lines = (root / "eurosat-val.txt").read_text().split()
    assert [p.name for p, _ in ds.items] == lines
    assert ds.split_origin.startswith("split list") and ds.split_sha256 == list_sha256(lines)
    with pytest.raises(DatasetError, match=r"images of split 'val' \(eokit seeded .*split_source='seeded'"):
        EuroSATRGB(root, "val", split_source="packaged")  # 4 images per class: not the whole release
    seeded = EuroSATRGB(root, "val", split_source="seeded", split_file=tmp_path / "s.json",
                        fractions={"train": 0.5, "val": 0.25, "test": 0.25})
    assert seeded.split_origin.startswith("seeded split file") and len(seeded) == 10
    elsewhere = tmp_path / "lists"
    elsewhere.mkdir()
    (root / "eurosat-val.txt").rename(elsewhere / "eurosat-val.txt")
    with pytest.raises(DatasetError, match="eurosat-val.txt' not found"):
        EuroSATRGB(root, "val", split_source="lists")
    moved = EuroSATRGB(root, "val", lists_dir=elsewhere)  # lists kept apart from a read-only folder
    assert [p.name for p, _ in moved.items] == lines and str(elsewhere) in moved.split_origin
    with pytest.raises(DatasetError, match="eurosat-test.txt' not found"):
        EuroSATRGB(root, "test", lists_dir=elsewhere)


def test_edited_packaged_split_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(EUROSAT_SEEDED_SPLIT.read_text())
    moved = data["splits"]["test"]["Forest"].pop()
    data["splits"]["train"]["Forest"].append(moved)
    bad = tmp_path / "split.json"
    bad.write_text(json.dumps(data))
    monkeypatch.setattr(cl, "EUROSAT_SEEDED_SPLIT", bad)
    cl._eurosat_seeded.cache_clear()
    try:
        with pytest.raises(DatasetError, match="does not match its recorded sha256"):
            eurosat_split("train")
    finally:
        cl._eurosat_seeded.cache_clear()


def test_fetching_the_published_lists_checks_their_sha256(tmp_path: Path) -> None:
    """A server whose lists are not the published bytes is refused and nothing is left behind."""
    www = tmp_path / "www"
    www.mkdir()
    for s in SPLITS:  # eokit's own lists: right format, wrong bytes
        (www / f"eurosat-{s}.txt").write_text("\n".join(f"{st}.jpg" for st in eurosat_split(s)))
    with LoopbackServer(www) as srv, pytest.raises(ChecksumError, match="eurosat-train.txt"):
        fetch_eurosat_lists(tmp_path / "lists", base_url=srv.url(""))
    assert not list((tmp_path / "lists").glob("eurosat-*.txt"))
