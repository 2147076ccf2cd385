"""A decoded-block cache in shared memory, used by every process forked after it is made.

DataLoader workers each decode the DEFLATE/LZW tiles their windows touch; random windows of
several workers overlap the same tiles, so the same block is decoded again in every worker
(GDAL's block cache is per process). :class:`BlockCache` keeps decoded blocks in one slab of
shared memory (a file under ``/dev/shm``, mapped by every process), bounded in bytes and
evicted least-recently-used, keyed by (file, band, block row, block column, overview) of the
file's internal tiling. A file's key includes its device, inode, size and modification
time, so a rewritten file is never served from the cache.

A cache that thrashes (full, and fewer than 15 % of the last 1024 band-block lookups hit, as
on a collection many times its bound) stops storing for the next 8192 lookups: a window not
wholly cached is then read directly, so the cache costs a lookup, not a store.

Layout of the slab: a 64-byte header (magic, slots, slot size, use clock, hits, misses, direct
reads), then per slot a 16-byte key, an 8-byte use tick and an
8-byte byte count, then the slots' data (``slot_bytes`` each, page aligned). A POSIX record
lock on the file (plus a thread lock within a process) guards lookups, copies and inserts;
blocks are decoded outside the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import mmap
import os
import tempfile
import threading
import uuid
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from eokit.errors import ConfigError

_MAGIC = 0x454F4B49_54424C4B  # "EOKITBLK"
_HEADER = 64
_PAGE = 4096
_PREFIX = "eokit-blocks-"
BYPASS_HIT_RATE = 0.15
"""Below this hit rate a full cache stops storing for a while (see the module docstring)."""
_PROBE_LOOKUPS = 1024
_BYPASS_LOOKUPS = 8192


def default_bound() -> int:
    """The default bound of a cache: 10 % of physical RAM (GDAL's own default block cache is 5 %
    per process), or a quarter of the free space of the shared-memory folder if less."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        ram = 8 << 30
    free = _free_bytes(_shm_dir())
    return min(ram // 10, free // 4) if free is not None else ram // 10


def _shm_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def _sweep(folder: str) -> None:
    """Remove slabs left by processes that died without closing them."""
    for path in glob.glob(os.path.join(folder, _PREFIX + "*")):
        try:
            pid = int(os.path.basename(path)[len(_PREFIX):].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(path)
        except (ValueError, PermissionError):
            continue


def _unlink(path: str, owner: int) -> None:
    if os.getpid() == owner:
        with contextlib.suppress(OSError):
            os.unlink(path)


class BlockCache:
    """Decoded raster blocks shared by this process and the processes it forks (LRU, bounded).

    ``max_bytes`` (default :func:`default_bound`) bounds the whole slab (index included; never
    more than a quarter of the folder's free space); ``slot_bytes`` is the largest block
    (one band) it holds: larger blocks are read directly, uncached. The slab lives until
    :meth:`close` (or the creating process exits); processes forked after creation share it,
    and a pickled copy (``spawn`` workers) attaches to it by name while it exists.
    """

    def __init__(self, max_bytes: int | None = None, slot_bytes: int = 512 * 512 * 2, *,
                 folder: str | None = None) -> None:
        if slot_bytes <= 0:
            raise ConfigError(f"BlockCache slot_bytes must be positive, got {slot_bytes}")
        slot_bytes = -(-int(slot_bytes) // _PAGE) * _PAGE
        folder = folder or _shm_dir()
        max_bytes = default_bound() if max_bytes is None else int(max_bytes)
        free = _free_bytes(folder)
        if free is not None and max_bytes > free // 4:
            max_bytes = free // 4
        per_slot = slot_bytes + 32
        n_slots = (int(max_bytes) - _HEADER - _PAGE) // per_slot
        if n_slots < 1:
            raise ConfigError(
                f"BlockCache max_bytes={max_bytes} holds no block of {slot_bytes} bytes (free space in "
                f"{folder!r}: {free}); raise max_bytes or pass block_cache=False"
            )
        _sweep(folder)
        self.path = os.path.join(folder, f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}")
        self.n_slots = n_slots
        self.slot_bytes = slot_bytes
        self._data_off = -(-(_HEADER + 32 * n_slots) // _PAGE) * _PAGE
        self.nbytes = self._data_off + n_slots * slot_bytes
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, self.nbytes)  # sparse: pages are taken when a block is stored
            os.pwrite(fd, np.array([_MAGIC, n_slots, slot_bytes, 0, 0, 0, 0], dtype=np.uint64).tobytes(), 0)
        except BaseException:
            os.close(fd)
            os.unlink(self.path)
            raise
        self._owner = os.getpid()
        self._finalizer: weakref.finalize[[str, int], BlockCache] | None = weakref.finalize(
            self, _unlink, self.path, self._owner)
        self._attach(fd)

    # -- mapping ------------------------------------------------------------
    def _attach(self, fd: int) -> None:
        self._fd = fd
        self._map = mmap.mmap(fd, self.nbytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        buf = np.frombuffer(self._map, dtype=np.uint8)
        n = self.n_slots
        self._header = buf[:_HEADER].view(np.uint64)
        self._keys = buf[_HEADER:_HEADER + 16 * n].view(np.uint64).reshape(n, 2)
        self._ticks = buf[_HEADER + 16 * n:_HEADER + 24 * n].view(np.uint64)
        self._sizes = buf[_HEADER + 24 * n:_HEADER + 32 * n].view(np.uint64)
        self._data = buf[self._data_off:self.nbytes].reshape(n, self.slot_bytes)
        self._tlock = threading.Lock()
        self._pid = os.getpid()
        self._files: dict[str, tuple[tuple[int, ...], np.uint64, np.uint64]] = {}
        self.hits = 0
        self.misses = 0
        self.bypasses = 0
        self._seen = self._seen_hits = self._bypass_left = 0
        self._evicting = False

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "n_slots": self.n_slots, "slot_bytes": self.slot_bytes,
                "nbytes": self.nbytes, "_data_off": self._data_off, "_owner": self._owner}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError as exc:
            raise ConfigError(f"the shared block cache {self.path!r} is gone (its creating process closed it); "
                              "make the dataset again") from exc
        self._finalizer = None
        self._attach(fd)

    def close(self) -> None:
        """Unmap the slab (and remove it, in the process that made it)."""
        if getattr(self, "_map", None) is None:
            return
        self._header = self._keys = self._ticks = self._sizes = self._data = None  # type: ignore[assignment]
        with contextlib.suppress(BufferError):  # an array still views it; unmapped with the last one
            self._map.close()
        os.close(self._fd)
        self._map = None  # type: ignore[assignment]
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> BlockCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- locking --------------------------------------------------------------
    def _lock(self) -> None:
        if self._pid != os.getpid():  # forked: a thread of the parent may have held the thread lock
            self._tlock, self._pid = threading.Lock(), os.getpid()
        self._tlock.acquire()
        fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, 0)

    def _unlock(self) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, 0)
        self._tlock.release()

    def _tick(self) -> np.uint64:
        self._header[3] += np.uint64(1)
        return self._header[3]  # type: ignore[no-any-return]

    # -- identity -------------------------------------------------------------
    def file_key(self, path: str) -> tuple[np.uint64, np.uint64, bool]:
        """(key part 1, key part 2, changed): ``changed`` when the file differs from the last
        time this process saw it (another inode, size or modification time)."""
        st = os.stat(path)
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = self._files.get(path)
        if known is not None and known[0] == ident:
            return known[1], known[2], False
        digest = hashlib.blake2b(f"{path}\0{ident}".encode(), digest_size=16).digest()
        k0, k1 = np.frombuffer(digest, dtype=np.uint64)
        k0 = k0 if k0 else np.uint64(1)  # 0 marks an empty slot
        self._files[path] = (ident, k0, k1)
        return k0, k1, known is not None

    # -- reading --------------------------------------------------------------
    def read(self, ds: Any, key: tuple[np.uint64, np.uint64], indexes: Sequence[int], col: int, row: int,
             width: int, height: int, *, overview: int = 0, dtype: str | None = None) -> np.ndarray | None:
        """The window (``col``, ``row``, ``width``, ``height``) of bands ``indexes`` (1-based) of
        the open dataset ``ds`` (whose file gave ``key = file_key(path)[:2]``), assembled from
        cached blocks, decoding the missing ones, as ``dtype`` (default the file's; values
        converted as numpy's ``astype`` does); None when the file's blocks cannot be cached
        (band block shapes or dtypes differ, or a block is larger than a slot) or while the
        cache thrashes and the window is not wholly cached: the caller reads it directly."""
        shapes = ds.block_shapes
        bh, bw = shapes[0]
        native = np.dtype(ds.dtypes[0])
        if (len(set(shapes)) != 1 or len(set(ds.dtypes)) != 1 or bh * bw * native.itemsize > self.slot_bytes
                or max(indexes) >= 1 << 16 or overview >= 1 << 8):
            return None
        k0, k1 = key
        br0, br1 = row // bh, (row + height - 1) // bh
        bc0, bc1 = col // bw, (col + width - 1) // bw
        if br1 >= 1 << 20 or bc1 >= 1 << 20:
            return None
        nb = len(indexes)
        out = np.empty((nb, height, width), dtype=native if dtype is None else dtype)
        blocks = [(br, bc) for br in range(br0, br1 + 1) for bc in range(bc0, bc1 + 1)]
        band = np.asarray(indexes, dtype=np.uint64)
        wanted = {blk: k1 ^ ((band << np.uint64(48)) | np.uint64((blk[0] << 28) | (blk[1] << 8) | overview))
                  for blk in blocks}
        missing: list[tuple[tuple[int, int], list[int]]] = []
        bypass = False
        self._lock()
        try:
            slots = self._find(k0, np.concatenate(list(wanted.values())))
            n_miss = int((slots < 0).sum())
            self._header[4] += np.uint64(len(slots) - n_miss)
            self._header[5] += np.uint64(n_miss)
            if n_miss and self._bypass_left > 0:
                bypass = True
                self._header[6] += np.uint64(1)
            else:
                tick = self._tick()
                for j, blk in enumerate(blocks):
                    found = slots[j * nb:(j + 1) * nb]
                    absent = [i for i in range(nb) if found[i] < 0]
                    for i in range(nb):
                        s = found[i]
                        if s >= 0:
                            self._ticks[s] = tick
                            self._paste(out[i], self._block(s, blk, ds, bh, bw, native), blk, bh, bw, col, row)
                    if absent:
                        missing.append((blk, absent))
        finally:
            self._unlock()
        self.hits += len(slots) - n_miss
        self.misses += n_miss
        self._observe(len(slots) - n_miss, len(slots))
        if bypass:
            return None
        if not missing:
            return out
        decoded = []
        for blk, absent in missing:
            br, bc = blk
            from rasterio.windows import Window

            h = min(bh, ds.height - br * bh)
            w = min(bw, ds.width - bc * bw)
            arr = ds.read([indexes[i] for i in absent], window=Window(bc * bw, br * bh, w, h))
            for a, i in enumerate(absent):
                self._paste(out[i], arr[a], blk, bh, bw, col, row)
            decoded.append((blk, absent, arr))
        self._store(k0, wanted, decoded)
        return out

    def _observe(self, hits: int, lookups: int) -> None:
        """Stop storing (read directly) while the cache thrashes: full, and fewer than
        ``BYPASS_HIT_RATE`` of the last ``_PROBE_LOOKUPS`` band-block lookups hit."""
        if self._bypass_left > 0:
            self._bypass_left -= lookups
            return
        self._seen += lookups
        self._seen_hits += hits
        if self._seen >= _PROBE_LOOKUPS:
            if self._evicting and self._seen_hits < BYPASS_HIT_RATE * self._seen:
                self._bypass_left = _BYPASS_LOOKUPS
                self.bypasses += 1
            self._seen = self._seen_hits = 0
            self._evicting = False

    def _find(self, k0: np.uint64, k1s: np.ndarray) -> np.ndarray:
        """Slot of each key (k0, k1s[i]), -1 where absent (call under the lock)."""
        result = np.full(len(k1s), -1, dtype=np.int64)
        cand = np.flatnonzero(self._keys[:, 0] == k0)
        if len(cand):
            where = {int(k): int(s) for s, k in zip(cand, self._keys[cand, 1], strict=True)}
            for i, k in enumerate(k1s.tolist()):
                result[i] = where.get(k, -1)
        return result

    def _block(self, slot: int, blk: tuple[int, int], ds: Any, bh: int, bw: int, dtype: np.dtype) -> np.ndarray:
        h = min(bh, ds.height - blk[0] * bh)
        w = min(bw, ds.width - blk[1] * bw)
        return self._data[slot, :h * w * dtype.itemsize].view(dtype).reshape(h, w)

    @staticmethod
    def _paste(dst: np.ndarray, block: np.ndarray, blk: tuple[int, int], bh: int, bw: int, col: int,
               row: int) -> None:
        """Copy the part of ``block`` (block row/col ``blk``) inside the window into ``dst``."""
        y0, x0 = blk[0] * bh, blk[1] * bw
        r0, r1 = max(row, y0), min(row + dst.shape[0], y0 + block.shape[0])
        c0, c1 = max(col, x0), min(col + dst.shape[1], x0 + block.shape[1])
        dst[r0 - row:r1 - row, c0 - col:c1 - col] = block[r0 - y0:r1 - y0, c0 - x0:c1 - x0]

    def _store(self, k0: np.uint64, wanted: dict[tuple[int, int], np.ndarray],
               decoded: list[tuple[tuple[int, int], list[int], np.ndarray]]) -> None:
        keys = [(int(wanted[blk][i]), arr[a]) for blk, absent, arr in decoded for a, i in enumerate(absent)]
        self._lock()
        try:
            present = self._find(k0, np.array([k for k, _ in keys], dtype=np.uint64))
            fresh = {kv[0]: kv for kv, s in zip(keys, present, strict=True) if s < 0}  # not stored by another
            new = list(fresh.values())  # process meanwhile; a band asked for twice is stored once
            if not new:
                return
            n = min(len(new), self.n_slots)
            victims = np.argpartition(self._ticks, n - 1)[:n] if n < self.n_slots else np.arange(n)
            tick = self._tick()
            self._evicting = self._evicting or bool((self._keys[victims, 0] != 0).any())
            for s, (k, block) in zip(victims.tolist(), new[:n], strict=True):
                raw = np.ascontiguousarray(block).view(np.uint8).reshape(-1)
                if self._sizes[s] == 0 and not self._reserve(s):
                    continue  # the shared-memory folder is full: keep the block out of the cache
                self._keys[s, 0] = 0  # invalid while being written
                self._data[s, :raw.size] = raw
                self._sizes[s] = raw.size
                self._ticks[s] = tick
                self._keys[s, 1] = k
                self._keys[s, 0] = k0
        finally:
            self._unlock()

    def _reserve(self, slot: int) -> bool:
        """Allocate a never-used slot's pages now, so that a full tmpfs gives an error here
        instead of SIGBUS when the pages are first written (the slab file is sparse)."""
        try:
            os.posix_fallocate(self._fd, self._data_off + slot * self.slot_bytes, self.slot_bytes)
        except OSError:
            return False
        return True

    # -- bookkeeping ------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes of block data held now (never more than ``n_slots * slot_bytes``)."""
        self._lock()
        try:
            return int(self._sizes[self._keys[:, 0] != 0].sum())
        finally:
            self._unlock()

    def stats(self) -> dict[str, int]:
        """Hits and misses (band blocks) of every process sharing the cache, slots and bytes in use."""
        self._lock()
        try:
            used = self._keys[:, 0] != 0
            return {"hits": int(self._header[4]), "misses": int(self._header[5]),
                    "direct_reads": int(self._header[6]), "slots": self.n_slots,
                    "used_slots": int(used.sum()), "used_bytes": int(self._sizes[used].sum()),
                    "bound_bytes": self.nbytes}
        finally:
            self._unlock()

    def __len__(self) -> int:
        self._lock()
        try:
            return int((self._keys[:, 0] != 0).sum())
        finally:
            self._unlock()

    def __repr__(self) -> str:
        return (f"BlockCache({self.path!r}, {self.n_slots} slots x {self.slot_bytes} B, "
                f"hits={self.hits}, misses={self.misses})")


def _free_bytes(folder: str) -> int | None:
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize
