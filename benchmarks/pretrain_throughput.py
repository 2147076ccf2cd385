"""Pretraining throughput (images/s): eokit's MAE through its Lightning loop vs a bare PyTorch loop.

Same model (MAE on ``dofa_tiny`` for the 13 Sentinel-2 bands, patch 8, SatMAE++ scales=1, 3 spectral
groups), same chips (the mirror's EuroSAT-MS training subset read by eokit's pretraining source and grouped by
``eokit.pretrain.data.group_chips``: 64x64x13 reflectance, in memory), same batch size, same optimiser and
schedule (the objects ``PretrainModule.configure_optimizers`` returns: AdamW in two weight-decay groups,
betas 0.9/0.95, warm-up + cosine), same gradient clipping (norm 3.0, the config's default), same precision
(fp32 on CPU; bf16 autocast with ``--precision bf16-mixed``), same device.

- eokit: what ``eokit.pretrain.run.pretrain`` runs: ``PretrainModule`` in a ``lightning.Trainer`` built with
  the same arguments (checkpoint callback, CSV logger, atomic checkpoint IO, clipping, no progress bar) over
  the loop's DataLoader (``GroupBatchSampler`` + ``GroupDataset`` + ``Collate``).
- bare: a plain ``for`` loop: random indices into the same chip tensor -> ``PretrainBatch`` ->
  ``method.training_loss`` -> zero_grad -> backward -> clip -> step -> scheduler step -> ``method.after_step``.

Each loop is timed ``--rounds`` times (>= 3), interleaved (the CPU is shared), after ``--warmup`` steps; the
medians and the spread (min-max) are reported. OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE``).

    python benchmarks/pretrain_throughput.py [--steps 20] [--warmup 3] [--rounds 3] [--batch 16] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP pool
import logging
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

THREADS = 2
LR, WD, WARMUP_STEPS, CLIP = 1.5e-4, 0.05, 2, 3.0


def load_groups(root: Path) -> list[Any]:
    """EuroSAT-MS training chips through eokit's pretraining source, as ChipGroups (one group: 13 bands)."""
    from eokit.pretrain.data import group_chips
    from eokit.pretrain.sources import PretrainSource, load_chips

    folder = root / "classification" / "eurosat_ms_subset"
    if not folder.exists():
        sys.exit(f"{folder} not found: set EOKIT_DATA to the data mirror (see its MANIFEST.md)")
    src = PretrainSource(name="eurosat_ms", kind="folder", sensor="sentinel2_l1c", size=64, kwargs={
        "root": str(folder), "sensor": "sentinel2_l1c",
        "band_names": ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A"]})
    groups = group_chips(load_chips([src]))
    if len(groups) != 1:
        sys.exit(f"expected one group of EuroSAT-MS chips, got {len(groups)}")
    return groups


def make_method(bands: tuple[Any, ...], device: str) -> Any:
    """MAE on a fresh, seeded dofa_tiny (patch 8) for these bands."""
    from eokit.models import create_backbone
    from eokit.pretrain.methods.base import build_method
    from eokit.pretrain.methods.mae import MAE  # noqa: F401  (registers "mae")

    torch.manual_seed(0)
    bb = create_backbone("dofa_tiny", bands=[b.name for b in bands], sensor="sentinel2_l1c", img_size=64,
                         patch_size=8)
    return build_method("mae", bb, {"scales": 1}).to(device)


def make_module(method: Any, total: int) -> Any:
    """eokit's PretrainModule around ``method`` with the benchmark's optimiser settings."""
    from eokit.pretrain.module import PretrainModule

    return PretrainModule(method, lr=LR, weight_decay=WD, warmup_steps=WARMUP_STEPS, max_steps=total,
                          arch="dofa_tiny")


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


def time_bare(groups: list[Any], args: argparse.Namespace) -> float:
    g = groups[0]
    total = args.steps + args.warmup
    method = make_method(g.bands, args.device).train()
    conf = make_module(method, total).configure_optimizers()  # the same optimiser and schedule objects
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    params = [p for p in method.parameters() if p.requires_grad]
    images, mean, std = g.images, g.mean.to(args.device), g.std.to(args.device)
    rng = torch.Generator().manual_seed(0)
    t0 = 0.0
    for step in range(total):
        if step == args.warmup:
            sync(args.device)
            t0 = time.perf_counter()
        idx = torch.randperm(len(images), generator=rng)[:args.batch]
        batch = make_batch(images[idx].to(args.device, non_blocking=True), g.bands, mean, std)
        with autocast(args.device, args.precision):
            loss, _ = method.training_loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        sched.step()
        method.after_step(min((step + 1) / total, 1.0))
    sync(args.device)
    return args.steps * args.batch / (time.perf_counter() - t0)


def time_eokit(groups: list[Any], args: argparse.Namespace, workdir: Path) -> float:
    """PretrainModule in a Trainer built as ``eokit.pretrain.run.pretrain`` builds it, over the loop's loader."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger
    from torch.utils.data import DataLoader

    from eokit.pretrain.data import Collate, GroupBatchSampler, GroupDataset
    from eokit.train.fit import AtomicCheckpointIO

    total = args.steps + args.warmup
    module = make_module(make_method(groups[0].bands, args.device), total)
    timer = make_timer(args.warmup, args.device)
    ckpt = ModelCheckpoint(dirpath=str(workdir / "lightning"), filename="step", save_last=True,
                           every_n_train_steps=100, enable_version_counter=False)  # the config's default
    trainer = L.Trainer(
        max_steps=total, accelerator="gpu" if args.device.startswith("cuda") else "cpu", devices=1,
        precision=args.trainer_precision, gradient_clip_val=CLIP, log_every_n_steps=10,
        callbacks=[ckpt, timer], enable_progress_bar=False, logger=CSVLogger(str(workdir), name="logs"),
        default_root_dir=str(workdir), plugins=[AtomicCheckpointIO()], enable_model_summary=False,
        use_distributed_sampler=False, num_sanity_val_steps=0)
    sampler = GroupBatchSampler(groups, args.batch, seed=0)
    loader = DataLoader(GroupDataset(groups, 0), batch_sampler=sampler, collate_fn=Collate(groups), num_workers=0)
    trainer.fit(module, train_dataloaders=loader)
    return timer.count * args.batch / (timer.t1 - timer.t0)


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
    groups = load_groups(Path(args.data))
    runs: dict[str, list[float]] = {"bare": [], "eokit": []}
    loop = "eokit.pretrain.module.PretrainModule"
    for r in range(args.rounds):
        order = ("bare", "eokit") if r % 2 == 0 else ("eokit", "bare")  # alternate who goes first
        for name in order:
            if name == "bare":
                ips = time_bare(groups, args)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    ips = time_eokit(groups, args, Path(tmp))
            runs[name].append(ips)
            print(f"round {r + 1}: {name:6s} {ips:8.1f} images/s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {THREADS} threads"
    print(f"\nMAE on dofa_tiny (patch 8, scales=1), 64x64x13 EuroSAT-MS, batch {args.batch}, precision "
          f"{args.precision}, {dev}; {args.steps} timed steps x {args.rounds} rounds (median, spread min-max); "
          f"torch {torch.__version__}; eokit loop: {loop} in a Trainer as eokit.pretrain.run builds it")
    print(f"{'loop':8s} {'images/s':>9s} {'spread':>17s} {'vs bare':>8s}  runs")
    for k in ("bare", "eokit"):
        v = runs[k]
        print(f"{k:8s} {med[k]:9.1f} {min(v):8.1f}-{max(v):<8.1f} {med[k] / med['bare']:8.3f}  "
              f"{[round(i, 1) for i in v]}")
    paired = statistics.median(e / b for e, b in zip(runs["eokit"], runs["bare"], strict=True))
    print(f"median of the per-round ratios (each round's two loops ran back to back): {paired:.3f}")
    print(json.dumps({"eokit_img_s": round(med["eokit"], 2), "bare_img_s": round(med["bare"], 2),
                      "ratio": round(med["eokit"] / med["bare"], 3), "ratio_paired": round(paired, 3),
                      "eokit_spread": [round(min(runs["eokit"]), 2), round(max(runs["eokit"]), 2)],
                      "bare_spread": [round(min(runs["bare"]), 2), round(max(runs["bare"]), 2)],
                      "device": args.device, "precision": args.precision, "loop": loop}))


if __name__ == "__main__":
    main()
