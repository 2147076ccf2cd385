"""Space-time sampling throughput (T x C x H x W samples/s) on a multi-date, mixed-CRS collection:
eokit vs TorchGeo.

Builds (or reuses) 12 synthetic Sentinel-2-like scenes under ``$EOKIT_CACHE/sampling_temporal_bench``
(default ``~/.cache/eokit-work/sampling_temporal_bench``): two tiles, one in EPSG:32631 and one in
EPSG:32632, overlapping across the zone boundary at 6°E (as ``benchmarks/sampling.py`` builds them),
each at 6 dates (tile B 5 days after tile A), 4 bands uint16, 2048x2048 px at 10 m, DEFLATE, tiled 512.
Then it measures random space-time samples of T=4 dates x 4 bands x 64 x 64 px, the 4 dates evenly
spread over the dates that cover the sample, batch 8:

  (a) eokit: SceneCollection + RandomSpaceTimeSampler(n_dates=4) + SpaceTimeDataset(resampling=
      'bilinear'): each date read with one windowed read on its scene's grid when it is on the
      sample's (anchor's) grid, read and warped onto it when it is in the other UTM zone;
  (b) TorchGeo 0.8: RasterDataset over the same files (warped to one CRS by WarpedVRT, as TorchGeo
      does) + RandomGeoSampler for the location; the same 4-date choice among the dates whose files
      intersect the location, then one RasterDataset query per date (bbox + that date's time slice),
      stacked to (T, C, H, W): TorchGeo 0.8 has no time-series sample, a query merges every file it hits.

Each measurement runs in a fresh interpreter (cold GDAL cache) and times the epoch from the start of
the iteration (sampler draws included, building the file index excluded); rounds interleave the
readers and the figure is the median over rounds. Prints a table, then one JSON line.

    python benchmarks/sampling_temporal.py [--samples 240] [--torchgeo-samples 80] [--rounds 3] [--workers 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sampling
from sampling import SIGNATURES, _landcover, torchgeo_missing

SIZE = 2048
BLOCK = 512
PATCH = 64
T = 4
RES = 10.0
BAND_NAMES = ("B02", "B03", "B04", "B08")
BAND_IDX = (1, 2, 3, 7)  # their rows in sampling.SIGNATURES (13 Sentinel-2 bands)
A_DATES = ("20230305", "20230414", "20230524", "20230703", "20230812", "20230921")
B_DATES = ("20230310", "20230419", "20230529", "20230708", "20230817", "20230926")
# (epsg, left, top): A ends east of 6°E in zone 31, B starts west of it in zone 32 (~45°N); they overlap
TILES = {"A": (32631, 730_000.0, 5_020_000.0), "B": (32632, 250_000.0, 5_025_000.0)}


def cache_root(arg: str | None) -> Path:
    if arg:
        return Path(arg).expanduser()
    base = os.environ.get("EOKIT_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "eokit-work") / "sampling_temporal_bench"


def scene_list(root: Path) -> list[tuple[Path, str, str]]:
    return [(root / f"S2_{d}_{t}.tif", t, d) for t, dates in (("A", A_DATES), ("B", B_DATES)) for d in dates]


def make_scene(path: Path, epsg: int, left: float, top: float, date: str, seed: int) -> None:
    """One scene: the shared land-cover field (so overlapping tiles agree) with a seasonal gain."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    month = int(date[4:6])
    season = 1.0 + 0.25 * np.sin((month - 3) / 12 * 2 * np.pi)  # greener in summer
    sig = SIGNATURES[:, BAND_IDX] * np.array([1.0, 1.0, 1.0, season], np.float32)
    profile = {
        "driver": "GTiff", "width": SIZE, "height": SIZE, "count": len(BAND_NAMES), "dtype": "uint16",
        "crs": f"EPSG:{epsg}", "transform": from_origin(left, top, RES, RES), "nodata": 0,
        "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "DEFLATE", "predictor": 2,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.descriptions = BAND_NAMES
        xs = left + (np.arange(SIZE, dtype=np.float64) + 0.5) * RES
        for r0 in range(0, SIZE, BLOCK):
            ys = top - (np.arange(r0, r0 + BLOCK, dtype=np.float64) + 0.5) * RES
            xx, yy = np.meshgrid(xs, ys)
            base = sig[_landcover(xx, yy)]
            noise = rng.normal(0.0, 0.04, size=base.shape).astype(np.float32)
            strip = np.clip(base * (1.0 + noise), 1, 65535).astype(np.uint16).transpose(2, 0, 1)
            dst.write(strip, window=((r0, r0 + BLOCK), (0, SIZE)))
    os.replace(tmp, path)


def prepare(root: Path) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (path, tile, date) in enumerate(scene_list(root)):
        if not path.exists():
            t0 = time.perf_counter()
            make_scene(path, *TILES[tile], date, seed=i)
            print(f"generated {path} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        out.append(str(path))
    return out


# -- the two readers ------------------------------------------------------------------------------
def eokit_loader(paths: list[str], n: int, workers: int, seed: int):
    from torch.utils.data import DataLoader

    from eokit.data import (
        RandomSpaceTimeSampler,
        SceneCollection,
        SpaceTimeDataset,
        collate_samples,
    )

    coll = SceneCollection.from_paths(paths, pattern=r"S2_(?P<date>\d{8})_")
    sampler = RandomSpaceTimeSampler(coll, PATCH, n, n_dates=T, pad=True, seed=seed)
    ds = SpaceTimeDataset(coll, resampling="bilinear")
    return DataLoader(ds, sampler=sampler, batch_size=8, num_workers=workers, collate_fn=collate_samples)


def torchgeo_loader(paths: list[str], n: int, workers: int, seed: int):
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchgeo.datasets import RasterDataset
    from torchgeo.samplers import RandomGeoSampler

    class BenchScenes(RasterDataset):
        filename_glob = "S2_*.tif"
        filename_regex = r"S2_(?P<date>\d{8})_"
        all_bands = BAND_NAMES

    class TimeSeries(Dataset):
        """(T, C, H, W) per location: the same date choice as eokit, one TorchGeo query per date."""

        def __init__(self, ds: RasterDataset) -> None:
            self.ds = ds

        def __getitem__(self, query):
            x, y = query[0], query[1]
            hits = self.ds.index.cx[x.start:x.stop, y.start:y.stop]
            lefts = sorted(set(hits.index.left))
            pick = [lefts[k] for k in np.linspace(0, len(lefts) - 1, min(T, len(lefts))).round().astype(int)]
            frames, mask = [], []
            for t in pick:
                s = self.ds[x, y, slice(t, t + np.timedelta64(1, "D") - np.timedelta64(1, "us"))]
                frames.append(s["image"])
                mask.append(True)
            while len(frames) < T:
                frames.append(torch.zeros_like(frames[0]))
                mask.append(False)
            return {"image": torch.stack(frames), "time_mask": torch.tensor(mask)}

    def collate(samples):
        return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}

    ds = BenchScenes(paths=paths)
    sampler = RandomGeoSampler(ds, size=PATCH, length=n, generator=torch.Generator().manual_seed(seed))
    return DataLoader(TimeSeries(ds), sampler=sampler, batch_size=8, num_workers=workers, collate_fn=collate)


def measure(method: str, paths: list[str], n: int, workers: int) -> dict:
    """Samples/s over ``n`` samples: the sampler's draws (eokit picks every window and its dates when
    the epoch starts) and the reads, after the dataset is built (indexing the files excluded)."""
    import torch

    torch.set_num_threads(1)
    loader = (eokit_loader if method == "eokit" else torchgeo_loader)(paths, n, workers, seed=0)
    t0 = time.perf_counter()
    shape = None
    count, masked = 0, 0
    for batch in loader:
        shape = shape or tuple(batch["image"].shape)
        count += batch["image"].shape[0]
        masked += int((~batch["time_mask"]).sum())
    dt = time.perf_counter() - t0
    return {"sps": count / dt, "samples": count, "seconds": dt, "shape": shape, "masked_dates": masked}


def run_child(method: str, paths: list[str], n: int, workers: int) -> dict:
    """One measurement in a fresh interpreter (GDAL's block cache starts cold; GDAL_CACHEMAX as set)."""
    return sampling.run_child(method, paths, n, workers, os.environ.get("GDAL_CACHEMAX"), script=__file__)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", help="folder for the generated scenes (default $EOKIT_CACHE/sampling_temporal_bench)")
    ap.add_argument("--samples", type=int, default=240, help="space-time samples per eokit measurement")
    ap.add_argument("--torchgeo-samples", type=int, default=80, help="space-time samples per TorchGeo measurement")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the figure is their median")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    args = ap.parse_args()

    root = cache_root(args.cache)
    paths = prepare(root)
    missing = torchgeo_missing()
    methods = ["eokit"] + ([] if missing else ["torchgeo"])
    print(f"scenes: {len(paths)} x 4-band uint16 {SIZE}x{SIZE}, DEFLATE, tiled {BLOCK}: tile A EPSG:32631 x6 dates, "
          f"tile B EPSG:32632 x6 dates, overlapping; under {root}")
    print(f"samples: T={T} x C=4 x {PATCH}x{PATCH}, batch 8, workers {args.workers}, median of {args.rounds} "
          f"interleaved rounds; CPU cores: {os.cpu_count()}")
    if missing:
        print(f"TorchGeo not measured: {missing}")
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for r in range(args.rounds):
        for m in methods:
            n = args.torchgeo_samples if m == "torchgeo" else args.samples
            res = run_child(m, paths, n, args.workers)
            runs[m].append(res)
            print(f"  round {r + 1} {m}: {res['sps']:.1f} samples/s ({res['samples']} samples, shape "
                  f"{res['shape']}, {res['masked_dates']} masked dates)", file=sys.stderr, flush=True)
    med = {m: statistics.median(x["sps"] for x in runs[m]) for m in methods}
    labels = {"eokit": "eokit RandomSpaceTimeSampler + SpaceTimeDataset",
              "torchgeo": "TorchGeo 0.8 RasterDataset, one query per date"}
    print()
    print(f"{'reader':<52}{'median s/s':>12}   rounds")
    for m in methods:
        print(f"{labels[m]:<52}{med[m]:>12.1f}   " + ", ".join(f"{x['sps']:.1f}" for x in runs[m]))
    tg = med.get("torchgeo")
    if tg:
        print(f"{'eokit / TorchGeo':<52}{med['eokit'] / tg:>11.2f}x")
    summary = {
        "eokit_sps": round(med["eokit"], 2),
        "torchgeo_sps": round(tg, 2) if tg else None,
        "ratio_vs_torchgeo": round(med["eokit"] / tg, 2) if tg else None,
        "shape": [T, len(BAND_NAMES), PATCH, PATCH],
        "workers": args.workers,
        "rounds": args.rounds,
    }
    if missing:
        summary["torchgeo_missing"] = missing
    print(json.dumps(summary))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        m, p, n, w = json.loads(sys.argv[2])
        print(json.dumps(measure(m, p, n, w)))
    else:
        main()
