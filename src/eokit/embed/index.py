"""Nearest neighbours of unit vectors: exact (blocked matmul) and approximate (FAISS HNSW or IVF).

Cosine similarity on unit vectors is their inner product, so every method ranks by ``q @ v``.
``VectorIndex.build`` chooses exact search below ``EXACT_MAX_ROWS`` rows and an approximate
FAISS index above (``method=`` overrides); FAISS is the optional extra ``eokit[embed]``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from eokit.errors import EmbeddingError, MissingDependencyError
from eokit.io.cog import atomic_path

log = logging.getLogger(__name__)

INDEX_VERSION = 1
METHODS = ("auto", "exact", "hnsw", "ivf")
#: ``method='auto'`` searches exactly up to this many rows and builds an approximate index above
EXACT_MAX_ROWS = 50_000
#: the approximate method ``'auto'`` picks above EXACT_MAX_ROWS (see docs/embeddings.md, "Search")
DEFAULT_ANN = "ivf"
#: score matrix elements per exact-search block (float32: 64 MB)
_BLOCK_ELEMENTS = 16 * 1024 * 1024


def _faiss() -> Any:
    """The faiss module, or a typed error naming the extra that installs it."""
    try:
        import faiss
    except ImportError as exc:
        raise MissingDependencyError(
            f"approximate similarity search needs FAISS, which is not installed ({exc}); "
            "install the extra: pip install 'eokit[embed]' (faiss-cpu), or search exactly with "
            "method='exact' (--method exact)") from exc
    return faiss


def unit_vectors(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as float32 (C-contiguous); zero rows stay zero."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    if v.ndim != 2:
        raise EmbeddingError(f"vectors must be a (N, D) array, got shape {v.shape}")
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.ascontiguousarray(np.divide(v, norm, out=np.zeros_like(v), where=norm > 0))


def _top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (score, id) pairs of each row, unsorted."""
    if scores.shape[1] <= k:
        return scores, ids
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(scores, part, 1), np.take_along_axis(ids, part, 1)


def _sorted(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by score (descending, then id) and pad to k columns with (-inf, -1)."""
    q = scores.shape[0]
    if scores.shape[1] < k:
        pad = k - scores.shape[1]
        scores = np.concatenate([scores, np.full((q, pad), -np.inf, np.float32)], axis=1)
        ids = np.concatenate([ids, np.full((q, pad), -1, np.int64)], axis=1)
    order = np.lexsort((ids, -scores), axis=1)[:, :k] if q else np.zeros((0, k), np.int64)
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int, *, rows: np.ndarray | None = None,
                 block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k rows of ``vectors`` with the highest inner product with each query, by brute force.

    ``vectors`` (N, D) and ``queries`` (Q, D) should be unit vectors (cosine = inner product).
    ``rows``: search only these row positions. Returns ``(scores, ids)``, both (Q, k), best
    first; ``ids`` are row positions of ``vectors``, -1 (score -inf) where fewer than k rows exist.
    Blocks of rows are scored with one matmul each and reduced with ``argpartition``.
    """
    if k < 1:
        raise EmbeddingError(f"k={k}: ask for at least one neighbour")
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.shape[1] != vectors.shape[1]:
        raise EmbeddingError(f"queries have {q.shape[1]} dimensions but the vectors {vectors.shape[1]}; "
                             "query with vectors of the same model")
    n = vectors.shape[0] if rows is None else len(rows)
    step = block or max(1024, _BLOCK_ELEMENTS // max(1, len(q)))
    best_s = np.zeros((len(q), 0), np.float32)
    best_i = np.zeros((len(q), 0), np.int64)
    for lo in range(0, n, step):
        if rows is None:
            ids = np.arange(lo, min(n, lo + step), dtype=np.int64)
            chunk = vectors[lo:lo + step]
        else:
            ids = np.asarray(rows[lo:lo + step], dtype=np.int64)
            chunk = vectors[ids]
        scores = q @ np.asarray(chunk, dtype=np.float32).T
        s, i = _top_k(scores, np.broadcast_to(ids, scores.shape), k)
        best_s, best_i = _top_k(np.concatenate([best_s, s], 1), np.concatenate([best_i, i], 1), k)
    return _sorted(best_s, best_i, k)


@dataclass(frozen=True)
class IndexParams:
    """Settings of the approximate indexes (IVF defaults tuned with benchmarks/search.py).

    HNSW: ``hnsw_m`` links per node, ``ef_construction`` and ``ef_search`` candidate-list sizes.
    IVF: ``nlist`` k-means cells (None: about 2 * sqrt(N)), ``nprobe`` cells visited per query,
    ``train_per_cell`` k-means training rows per cell (a seeded sample), ``niter`` k-means rounds.
    """

    hnsw_m: int = 32
    ef_construction: int = 64
    ef_search: int = 96
    nlist: int | None = None
    nprobe: int = 16
    train_per_cell: int = 40
    niter: int = 16
    seed: int = 0

    def cells(self, n: int) -> int:
        """The IVF cell count for ``n`` rows."""
        if self.nlist is not None:
            return max(1, min(self.nlist, n))
        return max(1, min(n // 39, int(2 * math.sqrt(n))))


@dataclass
class VectorIndex:
    """Search structure over unit vectors: exact, or a FAISS HNSW / IVF index plus exact fallback.

    Build with :meth:`build`; query with :meth:`search`; keep with :meth:`save` and
    :meth:`load`. ``vectors`` are the unit rows (the exact path and filtered fallback use them).
    """

    vectors: np.ndarray
    method: str
    params: IndexParams = field(default_factory=IndexParams)
    ann: Any = None  # the faiss index (None for exact)
    build_s: float = 0.0

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @classmethod
    def build(cls, vectors: np.ndarray, method: str = "auto", params: IndexParams | None = None, *,
              exact_max_rows: int = EXACT_MAX_ROWS, normalized: bool = False) -> VectorIndex:
        """Index ``vectors`` (N, D); ``method`` 'auto' (exact below ``exact_max_rows``), 'exact', 'hnsw', 'ivf'.

        Without FAISS, 'auto' searches exactly with a warning naming the extra; 'hnsw' and 'ivf'
        raise :class:`MissingDependencyError`. ``normalized=True`` trusts that rows are unit
        vectors already (no copy).
        """
        import time

        chosen = resolve_method(method, len(vectors), exact_max_rows)
        if method == "auto" and chosen != "exact":
            try:
                _faiss()
            except MissingDependencyError as exc:  # 'auto' still answers, exactly (slower), and says why
                log.warning("searching %d rows exactly: %s", len(vectors), exc)
                chosen = "exact"
        v = np.ascontiguousarray(vectors, dtype=np.float32) if normalized else unit_vectors(vectors)
        p = params or IndexParams()
        t0 = time.perf_counter()
        ann = None if chosen == "exact" else _build_ann(v, chosen, p)
        return cls(v, chosen, p, ann, time.perf_counter() - t0)

    def _configure(self, k: int) -> None:
        if self.method == "hnsw":
            self.ann.hnsw.efSearch = max(self.params.ef_search, k)
        elif self.method == "ivf":
            self.ann.nprobe = min(self.params.nprobe, self.ann.nlist)

    def search(self, queries: np.ndarray, k: int, *, rows: np.ndarray | None = None,
               normalized: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The k most similar rows to each query: ``(scores, ids)`` (Q, k), best first, -1 where none.

        ``rows``: only these row positions may be returned. The exact method searches just them;
        an approximate index searches all rows for ``k`` / (fraction kept) * 2 candidates and keeps
        those in ``rows``, widening the search up to 3 times; queries still short of k hits, and
        filters keeping at most ``EXACT_MAX_ROWS`` rows or under 2 % of them, are searched exactly.
        """
        if k < 1:
            raise EmbeddingError(f"k={k}: ask for at least one neighbour")
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if q.shape[1] != self.dim:
            raise EmbeddingError(f"queries have {q.shape[1]} dimensions but the index {self.dim}; "
                                 "query with vectors of the same model as the store")
        q = q if normalized else unit_vectors(q)
        if rows is not None:
            rows = np.unique(np.asarray(rows, dtype=np.int64))
        if self.ann is None or (rows is not None and (len(rows) <= EXACT_MAX_ROWS
                                                      or len(rows) < 0.02 * len(self))):
            return exact_search(self.vectors, q, k, rows=rows)
        if rows is None:
            self._configure(k)
            scores, ids = self.ann.search(q, k)
            return scores.astype(np.float32), ids.astype(np.int64)
        return self._filtered(q, k, rows)

    def _filtered(self, q: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Approximate search post-filtered to ``rows``, oversampling; exact for queries left short."""
        keep = np.zeros(len(self), bool)
        keep[rows] = True
        out_s = np.full((len(q), k), -np.inf, np.float32)
        out_i = np.full((len(q), k), -1, np.int64)
        todo = np.arange(len(q))
        want = min(len(self), math.ceil(k * len(self) / len(rows) * 2))
        for _ in range(3):
            self._configure(want)
            scores, ids = self.ann.search(q[todo], want)
            short = []
            for j, (s, i) in enumerate(zip(scores, ids, strict=True)):
                ok = (i >= 0) & keep[np.maximum(i, 0)]
                if ok.sum() >= k or want >= len(self):
                    s, i = s[ok][:k], i[ok][:k]
                    out_s[todo[j], :len(s)], out_i[todo[j], :len(i)] = s, i
                else:
                    short.append(j)
            todo = todo[short]
            if not len(todo):
                break
            want = min(len(self), want * 4)
        if len(todo):
            out_s[todo], out_i[todo] = exact_search(self.vectors, q[todo], k, rows=rows)
        return out_s, out_i

    @property
    def nbytes(self) -> int:
        """Bytes the approximate index holds (its serialized size; 0 for exact search)."""
        if self.ann is None:
            return 0
        return int(_faiss().serialize_index(self.ann).nbytes)

    def save(self, path: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> Path:
        """Write the index (FAISS bytes + settings + a fingerprint of the vectors) atomically as .npz."""
        meta = {"version": INDEX_VERSION, "method": self.method, "params": asdict(self.params),
                "rows": len(self), "dim": self.dim, "fingerprint": fingerprint(self.vectors),
                "build_s": self.build_s, **(extra or {})}
        blob = (np.zeros(0, np.uint8) if self.ann is None
                else np.asarray(_faiss().serialize_index(self.ann), dtype=np.uint8))
        with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), faiss=blob)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], vectors: np.ndarray, *,
             normalized: bool = False) -> VectorIndex:
        """Read an index written by :meth:`save` for ``vectors``; raise if it was built for other rows."""
        meta, blob = read_index_file(path)
        v = np.ascontiguousarray(vectors, dtype=np.float32) if normalized else unit_vectors(vectors)
        if (meta.get("rows"), meta.get("dim")) != v.shape or meta.get("fingerprint") != fingerprint(v):
            raise EmbeddingError(
                f"the index {str(path)!r} was built for other vectors ({meta.get('rows')} x {meta.get('dim')}, "
                f"now {v.shape[0]} x {v.shape[1]}); rebuild it (--reindex, or delete the file)")
        known = set(IndexParams.__dataclass_fields__)
        params = replace(IndexParams(), **{k: val for k, val in meta.get("params", {}).items() if k in known})
        ann = _faiss().deserialize_index(blob) if len(blob) else None
        return cls(v, str(meta["method"]), params, ann, float(meta.get("build_s", 0.0)))


def read_index_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], np.ndarray]:
    """(meta dict, FAISS bytes) of an index file; typed error when it is not one."""
    where = repr(str(path))
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            blob = np.array(z["faiss"], dtype=np.uint8)
    except FileNotFoundError as exc:
        raise EmbeddingError(f"no search index at {where}; build one with VectorIndex.build(...).save()") from exc
    except (OSError, ValueError, KeyError) as exc:  # not an npz, truncated, or missing members
        raise EmbeddingError(f"{where} is not an eokit search index ({exc}); delete it to rebuild") from exc
    if not isinstance(meta, dict) or int(meta.get("version", 0)) != INDEX_VERSION or \
            meta.get("method") not in METHODS[1:]:
        raise EmbeddingError(f"{where} is not a version-{INDEX_VERSION} eokit search index; delete it to rebuild")
    return meta, blob


def fingerprint(vectors: np.ndarray) -> str:
    """A hash of the vectors' bytes (and shape): an index is valid only for the rows it was built on."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    h = hashlib.blake2b(str(v.shape).encode(), digest_size=16)
    h.update(v.data)
    return h.hexdigest()


def resolve_method(method: str, n: int, exact_max_rows: int = EXACT_MAX_ROWS) -> str:
    """'auto' -> 'exact' for at most ``exact_max_rows`` rows, else ``DEFAULT_ANN``; others checked."""
    if method not in METHODS:
        raise EmbeddingError(f"unknown search method {method!r}; choose one of {', '.join(METHODS)}")
    if method != "auto":
        return method
    return "exact" if n <= exact_max_rows else DEFAULT_ANN


def _build_ann(v: np.ndarray, method: str, p: IndexParams) -> Any:
    faiss = _faiss()
    n, d = v.shape
    if n == 0:
        raise EmbeddingError("cannot build an approximate index over 0 vectors")
    if method == "hnsw":
        index = faiss.IndexHNSWFlat(d, p.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p.ef_construction
        index.add(v)
        return index
    nlist = p.cells(n)
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = p.seed
    index.cp.niter = p.niter
    sample = min(n, p.train_per_cell * nlist)
    rng = np.random.default_rng(p.seed)
    train = v if sample == n else v[np.sort(rng.choice(n, sample, replace=False))]
    index.train(train)
    index.add(v)
    return index
