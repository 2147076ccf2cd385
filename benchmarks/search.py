"""Similarity search: recall@10 and queries/s of eokit's approximate index against its exact search.

Two datasets, one run:

  (a) synthetic: ``--rows`` (default 1,000,000) seeded 64-d unit vectors drawn from ``--clusters``
      clusters of unequal size; each cluster spreads mostly along its own 8-d subspace plus a
      little isotropic noise (embeddings of similar places lie on low-dimensional sheets, not in
      uniform balls); queries are fresh draws from the same mixture, not rows of the index;
  (b) real: embeddings of the mirror's EuroSAT RGB images (``classification/eurosat_rgb``, a
      seeded sample of ``--real-rows``) from a seeded random-init ``resnet18`` backbone via
      ``eokit.models.create_backbone`` (pooled features); indexed with the same method, its
      IVF cell count scaled to the rows.

For each: exact search (``eokit.embed.index.exact_search``: blocked float32 matmul + argpartition)
and the approximate FAISS index over the same queries, batched, with every thread of the machine;
recall@10 = |approx top-10 ∩ exact top-10| / 10, averaged. It prints a table, then ONE JSON line
with the synthetic figures (the 1 M case the targets are set for):
``{"recall_at_10", "speedup_vs_exact", "build_s", "index_mb", ...}``.

The machine is shared: absolute queries/s move with its load, so judge the ratio (both sides are
measured in the same run, interleaved).

    python benchmarks/search.py [--rows 1000000] [--queries 1000] [--method ivf|hnsw] [--real-rows 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from eokit.embed.index import IndexParams, VectorIndex, exact_search, unit_vectors

DIM = 64
K = 10


def clustered(n: int, *, dim: int = DIM, clusters: int = 1000, sub: int = 8, noise: float = 0.03, seed: int = 0,
              rng_offset: int = 0) -> np.ndarray:
    """``n`` unit vectors from a seeded mixture of ``clusters`` low-rank Gaussian sheets.

    The mixture (centres, subspaces, weights) depends on ``seed`` only; ``rng_offset`` draws
    other points from the same mixture (for queries).
    """
    rng = np.random.default_rng(seed)
    centres = unit_vectors(rng.standard_normal((clusters, dim)))
    bases = np.linalg.qr(rng.standard_normal((clusters, dim, sub)))[0].astype(np.float32)  # (C, D, sub)
    scales = (0.5 * 0.8 ** np.arange(sub)).astype(np.float32)  # decaying spread along the sheet
    weights = rng.dirichlet(np.full(clusters, 2.0))
    draw = np.random.default_rng([seed, rng_offset + 1])
    out = np.empty((n, dim), np.float32)
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        c = draw.choice(clusters, m, p=weights)
        z = draw.standard_normal((m, sub)).astype(np.float32) * scales
        x = centres[c] + np.einsum("nds,ns->nd", bases[c], z) + noise * draw.standard_normal((m, dim))
        out[lo:lo + m] = x
    return unit_vectors(out)


def real_vectors(rows: int, seed: int) -> np.ndarray | None:
    """Pooled features of ``rows`` mirror EuroSAT RGB images by a seeded random-init resnet18."""
    import torch
    from PIL import Image

    from eokit.models import create_backbone

    root = Path(os.environ.get("EOKIT_DATA", "")) / "classification" / "eurosat_rgb"
    files = sorted(root.glob("*/*.jpg"))
    if not files:
        print(f"real embeddings skipped: no EuroSAT RGB images under {root} (set EOKIT_DATA)", file=sys.stderr)
        return None
    pick = np.random.default_rng(seed).choice(len(files), min(rows, len(files)), replace=False)
    torch.manual_seed(seed)
    backbone = create_backbone("resnet18", weights=None, bands=("red", "green", "blue")).eval()
    out = []
    with torch.inference_mode():
        for lo in range(0, len(pick), 256):
            batch = np.stack([np.asarray(Image.open(files[i]).convert("RGB"), np.float32).transpose(2, 0, 1)
                              for i in pick[lo:lo + 256]]) / 255.0
            feats = backbone(torch.from_numpy(batch))
            out.append(feats.pooled.numpy())
    return unit_vectors(np.concatenate(out))


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean |approx ∩ exact| / k over queries."""
    hits = [len(np.intersect1d(a[a >= 0], e[e >= 0])) for a, e in zip(approx, exact, strict=True)]
    return float(np.mean(hits)) / exact.shape[1]


def measure(name: str, base: np.ndarray, queries: np.ndarray, method: str, params: IndexParams,
            repeats: int = 2, sweep: tuple[int, ...] = ()) -> list[dict[str, float | str | int]]:
    """Build the index, time exact and approximate search (best of ``repeats``), recall@10.

    ``sweep``: more nprobe (IVF) or efSearch (HNSW) values to time on the same index (extra rows).
    """
    index = VectorIndex.build(base, method, params, normalized=True)
    t_exact, t_ann = [], []
    for _ in range(repeats):  # interleaved, so both see the same load
        t0 = time.perf_counter()
        _, exact_ids = exact_search(base, queries, K)
        t_exact.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _, ann_ids = index.search(queries, K, normalized=True)
        t_ann.append(time.perf_counter() - t0)
    qps_exact = len(queries) / min(t_exact)
    qps_ann = len(queries) / min(t_ann)
    out: dict[str, float | str | int] = {
        "data": name, "rows": len(base), "method": index.method, "setting": _setting(index.params, index.method),
        "recall_at_10": recall(ann_ids, exact_ids), "exact_qps": qps_exact, "ann_qps": qps_ann,
        "speedup_vs_exact": qps_ann / qps_exact, "build_s": index.build_s, "index_mb": index.nbytes / 2**20}
    rows = [out]
    for value in sweep:  # other search-time settings of the same index, against the same exact figures
        index.params = replace(params, **{"nprobe" if index.method == "ivf" else "ef_search": value})
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            _, ids = index.search(queries, K, normalized=True)
            times.append(time.perf_counter() - t0)
        qps = len(queries) / min(times)
        rows.append({**out, "setting": _setting(index.params, index.method), "recall_at_10": recall(ids, exact_ids),
                     "ann_qps": qps, "speedup_vs_exact": qps / qps_exact})
    return rows


def _setting(p: IndexParams, method: str) -> str:
    return f"nprobe={p.nprobe}" if method == "ivf" else f"M={p.hnsw_m},ef={p.ef_search}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--sub", type=int, default=8, help="dimensions of each cluster's sheet")
    ap.add_argument("--noise", type=float, default=0.03, help="isotropic noise (per dimension)")
    ap.add_argument("--method", default="ivf", choices=["ivf", "hnsw"])
    ap.add_argument("--nlist", type=int, default=None)
    ap.add_argument("--nprobe", type=int, default=IndexParams.nprobe)
    ap.add_argument("--hnsw-m", type=int, default=IndexParams.hnsw_m)
    ap.add_argument("--ef-search", type=int, default=IndexParams.ef_search)
    ap.add_argument("--ef-construction", type=int, default=IndexParams.ef_construction)
    ap.add_argument("--sweep", default="", help="more nprobe/efSearch values to time, e.g. 4,8,32")
    ap.add_argument("--real-rows", type=int, default=8000, help="mirror images to embed (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    params = IndexParams(hnsw_m=args.hnsw_m, ef_construction=args.ef_construction, ef_search=args.ef_search,
                         nlist=args.nlist, nprobe=args.nprobe, seed=args.seed)
    t0 = time.perf_counter()
    shape = dict(clusters=args.clusters, sub=args.sub, noise=args.noise, seed=args.seed)
    base = clustered(args.rows, **shape)
    queries = clustered(args.queries, rng_offset=1, **shape)
    print(f"synthetic: {args.rows} x {DIM} clustered unit vectors in {time.perf_counter() - t0:.1f} s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    sweep = tuple(int(v) for v in args.sweep.split(",") if v)
    results = measure("synthetic", base, queries, args.method, params, sweep=sweep)
    del base
    if args.real_rows:
        real = real_vectors(args.real_rows + args.queries // 10, args.seed)
        if real is not None:
            nq = min(args.queries // 10, len(real) // 10)
            real_params = replace_cells(params, len(real) - nq)
            results += measure("mirror EuroSAT RGB, resnet18 random init", real[nq:], real[:nq],
                               args.method, real_params)
    print(f"{'data':42} {'rows':>9} {'method':>6} {'setting':>14} {'recall@10':>9} {'exact q/s':>10} {'ann q/s':>10} "
          f"{'speedup':>8} {'build s':>8} {'index MB':>9}")
    for r in results:
        print(f"{r['data']:42} {r['rows']:>9} {r['method']:>6} {r['setting']:>14} {r['recall_at_10']:>9.3f} {r['exact_qps']:>10.0f} "
              f"{r['ann_qps']:>10.0f} {r['speedup_vs_exact']:>7.1f}x {r['build_s']:>8.1f} {r['index_mb']:>9.1f}")
    print(f"load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(shared machine: compare the ratios, not the absolute rates)", file=sys.stderr)
    syn = results[0]
    line = {k: round(float(syn[k]), 4) for k in ("recall_at_10", "speedup_vs_exact", "build_s", "index_mb")}
    line.update({"rows": syn["rows"], "method": syn["method"]})
    real_rows = [r for r in results if r["data"] != "synthetic"]
    if real_rows:
        line.update({"real_rows": real_rows[0]["rows"],
                     "real_recall_at_10": round(float(real_rows[0]["recall_at_10"]), 4),
                     "real_speedup_vs_exact": round(float(real_rows[0]["speedup_vs_exact"]), 2)})
    print(json.dumps(line))
    return 0


def replace_cells(params: IndexParams, n: int) -> IndexParams:
    """``params`` with an explicit nlist capped at ``n`` / 39 (at least 39 training rows per cell)."""
    return params if params.nlist is None else replace(params, nlist=max(1, min(params.nlist, n // 39)))


if __name__ == "__main__":
    sys.exit(main())
