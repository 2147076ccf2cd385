"""Verified dataset downloads: HTTP(S) with resume, checksums, safe atomic extraction.

- ``fetch(url, dest, sha256=|md5=)`` downloads into ``dest.part`` (beside the
  target), resuming with an HTTP ``Range`` request after a dropped connection
  or an earlier interrupted run, verifies the digest and only then renames the
  file into place: a half-written or corrupt file never takes the target name.
- ``extract_archive(archive, dest)`` unpacks a zip/tar into a temporary folder
  beside ``dest`` and renames it into place; members that would land outside
  the folder (``../``, absolute paths, drive letters) and links pointing
  outside it are refused with a ``DownloadError`` naming the member.
- ``download_dataset(spec, root)`` does both for every ``Download`` of a spec
  and builds ``EOKIT_DATA/<folder>`` atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import lzma
import os
import shutil
import socket
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from eokit.datasets.spec import DatasetSpec, Download
from eokit.env import cache_dir, data_root
from eokit.errors import ChecksumError, DownloadError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "eokit-downloader/1"

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


# -- checksums ----------------------------------------------------------------
def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksum(path: Path, sha256: str | None = None, md5: str | None = None, name: str | None = None) -> None:
    """Raise ChecksumError (file, expected, actual) unless the file matches every given digest."""
    for algo, expected in (("sha256", sha256), ("md5", md5)):
        if expected is None:
            continue
        actual = file_digest(path, algo)
        if actual.lower() != expected.lower():
            raise ChecksumError(
                f"{name or path}: {algo} mismatch: expected {expected.lower()}, got {actual} "
                f"(file {str(path)!r}); the download is corrupt or the source changed: delete it and download again"
            )


# -- HTTP with resume -----------------------------------------------------------
def _offline_error(url: str, dest: Path, reason: object, expected: str | None = None,
                   root_env: str = "EOKIT_DATA") -> DownloadError:
    what = f"{expected}; the file itself belongs at {str(dest)!r}" if expected else f"the file at {str(dest)!r}"
    root = data_root() if root_env == "EOKIT_DATA" else cache_dir()
    return DownloadError(
        f"cannot download {url}: {reason}. The host is unreachable (offline?). eokit expected {what} "
        f"({root_env}={str(root)!r}); download it by other means and place it there "
        f"(or set {root_env} to a folder that has it), then run again"
    )


_TRANSIENT = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    http.client.IncompleteRead,
    http.client.RemoteDisconnected,
    socket.timeout,
    TimeoutError,
)


def _one_request(url: str, part: Path, timeout: float, progress: Progress | None) -> tuple[int, int | None]:
    """One GET (ranged if ``part`` has bytes); append to ``part``. Returns (size, expected total)."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part file is complete
            return have, have
        raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
    with resp:
        total: int | None = None
        if resp.status == 206:
            content_range = resp.headers.get("Content-Range", "")
            start = int(content_range.split(" ")[1].split("-")[0]) if content_range.startswith("bytes ") else -1
            if start != have:
                raise DownloadError(f"{url}: server answered range {content_range!r} to a request from byte {have}")
            if "/" in content_range and not content_range.endswith("/*"):
                total = int(content_range.rsplit("/", 1)[1])
            mode = "ab"
        else:  # 200: the server ignored the range; start over
            length = resp.headers.get("Content-Length")
            total = int(length) if length is not None else None
            have, mode = 0, "wb"
        with open(part, mode) as f:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                f.write(block)
                have += len(block)
                if progress is not None:
                    progress(have, total)
    return have, total


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 0.5,
    progress: Progress | None = None,
    expected: str | None = None,
    root_env: str = "EOKIT_DATA",
) -> Path:
    """Download ``url`` to ``dest`` with resume and checksum verification; return ``dest``.

    Bytes go to ``dest.part``; a dropped connection resumes from where it
    stopped (``Range: bytes=N-``), up to ``retries`` times. The part file is
    renamed to ``dest`` only after the digest matches; on a mismatch it is
    deleted and ChecksumError names the file and both digests. Offline, DownloadError names the
    URL and ``dest``, and ``root_env`` the setting whose folder holds it (EOKIT_DATA for datasets,
    EOKIT_CACHE for weights).
    """
    dest = Path(dest)
    if dest.exists():
        verify_checksum(dest, sha256, md5)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            size, total = _one_request(url, part, timeout, progress)
        except DownloadError:
            raise
        except urllib.error.URLError as exc:
            raise _offline_error(url, dest, exc.reason, expected, root_env) from exc
        except (ConnectionRefusedError, socket.gaierror) as exc:
            raise _offline_error(url, dest, exc, expected, root_env) from exc
        except _TRANSIENT as exc:
            attempt += 1
            got = part.stat().st_size if part.exists() else 0
            if attempt > retries:
                raise DownloadError(
                    f"download of {url} kept failing after {retries} resumes ({got} bytes in {str(part)!r}): {exc}; "
                    "run again to resume"
                ) from exc
            log.warning("connection to %s dropped at byte %d (%s); resuming", url, got, exc)
            time.sleep(backoff * attempt)
            continue
        if total is not None and size < total:
            attempt += 1
            if attempt > retries:
                raise DownloadError(f"download of {url} stopped at {size} of {total} bytes; run again to resume")
            continue
        break
    try:
        verify_checksum(part, sha256, md5, name=dest.name)
    except ChecksumError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


# -- safe extraction ------------------------------------------------------------
def _check_name(archive: Path, name: str) -> PurePosixPath:
    """A member name as a relative path inside the target, or DownloadError."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in p.parts:
        raise DownloadError(
            f"unsafe archive {str(archive)!r}: member {name!r} would be written outside the target folder "
            "(absolute path or '..'); refusing to extract"
        )
    return p


def _check_link(archive: Path, name: str, target: str, hard: bool = False) -> None:
    """A link target must stay inside the extraction folder."""
    base = PurePosixPath() if hard else PurePosixPath(name.replace("\\", "/")).parent
    t = target.replace("\\", "/")
    if t.startswith("/") or (len(t) > 1 and t[1] == ":"):
        ok = False
    else:
        depth = 0
        ok = True
        for part in (base / t).parts:
            if part == "..":
                depth -= 1
                if depth < 0:
                    ok = False
                    break
            elif part not in (".", ""):
                depth += 1
    if not ok:
        kind = "hard link" if hard else "symlink"
        raise DownloadError(
            f"unsafe archive {str(archive)!r}: member {name!r} is a {kind} to {target!r}, outside the target "
            "folder; refusing to extract"
        )


def _extract_zip(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        links = {}
        for info in infos:
            _check_name(archive, info.filename)
            if info.flag_bits & 0x1:
                raise DownloadError(
                    f"archive {str(archive)!r}: member {info.filename!r} is encrypted (or the archive is corrupt); "
                    "eokit does not extract password-protected archives"
                )
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                target = zf.read(info).decode("utf-8")
                _check_link(archive, info.filename, target)
                links[info.filename] = target
        for info in infos:
            if info.filename in links:
                path = into / info.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(links[info.filename], path)
            else:
                zf.extract(info, into)


def _extract_tar(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            _check_name(archive, m.name)
            if m.issym():
                _check_link(archive, m.name, m.linkname)
            elif m.islnk():
                _check_link(archive, m.name, m.linkname, hard=True)
            elif not (m.isfile() or m.isdir()):
                raise DownloadError(
                    f"unsafe archive {str(archive)!r}: member {m.name!r} is a device or FIFO; refusing to extract"
                )
        kwargs: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(into, members=members, **kwargs)


def is_archive(path: Path) -> bool:
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def _unpack_zst(archive: Path, into: Path) -> None:
    """``.tar.zst`` (BigEarthNet v2): decompress to a temporary tar with ``zstandard``, then extract safely."""
    try:
        import zstandard
    except ImportError as exc:
        raise DownloadError(
            f"{str(archive)!r} is zstd-compressed: `pip install zstandard`, or unpack it yourself with "
            f"`tar --zstd -xf '{archive}' -C '{into}'`"
        ) from exc
    with tempfile.NamedTemporaryFile(suffix=".tar", dir=into.parent, delete=False) as tmp:
        try:
            with open(archive, "rb") as src:
                try:
                    zstandard.ZstdDecompressor().copy_stream(src, tmp)
                except zstandard.ZstdError as exc:
                    raise DownloadError(f"archive {str(archive)!r} is not valid zstd data ({exc}); delete it "
                                        "and download it again") from exc
            tmp.close()
            _extract_tar(Path(tmp.name), into)
        finally:
            Path(tmp.name).unlink(missing_ok=True)


# what zipfile/tarfile and their codecs raise on a truncated or corrupt archive
_CORRUPT = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, NotImplementedError,
            gzip.BadGzipFile, UnicodeDecodeError)


def unpack_into(archive: str | os.PathLike[str], into: str | os.PathLike[str]) -> None:
    """Unpack a zip or tar (any compression tarfile reads) into an existing folder, safely.

    A truncated or corrupt archive (or any failure to extract it) raises DownloadError naming it.
    """
    archive, into = Path(archive), Path(into)
    if not archive.is_file():
        raise DownloadError(f"archive {str(archive)!r} does not exist (or is not a file); cannot extract it")
    try:
        if archive.suffix == ".zst":
            _unpack_zst(archive, into)
        elif zipfile.is_zipfile(archive):
            _extract_zip(archive, into)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, into)
        else:
            raise DownloadError(f"{str(archive)!r} is neither a zip nor a tar archive; cannot extract it")
    except DownloadError:
        raise
    except (*_CORRUPT, OSError) as exc:  # OSError: e.g. a corrupt member offset (seek before the start)
        raise DownloadError(
            f"cannot extract archive {str(archive)!r} ({type(exc).__name__}: {exc}); if it is truncated or "
            "corrupt, delete it and download it again"
        ) from exc


def extract_archive(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract ``archive`` into the new folder ``dest`` atomically (temp folder, then rename)."""
    dest = Path(dest)
    if dest.exists():
        raise DownloadError(f"{str(dest)!r} already exists; remove it to extract {str(archive)!r} again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract-", dir=dest.parent))
    try:
        unpack_into(archive, tmp)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# -- datasets -------------------------------------------------------------------
def staging_dir(root: Path) -> Path:
    """Where a dataset's archives (and their ``.part`` files) wait, beside its folder."""
    return root.parent / f".{root.name}.downloads"


def download_dataset(
    spec: DatasetSpec,
    root: str | os.PathLike[str] | None = None,
    *,
    keep_archives: bool = False,
    progress: Callable[[Download, int, int | None], None] | None = None,
) -> Path:
    """Fetch, verify and unpack every download of ``spec`` into ``root`` (default ``EOKIT_DATA/<folder>``).

    Archives land in a staging folder beside the dataset (so an interrupted
    run resumes), are verified, then unpacked into a temporary folder that is
    renamed to ``root`` only when everything succeeded.
    """
    root = Path(root) if root is not None else spec.home()
    if root.exists():
        log.info("%s already present at %s", spec.name, root)
        return root
    if not spec.downloads:
        raise DownloadError(
            f"dataset {spec.name!r} has no direct download (its publisher requires a manual one"
            f"{': ' + spec.homepage if spec.homepage else ''}); download it yourself and unpack it to "
            f"{str(root)!r} (EOKIT_DATA={str(data_root())!r}) in the layout: {spec.layout}"
        )
    staging = staging_dir(root)
    files = []
    for d in spec.downloads:
        cb = (lambda n, t, d=d: progress(d, n, t)) if progress is not None else None
        where = f"dataset {spec.name!r} at {str(root)!r}"
        files.append((d, fetch(d.url, staging / d.filename, sha256=d.sha256, md5=d.md5, progress=cb, expected=where)))
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.extract-", dir=root.parent))
    try:
        for d, path in files:
            if d.extract:
                unpack_into(path, tmp)
            else:
                target = tmp / d.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not keep_archives:
        shutil.rmtree(staging, ignore_errors=True)
    return root
