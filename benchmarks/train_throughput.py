"""Training throughput (images/s): eokit's Lightning loop vs TorchGeo's ClassificationTask vs a bare PyTorch loop.

Same model (eokit's ResNet-18 for 13 Sentinel-2 bands, 10 classes; TorchGeo's
task gets this very module), same optimiser (AdamW, lr 1e-3, wd 1e-4, no
scheduler), batch 32 of 64x64x13, 2 torch threads, data in memory (the real
EuroSAT-MS subset of the mirror, preloaded and normalised once).

- floor: bare loop, batches sliced from one preloaded tensor, forward/loss/backward/step.
- eokit: ``EOTaskModule`` (task loss, logging, output check) in a Lightning Trainer over a
  DataLoader of in-memory Samples with eokit's collate.
- torchgeo: ``torchgeo.trainers.ClassificationTask`` (its training_step: loss + its
  train metrics every step) in the same Trainer over the same kind of DataLoader.

Each is timed ``--rounds`` times, interleaved (the CPU is shared), skipping
``--warmup`` steps; the median is reported. Needs torchgeo (``make bench-deps``).
OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless set): on a shared,
oversubscribed CPU, spinning OpenMP threads made every loop ~10x slower, the same for all three.

    python benchmarks/train_throughput.py [--steps 30] [--warmup 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP pool
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

BATCH = 32
THREADS = 2


def load_data(root: Path) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    from eokit.datasets.base import get_dataset
    from eokit.transforms import NormalizeBands

    ds = get_dataset("image_folder", root=root / "classification" / "eurosat_ms_subset", split="train",
                     sensor="sentinel2_l1c")
    samples = [ds[i] for i in range(len(ds))]
    bands = samples[0]["bands"]
    norm = NormalizeBands.from_sensor("sentinel2_l1c", bands)
    x = torch.stack([norm(s)["image"] for s in samples])
    y = torch.stack([s["label"] for s in samples])
    return x, y, bands


def make_model(bands: tuple[str, ...]) -> torch.nn.Module:
    from eokit.models import create_model

    torch.manual_seed(0)
    return create_model("resnet18", task="classification", bands=bands, sensor="sentinel2_l1c", num_classes=10)


def optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)


class InMemory(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, bands: tuple[str, ...] | None) -> None:
        self.x, self.y, self.bands = x, y, bands

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        s = {"image": self.x[i], "label": self.y[i]}
        if self.bands is not None:
            s["bands"] = self.bands
        return s


def time_floor(x: torch.Tensor, y: torch.Tensor, bands: tuple[str, ...], steps: int, warmup: int) -> float:
    model = make_model(bands).train()
    opt = optimizer(model)
    g = torch.Generator().manual_seed(0)
    n = len(x)
    t0 = None
    for step in range(steps + warmup):
        if step == warmup:
            t0 = time.perf_counter()
        idx = torch.randint(0, n, (BATCH,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * BATCH / (time.perf_counter() - t0)


class Timer:
    """Lightning callback: wall time of training batches after ``warmup``."""

    def __new__(cls, warmup: int):
        import lightning as L

        class _Timer(L.Callback):
            def __init__(self) -> None:
                self.t0: float | None = None
                self.t1: float | None = None
                self.count = 0

            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
                if trainer.global_step == warmup and self.t0 is None:
                    self.t0 = time.perf_counter()

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
                if self.t0 is not None:
                    self.count += 1
                    self.t1 = time.perf_counter()

        return _Timer()


def run_lightning(module, loader, steps: int, warmup: int) -> float:
    import lightning as L

    timer = Timer(warmup)
    trainer = L.Trainer(max_steps=steps + warmup, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0, callbacks=[timer])
    trainer.fit(module, train_dataloaders=loader)
    return timer.count * BATCH / (timer.t1 - timer.t0)


def time_eokit(x: torch.Tensor, y: torch.Tensor, bands: tuple[str, ...], steps: int, warmup: int) -> float:
    from eokit.tasks import get_task
    from eokit.train.config import OptimConfig
    from eokit.train.data import collate
    from eokit.train.module import EOTaskModule

    module = EOTaskModule(make_model(bands), get_task("classification", num_classes=10),
                          OptimConfig(optimizer="adamw", lr=1e-3, weight_decay=1e-4, scheduler="none"))
    loader = torch.utils.data.DataLoader(InMemory(x, y, bands), batch_size=BATCH, shuffle=True, drop_last=True,
                                         collate_fn=collate, generator=torch.Generator().manual_seed(0))
    return run_lightning(module, loader, steps, warmup)


def time_torchgeo(x: torch.Tensor, y: torch.Tensor, bands: tuple[str, ...], steps: int, warmup: int) -> float:
    from torchgeo.trainers import ClassificationTask

    task = ClassificationTask(model="resnet18", weights=None, in_channels=13, num_classes=10, lr=1e-3)
    task.model = make_model(bands)  # the same module as eokit's and the floor's
    task.configure_optimizers = lambda: optimizer(task.model)  # same optimiser, no plateau scheduler
    loader = torch.utils.data.DataLoader(InMemory(x, y, None), batch_size=BATCH, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(0))
    return run_lightning(task, loader, steps, warmup)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=os.environ.get("EOKIT_DATA", "../shared/data"))
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    try:
        import torchgeo  # noqa: F401
    except ImportError:
        sys.exit("torchgeo is not installed: run `make bench-deps` (installs the 'compare' extra)")
    x, y, bands = load_data(Path(args.data))
    runs: dict[str, list[float]] = {"floor": [], "eokit": [], "torchgeo": []}
    fns = {"floor": time_floor, "eokit": time_eokit, "torchgeo": time_torchgeo}
    for r in range(args.rounds):
        for name, fn in fns.items():
            ips = fn(x, y, bands, args.steps, args.warmup)
            runs[name].append(ips)
            print(f"round {r + 1}: {name:9s} {ips:7.1f} images/s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\nResNet-18, 64x64x13, batch {BATCH}, {THREADS} threads, {args.steps} timed steps x {args.rounds} rounds "
          f"(median); torch {torch.__version__}")
    print(f"{'loop':10s} {'images/s':>9s} {'vs floor':>9s}  runs")
    for k in ("floor", "eokit", "torchgeo"):
        print(f"{k:10s} {med[k]:9.1f} {med[k] / med['floor']:9.3f}  {[round(v, 1) for v in runs[k]]}")
    print(json.dumps({"eokit_ips": round(med["eokit"], 2), "torchgeo_ips": round(med["torchgeo"], 2),
                      "floor_ips": round(med["floor"], 2), "ratio": round(med["eokit"] / med["torchgeo"], 3),
                      "ratio_vs_floor": round(med["eokit"] / med["floor"], 3)}))


if __name__ == "__main__":
    main()
