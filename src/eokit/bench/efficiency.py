"""Efficiency of a model at a dataset's input size: parameters, FLOPs, CPU throughput, peak memory.

- ``params``: number of parameters (0 for the pixel/index baselines);
- ``gflops``: forward FLOPs of one image, in 1e9, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts 2);
- ``throughput_ips``: images/s of feature extraction on CPU with the
  current torch thread count, median of ``repeats`` timed batches after a
  warm-up batch;
- ``peak_mem_mb``: peak resident-set growth (MiB) over the warm-up and timed batches,
  sampled every 2 ms from ``/proc/self/statm`` (torch allocates outside
  Python's heap, so tracemalloc would miss it); 0 where /proc is missing. Free heap
  memory is returned to the OS first (``eokit.env.release_free_memory``), so buffers an
  earlier job freed and the tuned allocator kept do not hide this model's working memory.

Rows use protocol ``'efficiency'`` with these metric names (the report's
``eokit.bench.aggregate.EFFICIENCY_METRICS``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np
import torch

from eokit.env import release_free_memory

EFFICIENCY_METRICS = ("params", "gflops", "throughput_ips", "peak_mem_mb")


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class PeakRSS:
    """Context manager: ``peak_mb`` = max RSS seen while inside, minus RSS on entry."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak = 0
        self.base = 0
        self._stop = threading.Event()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = _rss_bytes()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def peak_mb(self) -> float:
        return max(0, self.peak - self.base) / 2**20


def count_flops(fn: Any, x: torch.Tensor) -> float:
    """FLOPs of ``fn(x)`` (torch ops only)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        fn(x)
    return float(counter.get_total_flops())


def measure(extractor: Any, images: np.ndarray, repeats: int = 3) -> dict[str, float]:
    """Efficiency metrics of ``extractor`` on a batch of raw images (N, C, H, W)."""
    from eokit.bench import features as feat

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    model = getattr(extractor, "model", None)
    params = float(sum(p.numel() for p in model.parameters())) if model is not None else 0.0
    calls = feat.STATS["backbone_calls"]
    times = []
    release_free_memory()  # the base RSS must not hold buffers an earlier job freed (tuned allocator)
    with PeakRSS() as mem:
        extractor.extract(x)  # warm-up (inside: the first batch allocates the working memory)
        for _ in range(repeats):
            t0 = time.perf_counter()
            extractor.extract(x)
            times.append(time.perf_counter() - t0)
    flops = count_flops(extractor.extract, x[:1])
    feat.STATS["backbone_calls"] = calls  # timing passes are not feature extraction
    return {"params": params, "gflops": flops / 1e9, "throughput_ips": len(x) / float(np.median(times)),
            "peak_mem_mb": mem.peak_mb}
