#!/usr/bin/env python
"""Scene inference: eokit end to end vs TerraTorch's tiled_inference vs the model-only floor.

Same small U-Net (13 bands in, 10 classes, 2 levels, 16/32/64 channels), crop 256,
stride 224, batch 16, on a 13 x N x N scene (default N = 4096):

* ``terratorch``: ``terratorch.tasks.tiled_inference.tiled_inference`` on the scene
  held in memory as one (1, 13, N, N) float32 tensor (already normalised);
* ``floor``: only the model's forward passes over the same crops (eokit's plan),
  batch 16 — no reading, tiling, blending or writing is timed;
* ``floor_optimized`` (shown for transparency, not a target): the same forward-only
  loop with the model rewritten as ``eokit predict`` runs it (batch norms folded,
  channels-last, ``eokit.infer.optimize``) in passes of eokit's CPU forward batch,
  so the table separates what the model rewrite gains from what the pipeline costs;
* ``eokit``: ``predict_scene`` reading the scene from a DEFLATE GeoTIFF and writing
  the class map + confidence COG (overviews, atomic rename) — everything timed.

Peak memory: each contender runs in its own subprocess, started with the same
environment: glibc malloc pinned with ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``
(no mmap/munmap churn per batch; memory stays in the heap and is reused) for all
three. The peak is VmHWM (reset via /proc/self/clear_refs just before the timed
call) minus VmRSS right before it. eokit's peak is also measured on a
16384 x 16384 scene generated on disk block by block and cached under
``$EOKIT_CACHE`` (default ``~/.cache/eokit-work``). On a slow or shared CPU,
``--large-rows R`` stops the large run after R full-width tile rows (the memory
plateau is reached after the second row; the COG finish is then not included).

The CPU may be shared: contenders run back to back, interleaved, ``--repeat``
times, and the best time of each is compared (ratios, not absolute figures).
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

CROP, STRIDE, BATCH, BANDS, CLASSES = 256, 224, 16, 13, 10
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}


# -- the model ------------------------------------------------------------------------------------
def build_unet(seed: int = 0):
    """2-level U-Net, 16/32/64 channels, 13 -> 10 (weights fixed by ``seed``)."""
    import torch
    from torch import nn

    def block(i: int, o: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                             nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self, cin: int = BANDS, k: int = CLASSES, w: tuple[int, int, int] = (16, 32, 64)) -> None:
            super().__init__()
            self.e1, self.e2, self.mid = block(cin, w[0]), block(w[0], w[1]), block(w[1], w[2])
            self.pool = nn.MaxPool2d(2)
            self.u2, self.d2 = nn.ConvTranspose2d(w[2], w[1], 2, 2), block(2 * w[1], w[1])
            self.u1, self.d1 = nn.ConvTranspose2d(w[1], w[0], 2, 2), block(2 * w[0], w[0])
            self.head = nn.Conv2d(w[0], k, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a = self.e1(x)
            b = self.e2(self.pool(a))
            c = self.mid(self.pool(b))
            d = self.d2(torch.cat([self.u2(c), b], 1))
            return self.head(self.d1(torch.cat([self.u1(d), a], 1)))

    torch.manual_seed(seed)
    return UNet().eval()


BAND_NAMES = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
MEAN = tuple(1200.0 + 50 * i for i in range(BANDS))
STD = tuple(600.0 for _ in range(BANDS))


def contract():
    from eokit.infer import DataContract

    return DataContract(bands=BAND_NAMES, mean=MEAN, std=STD, classes=tuple(f"class{i}" for i in range(CLASSES)))


# -- the scenes -----------------------------------------------------------------------------------
def scene_path(size: int) -> Path:
    from eokit.env import cache_dir

    return cache_dir() / "bench" / f"scene_inference_13x{size}x{size}.tif"


def make_scene(size: int, compress: str = "deflate") -> Path:
    """A 13-band uint16 tiled GeoTIFF (512 px tiles), written block row by block row.

    The timed scene is DEFLATE-compressed; the large memory-only scene uses ZSTD level 1
    (much faster to generate on a shared CPU; reading it is not timed against anything).
    """
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from eokit.io import atomic_path

    path = scene_path(size)
    if path.exists():
        return path
    rng = np.random.default_rng(size)
    noise = rng.integers(0, 200, size=(BANDS, 512, 512), dtype=np.uint16)
    prof = dict(driver="GTiff", width=size, height=size, count=BANDS, dtype="uint16", crs="EPSG:32632",
                transform=from_origin(300000, 5100000, 10, 10), tiled=True, blockxsize=512, blockysize=512,
                compress=compress, BIGTIFF="IF_SAFER")
    if compress.lower() == "zstd":
        prof["zstd_level"] = 1
    xs = np.arange(size, dtype=np.float32)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **prof) as ds:
        for i, name in enumerate(BAND_NAMES, start=1):
            ds.set_band_description(i, name)
        for y0 in range(0, size, 512):
            h = min(512, size - y0)
            ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
            block = np.empty((BANDS, h, size), np.uint16)
            for b in range(BANDS):
                f = np.sin(ys / (97 + 7 * b)) * (700 * np.cos(xs[None, :] / (131 + 5 * b))) + (1500 + 60 * b)
                block[b] = f.astype(np.uint16) + np.tile(noise[b, :h], (1, size // 512 + 1))[:, :size]
            ds.write(block, window=Window(0, y0, size, h))
    return path


# -- memory ---------------------------------------------------------------------------------------
def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_peak() -> float:
    """Reset the peak RSS (VmHWM) and return the current RSS in MiB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def peak_above(start: float) -> float:
    return _status("VmHWM") - start


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (robust to a shared CPU, unlike wall time)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- contenders (each runs in its own subprocess) -------------------------------------------------
def load_tiled_inference():
    """TerraTorch's tiled_inference, imported from its module file.

    ``import terratorch`` pulls the whole package (albumentations, segmentation-models,
    datasets, ...); the function itself needs only torch, tqdm and ``pad_images`` from
    terratorch/models/utils.py, so those two files are loaded directly.
    """
    try:
        from terratorch.tasks.tiled_inference import tiled_inference

        return tiled_inference
    except Exception:
        pass
    spec = importlib.util.find_spec("terratorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("terratorch is not installed (make bench-deps)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in ("terratorch", "terratorch.models", "terratorch.tasks", "terratorch.registry"):
        mod = types.ModuleType(name)
        mod.__path__ = []  # type: ignore[attr-defined]
        sys.modules[name] = mod
    sys.modules["terratorch.registry"].BACKBONE_REGISTRY = None  # only named in utils.py, unused by pad_images
    for name, rel in (("terratorch.models.utils", "models/utils.py"),
                      ("terratorch.tasks.tiled_inference", "tasks/tiled_inference.py")):
        s = importlib.util.spec_from_file_location(name, root / rel)
        mod = importlib.util.module_from_spec(s)
        sys.modules[name] = mod
        s.loader.exec_module(mod)
    return sys.modules["terratorch.tasks.tiled_inference"].tiled_inference


def run_floor(size: int, optimized: bool = False) -> dict:
    import torch

    from eokit.infer import TilePlan
    from eokit.infer.optimize import optimize_for_inference
    from eokit.infer.predict import CPU_FORWARD_BATCH

    model = build_unet()
    plan = TilePlan.build(size, size, CROP, STRIDE)
    rng = np.random.default_rng(0)
    batch = torch.from_numpy(rng.standard_normal((BATCH, BANDS, CROP, CROP), dtype=np.float32))
    per_pass = BATCH
    if optimized:
        model, _ = optimize_for_inference(model, batch[:1])
        batch = batch.contiguous(memory_format=torch.channels_last)
        per_pass = CPU_FORWARD_BATCH
    n = plan.n_tiles
    with torch.inference_mode():
        model(batch[:2])  # warm-up
        start = start_peak()
        busy = 0.0
        cpu0 = cpu_seconds()
        for i in range(0, n, BATCH):
            x = batch[: min(BATCH, n - i)]
            t = time.perf_counter()
            for s in range(0, len(x), per_pass):
                model(x[s:s + per_pass])
            busy += time.perf_counter() - t
    return {"seconds": busy, "tiles": n, "peak_mb": peak_above(start), "cpu_s": cpu_seconds() - cpu0}


def run_terratorch(size: int, path: str) -> dict:
    import torch

    from eokit.io import open_raster

    tiled_inference = load_tiled_inference()
    model = build_unet()
    src = open_raster(path)
    arr = src.read(dtype="float32").array  # the scene in memory, as TerraTorch expects it
    mean = np.asarray(MEAN, np.float32)[:, None, None]
    std = np.asarray(STD, np.float32)[:, None, None]
    x = torch.from_numpy((arr - mean) / std)[None]
    del arr
    with torch.inference_mode():
        model(x[:, :, :64, :64])
        start = start_peak()
        cpu0 = cpu_seconds()
        t = time.perf_counter()
        out = tiled_inference(model, x, out_channels=CLASSES, crop=CROP, stride=STRIDE, batch_size=BATCH,
                              verbose=False)
        seconds = time.perf_counter() - t
    assert out.shape[-2:] == (size, size), out.shape
    return {"seconds": seconds, "peak_mb": peak_above(start), "cpu_s": cpu_seconds() - cpu0}


class _Stop(Exception):
    pass


def run_eokit(size: int, path: str, out: str, max_rows: int = 0, forward_batch: int | None = None) -> dict:
    import torch

    from eokit.infer import PredictOptions, TilePlan, predict_scene
    from eokit.io import is_cog

    model = build_unet()
    with torch.inference_mode():
        model(torch.zeros(1, BANDS, 64, 64))
    plan = TilePlan.build(size, size, CROP, STRIDE)
    limit = max_rows * len(plan.cols) if max_rows else 0
    seen = [0]

    def progress(n: int) -> None:
        seen[0] += n
        if limit and seen[0] >= limit:
            raise _Stop

    start = start_peak()
    cpu0 = cpu_seconds()
    t = time.perf_counter()
    stopped = False
    try:
        opts = PredictOptions.of(crop=CROP, stride=STRIDE, batch_size=BATCH, forward_batch=forward_batch)
        predict_scene(model, path, out, opts, contract=contract(), progress=progress)
    except _Stop:
        stopped = True
    seconds = time.perf_counter() - t
    peak = peak_above(start)
    ok = None
    if not stopped:
        ok = is_cog(out)[0]
    return {"seconds": seconds, "peak_mb": peak, "tiles": seen[0], "stopped": stopped, "cog": ok,
            "cpu_s": cpu_seconds() - cpu0}


def worker(args: argparse.Namespace) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker in ("floor", "floor_optimized"):
        res = run_floor(args.size, optimized=args.worker == "floor_optimized")
    elif args.worker == "terratorch":
        res = run_terratorch(args.size, args.scene)
    else:
        res = run_eokit(args.size, args.scene, args.out, args.max_rows, args.forward_batch or None)
    print("RESULT " + json.dumps(res))


def spawn(kind: str, size: int, scene: Path | None, out: Path, threads: int, max_rows: int = 0,
          forward_batch: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--size", str(size), "--out", str(out),
           "--threads", str(threads), "--max-rows", str(max_rows), "--forward-batch", str(forward_batch)]
    if scene is not None:
        cmd += ["--scene", str(scene)]
    env = {**os.environ, **MALLOC_ENV}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--large-size", type=int, default=16384)
    ap.add_argument("--large-rows", type=int, default=0, help="stop the large run after R tile rows (0: all)")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads in every contender (0: default)")
    ap.add_argument("--forward-batch", type=int, default=0,
                    help="eokit: tiles per forward pass within each batch of 16 (0: eokit's default, 2 on CPU)")
    ap.add_argument("--make-scene", type=int, default=0, help="only generate the N x N scene (zstd) and exit")
    ap.add_argument("--worker", choices=["floor", "floor_optimized", "terratorch", "eokit"], help=argparse.SUPPRESS)
    ap.add_argument("--scene", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    ap.add_argument("--max-rows", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if args.make_scene:
        print(make_scene(args.make_scene, compress="zstd"))
        return

    from eokit.env import cache_dir

    work = cache_dir() / "bench"
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    small = make_scene(args.size)
    print(f"scene {small} ready ({time.perf_counter() - t:.0f} s)", flush=True)
    out = work / "scene_inference_map.tif"
    runs: dict[str, list[dict]] = {"floor": [], "floor_optimized": [], "terratorch": [], "eokit": []}
    tt_error = None
    for r in range(args.repeat):
        for kind in ("floor", "floor_optimized", "terratorch", "eokit"):
            if kind == "terratorch" and tt_error:
                continue
            res = spawn(kind, args.size, small if not kind.startswith("floor") else None, out, args.threads, 0,
                        args.forward_batch)
            if "error" in res:
                if kind == "terratorch":
                    tt_error = res["error"]
                    print(f"terratorch unavailable: {tt_error}", flush=True)
                    continue
                raise SystemExit(f"{kind} failed: {res['error']}")
            runs[kind].append(res)
            print(f"run {r + 1} {kind:10s} {res['seconds']:8.1f} s  ({res.get('cpu_s', float('nan')):.0f} CPU-s)  "
                  f"peak +{res['peak_mb']:.0f} MiB", flush=True)
    mpix = args.size * args.size / 1e6

    def best(kind: str) -> float | None:
        return min(x["seconds"] for x in runs[kind]) if runs[kind] else None

    rates = {k: (mpix / best(k) if best(k) else None) for k in runs}
    rss_small = max(x["peak_mb"] for x in runs["eokit"])
    rss_large, large_note = None, "skipped"
    if not args.skip_large:
        t = time.perf_counter()
        large = make_scene(args.large_size, compress="zstd")
        print(f"scene {large} ready ({time.perf_counter() - t:.0f} s)", flush=True)
        res = spawn("eokit", args.large_size, large, work / "scene_inference_map_large.tif", args.threads,
                    args.large_rows, args.forward_batch)
        if "error" in res:
            raise SystemExit(f"large eokit run failed: {res['error']}")
        rss_large = res["peak_mb"]
        large_note = (f"{res['tiles']} tiles in {res['seconds']:.0f} s"
                      + (f" (stopped after {args.large_rows} tile rows)" if res["stopped"] else ", COG written"))
    tt = rates["terratorch"]
    print()
    print(f"{'contender':<34}{'MPix/s':>9}{'peak MiB':>10}")
    print(f"{'model-only floor (forward only)':<34}{rates['floor']:>9.3f}{max(x['peak_mb'] for x in runs['floor']):>10.0f}")
    print(f"{'  same, model rewritten as eokit':<34}{rates['floor_optimized']:>9.3f}"
          f"{max(x['peak_mb'] for x in runs['floor_optimized']):>10.0f}")
    if tt:
        print(f"{'TerraTorch tiled_inference':<34}{tt:>9.3f}{max(x['peak_mb'] for x in runs['terratorch']):>10.0f}")
    else:
        print(f"{'TerraTorch tiled_inference':<34}{'n/a':>9}   ({tt_error})")
    print(f"{'eokit predict_scene (GeoTIFF->COG)':<34}{rates['eokit']:>9.3f}{rss_small:>10.0f}")
    print(f"eokit {args.size}^2: peak +{rss_small:.0f} MiB; {args.large_size}^2: "
          f"{f'+{rss_large:.0f} MiB' if rss_large is not None else 'n/a'} ({large_note})")
    cpu = {k: min(x.get("cpu_s", float("nan")) for x in v) for k, v in runs.items() if v}
    print("CPU-seconds (best run; all threads; less sensitive to a shared CPU): "
          + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items())
          + (f"; eokit/terratorch CPU ratio {cpu['terratorch'] / cpu['eokit']:.2f}" if "terratorch" in cpu else "")
          + f"; eokit vs floor {cpu['floor'] / cpu['eokit']:.2f}")
    print(f"batch {BATCH} tiles of {CROP} px, stride {STRIDE}; eokit forward passes of "
          f"{args.forward_batch or 'the default (2 on CPU)'} tiles")
    print(f"allocator: {' '.join(f'{k}={v}' for k, v in MALLOC_ENV.items())} in every contender's subprocess; "
          f"times: best of {args.repeat}; spread eokit "
          f"{statistics.pstdev([x['seconds'] for x in runs['eokit']]):.1f} s")
    result = {
        "eokit_mpix_s": round(rates["eokit"], 4),
        "terratorch_mpix_s": round(tt, 4) if tt else None,
        "floor_mpix_s": round(rates["floor"], 4),
        "ratio": round(rates["eokit"] / tt, 3) if tt else None,
        "ratio_vs_floor": round(rates["eokit"] / rates["floor"], 3),
        "floor_optimized_mpix_s": round(rates["floor_optimized"], 4),
        "ratio_vs_optimized_floor": round(rates["eokit"] / rates["floor_optimized"], 3),
        "rss_small_mb": round(rss_small, 1),
        "rss_large_mb": round(rss_large, 1) if rss_large is not None else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
