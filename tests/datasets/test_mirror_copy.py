"""Datasets read from the data mirror's copy when only that is in the data root; its home still wins."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from eokit.cli.main import cli
from eokit.datasets import DatasetSpec, get_dataset, list_datasets
from eokit.datasets.download import download_dataset
from eokit.errors import DownloadError

MIRRORED = [s for s in list_datasets() if s.mirror]


def spec_of(name: str) -> DatasetSpec:
    return next(s for s in list_datasets() if s.name == name)


def test_path_prefers_home_then_mirror_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path))
    spec = spec_of("eurosat_rgb")
    assert spec.mirror_copy() is None and spec.path() == tmp_path / "eurosat_rgb" == spec.home()
    (tmp_path / spec.mirror).mkdir(parents=True)
    assert spec.path() == spec.mirror_copy() == tmp_path / "classification" / "eurosat_rgb"
    spec.home().mkdir()
    assert spec.path() == spec.home()  # a downloaded copy wins over the mirror's
    assert spec.path(tmp_path / "x") == tmp_path / "x"  # an explicit root always wins


def test_download_goes_home_not_into_the_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path))
    spec = spec_of("dubai_aerial_landcover")  # no direct download: the error names where it belongs
    (tmp_path / spec.mirror).mkdir(parents=True)
    with pytest.raises(DownloadError, match=str(spec.home())):
        download_dataset(spec)


@pytest.mark.parametrize("spec", MIRRORED, ids=lambda s: s.name)
def test_each_mirror_copy_reads_with_default_arguments(mirror: Path, spec: DatasetSpec) -> None:
    if not (mirror / spec.mirror).is_dir():
        pytest.skip(f"{spec.mirror} is not in this mirror")
    split = spec.splits[0]
    ds = get_dataset(spec.name, split=split)
    assert ds.root == mirror / spec.mirror and len(ds) > 0
    ds[0]


def test_partial_copy_is_said_once(mirror: Path, caplog: pytest.LogCaptureFixture,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import eokit.datasets.base as base

    spec = spec_of("sparcs_l8_cloud")
    assert spec.mirror_part
    if spec.home().exists() or spec.mirror_copy() is None:
        pytest.skip("the data root has the whole dataset, or no mirror copy of it")
    monkeypatch.setattr(base, "_WARNED_MIRRORS", set())  # as in a fresh process
    with caplog.at_level(logging.WARNING, logger="eokit.datasets.base"):
        get_dataset(spec.name, root=spec.mirror_copy(), split="val")  # an explicit root: nothing to say
        get_dataset(spec.name, split="train")
        get_dataset(spec.name, split="test")
    said = [r.getMessage() for r in caplog.records if "mirror" in r.getMessage()]
    assert len(said) == 1  # once per process
    assert spec.mirror_part in said[0] and str(spec.home()) in said[0]


def test_list_and_info_show_the_mirror_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path))
    for name in ("eurosat_rgb", "sparcs_l8_cloud"):
        (tmp_path / spec_of(name).mirror).mkdir(parents=True)
    res = CliRunner().invoke(cli, ["datasets", "list"])
    assert res.exit_code == 0, res.output
    rows = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.startswith("│")}
    local = {name: row.split("│")[2].strip() for name, row in rows.items()}
    assert (local["eurosat_rgb"], local["sparcs_l8_cloud"], local["oscd"]) == ("mirror", "mirror (part)", "no")
    info = json.loads(CliRunner().invoke(cli, ["datasets", "info", "sparcs_l8_cloud", "--json"]).output)
    assert info["present"] and info["path"] == str(tmp_path / "segmentation" / "sparcs_l8_cloud")
    assert info["home"] == str(tmp_path / "sparcs_l8_cloud") and "20 of the 80" in info["mirror_part"]


def test_bench_cache_key_follows_the_folder_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bench cache filled from the mirror's (partial) copy is not reused once the whole dataset is home."""
    from eokit.bench.config import DatasetCfg
    from eokit.bench.data import data_key

    monkeypatch.setenv("EOKIT_DATA", str(tmp_path))
    cfg = DatasetCfg(name="sparcs_l8_cloud")
    given = DatasetCfg(name="sparcs_l8_cloud", kwargs={"root": "segmentation/sparcs_l8_cloud"})
    (tmp_path / spec_of("sparcs_l8_cloud").mirror).mkdir(parents=True)
    from_mirror, given_before = data_key(cfg, "train"), data_key(given, "train")
    (tmp_path / "sparcs_l8_cloud").mkdir()
    assert data_key(cfg, "train") != from_mirror
    assert data_key(given, "train") == given_before  # a given root reads the same folder whatever is home
