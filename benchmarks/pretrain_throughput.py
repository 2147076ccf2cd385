"""Pretraining throughput (images/s): eokit's MAE through its Lightning loop vs a bare PyTorch loop.

Same model (MAE on ``dofa_tiny`` for the 13 Sentinel-2 bands, patch 8, SatMAE++ scales=1, 3 spectral
groups), same batch (``--batch`` chips of 64x64x13 in reflectance, the mirror's EuroSAT-MS subset preloaded
once), same optimiser (AdamW, lr 1.5e-4, wd 0.05), same precision (fp32 on CPU; bf16 autocast with
``--precision bf16-mixed``), same device.

- bare: ``for`` over random batches sliced from the preloaded tensor; ``method.training_loss`` ->
  zero_grad -> backward -> step -> ``method.after_step``.
- eokit: the method inside eokit's Lightning module over a DataLoader of the same chips (collated to a
  ``PretrainBatch``) in a ``lightning.Trainer``: ``eokit.pretrain.run.PretrainModule`` when that module
  exists, else ``MinimalPretrainModule`` below, which wraps the method the way the loop does (training_step
  = training_loss + logging of every scalar, after_step in on_train_batch_end, AdamW in
  configure_optimizers); the JSON line says which (``"loop"``).

Each loop is timed ``--rounds`` times (>= 3), interleaved (the CPU is shared), after ``--warmup`` steps; the
medians and the spread (min-max) are reported. OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE``).

    python benchmarks/pretrain_throughput.py [--steps 20] [--warmup 3] [--rounds 3] [--batch 32] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP pool
import logging
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

THREADS = 2
LR, WD = 1.5e-4, 0.05


def load_chips(root: Path) -> tuple[torch.Tensor, tuple[Any, ...], torch.Tensor, torch.Tensor]:
    """EuroSAT-MS training chips in reflectance (N, 13, 64, 64), their Band objects, mean and std."""
    from eokit.datasets.base import get_dataset
    from eokit.sensors import get_sensor

    folder = root / "classification" / "eurosat_ms_subset"
    if not folder.exists():
        sys.exit(f"{folder} not found: set EOKIT_DATA to the data mirror (see its MANIFEST.md)")
    sensor = get_sensor("sentinel2_l1c")
    ds = get_dataset("image_folder", root=folder, split="train", sensor="sentinel2_l1c")
    x = torch.stack([ds[i]["image"] for i in range(len(ds))]) * sensor.scale + sensor.offset
    bands = tuple(sensor.band(b) for b in ds[0]["bands"])
    mean = torch.tensor([b.mean for b in bands])
    std = torch.tensor([b.std for b in bands])
    return x.float(), bands, mean, std


def make_method(bands: tuple[Any, ...], device: str) -> Any:
    from eokit.models import create_backbone
    from eokit.pretrain.methods.base import build_method
    from eokit.pretrain.methods.mae import MAE  # noqa: F401  (registers "mae")

    torch.manual_seed(0)
    bb = create_backbone("dofa_tiny", bands=[b.name for b in bands], sensor="sentinel2_l1c", img_size=64,
                         patch_size=8)
    return build_method("mae", bb, {"scales": 1}).to(device)


def make_batch(x: torch.Tensor, bands: tuple[Any, ...], mean: torch.Tensor, std: torch.Tensor) -> Any:
    from eokit.pretrain.methods.base import PretrainBatch

    return PretrainBatch(image=x, bands=bands, sensor="sentinel2_l1c", mean=mean, std=std)


def autocast(device: str, precision: str) -> Any:
    import contextlib

    if precision == "bf16-mixed":
        return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_bare(data: tuple, args: argparse.Namespace) -> float:
    x, bands, mean, std = data
    method = make_method(bands, args.device).train()
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=LR, weight_decay=WD)
    g = torch.Generator().manual_seed(0)
    total = args.steps + args.warmup
    t0 = 0.0
    for step in range(total):
        if step == args.warmup:
            sync(args.device)
            t0 = time.perf_counter()
        idx = torch.randint(0, len(x), (args.batch,), generator=g)
        batch = make_batch(x[idx], bands, mean, std).to(args.device)
        with autocast(args.device, args.precision):
            loss, _ = method.training_loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        method.after_step((step + 1) / total)
    sync(args.device)
    return args.steps * args.batch / (time.perf_counter() - t0)


class Chips(torch.utils.data.Dataset):
    """In-memory reflectance chips."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def minimal_module(method: Any, total_steps: int) -> Any:
    """A LightningModule that wraps the method exactly as the pretraining loop does (used until it exists)."""
    import lightning as L

    class MinimalPretrainModule(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.method = method

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss, logs = self.method.training_loss(batch)
            self.log("loss", loss.detach(), prog_bar=True, batch_size=len(batch))
            for k, v in logs.items():
                self.log(k, v, batch_size=len(batch))
            return loss

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.method.after_step(min((self.global_step) / max(total_steps, 1), 1.0))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            params = [p for p in self.method.parameters() if p.requires_grad]
            return torch.optim.AdamW(params, lr=LR, weight_decay=WD)

    return MinimalPretrainModule()


def eokit_module(method: Any, total_steps: int) -> tuple[Any, str]:
    """The Lightning module that trains ``method`` and its name (the lead's PretrainModule is not on main yet)."""
    return minimal_module(method, total_steps), "MinimalPretrainModule (the benchmark's wrapper)"


def time_eokit(data: tuple, args: argparse.Namespace) -> tuple[float, str]:
    import lightning as L

    x, bands, mean, std = data
    total = args.steps + args.warmup
    module, name = eokit_module(make_method(bands, args.device), total)
    loader = torch.utils.data.DataLoader(
        Chips(x), batch_size=args.batch, shuffle=True, drop_last=True,
        generator=torch.Generator().manual_seed(0),
        collate_fn=lambda items: make_batch(torch.stack(items), bands, mean, std))
    timer = make_timer(args.warmup, args.device)
    accel = "gpu" if args.device.startswith("cuda") else "cpu"
    trainer = L.Trainer(max_steps=total, accelerator=accel, devices=1, logger=False, precision=args.trainer_precision,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0, callbacks=[timer])
    trainer.fit(module, train_dataloaders=loader)
    return timer.count * args.batch / (timer.t1 - timer.t0), name


def make_timer(warmup: int, device: str) -> Any:
    """Lightning callback: wall time of training batches after ``warmup`` steps."""
    import lightning as L

    class _Timer(L.Callback):
        def __init__(self) -> None:
            self.t0 = self.t1 = 0.0
            self.count = 0
            self.started = False

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            if trainer.global_step == warmup and not self.started:
                sync(device)
                self.started = True
                self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if self.started:
                sync(device)
                self.count += 1
                self.t1 = time.perf_counter()

    return _Timer()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", choices=("32", "bf16-mixed"), default="32")
    ap.add_argument("--data", default=os.environ.get("EOKIT_DATA", "../shared/data"))
    args = ap.parse_args()
    if args.rounds < 3:
        sys.exit("--rounds must be >= 3 (a median with a spread)")
    args.trainer_precision = "bf16-mixed" if args.precision == "bf16-mixed" else "32-true"
    if args.device == "cpu":
        torch.set_num_threads(THREADS)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    data = load_chips(Path(args.data))
    runs: dict[str, list[float]] = {"bare": [], "eokit": []}
    loop = ""
    for r in range(args.rounds):
        order = ("bare", "eokit") if r % 2 == 0 else ("eokit", "bare")  # alternate who goes first
        for name in order:
            if name == "bare":
                ips = time_bare(data, args)
            else:
                ips, loop = time_eokit(data, args)
            runs[name].append(ips)
            print(f"round {r + 1}: {name:6s} {ips:8.1f} images/s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {THREADS} threads"
    print(f"\nMAE on dofa_tiny (patch 8, scales=1), 64x64x13 EuroSAT-MS, batch {args.batch}, precision "
          f"{args.precision}, {dev}; {args.steps} timed steps x {args.rounds} rounds (median, spread min-max); "
          f"torch {torch.__version__}; eokit loop: {loop}")
    print(f"{'loop':8s} {'images/s':>9s} {'spread':>17s} {'vs bare':>8s}  runs")
    for k in ("bare", "eokit"):
        v = runs[k]
        print(f"{k:8s} {med[k]:9.1f} {min(v):8.1f}-{max(v):<8.1f} {med[k] / med['bare']:8.3f}  "
              f"{[round(i, 1) for i in v]}")
    print(json.dumps({"eokit_img_s": round(med["eokit"], 2), "bare_img_s": round(med["bare"], 2),
                      "ratio": round(med["eokit"] / med["bare"], 3),
                      "eokit_spread": [round(min(runs["eokit"]), 2), round(max(runs["eokit"]), 2)],
                      "bare_spread": [round(min(runs["bare"]), 2), round(max(runs["bare"]), 2)],
                      "device": args.device, "precision": args.precision, "loop": loop}))


if __name__ == "__main__":
    main()
