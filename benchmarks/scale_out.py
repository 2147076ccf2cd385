#!/usr/bin/env python
"""Scaling out: the same work in-process, on Dask LocalClusters of 1 and 2 workers, and on an
external ``dask scheduler`` + ``dask worker`` cluster started on loopback.

Two workloads, each run through the library call its CLI command makes:

* ``predict``: ``eokit.infer.predict_scenes`` (``eokit predict CKPT S1..S8 -o DIR``) maps 8 scenes
  with a U-Net checkpoint (4 bands in, 3 classes, base 16 channels, depth 3; seeded random weights,
  loaded by path on every worker). The scenes are the real Landsat-8 crop of the mirror
  (``scenes/landsat8_LC80200392015216``, bands B2-B5, 627 x 603 px) repeated ``--scene-tiles`` K x K
  times, mirrored so that it joins seamlessly (default K = 3: 1881 x 1809 px), in 8 orientations
  (the dihedral group), written once as tiled DEFLATE GeoTIFFs under ``$EOKIT_CACHE/bench/scale_out``.
  Work of this size per command amortises the cluster's fixed cost (start and close, ~2-3 s); with
  ``--scene-tiles 1`` (4-6 s of work in-process) that cost decides the efficiency instead.
* ``bench``: ``eokit.bench.run_suite`` (``eokit bench --suite FILE``) on a small grid over real
  mirror data: 3 backbones (resnet18, mobilecnn, mobilecnn x0.5; random init) x 2 datasets
  (EuroSAT MS subset, EuroSAT RGB ``--bench-items`` train / half as many test, default 4800 / 2400)
  x 2 protocols (knn5, linear), one seed: 6 feature tasks and 12 evaluation tasks. The decoded
  datasets are cached once before timing (``$EOKIT_CACHE/bench/data``); the feature cache is emptied
  before every run, so every run extracts every feature set again. The default is sized as the
  predict workload is (~40 s of work in-process): a command that starts its own LocalCluster pays a
  fixed ~4 s (the workers' imports, each fresh worker's first tasks); with ``--bench-items 1200``
  (~12 s of work) that cost decides the efficiency instead (0.72 here, the work alone 0.82).

Settings: ``here`` (in this process, torch on 1 thread), ``local-1``/``local-2`` (the LocalCluster
eokit starts itself: ``--workers 1|2``, processes, 1 thread each, forked from eokit's forkserver;
each run in a fresh Python process, as each command is, which starts the workers' forkserver
first so that its imports overlap the driver's; the timed part includes the cluster's start with
what is left of the forkserver's imports, and its close; ``EOKIT_WORKER_START=spawn`` gives Dask's
default for a before/after), ``ext-1``/``ext-2`` (``--scheduler tcp://127.0.0.1:PORT``: a scheduler and 1 or 2
``dask worker`` processes, 1 thread each, started by this script before the rounds, warmed by one
untimed run of each workload, kept across rounds as a long-lived cluster is, paused (SIGSTOP) while
any other setting is timed, so that their idle heartbeats take nothing from its cores, as a cluster
on other machines would not, and shut down at the end, also on error, Ctrl-C or SIGTERM). Every
address is 127.0.0.1.

Rounds are interleaved (every setting of every workload once per round, the order rotated per
round); each figure is the median of the rounds, with min-max beside it. Speed-up and scaling
efficiency (speed-up / workers) compare 2 workers with 1 worker of the same path; the overhead of
a distributed path is its 1-worker time over the in-process time. The outputs of every run are
checked against the in-process run (same class maps, same result rows). For the bench the script also
splits every run's wall time (from ``OUT/timings.json``) into the cluster's **start** (``"cluster"``: until
the LocalCluster's workers are up, or the connect to the external scheduler), the **work** (``"grid"``
less the start: from workers up to the last job stored) and the rest (planning, export, the close),
and gives the scaling efficiency of the work alone (``efficiency_local_work``, ``efficiency_ext_work``):
which part of a loss is the fixed cost of a command and which the sharing of the work.

Usage: EOKIT_DATA=/path/to/mirror python benchmarks/scale_out.py [--rounds 3]
Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SETTINGS = ("here", "local-1", "local-2", "ext-1", "ext-2")
WORKLOADS = ("predict", "bench")
BANDS = ("B2", "B3", "B4", "B5")
L8 = "scenes/landsat8_LC80200392015216"
CROP, STRIDE = 256, 224
TARGET_EFFICIENCY = 0.8

SUITE = """\
name: scale_out
description: the bench workload of benchmarks/scale_out.py (6 feature tasks, 12 evaluations)
models:
  - {name: resnet18, arch: resnet18}
  - {name: mobilecnn, arch: mobilecnn}
  - {name: mobilecnn_half, arch: mobilecnn, options: {width: 0.5}}
datasets:
  - name: eurosat_ms
    spec: eurosat_ms
    loader: image_folder
    kwargs: {root: classification/eurosat_ms_subset, sensor: sentinel2_l1c, name: eurosat_ms_subset}
  - name: eurosat_rgb
    spec: eurosat_rgb
    loader: image_folder
    kwargs: {root: classification/eurosat_rgb, sensor: rgb, name: eurosat_rgb}
    train: {split: train, max_items: TRAIN_ITEMS}
    test: {split: test, max_items: TEST_ITEMS}
protocols: [knn5, linear]
fractions: [1.0]
seeds: [0]
baselines: false
efficiency: {enabled: false}
"""


def workers_of(setting: str) -> int:
    return 1 if setting == "here" else int(setting.rsplit("-", 1)[1])


# -- inputs (made once, untimed) ------------------------------------------------------------------
def scene_paths(root: Path, n: int, tiles: int) -> list[Path]:
    return [root / (f"l8_{i}.tif" if tiles == 1 else f"l8_{i}_x{tiles}.tif") for i in range(n)]


def make_scenes(root: Path, mirror: Path, n: int, tiles: int = 1) -> list[Path]:
    """``n`` (<= 8) 4-band GeoTIFFs: the Landsat-8 crop of the mirror in the 8 dihedral orientations;
    ``tiles`` > 1 repeats the crop ``tiles`` x ``tiles`` times, mirrored so that it joins seamlessly."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from eokit.io import atomic_path

    if not 1 <= n <= 8:
        raise SystemExit(f"--scenes {n}: 1 to 8 (the 8 orientations of the Landsat-8 crop)")
    paths = scene_paths(root, n, tiles)
    if all(p.exists() for p in paths):
        return paths
    arrays = []
    for b in BANDS:
        with rasterio.open(mirror / L8 / f"l8_{b}.tif") as ds:
            arrays.append(ds.read(1))
            crs, t = ds.crs, ds.transform
    base = np.stack(arrays)
    row = np.concatenate([base if j % 2 == 0 else base[:, :, ::-1] for j in range(tiles)], axis=2)
    base = np.concatenate([row if i % 2 == 0 else row[:, ::-1] for i in range(tiles)], axis=1)
    root.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(paths):
        a = np.rot90(base, k=i % 4, axes=(1, 2))
        a = np.ascontiguousarray(a[:, :, ::-1] if i >= 4 else a)
        # side by side on the ground, so every scene has its own footprint
        transform = from_origin(t.c + i * 20_000.0, t.f, t.a, -t.e)
        prof = dict(driver="GTiff", width=a.shape[2], height=a.shape[1], count=len(BANDS), dtype=a.dtype.name,
                    crs=crs, transform=transform, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
        with atomic_path(p) as tmp, rasterio.open(tmp, "w", **prof) as ds:
            ds.write(a)
            for j, b in enumerate(BANDS, start=1):
                ds.set_band_description(j, b)
    return paths


def make_checkpoint(root: Path) -> Path:
    """A seeded U-Net checkpoint in eokit's format (what ``eokit train`` writes)."""
    from dataclasses import replace

    import torch

    from eokit.models import create_model
    from eokit.train import save_checkpoint

    folder = root / "unet_checkpoint"
    if (folder / "config.json").exists():
        return folder
    torch.manual_seed(0)
    model = create_model("unet", task="segmentation", bands=list(BANDS), num_classes=3, sensor="landsat8",
                         base_channels=16, depth=3)
    meta = {"model": model.config, "task": {"name": "segmentation", "num_classes": 3},
            "contract": replace(model.data_contract, classes=("water", "land", "cloud"))}
    return save_checkpoint(folder, model, meta)


# -- the external cluster -------------------------------------------------------------------------
def _warm() -> bool:
    """On a worker: import what the tasks import, and load the model catalogue (a long-lived
    cluster has done so long ago)."""
    import eokit.bench.runner
    import eokit.infer.predict  # noqa: F401
    from eokit.models.registry import ARCHS

    return len(ARCHS.names()) > 0


class ExternalCluster:
    """``dask scheduler`` and ``n`` ``dask worker`` processes on 127.0.0.1, stopped on exit."""

    def __init__(self, n: int, root: Path) -> None:
        self.n, self.root = n, root
        self.procs: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def _spawn(self, args: list[str], log: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        fh = open(self.root / log, "wb")  # noqa: SIM115 - closed with the process in stop()
        p = subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=fh, stderr=subprocess.STDOUT, env=env,
                             cwd=self.root)
        fh.close()  # the child holds its own descriptor
        self.procs.append(p)
        return p

    def _tail(self, log: str) -> str:
        path = self.root / log
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:]) if path.exists() else ""

    def start(self) -> str:
        from distributed import Client

        from eokit.env import allocator_env

        self.root.mkdir(parents=True, exist_ok=True)
        sfile = self.root / "scheduler.json"
        sfile.unlink(missing_ok=True)
        # paused for minutes while other settings run (see pause): its workers must not be timed out meanwhile
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": "1 hour"}
        sched = self._spawn(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                             "--scheduler-file", str(sfile)], "scheduler.log", env)
        deadline = time.monotonic() + 60
        while not sfile.exists():
            if sched.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start: {self._tail('scheduler.log')}")
            time.sleep(0.1)
        while True:  # the file is written once the scheduler listens; it may be read half-written
            with contextlib.suppress(json.JSONDecodeError):
                self.address = json.loads(sfile.read_text())["address"]
                break
            time.sleep(0.1)
        if not self.address.startswith("tcp://127.0.0.1:"):
            raise RuntimeError(f"the scheduler listens on {self.address}, not on loopback")
        # what Dask's nanny exports to the workers it spawns (one BLAS/OpenMP thread), plus
        # eokit's allocator settings (as run_suite's LocalCluster sets them)
        wenv = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                **allocator_env()}
        for i in range(self.n):
            self._spawn(["worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-nanny",
                         "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{i}",
                         "--local-directory", str(self.root / f"w{i}")], f"worker{i}.log", wenv)
        with Client(self.address, timeout=60) as client:
            try:
                client.wait_for_workers(self.n, timeout=120)
            except TimeoutError:
                raise RuntimeError(f"{self.n} dask workers did not join {self.address}: "
                                   f"{self._tail('worker0.log')}") from None
            client.run(_warm)
        return self.address

    def pause(self) -> None:
        """SIGSTOP the scheduler and workers while another setting is timed: idle, two clusters' heartbeats
        and event loops took ~9 % of a core here (2.6 CPU-s in 30 s), which a cluster on other machines
        would not take from this one's cores."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, sig)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Resumed for the duration of the block, paused again after it."""
        self.resume()
        try:
            yield
        finally:
            self.pause()

    def stop(self) -> None:
        """Ask the scheduler to shut the cluster down; kill what is left after 15 s."""
        self.resume()
        if self.address and self.procs and self.procs[0].poll() is None:
            with contextlib.suppress(Exception):
                from distributed import Client

                with Client(self.address, timeout=10) as client:
                    client.shutdown()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def __enter__(self) -> ExternalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the timed runs -------------------------------------------------------------------------------
def maps_digest(out: Path, scenes: list[Path]) -> str:
    """sha1 of the class bands of every map under ``out`` (in scene order)."""
    import rasterio

    h = hashlib.sha1()
    for s in scenes:
        with rasterio.open(out / f"{s.stem}.tif") as ds:
            h.update(ds.read(1).tobytes())
    return h.hexdigest()


def rows_digest(out: Path) -> tuple[int, str]:
    """(number of result rows, sha1 of their keys and values to 6 decimals)."""
    import pandas as pd

    df = pd.read_csv(out / "results.csv").sort_values(["job_key", "metric"])
    text = "\n".join(f"{k} {m} {v:.6f}" for k, m, v in zip(df.job_key, df.metric, df.value, strict=True))
    return len(df), hashlib.sha1(text.encode()).hexdigest()


def run_predict(ckpt: Path, scenes: list[Path], out: Path, scheduler: str | None, workers: int) -> tuple[float, str]:
    from eokit.infer import PredictOptions, predict_scenes

    opts = PredictOptions.of(crop=CROP, stride=STRIDE)
    t = time.perf_counter()
    res = predict_scenes(str(ckpt), [str(s) for s in scenes], out, opts, scheduler=scheduler, n_workers=workers)
    wall = time.perf_counter() - t
    if len(res) != len(scenes):
        raise RuntimeError(f"predict mapped {len(res)} of {len(scenes)} scenes")
    return wall, maps_digest(out, scenes)


def run_bench(suite: Path, cache: Path, out: Path, scheduler: str | None, workers: int) -> tuple[float, str]:
    from eokit.bench import data as bench_data
    from eokit.bench.runner import run_suite

    for sub in ("features", "corrupted"):  # every run extracts every feature set
        shutil.rmtree(cache / "bench" / sub, ignore_errors=True)
    bench_data._MEMO.clear()  # the driver reads the decoded data from the disk cache, as workers do
    t = time.perf_counter()
    s = run_suite(suite, out, scheduler=scheduler, workers=workers)
    wall = time.perf_counter() - t
    if s.failed or s.computed == 0:
        raise RuntimeError(f"bench run failed: {s.failed or 'nothing computed'}")
    n, digest = rows_digest(out)
    return wall, f"{n} rows {digest}"


def run_phases(out: Path) -> tuple[float, float]:
    """(start, work) seconds of a bench run from ``OUT/timings.json``: the cluster's start (``cluster``;
    0 in-process) and the grid after it (``grid`` less the start)."""
    t = json.loads((out / "timings.json").read_text())
    start = float(t.get("cluster", 0.0))
    return start, float(t["grid"]) - start


def cpu_self() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> float:
    """User + system CPU seconds of this process's reaped descendants."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def forkserver_cpu() -> float:
    """CPU seconds of this process's multiprocessing forkserver and the workers it reaped (Linux)."""
    import multiprocessing.forkserver as mpfs

    pid = getattr(mpfs._forkserver, "_forkserver_pid", None)
    stat = Path(f"/proc/{pid}/stat")
    if not pid or not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()  # fields[0] is the state (field 3)
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def cluster_cpu(address: str) -> float:
    """CPU seconds so far of an external cluster's scheduler and worker processes."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        workers = client.run(cpu_self)
        sched = client.run_on_scheduler(cpu_self)
    return float(sum(workers.values()) + sched)


def run_child(workload: str, out: Path, workers: int, scenes: int, tiles: int = 1) -> tuple[float, float, str]:
    """One LocalCluster run in a fresh Python process, as one ``eokit predict|bench --workers N``
    command is: the workers' forkserver is started first (as the commands do), so its imports
    overlap the driver's; the driver's imports are not timed; the cluster's start (whatever of
    the forkserver's imports is left), the work and the cluster's close are; so is the CPU time
    of all of it (the driver's, the forkserver's with its imports, and its workers')."""
    cmd = [sys.executable, __file__, "--child", workload, "--child-out", str(out), "--child-workers",
           str(workers), "--scenes", str(scenes), "--scene-tiles", str(tiles)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise RuntimeError(f"{workload} with a LocalCluster of {workers} failed: {tail or proc.returncode}")
    res = json.loads(lines[-1][len("RESULT "):])
    return float(res["wall"]), float(res["cpu"]), str(res["digest"])


def child(args: argparse.Namespace) -> None:
    """``--child``: the body of :func:`run_child` (inputs made by the parent, same cache)."""
    from eokit.env import (
        BENCH_PRELOAD,
        PREDICT_PRELOAD,
        cache_dir,
        limit_threads,
        prepare_workers,
        tune_allocator,
    )

    # as `eokit predict|bench --workers N` does first: the workers' server imports while this process imports
    prepare_workers(PREDICT_PRELOAD if args.child == "predict" else BENCH_PRELOAD)
    cache = cache_dir()
    limit_threads(1)
    tune_allocator()
    scenes = scene_paths(cache / "scenes", args.scenes, args.scene_tiles)
    cpu_before = cpu_self() + cpu_children()
    if args.child == "predict":
        wall, digest = run_predict(cache / "unet_checkpoint", scenes, Path(args.child_out), None, args.child_workers)
    else:
        wall, digest = run_bench(cache / "suite.yaml", cache, Path(args.child_out), None, args.child_workers)
    time.sleep(0.2)  # the forkserver reaps the last worker
    cpu = cpu_self() + cpu_children() + forkserver_cpu() - cpu_before
    print("RESULT " + json.dumps({"wall": wall, "digest": digest, "cpu": cpu}), flush=True)


@contextlib.contextmanager
def sigterm_exits() -> Iterator[None]:
    """SIGTERM raises SystemExit, so the external cluster is shut down by its ``finally``."""
    old = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def summarise(times: dict[str, list[float]], phases: dict[str, list[tuple[float, float]]] | None = None
              ) -> dict[str, Any]:
    """Medians, speed-ups, efficiencies and overheads; with ``phases`` ((start, work) per run,
    :func:`run_phases`) also ``start_s``, ``work_s`` and ``efficiency_{path}_work``, the efficiency of the
    work alone."""
    med = {k: statistics.median(v) for k, v in times.items() if v}
    out: dict[str, Any] = {f"{k.replace('-', '')}_s": round(v, 2) for k, v in med.items()}
    if phases and any(phases.values()):
        for i, name in enumerate(("start_s", "work_s")):
            out[name] = {k.replace("-", ""): round(statistics.median(p[i] for p in v), 2)
                         for k, v in phases.items() if v}
        for path in ("local", "ext"):
            one, two = out["work_s"].get(f"{path}1"), out["work_s"].get(f"{path}2")
            if one and two:
                out[f"efficiency_{path}_work"] = round(one / two / 2, 3)
    for path in ("local", "ext"):
        one, two = med.get(f"{path}-1"), med.get(f"{path}-2")
        if one and two:
            out[f"speedup_{path}"] = round(one / two, 3)
            out[f"efficiency_{path}"] = round(one / two / 2, 3)
        if one and med.get("here"):
            out[f"overhead_{path}"] = round(one / med["here"] - 1, 3)
        if two and med.get("here"):
            out[f"efficiency_{path}_vs_here"] = round(med["here"] / two / 2, 3)
    return out


def print_table(name: str, times: dict[str, list[float]], s: dict[str, Any], cpus: dict[str, list[float]]) -> None:
    here = statistics.median(times["here"]) if times.get("here") else None
    print(f"\n{name}: wall seconds, median of {max(len(v) for v in times.values())} rounds (min-max)")
    print(f"{'setting':<10}{'workers':>8}{'median s':>10}{'min-max s':>15}{'speed-up':>10}{'efficiency':>12}"
          f"{'vs here':>9}{'CPU-s':>8}")
    for k in SETTINGS:
        v = times.get(k)
        if not v:
            continue
        med = statistics.median(v)
        path, n = (k.split("-")[0], workers_of(k)) if k != "here" else ("here", 1)
        one = times.get(f"{path}-1")
        sp = statistics.median(one) / med if one and n == 2 else None
        print(f"{k:<10}{n:>8}{med:>10.2f}{f'{min(v):.2f}-{max(v):.2f}':>15}"
              f"{f'{sp:.2f}x' if sp else '':>10}{f'{sp / 2:.2f}' if sp else '':>12}"
              f"{f'{here / med:.2f}x' if here else '':>9}{statistics.median(cpus[k]):>8.1f}")
    for path, label in (("local", "LocalCluster"), ("ext", "external cluster")):
        if f"overhead_{path}" in s:
            print(f"overhead of the {label} path with 1 worker vs in-process: {100 * s[f'overhead_{path}']:+.0f} %")
    if "start_s" in s:
        print("\nphases, median s (start: until the workers are up; work: from then to the last job stored;"
              " rest: planning, export, close)")
        print(f"{'setting':<10}{'start s':>10}{'work s':>10}{'rest s':>10}")
        for k, start in s["start_s"].items():
            work = s["work_s"][k]
            print(f"{k:<10}{start:>10.2f}{work:>10.2f}{s[f'{k}_s'] - start - work:>10.2f}")
        print("efficiency of the work alone: " + ", ".join(
            f"{p} {s[f'efficiency_{p}_work']:.2f}" for p in ("local", "ext") if f"efficiency_{p}_work" in s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scenes", type=int, default=8, help="scenes of the predict workload (1-8)")
    ap.add_argument("--scene-tiles", type=int, default=3,
                    help="each predict scene is the Landsat-8 crop repeated K x K times (1: the crop itself)")
    ap.add_argument("--bench-items", type=int, default=4800,
                    help="EuroSAT RGB training items of the bench workload (test: half as many)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma list of: predict, bench")
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"comma list of: {', '.join(SETTINGS)}")
    ap.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    ap.add_argument("--child-workers", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    workloads = [w for w in args.workloads.split(",") if w]
    settings = [s for s in args.settings.split(",") if s]
    if unknown := sorted(set(workloads) - set(WORKLOADS)) + sorted(set(settings) - set(SETTINGS)):
        raise SystemExit(f"unknown workload/setting {unknown}; workloads {WORKLOADS}, settings {SETTINGS}")

    from eokit.env import cache_dir, data_root

    mirror = data_root()
    if not (mirror / L8 / "l8_B2.tif").exists():
        raise SystemExit(f"the mirror is not at {mirror} (set EOKIT_DATA): {L8}/l8_B2.tif is missing")
    # one cache for this script, its LocalCluster workers and its external workers (they inherit it)
    cache = cache_dir() / "bench" / "scale_out"
    os.environ["EOKIT_CACHE"] = str(cache)
    import torch

    from eokit.env import limit_threads, tune_allocator

    limit_threads(1)  # the in-process runs use one thread, as each worker does
    tune_allocator()
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    scenes = make_scenes(cache / "scenes", mirror, args.scenes, args.scene_tiles)
    ckpt = make_checkpoint(cache)
    suite = cache / "suite.yaml"
    suite.write_text(SUITE.replace("TRAIN_ITEMS", str(args.bench_items)).replace("TEST_ITEMS", str(args.bench_items // 2)))
    if "bench" in workloads:  # decode the datasets once into the disk cache (untimed)
        from eokit.bench.config import load_suite
        from eokit.bench.runner import plan

        plan(load_suite(suite))
    print(f"inputs ready in {time.perf_counter() - t0:.0f} s: {len(scenes)} scenes, checkpoint {ckpt}, "
          f"torch {torch.__version__} on {torch.get_num_threads()} thread here", flush=True)

    times: dict[str, dict[str, list[float]]] = {w: {s: [] for s in settings} for w in workloads}
    cpus: dict[str, dict[str, list[float]]] = {w: {s: [] for s in settings} for w in workloads}
    phases: dict[str, list[tuple[float, float]]] = {s: [] for s in settings}  # bench: (start, work) per run
    digests: dict[tuple[str, str], set[str]] = {}
    ext_n = sorted({workers_of(s) for s in settings if s.startswith("ext")})
    with sigterm_exits(), tempfile.TemporaryDirectory(prefix="eokit-scale-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        externals: dict[int, ExternalCluster] = {}
        for n in ext_n:
            t = time.perf_counter()
            externals[n] = stack.enter_context(ExternalCluster(n, work / f"external{n}"))
            print(f"external cluster of {n} worker(s) at {externals[n].address} ready in {time.perf_counter() - t:.1f} s",
                  flush=True)
        runners: dict[str, Callable[[str, Path, str | None, int], tuple[float, str]]] = {
            "predict": lambda s, out, sch, n: run_predict(ckpt, scenes, out, sch, n),
            "bench": lambda s, out, sch, n: run_bench(suite, cache, out, sch, n),
        }
        for w in workloads:  # one untimed run per external cluster: workers load the model, read the data
            for s in settings:
                if s.startswith("ext"):
                    t = time.perf_counter()
                    if w == "predict":  # one scene per worker loads the model everywhere
                        run_predict(ckpt, scenes[:workers_of(s)], work / f"warmup-{w}-{s}", externals[workers_of(s)].address, 0)
                    else:
                        runners[w](s, work / f"warmup-{w}-{s}", externals[workers_of(s)].address, workers_of(s))
                    shutil.rmtree(work / f"warmup-{w}-{s}", ignore_errors=True)
                    print(f"warm-up  {w:<8} {s:<8} {time.perf_counter() - t:7.2f} s (not counted)", flush=True)
        for cluster in externals.values():  # each runs only while its own setting is timed
            cluster.pause()
        for r in range(args.rounds):
            order = settings[r % len(settings):] + settings[:r % len(settings)]
            for w in workloads:
                for s in order:
                    n = workers_of(s)
                    ext = externals[n] if s.startswith("ext") else None
                    scheduler = ext.address if ext else None
                    n_workers = 0 if s == "here" else n
                    out = work / f"{w}-{s}-{r}"
                    if s.startswith("local"):
                        wall, cpu, digest = run_child(w, out, n, len(scenes), args.scene_tiles)
                    else:
                        with ext.running() if ext else contextlib.nullcontext():
                            c0 = cpu_self() + (cluster_cpu(scheduler) if scheduler else 0.0)
                            wall, digest = runners[w](s, out, scheduler, n_workers)
                            cpu = cpu_self() + (cluster_cpu(scheduler) if scheduler else 0.0) - c0
                    if w == "bench":
                        phases[s].append(run_phases(out))
                    shutil.rmtree(out, ignore_errors=True)
                    times[w][s].append(wall)
                    cpus[w][s].append(cpu)
                    digests.setdefault((w, digest), set()).add(s)
                    print(f"round {r + 1} {w:<8} {s:<8} {wall:7.2f} s  {cpu:7.2f} CPU-s   "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
    load1 = os.getloadavg()
    results: dict[str, Any] = {}
    for w in workloads:
        s = summarise(times[w], phases if w == "bench" else None)
        s["cpu_s"] = {k.replace("-", ""): round(statistics.median(v), 2) for k, v in cpus[w].items() if v}
        results[w] = s
        print_table(w, times[w], s, cpus[w])
        outputs = [d for (ww, d) in digests if ww == w]
        s["same_outputs"] = len(outputs) == 1
        print("outputs: identical in every run" if len(outputs) == 1 else f"outputs DIFFER between runs: {outputs}")
    print(f"\nload average (1 min) {load0[0]:.1f} at the start, {load1[0]:.1f} at the end, on {os.cpu_count()} "
          "CPUs shared with other processes: wall times include their interference")
    print(f"target: scaling efficiency >= {TARGET_EFFICIENCY} at 2 workers (speed-up of 2 workers over 1 on "
          "the same path, / 2)")
    effs = {f"{w}_{p}": results[w][f"efficiency_{p}"] for w in workloads for p in ("local", "ext")
            if f"efficiency_{p}" in results[w]}
    print(json.dumps({**results, "rounds": args.rounds, "scenes": len(scenes),
                      "scene_tiles": args.scene_tiles, "bench_items": args.bench_items, "cpus": os.cpu_count(),
                      "load_start": round(load0[0], 2), "load_end": round(load1[0], 2),
                      "target_efficiency": TARGET_EFFICIENCY,
                      "target_met": {k: v >= TARGET_EFFICIENCY for k, v in effs.items()}}))


if __name__ == "__main__":
    main()
