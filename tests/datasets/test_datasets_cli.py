"""`eokit datasets list|info|download` through the real CLI entry point."""

from __future__ import annotations

import hashlib
import importlib.util
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from loopback_http import LoopbackServer

from eokit.cli.main import cli, main
from eokit.datasets import DatasetSpec, Download

DATA = Path(__file__).resolve().parents[1] / "data"


def _provider(name: str):
    spec = importlib.util.spec_from_file_location(f"prov_{name}", DATA / name / "data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_list_shows_catalogue_and_local_presence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path))
    _provider("uc_merced").build(tmp_path)  # -> tmp_path/uc_merced, the spec's folder
    res = CliRunner().invoke(cli, ["datasets", "list"])
    assert res.exit_code == 0, res.output
    rows = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.startswith("│")}
    for name in ("eurosat_ms", "eurosat_rgb", "uc_merced", "resisc45", "image_folder", "bigearthnet_s2",
                 "bigearthnet_s1", "oscd", "levir_cd", "s2looking", "dsifn"):
        assert name in rows, name
    assert rows["uc_merced"].split("│")[2].strip() == "yes"
    assert rows["oscd"].split("│")[2].strip() == "no"
    assert "sentinel2_l1c" in rows["oscd"] and "change_detection" in rows["oscd"]
    res = CliRunner().invoke(cli, ["datasets", "list", "--json", "--task", "multilabel"])
    import json

    names = {d["name"] for d in json.loads(res.output)}
    assert {"bigearthnet_s1", "bigearthnet_s2"} <= names and all(
        d["task"] == "multilabel" for d in json.loads(res.output)
    )


def test_info_and_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    res = CliRunner().invoke(cli, ["datasets", "info", "eurosat_ms"])
    assert res.exit_code == 0, res.output
    assert "EuroSATallBands.zip" in res.output and "md5 5ac12b3b2557aa56e1826e981e8e200e" in res.output
    assert "eurosat-train.txt" in res.output and "Helber" in res.output
    assert main(["datasets", "info", "eurosat_msx"]) == 2
    assert "Did you mean 'eurosat_ms'" in capsys.readouterr().err


def test_download_offline_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real eurosat_rgb spec with its URL pointed at a closed loopback port (no DNS in tests)."""
    import socket

    from eokit.cli.commands import datasets as cmd
    from eokit.datasets.catalog.classification import EuroSATRGB

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{s.getsockname()[1]}/files/sentinel/EuroSAT.zip"
    s.close()
    spec = DatasetSpec(**{**EuroSATRGB.spec.__dict__, "downloads": (Download(url, "EuroSAT.zip", extract=True),)})
    monkeypatch.setattr(cmd, "_spec", lambda name: spec)
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path))
    assert main(["datasets", "download", "eurosat_rgb"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert url in err and "offline" in err and "EOKIT_DATA" in err
    assert f"dataset 'eurosat_rgb' at '{tmp_path / 'eurosat_rgb'}'" in err
    assert not (tmp_path / "eurosat_rgb").exists()


def test_download_from_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Path) -> None:
    """`eokit datasets download` fetches, verifies and unpacks real EuroSAT JPEGs served on 127.0.0.1."""
    www = tmp_path / "www"
    www.mkdir()
    src = mirror / "classification" / "eurosat_rgb"
    with zipfile.ZipFile(www / "EuroSAT.zip", "w") as zf:
        for c in sorted(p.name for p in src.iterdir() if p.is_dir()):
            zf.write(src / c / f"{c}_1.jpg", f"2750/{c}/{c}_1.jpg")
    (www / "eurosat-test.txt").write_text("Forest_1.jpg\nRiver_1.jpg\n")
    sha = {n: hashlib.sha256((www / n).read_bytes()).hexdigest() for n in ("EuroSAT.zip", "eurosat-test.txt")}
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path / "data"))
    from eokit.cli.commands import datasets as cmd
    from eokit.datasets.catalog.classification import EuroSATRGB

    with LoopbackServer(www, drop_first={"/EuroSAT.zip"}) as srv:
        spec = DatasetSpec(**{**EuroSATRGB.spec.__dict__, "downloads": (
            Download(srv.url("EuroSAT.zip"), "EuroSAT.zip", sha256=sha["EuroSAT.zip"], extract=True),
            Download(srv.url("eurosat-test.txt"), "eurosat-test.txt", sha256=sha["eurosat-test.txt"]),
        )})
        monkeypatch.setattr(cmd, "_spec", lambda name: spec)
        res = CliRunner().invoke(cli, ["datasets", "download", "eurosat_rgb"])
    assert res.exit_code == 0, res.output
    root = tmp_path / "data" / "eurosat_rgb"
    assert "ready at" in res.output and sorted(p.name for p in (root / "2750").iterdir())[0] == "AnnualCrop"
    ds = EuroSATRGB(split="test")  # from EOKIT_DATA, through the official split list
    assert [s["id"] for s in ds] == ["Forest_1", "River_1"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["eurosat_rgb"]
