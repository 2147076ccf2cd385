"""Random-window sampling throughput on a mixed-CRS scene collection: eokit vs TorchGeo vs rasterio.

Builds (or reuses) 4 synthetic Sentinel-2-like scenes under ``$EOKIT_CACHE/sampling_bench``
(default ``~/.cache/eokit-work/sampling_bench``): 13-band uint16, 4096x4096 px at 10 m,
DEFLATE, tiled 512, two in EPSG:32631 and two in EPSG:32632 whose footprints overlap across
the zone boundary at 6°E. Then it measures 256-px random-sample throughput (samples/s) with 0
and 2 DataLoader workers for

  (a) eokit: SceneCollection + RandomWindowSampler + SceneDataset (each sample read on its
      scene's native grid, one windowed read per file),
  (b) TorchGeo 0.8: RasterDataset over an explicit file list + RandomGeoSampler,
  (c) plain rasterio: ``ds.read(window=...)`` of a random window of a random scene,

once with GDAL's default block cache and once with GDAL_CACHEMAX=64 (no tile reuse, as with
data much larger than RAM). It prints a table, then one JSON line with the 2-worker figures
under the default cache.

    python benchmarks/sampling.py [--samples 400] [--torchgeo-samples 160] [--cache DIR]
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


# -- the three readers ---------------------------------------------------------------------------
class RasterioWindows:
    """Plain rasterio: a random window of a random scene, one ``ds.read`` -> float32 tensor."""

    def __init__(self, paths: list[str], n: int, seed: int) -> None:
        import rasterio

        self.paths = paths
        rng = np.random.default_rng(seed)
        with rasterio.open(paths[0]) as ds:
            w, h = ds.width, ds.height
        self.items = list(zip(rng.integers(0, len(paths), n).tolist(), rng.integers(0, w - PATCH + 1, n).tolist(),
                              rng.integers(0, h - PATCH + 1, n).tolist(), strict=True))
        self._handles: dict[str, object] = {}
        self._pid = -1

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        import rasterio
        import torch
        from rasterio.windows import Window

        if self._pid != os.getpid():  # open once per worker process
            self._handles, self._pid = {}, os.getpid()
        f, col, row = self.items[i]
        ds = self._handles.get(self.paths[f])
        if ds is None:
            ds = self._handles[self.paths[f]] = rasterio.open(self.paths[f])
        arr = ds.read(window=Window(col, row, PATCH, PATCH))
        return {"image": torch.from_numpy(arr.astype(np.float32))}


def make_loader(method: str, paths: list[str], n: int, workers: int, seed: int = 0):
    """A DataLoader yielding batches of 8 random 256-px samples."""
    from torch.utils.data import DataLoader

    kw = {"batch_size": 8, "num_workers": workers, "persistent_workers": False}
    if method.startswith("eokit"):
        from eokit.data import RandomWindowSampler, SceneCollection, SceneDataset, collate_samples

        coll = SceneCollection.from_paths(paths, pattern=r"S2_(?P<date>\d{8})_")
        align = "tile" if method == "eokit_tile" else None
        sampler = RandomWindowSampler(coll, PATCH, n, seed=seed, align=align)
        return DataLoader(SceneDataset(coll), sampler=sampler, collate_fn=collate_samples, **kw)
    if method == "torchgeo":
        import torch
        from torchgeo.datasets import RasterDataset, stack_samples
        from torchgeo.samplers import RandomGeoSampler

        class BenchScenes(RasterDataset):
            filename_glob = "S2_*.tif"
            filename_regex = r"S2_(?P<date>\d{8})_"
            all_bands = BAND_NAMES

        ds = BenchScenes(paths=paths)  # an explicit file list: no folder search
        sampler = RandomGeoSampler(ds, size=PATCH, length=n, generator=torch.Generator().manual_seed(seed))
        return DataLoader(ds, sampler=sampler, collate_fn=stack_samples, **kw)
    if method == "rasterio":
        return DataLoader(RasterioWindows(paths, n, seed), **kw)
    raise ValueError(method)


def measure(method: str, paths: list[str], n: int, workers: int) -> dict:
    """Samples/s over ``n`` samples, timed after the first batch (worker start-up excluded)."""
    import torch

    torch.set_num_threads(1)
    loader = make_loader(method, paths, n, workers)
    it = iter(loader)
    first = next(it)
    shape = tuple(first["image"].shape)
    t0 = time.perf_counter()
    count = 0
    for batch in it:
        count += batch["image"].shape[0]
    dt = time.perf_counter() - t0
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
    import subprocess

    env = dict(os.environ)
    env.pop("GDAL_CACHEMAX", None)
    if cachemax is not None:
        env["GDAL_CACHEMAX"] = cachemax
    env.setdefault("OMP_NUM_THREADS", "1")
    args = [sys.executable, script, "--child", json.dumps([method, paths, n, workers])]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{method} (workers={workers}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def gdal_default_cache() -> str:
    """GDAL's default block cache size as it applies in this process (5% of RAM unless set)."""
    import rasterio  # noqa: F401 (initialises GDAL)
    from rasterio._env import get_gdal_config

    v = get_gdal_config("GDAL_CACHEMAX")
    if isinstance(v, int | float) and v > 0:
        mb = v / 2**20 if v > 100_000 else v  # GDAL reports bytes above 100000
        return f"default ({mb:.0f} MB)"
    return "default (5% of RAM)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", help="folder for the generated scenes (default $EOKIT_CACHE/sampling_bench)")
    ap.add_argument("--samples", type=int, default=400, help="samples per eokit/rasterio measurement")
    ap.add_argument("--torchgeo-samples", type=int, default=160, help="samples per TorchGeo measurement")
    ap.add_argument("--repeats", type=int, default=2, help="best of N runs per cell (noise from shared CPUs)")
    ap.add_argument("--workers", default="0,2")
    ap.add_argument("--cachemax", default="default,64", help="GDAL_CACHEMAX settings ('default' = GDAL's own)")
    args = ap.parse_args()

    root = cache_root(args.cache)
    paths = [str(p) for p in prepare(root)]
    missing = torchgeo_missing()
    methods = ["eokit", "eokit_tile", "rasterio"] + ([] if missing else ["torchgeo"])
    workers = [int(w) for w in args.workers.split(",")]
    caches = [None if c == "default" else c for c in args.cachemax.split(",")]
    print(f"scenes: {len(paths)} x 13-band uint16 {SIZE}x{SIZE}, DEFLATE, tiled {BLOCK}, "
          f"EPSG:32631 x2 + EPSG:32632 x2, under {root}")
    print(f"patch {PATCH}x{PATCH}, batch 8, best of {args.repeats}; CPU cores: {os.cpu_count()}")
    if missing:
        print(f"TorchGeo not measured: {missing}")
    results: dict[tuple[str, int, str | None], dict] = {}
    for cache in caches:
        for w in workers:
            for _ in range(args.repeats):
                for m in methods:
                    n = args.torchgeo_samples if m == "torchgeo" else args.samples
                    r = run_child(m, paths, n, w, cache)
                    print(f"  GDAL_CACHEMAX={cache or 'default'} workers={w} {m}: {r['sps']:.1f} samples/s",
                          file=sys.stderr, flush=True)
                    best = results.get((m, w, cache))
                    if best is None or r["sps"] > best["sps"]:
                        results[(m, w, cache)] = r

    labels = {
        "eokit": "eokit (native grid, random offsets)",
        "eokit_tile": "eokit (align='tile')",
        "rasterio": "plain rasterio window reads",
        "torchgeo": "TorchGeo 0.8 RasterDataset+RandomGeoSampler",
    }
    print()
    header = f"{'GDAL_CACHEMAX':<22}{'reader':<48}" + "".join(f"{f'{w} workers':>14}" for w in workers)
    print(header)
    print("-" * len(header))
    for cache in caches:
        cname = gdal_default_cache() if cache is None else f"{cache} MB"
        for m in methods:
            cells = "".join(f"{results[(m, w, cache)]['sps']:>10.1f} s/s" for w in workers)
            print(f"{cname:<22}{labels[m]:<48}{cells}")
        if "torchgeo" in methods:
            for m in ("eokit", "eokit_tile"):
                ratio = "".join(f"{results[(m, w, cache)]['sps'] / results[('torchgeo', w, cache)]['sps']:>12.2f} x "
                                for w in workers)
                print(f"{cname:<22}{m + ' / TorchGeo':<48}{ratio}")
        for m in ("eokit", "eokit_tile"):
            ratio = "".join(f"{results[(m, w, cache)]['sps'] / results[('rasterio', w, cache)]['sps']:>12.2f} x "
                            for w in workers)
            print(f"{cname:<22}{m + ' / rasterio':<48}{ratio}")
    print("(s/s = samples per second; each cell is the best of the repeats, timed after the first batch)")

    w2 = 2 if 2 in workers else workers[-1]
    e = results[("eokit", w2, caches[0])]["sps"]
    r = results[("rasterio", w2, caches[0])]["sps"]
    tg = results[("torchgeo", w2, caches[0])]["sps"] if "torchgeo" in methods else None
    et = results[("eokit_tile", w2, caches[0])]["sps"]
    summary = {
        "eokit_sps": round(e, 2),
        "torchgeo_sps": round(tg, 2) if tg else None,
        "rasterio_sps": round(r, 2),
        "ratio_vs_torchgeo": round(e / tg, 2) if tg else None,
        "ratio_vs_rasterio": round(e / r, 2),
        "eokit_tile_aligned_sps": round(et, 2),
        "tile_ratio_vs_torchgeo": round(et / tg, 2) if tg else None,
        "tile_ratio_vs_rasterio": round(et / r, 2),
        "workers": w2,
        "gdal_cachemax": "default" if caches[0] is None else caches[0],
    }
    if missing:
        summary["torchgeo_missing"] = missing
    print(json.dumps(summary))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        m, p, n, w = json.loads(sys.argv[2])
        print(json.dumps(measure(m, p, n, w)))
    elif "--prepare-only" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--cache")
        ap.add_argument("--prepare-only", action="store_true")
        print(prepare(cache_root(ap.parse_args().cache)))
    else:
        main()
