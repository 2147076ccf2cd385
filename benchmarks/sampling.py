"""Uniform random-window sampling throughput on a mixed-CRS scene collection: eokit vs rasterio vs TorchGeo.

Builds (or reuses) 4 synthetic Sentinel-2-like scenes under ``$EOKIT_CACHE/sampling_bench``
(default ``~/.cache/eokit-work/sampling_bench``): 13-band uint16, 4096x4096 px at 10 m,
DEFLATE, tiled 512, two in EPSG:32631 and two in EPSG:32632 whose footprints overlap across
the zone boundary at 6°E. Then it measures 256-px random-sample throughput (samples/s) with
2 DataLoader workers (``--workers``) for

  (a) eokit: SceneCollection + RandomWindowSampler + SceneDataset (each sample read on its
      scene's native grid), with its shared decoded-block cache as configured by default
      (``eokit``) and switched off (``eokit_nocache``),
  (b) plain rasterio: ``ds.read(window=...)`` of the same kind of random windows,
  (c) TorchGeo 0.8: RasterDataset over an explicit file list + RandomGeoSampler,

in two settings: ``cold`` (GDAL_CACHEMAX=64, workers started for every chunk, as with data
much larger than RAM) and ``warm`` (GDAL's default cache, persistent workers, untimed epochs
of other windows first, as in a later training epoch). Each setting runs in a fresh
interpreter where the readers take turns chunk by chunk (``--rounds`` chunks each, order
rotated), so a ratio compares chunks measured seconds apart; each figure is the median over
the rounds with the min-max spread beside it. It prints a table, then one JSON line (``ratio_rasterio_cold``,
``ratio_torchgeo_warm``, ... with ``_spread``).

    python benchmarks/sampling.py [--rounds 3] [--samples 160] [--torchgeo-samples 64] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

SIZE = 4096
BLOCK = 512
BANDS = 13
PATCH = 256
RES = 10.0
BAND_NAMES = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
# (epsg, left, top, date): zone 31 scenes end east of 6°E, zone 32 scenes start west of it (lat ~45°N)
SCENES = (
    (32631, 700_000.0, 5_010_000.0, "20230604"),
    (32631, 715_000.0, 5_025_000.0, "20230614"),
    (32632, 245_000.0, 5_012_000.0, "20230609"),
    (32632, 262_000.0, 5_030_000.0, "20230619"),
)
# Reflectance-like signatures (x10000) per land-cover class and band: water, forest, crop, soil, urban
SIGNATURES = np.array(
    [
        [1200, 900, 700, 500, 400, 300, 280, 250, 230, 90, 15, 120, 80],
        [1300, 1000, 900, 700, 1100, 2300, 2700, 2900, 3000, 900, 20, 1500, 800],
        [1400, 1100, 1200, 1000, 1600, 2800, 3300, 3600, 3700, 1100, 25, 2200, 1300],
        [1600, 1500, 1800, 2200, 2500, 2700, 2800, 2900, 3000, 1000, 30, 3400, 2800],
        [1700, 1600, 1700, 1800, 1900, 2000, 2100, 2150, 2200, 800, 30, 2600, 2300],
    ],
    dtype=np.float32,
)


def cache_root(arg: str | None) -> Path:
    if arg:
        return Path(arg).expanduser()
    base = os.environ.get("EOKIT_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "eokit-work") / "sampling_bench"


def scene_paths(root: Path) -> list[Path]:
    return [root / f"S2_{date}_T{i}_{epsg}.tif" for i, (epsg, _, _, date) in enumerate(SCENES)]


def _landcover(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth class field (0..4) from world coordinates, so overlapping scenes look alike."""
    f = (
        np.sin(x / 1900.0) * np.cos(y / 2300.0)
        + 0.6 * np.sin((x + y) / 830.0)
        + 0.35 * np.cos((x - 2 * y) / 390.0)
        + 0.2 * np.sin(x / 170.0 + np.cos(y / 210.0))
    )
    return np.digitize(f, [-1.1, -0.35, 0.3, 0.95]).astype(np.intp)


def make_scene(path: Path, epsg: int, left: float, top: float, date: str, seed: int) -> None:
    """Write one scene strip by strip (512 rows at a time, never the whole scene in RAM)."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    profile = {
        "driver": "GTiff", "width": SIZE, "height": SIZE, "count": BANDS, "dtype": "uint16",
        "crs": CRS.from_epsg(epsg), "transform": from_origin(left, top, RES, RES), "nodata": 0,
        "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "DEFLATE", "predictor": 2,
        "BIGTIFF": "IF_SAFER",
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    gain = 1.0 + 0.05 * rng.standard_normal(BANDS).astype(np.float32)
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.descriptions = BAND_NAMES
        dst.update_tags(TIFFTAG_DATETIME=f"{date[:4]}:{date[4:6]}:{date[6:]} 10:30:00")
        xs = left + (np.arange(SIZE, dtype=np.float64) + 0.5) * RES
        for r0 in range(0, SIZE, BLOCK):
            ys = top - (np.arange(r0, r0 + BLOCK, dtype=np.float64) + 0.5) * RES
            xx, yy = np.meshgrid(xs, ys)
            cls = _landcover(xx, yy)
            shade = (1.0 + 0.12 * np.sin(xx / 97.0) * np.cos(yy / 113.0)).astype(np.float32)
            base = SIGNATURES[cls]  # (rows, cols, bands)
            noise = rng.normal(0.0, 0.04, size=base.shape).astype(np.float32)
            strip = base * shade[..., None] * (1.0 + noise) * gain
            strip = np.clip(strip, 1, 65535).astype(np.uint16).transpose(2, 0, 1)
            dst.write(strip, window=((r0, r0 + BLOCK), (0, SIZE)))
    os.replace(tmp, path)


def prepare(root: Path) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = scene_paths(root)
    for i, (p, (epsg, left, top, date)) in enumerate(zip(paths, SCENES, strict=True)):
        if not p.exists():
            t0 = time.perf_counter()
            make_scene(p, epsg, left, top, date, seed=i)
            print(f"generated {p} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return paths


# -- the readers ---------------------------------------------------------------------------------
class RasterioWindowSampler:
    """Random (scene, col, row) triples, a new draw per epoch (drawn in the main process)."""

    def __init__(self, n_files: int, extent: tuple[int, int], n: int, seed: int) -> None:
        self.n_files, self.extent, self.n, self.seed, self.epoch = n_files, extent, n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        w, h = self.extent
        f = rng.integers(0, self.n_files, self.n).tolist()
        c = rng.integers(0, w - PATCH + 1, self.n).tolist()
        r = rng.integers(0, h - PATCH + 1, self.n).tolist()
        return iter(zip(f, c, r, strict=True))


class RasterioWindows:
    """Plain rasterio: one ``ds.read(window=...)`` per sample -> float32 tensor, handles opened once
    per worker process."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self._handles: dict[str, object] = {}
        self._pid = -1

    def __getitem__(self, item: tuple[int, int, int]):
        import rasterio
        import torch
        from rasterio.windows import Window

        if self._pid != os.getpid():  # open once per worker process
            self._handles, self._pid = {}, os.getpid()
        f, col, row = item
        ds = self._handles.get(self.paths[f])
        if ds is None:
            ds = self._handles[self.paths[f]] = rasterio.open(self.paths[f])
        arr = ds.read(window=Window(col, row, PATCH, PATCH))
        return {"image": torch.from_numpy(arr.astype(np.float32))}


def make_loader(method: str, paths: list[str], n: int, workers: int, persistent: bool = False, seed: int = 0):
    """A DataLoader yielding batches of 8 random 256-px samples, and its sampler (or None)."""
    from torch.utils.data import DataLoader

    kw = {"batch_size": 8, "num_workers": workers, "persistent_workers": persistent and workers > 0}
    if method.startswith("eokit"):
        from eokit.data import RandomWindowSampler, SceneCollection, SceneDataset, collate_samples

        coll = SceneCollection.from_paths(paths, pattern=r"S2_(?P<date>\d{8})_")
        align = "tile" if method == "eokit_tile" else None
        sampler = RandomWindowSampler(coll, PATCH, n, seed=seed, align=align)
        bound = os.environ.get("SAMPLING_BENCH_BLOCK_CACHE")  # --block-cache: a bound in bytes
        setting = int(bound) if bound else "auto"
        ds = SceneDataset(coll, block_cache=False if method == "eokit_nocache" else setting)
        return DataLoader(ds, sampler=sampler, collate_fn=collate_samples, **kw), sampler
    if method == "torchgeo":
        import torch
        from torchgeo.datasets import RasterDataset, stack_samples
        from torchgeo.samplers import RandomGeoSampler

        class BenchScenes(RasterDataset):
            filename_glob = "S2_*.tif"
            filename_regex = r"S2_(?P<date>\d{8})_"
            all_bands = BAND_NAMES

        ds = BenchScenes(paths=paths)  # an explicit file list: no folder search
        # one generator: the second pass over the sampler (the timed epoch) draws new windows
        sampler = RandomGeoSampler(ds, size=PATCH, length=n, generator=torch.Generator().manual_seed(seed))
        return DataLoader(ds, sampler=sampler, collate_fn=stack_samples, **kw), None
    if method == "rasterio":
        import rasterio

        with rasterio.open(paths[0]) as first:
            extent = (first.width, first.height)
        sampler = RasterioWindowSampler(len(paths), extent, n, seed)
        return DataLoader(RasterioWindows(paths), sampler=sampler, **kw), sampler
    raise ValueError(method)


def _epoch(loader) -> tuple[int, float, tuple[int, ...]]:
    """(samples, seconds, batch shape) of one pass, timed after its first batch."""
    it = iter(loader)
    first = next(it)
    t0 = time.perf_counter()
    count = 0
    for batch in it:
        count += batch["image"].shape[0]
    return count, time.perf_counter() - t0, tuple(first["image"].shape)


def measure(method: str, paths: list[str], n: int, workers: int) -> dict:
    """Samples/s over ``n`` samples, timed after the first batch (worker start-up excluded)."""
    import torch

    torch.set_num_threads(1)
    count, dt, shape = _epoch(make_loader(method, paths, n, workers)[0])
    return {"sps": count / dt, "samples": count, "seconds": dt, "shape": shape}


def torchgeo_missing() -> str | None:
    try:
        import torchgeo
        import torchgeo.datasets  # noqa: F401
    except Exception as exc:  # any import failure means: not usable here
        return f"{type(exc).__name__}: {exc} (install with `make bench-deps`)"
    return None


def run_child(method: str, paths: list[str], n: int, workers: int, cachemax: str | None,
              script: str = __file__) -> dict:
    """One measurement in a fresh interpreter running ``script --child`` (this file, or another
    benchmark built on it), so GDAL's block cache starts cold and sized as asked."""
    return _child([method, paths, n, workers], cachemax, script)[0]


def run_setting(methods: list[str], paths: list[str], n: int, n_torchgeo: int, workers: int, rounds: int,
                cachemax: str, warm: bool) -> dict[str, list[dict]]:
    """Every reader's rounds of one setting, interleaved in one fresh interpreter (see ``interleaved``)."""
    spec = {"methods": methods, "paths": paths, "n": n, "n_torchgeo": n_torchgeo, "workers": workers,
            "rounds": rounds, "warm": warm}
    return _child(["interleaved", spec, 0, 0], cachemax)[0]


def _child(spec: list, cachemax: str | None, script: str = __file__) -> list[dict]:
    import subprocess

    env = dict(os.environ)
    env.pop("GDAL_CACHEMAX", None)
    if cachemax is not None:
        env["GDAL_CACHEMAX"] = cachemax
    env.setdefault("OMP_NUM_THREADS", "1")
    args = [sys.executable, script, "--child", json.dumps(spec)]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{spec[0]} (workers={spec[3]}) failed:\n{out.stderr[-3000:]}")
    sys.stderr.write(out.stderr)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res if isinstance(res, list) else [res]


def interleaved(methods: list[str], paths: list[str], n: int, n_torchgeo: int, workers: int, rounds: int,
                warm: bool) -> dict[str, list[dict]]:
    """Per reader, ``rounds`` timed chunks of ``n / rounds`` samples (TorchGeo: ``n_torchgeo``),
    the readers taking turns chunk by chunk (order rotated), so that a ratio compares chunks
    measured seconds apart, under the same load. Each chunk is a whole DataLoader epoch, timed
    from ``iter()`` to its last batch.

    cold: workers are started for every chunk (each chunk's GDAL caches are new; eokit's
    shared block cache, which outlives workers, starts empty with the first chunk).
    warm: persistent workers, and first ``rounds`` untimed epochs of other windows per reader.
    """
    import torch

    torch.set_num_threads(1)
    loaders = {}
    for m in methods:
        chunk = max(8, (n_torchgeo if m == "torchgeo" else n) // rounds // 8 * 8)
        loaders[m] = make_loader(m, paths, chunk, workers, persistent=warm)
    epoch = 0
    if warm:
        for m in methods:
            loader, sampler = loaders[m]
            for _ in range(rounds):
                epoch += 1
                if sampler is not None:
                    sampler.set_epoch(1000 + epoch)
                for _batch in loader:
                    pass
    out: dict[str, list[dict]] = {m: [] for m in methods}
    for r in range(rounds):
        for m in methods[r % len(methods):] + methods[:r % len(methods)]:
            loader, sampler = loaders[m]
            if sampler is not None:
                sampler.set_epoch(r)
            cache = getattr(loader.dataset, "block_cache", None)
            before = cache.stats() if cache is not None else None
            t0 = time.perf_counter()
            count = sum(batch["image"].shape[0] for batch in loader)
            res: dict[str, float] = {"sps": count / (time.perf_counter() - t0), "samples": count}
            if cache is not None and before is not None:
                after = cache.stats()
                hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
                res["cache_hit_rate"] = hits / max(1, hits + misses)
                res["cache_used_mb"] = after["used_bytes"] / 2**20
                res["cache_bound_mb"] = after["bound_bytes"] / 2**20
            out[m].append(res)
            extra = f", block-cache hits {res['cache_hit_rate']:.0%}" if "cache_hit_rate" in res else ""
            print(f"  {'warm' if warm else 'cold'} round {r + 1} {m}: {res['sps']:.1f} samples/s{extra}",
                  file=sys.stderr, flush=True)
    return out


def child_main(spec: list) -> None:
    """``--child``: [method, paths, n, workers] (one measurement under the inherited GDAL
    settings) or ["interleaved", {keyword arguments of ``interleaved``}, 0, 0]."""
    if spec[0] == "interleaved":
        print(json.dumps(interleaved(**spec[1])))
        return
    m, p, n, w = spec
    print(json.dumps(measure(m, p, n, w)))


def gdal_default_cache() -> str:
    """GDAL's default block cache size as it applies in this process (5% of RAM unless set)."""
    import rasterio  # noqa: F401 (initialises GDAL)
    from rasterio._env import get_gdal_config

    v = get_gdal_config("GDAL_CACHEMAX")
    if isinstance(v, int | float) and v > 0:
        mb = v / 2**20 if v > 100_000 else v  # GDAL reports bytes above 100000
        return f"default ({mb:.0f} MB)"
    return "default (5% of RAM)"


LABELS = {
    "eokit": "eokit (uniform windows, shared block cache auto)",
    "eokit_nocache": "eokit (uniform windows, block_cache=False)",
    "eokit_tile": "eokit (align='tile')",
    "rasterio": "plain rasterio window reads",
    "torchgeo": "TorchGeo 0.8 RasterDataset+RandomGeoSampler",
}
# (setting name, GDAL_CACHEMAX, warm): cold = small GDAL cache, fresh process and caches;
# warm = GDAL's default cache (5 % of RAM), persistent workers and untimed epochs first
SETTINGS = (("cold", "64", False), ("warm", None, True))


def median_spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return float(np.median(values)), float(min(values)), float(max(values))


def fmt(values: list[float], unit: str = "") -> str:
    med, lo, hi = median_spread(values)
    return f"{med:.2f}{unit} ({lo:.2f}-{hi:.2f})" if unit == "x" else f"{med:.1f} ({lo:.1f}-{hi:.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", help="folder for the generated scenes (default $EOKIT_CACHE/sampling_bench)")
    ap.add_argument("--samples", type=int, default=192, help="timed samples per eokit/rasterio reader and setting")
    ap.add_argument("--torchgeo-samples", type=int, default=64, help="timed samples of TorchGeo per setting")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved rounds (chunks of samples/rounds); "
                    "figures are medians over them")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    ap.add_argument("--settings", default="cold,warm", help="cold (GDAL_CACHEMAX=64) and/or warm (default cache)")
    ap.add_argument("--methods", default="eokit,eokit_nocache,rasterio,torchgeo",
                    help=f"readers among {','.join(LABELS)}")
    ap.add_argument("--block-cache", type=int, help="bound of eokit's block cache in bytes (default: 'auto'); "
                    "a bound far below the collection's 1.7 GB shows the cache's cost where it cannot help")
    args = ap.parse_args()
    if args.block_cache:
        os.environ["SAMPLING_BENCH_BLOCK_CACHE"] = str(args.block_cache)

    root = cache_root(args.cache)
    paths = [str(p) for p in prepare(root)]
    missing = torchgeo_missing()
    methods = [m for m in args.methods.split(",") if not (m == "torchgeo" and missing)]
    settings = [s for s in SETTINGS if s[0] in args.settings.split(",")]
    print(f"scenes: {len(paths)} x 13-band uint16 {SIZE}x{SIZE}, DEFLATE, tiled {BLOCK}, "
          f"EPSG:32631 x2 + EPSG:32632 x2, under {root}")
    print(f"patch {PATCH}x{PATCH}, batch 8, {args.workers} workers, {args.rounds} interleaved rounds "
          f"(readers take turns chunk by chunk, order rotated); figures: median (min-max); "
          f"CPU cores: {os.cpu_count()}")
    print("cold: GDAL_CACHEMAX=64 MB, workers started per chunk, eokit's shared cache empty at first; "
          f"warm: GDAL_CACHEMAX=5% [GDAL's default, {gdal_default_cache()}], persistent workers, "
          "untimed epochs of other windows first (as many samples as timed)")
    if missing:
        print(f"TorchGeo not measured: {missing}")
    sps: dict[tuple[str, str], list[float]] = {}
    hit: dict[str, list[float]] = {}
    t_start = time.perf_counter()
    for name, cachemax, warm in settings:
        results = run_setting(methods, paths, args.samples, args.torchgeo_samples, args.workers, args.rounds,
                              cachemax, warm)
        for m in methods:
            sps[(name, m)] = [res["sps"] for res in results[m]]
            if m == "eokit" and "cache_hit_rate" in results[m][0]:
                hit[name] = [res["cache_hit_rate"] for res in results[m]]

    def ratios(name: str, a: str, b: str) -> list[float]:
        """Per-round ratios (same round, side by side)."""
        if (name, a) not in sps or (name, b) not in sps:
            return []
        return [x / y for x, y in zip(sps[(name, a)], sps[(name, b)], strict=True)]

    print()
    header = f"{'setting':<8}{'reader':<52}{'samples/s median (min-max)':>30}"
    print(header)
    print("-" * len(header))
    for name, _, _ in settings:
        for m in methods:
            print(f"{name:<8}{LABELS[m]:<52}{fmt(sps[(name, m)]):>30}")
        for a in [m for m in methods if m.startswith("eokit")]:
            for b in ("rasterio", "torchgeo"):
                rs = ratios(name, a, b)
                if rs:
                    print(f"{name:<8}{a + ' / ' + b + ' (per round)':<52}{fmt(rs, 'x'):>30}")
        if name in hit:
            print(f"{name:<8}{'eokit shared block cache hit rate':<52}{fmt([100 * h for h in hit[name]]):>29}%")
    print(f"(samples/s of whole epochs of samples/rounds; {time.perf_counter() - t_start:.0f} s in all)")

    summary: dict[str, object] = {"workers": args.workers, "rounds": args.rounds, "samples": args.samples,
                                  "torchgeo_samples": args.torchgeo_samples,
                                  "cold": "GDAL_CACHEMAX=64, workers started per chunk, shared cache empty "
                                          "at first",
                                  "warm": "GDAL_CACHEMAX=5% (default), persistent workers, untimed epochs of "
                                          "other windows first"}
    for name, _, _ in settings:
        for m in methods:
            med, lo, hi = median_spread(sps[(name, m)])
            summary[f"{m}_sps_{name}"] = round(med, 2)
            summary[f"{m}_sps_{name}_spread"] = [round(lo, 2), round(hi, 2)]
        for a, b, key in (("eokit", "rasterio", "ratio_rasterio"), ("eokit", "torchgeo", "ratio_torchgeo"),
                          ("eokit_nocache", "rasterio", "ratio_rasterio_nocache"),
                          ("eokit_nocache", "torchgeo", "ratio_torchgeo_nocache")):
            rs = ratios(name, a, b)
            if rs:
                med, lo, hi = median_spread(rs)
                summary[f"{key}_{name}"] = round(med, 3)
                summary[f"{key}_{name}_spread"] = [round(lo, 3), round(hi, 3)]
        if name in hit:
            summary[f"cache_hit_rate_{name}"] = round(float(np.median(hit[name])), 3)
    targets = {"ratio_rasterio_cold": 0.95, "ratio_torchgeo_warm": 3.0}
    summary["targets"] = targets
    summary["targets_met"] = {k: (summary[k] >= v if k in summary else None)  # type: ignore[operator]
                              for k, v in targets.items()}
    if missing:
        summary["torchgeo_missing"] = missing
    print(json.dumps(summary))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_main(json.loads(sys.argv[2]))
    elif "--prepare-only" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--cache")
        ap.add_argument("--prepare-only", action="store_true")
        print(prepare(cache_root(ap.parse_args().cache)))
    else:
        main()
