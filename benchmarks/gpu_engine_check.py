#!/usr/bin/env python
"""GPU check of eokit's inference engines (< 60 s on one GPU; needs only torch and numpy besides eokit's source).

The benchmark's U-Net (13 bands -> 10 classes, 16/32/64 channels) maps batches of 16 tiles of
256 px on the GPU through ``eokit.models.engine.TorchEngine``, after eokit's model rewrite
(``eokit.infer.optimize``: batch norms folded, channels-last), in these configurations:

* ``fp32``: the reference; ``bf16`` and ``fp16``: torch autocast;
* ``bf16_compile``: ``torch.compile``; ``bf16_graphs``: ``torch.compile(mode='reduce-overhead')``
  (CUDA graphs) — each only while the time budget allows (compiling can take tens of seconds);

each fed from page-locked host memory with ``non_blocking`` copies (as ``eokit predict`` does
with a GPU) and also from pageable memory once (fp32), to show what pinning changes. It reports
tiles/s (median of 5 timed rounds after a warm-up), the share of pixels whose class matches fp32,
and, if eokit's full import works here (rasterio installed), one ``Predictor`` call with
``precision='bf16'`` through the accuracy guard. Prints one JSON line.

    python benchmarks/gpu_engine_check.py [--budget 50]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, rel: str):
    """Import one eokit module by file (``eokit.models``/``eokit.infer`` packages import rasterio)."""
    sys.path.insert(0, str(ROOT / "src"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "src" / rel)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=50.0, help="seconds; compile variants are skipped past it")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--cpu", action="store_true", help="smoke-test the script on the CPU (small batch, no compile)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    if not torch.cuda.is_available() and not args.cpu:
        print(json.dumps({"gpu": None, "error": "no CUDA device visible to torch"}))
        return
    engine = _load("eokit_engine_standalone", "eokit/models/engine.py")
    optimize = _load("eokit_optimize_standalone", "eokit/infer/optimize.py")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scene_inference import BANDS, CROP, build_unet

    dev = torch.device("cpu" if args.cpu else "cuda")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.backends.cudnn.benchmark = True
    model = build_unet().to(dev)
    x_host = torch.randn(args.batch, BANDS, CROP, CROP, generator=torch.Generator().manual_seed(0))
    fast, report = optimize.optimize_for_inference(model, x_host[:2].to(dev))
    pinned = x_host.pin_memory() if dev.type == "cuda" else x_host

    def run(eng, host: torch.Tensor, rounds: int = 5) -> tuple[float, torch.Tensor]:
        times = []
        with torch.inference_mode():
            for r in range(rounds + 1):
                sync()
                t = time.perf_counter()
                x = host.to(dev, non_blocking=True)
                if eng.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                y = eng(x)
                out = y.argmax(1).to("cpu", non_blocking=True)
                sync()
                if r:  # round 0 warms up (cuDNN autotuning, compilation)
                    times.append(time.perf_counter() - t)
        return args.batch / statistics.median(times), out

    results: dict[str, dict] = {}
    ref_cls = None
    variants = [("fp32", "fp32", {}), ("fp32_pageable", "fp32", {}), ("bf16", "bf16", {}), ("fp16", "fp16", {}),
                ("bf16_compile", "bf16", {"compile": True}), ("bf16_graphs", "bf16", {"cuda_graphs": True})]
    for name, precision, kw in variants:
        if kw and (dev.type != "cuda" or time.perf_counter() - t_start > args.budget * 0.4):
            results[name] = {"skipped": "time budget"}
            continue
        try:
            t = time.perf_counter()
            eng = engine.TorchEngine(fast, precision, channels_last=report.channels_last, **kw)
            tps, cls = run(eng, x_host if name == "fp32_pageable" else pinned)
            if ref_cls is None:
                ref_cls = cls
            results[name] = {"tiles_per_s": round(tps, 1), "agreement": round(float((cls == ref_cls).float().mean()), 5),
                             "setup_s": round(time.perf_counter() - t, 1)}
        except Exception as exc:  # report, do not hide: one variant failing must not lose the others
            results[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    guard = None
    if time.perf_counter() - t_start < args.budget * 0.8:
        try:
            from eokit.infer.ensemble import Predictor
            from eokit.models.contract import DataContract
            from eokit.models.engine import EngineOptions
            from scene_inference import contract

            c: DataContract = contract()
            pred = Predictor(build_unet(), c, device=str(dev), engine=EngineOptions("torch", "bf16"))
            pred.prepare(BANDS, CROP)
            raw = torch.rand(4, BANDS, CROP, CROP) * 3000
            rep = pred.use_engine((raw, torch.ones(4, CROP, CROP, dtype=torch.bool)))
            guard = rep.as_dict() if rep is not None else None
        except Exception as exc:  # rasterio (eokit's full import) may be missing on a bare GPU machine
            guard = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    print(json.dumps({"gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu (smoke test)",
                      "torch": torch.__version__, "batch": args.batch,
                      "crop": CROP, "bn_folded": report.folded, "channels_last": report.channels_last,
                      "variants": results, "predictor_guard_bf16": guard,
                      "seconds": round(time.perf_counter() - t_start, 1)}))


if __name__ == "__main__":
    main()
