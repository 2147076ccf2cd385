"""Downloads against a real HTTP server on 127.0.0.1 serving real mirror files."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import zipfile
from pathlib import Path

import pytest
from loopback_http import LoopbackServer

from eokit.datasets.download import download_dataset, extract_archive, fetch
from eokit.datasets.spec import DatasetSpec, Download
from eokit.errors import ChecksumError, DownloadError

OSCD_CITY = "change_detection/oscd_sentinel2/images/rennes/imgs_1"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path: Path, mirror: Path) -> Path:
    """A folder of real mirror files packed into a zip and a tar.gz, plus one raw tif."""
    src = mirror / OSCD_CITY
    tifs = sorted(src.glob("*.tif"))[:4]
    out = tmp_path / "www"
    out.mkdir()
    with zipfile.ZipFile(out / "oscd.zip", "w") as zf:
        for t in tifs:
            zf.write(t, f"rennes/imgs_1/{t.name}")
    with tarfile.open(out / "oscd.tar.gz", "w:gz") as tf:
        for t in tifs:
            tf.add(t, f"rennes/imgs_1/{t.name}")
    (out / "band.tif").write_bytes(tifs[0].read_bytes())
    return out


def test_fetch_full_and_checksum(served: Path, tmp_path: Path) -> None:
    with LoopbackServer(served) as srv:
        dest = fetch(srv.url("band.tif"), tmp_path / "dl" / "band.tif", sha256=_sha(served / "band.tif"))
    assert dest.read_bytes() == (served / "band.tif").read_bytes()
    assert not dest.with_name("band.tif.part").exists()
    assert srv.requests == [("/band.tif", None)]


def test_interrupted_transfer_resumes(served: Path, tmp_path: Path) -> None:
    expected = served / "oscd.zip"
    with LoopbackServer(served, drop_first={"/oscd.zip"}) as srv:
        dest = fetch(srv.url("oscd.zip"), tmp_path / "oscd.zip", md5=hashlib.md5(expected.read_bytes()).hexdigest(), backoff=0)
    assert dest.read_bytes() == expected.read_bytes()
    # first request whole file (dropped halfway), second a Range request from where it stopped
    assert len(srv.requests) == 2
    assert srv.requests[0] == ("/oscd.zip", None)
    half = len(expected.read_bytes()) // 2
    assert srv.requests[1] == ("/oscd.zip", f"bytes={half}-")


def test_leftover_part_file_resumes(served: Path, tmp_path: Path) -> None:
    data = (served / "oscd.tar.gz").read_bytes()
    dest = tmp_path / "oscd.tar.gz"
    dest.with_name("oscd.tar.gz.part").write_bytes(data[:1000])  # an earlier run stopped here
    with LoopbackServer(served) as srv:
        fetch(srv.url("oscd.tar.gz"), dest, sha256=hashlib.sha256(data).hexdigest())
    assert srv.requests == [("/oscd.tar.gz", "bytes=1000-")]
    assert dest.read_bytes() == data


def test_server_without_ranges_restarts(served: Path, tmp_path: Path) -> None:
    data = (served / "band.tif").read_bytes()
    dest = tmp_path / "band.tif"
    dest.with_name("band.tif.part").write_bytes(b"garbage")
    with LoopbackServer(served, ranges=False) as srv:
        fetch(srv.url("band.tif"), dest, sha256=hashlib.sha256(data).hexdigest())
    assert srv.requests == [("/band.tif", "bytes=7-")]  # asked to resume, got 200, started over
    assert dest.read_bytes() == data


def test_corrupted_file_fails_checksum(served: Path, tmp_path: Path) -> None:
    good = _sha(served / "band.tif")
    raw = bytearray((served / "band.tif").read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # the server now holds a corrupted copy
    (served / "band.tif").write_bytes(bytes(raw))
    dest = tmp_path / "band.tif"
    with LoopbackServer(served) as srv, pytest.raises(ChecksumError) as err:
        fetch(srv.url("band.tif"), dest, sha256=good)
    msg = str(err.value)
    assert "band.tif" in msg and good in msg and hashlib.sha256(raw).hexdigest() in msg
    assert not dest.exists() and not dest.with_name("band.tif.part").exists()


def test_http_404_names_url(served: Path, tmp_path: Path) -> None:
    with LoopbackServer(served) as srv, pytest.raises(DownloadError, match=r"missing\.zip: HTTP 404"):
        fetch(srv.url("missing.zip"), tmp_path / "missing.zip")


def test_offline_error_names_url_path_and_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_DATA", str(tmp_path / "data"))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/EuroSAT.zip"
    spec = DatasetSpec(
        name="offline_demo", task="classification", sensor=None, bands=("R",),
        downloads=(Download(url, "EuroSAT.zip", extract=True),),
    )
    with pytest.raises(DownloadError) as err:
        download_dataset(spec, tmp_path / "data" / "offline_demo")
    msg = str(err.value)
    assert url in msg and "EuroSAT.zip" in msg and "EOKIT_DATA" in msg and str(tmp_path / "data") in msg
    assert not (tmp_path / "data" / "offline_demo").exists()


def test_download_dataset_extracts_atomically(served: Path, tmp_path: Path, mirror: Path) -> None:
    zip_sha = _sha(served / "oscd.zip")
    tif_sha = _sha(served / "band.tif")
    with LoopbackServer(served) as srv:
        spec = DatasetSpec(
            name="oscd_demo", task="change_detection", sensor="sentinel2_l1c", bands=("B01",),
            downloads=(
                Download(srv.url("oscd.zip"), "oscd.zip", sha256=zip_sha, extract=True),
                Download(srv.url("band.tif"), "extra/band.tif", sha256=tif_sha),
            ),
        )
        root = download_dataset(spec, tmp_path / "data" / "oscd_demo")
    names = sorted(p.name for p in (root / "rennes" / "imgs_1").iterdir())
    assert names == sorted(p.name for p in sorted((mirror / OSCD_CITY).glob("*.tif"))[:4])
    for p in (root / "rennes" / "imgs_1").iterdir():
        assert p.read_bytes() == (mirror / OSCD_CITY / p.name).read_bytes()
    assert (root / "extra" / "band.tif").read_bytes() == (served / "band.tif").read_bytes()
    leftovers = [p.name for p in root.parent.iterdir() if p.name != "oscd_demo"]
    assert leftovers == []  # no temp folder, no staging folder


def test_failed_checksum_leaves_no_dataset_folder(served: Path, tmp_path: Path) -> None:
    with LoopbackServer(served) as srv:
        spec = DatasetSpec(
            name="bad_demo", task="classification", sensor=None, bands=("R",),
            downloads=(Download(srv.url("oscd.zip"), "oscd.zip", sha256="0" * 64, extract=True),),
        )
        with pytest.raises(ChecksumError, match="0{64}"):
            download_dataset(spec, tmp_path / "data" / "bad_demo")
    assert not (tmp_path / "data" / "bad_demo").exists()


# -- unsafe archives -------------------------------------------------------------
def _zip_with(path: Path, name: str, data: bytes = b"x", symlink_to: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok/file.txt", b"fine")
        info = zipfile.ZipInfo(name)
        if symlink_to is not None:
            info.external_attr = (0o120777 << 16)
            data = symlink_to.encode()
        zf.writestr(info, data)
    return path


def _tar_with(path: Path, name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> Path:
    with tarfile.open(path, "w") as tf:
        ok = tarfile.TarInfo("ok/file.txt")
        ok.size = 4
        tf.addfile(ok, io.BytesIO(b"fine"))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.size = 0 if kind != tarfile.REGTYPE else 1
        tf.addfile(info, io.BytesIO(b"x") if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize("member", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:/evil.txt"])
def test_zip_slip_refused(tmp_path: Path, member: str) -> None:
    archive = _zip_with(tmp_path / "bad.zip", member)
    with pytest.raises(DownloadError, match="member") as err:
        extract_archive(archive, tmp_path / "out")
    assert repr(member) in str(err.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.zip"]  # temp folder cleaned up


def test_zip_symlink_outside_refused(tmp_path: Path) -> None:
    archive = _zip_with(tmp_path / "bad.zip", "ok/link", symlink_to="../../etc/passwd")
    with pytest.raises(DownloadError, match=r"'ok/link' is a symlink to '../../etc/passwd'"):
        extract_archive(archive, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "kind", "link"),
    [
        ("../evil.txt", tarfile.REGTYPE, ""),
        ("/tmp/evil.txt", tarfile.REGTYPE, ""),
        ("ok/link", tarfile.SYMTYPE, "../../outside"),
        ("ok/abs", tarfile.SYMTYPE, "/etc/passwd"),
        ("ok/hard", tarfile.LNKTYPE, "../outside"),
    ],
)
def test_tar_slip_and_links_refused(tmp_path: Path, name: str, kind: bytes, link: str) -> None:
    archive = _tar_with(tmp_path / "bad.tar", name, kind, link)
    with pytest.raises(DownloadError, match="member") as err:
        extract_archive(archive, tmp_path / "out")
    assert repr(name) in str(err.value)
    assert not (tmp_path / "out").exists()


def test_tar_symlink_inside_allowed(tmp_path: Path) -> None:
    archive = _tar_with(tmp_path / "ok.tar", "ok/link", tarfile.SYMTYPE, "file.txt")
    out = extract_archive(archive, tmp_path / "out")
    assert (out / "ok" / "link").read_bytes() == b"fine"
