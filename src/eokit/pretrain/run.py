"""``pretrain(config)``: sources -> curation -> leakage check -> Lightning fit -> safetensors weights.

Output folder (``cfg.out``): ``weights.safetensors`` (the backbone; loads as ``create_backbone(arch,
bands=..., weights="file:...")``) and ``weights.json`` (method, sources, chips, steps, images, seed, sha256),
``splits.json`` (every chip identifier read: training splits only), ``curation.json``/``curation.md``,
``lightning/last.ckpt`` (resume state, written atomically every ``checkpoint_every_n_steps``), ``logs/``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from eokit.errors import BandError, PretrainError
from eokit.io import atomic_path
from eokit.models import create_backbone
from eokit.models.weights import save_backbone_weights
from eokit.pretrain.config import PretrainConfig
from eokit.pretrain.curation import CurationConfig, curate
from eokit.pretrain.data import Collate, GroupBatchSampler, GroupDataset, group_chips
from eokit.pretrain.leakage import check_no_leakage, leaked, suite_eval_idents
from eokit.pretrain.methods import build_method, get_method
from eokit.pretrain.module import PretrainModule, check_resume
from eokit.pretrain.sources import load_chips
from eokit.train.fit import AtomicCheckpointIO

log = logging.getLogger(__name__)
RESUME_FILE = "last.ckpt"


@dataclass
class PretrainResult:
    output_dir: Path
    weights: Path
    steps: int
    images_seen: int
    seconds: float
    resumed: bool

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.seconds if self.seconds else 0.0


def _write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=str))


def pretrain(cfg: PretrainConfig) -> PretrainResult:
    """Run a pretraining config end to end (see the module docstring for what it writes)."""
    import yaml

    t = cfg.trainer
    if t.threads:
        torch.set_num_threads(t.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))

    get_method(cfg.method)  # an unknown method fails before any data is read
    chips = load_chips(cfg.sources)
    curated = curate(chips, CurationConfig.from_dict({"seed": cfg.seed, **cfg.curation}))
    curated.report.write(out)
    kept = curated.kept
    dropped: list[str] = []
    if cfg.exclude_suite:
        from eokit.bench.config import load_suite

        evaluated = suite_eval_idents(load_suite(cfg.exclude_suite))
        if cfg.leakage == "drop":
            bad = leaked([c.place for c in kept] + [c.ident for c in kept], evaluated)
            dropped = sorted({c.ident for c in kept if c.ident in bad or c.place in bad})
            kept = [c for c in kept if c.ident not in bad and c.place not in bad]
            log.info("dropped %d chip(s) that the %s suite evaluates", len(dropped), cfg.exclude_suite)
        check_no_leakage([c.ident for c in kept] + [c.place for c in kept], evaluated, f"(config {cfg.name!r}) ")
    if not kept:
        raise PretrainError(f"no chip is left after the leakage check against suite {cfg.exclude_suite!r}")
    _write_json(out / "splits.json", {"format": "eokit-pretrain-splits/1", "exclude_suite": cfg.exclude_suite,
                                      "dropped_for_leakage": dropped,
                                      "sources": {s.name: [c.ident for c in kept if c.source == s.name]
                                                  for s in cfg.sources}})

    groups = group_chips(kept)
    first = groups[0]
    try:
        backbone = create_backbone(cfg.backbone.arch, bands=list(first.bands), sensor=first.sensor,
                                   weights=cfg.backbone.weights, **cfg.backbone.options)
    except BandError as exc:
        raise PretrainError(f"sensor {first.sensor!r} bands {[b.name for b in first.bands]}: {exc}") from None
    band_sets = {tuple(b.name for b in g.bands) for g in groups}
    if len(band_sets) > 1 and not backbone.band_flexible:
        raise PretrainError(
            f"backbone {cfg.backbone.arch!r} takes one fixed band set, but the sources hold {len(band_sets)}: "
            f"{sorted(band_sets)[:3]}...; pretrain a band-flexible backbone (eokit_small, dofa_*) or use sources of "
            "one sensor")
    for g in groups:
        try:
            backbone.band_table(g.bands) if backbone.band_flexible else None
        except BandError as exc:
            raise PretrainError(f"sensor {g.sensor!r} bands {[b.name for b in g.bands]}: {exc}") from None
    method = build_method(cfg.method, backbone, cfg.method_options)
    module = PretrainModule(method, lr=t.lr, weight_decay=t.weight_decay, warmup_steps=t.warmup_steps,
                            max_steps=t.max_steps, arch=cfg.backbone.arch)

    resume = out / "lightning" / RESUME_FILE
    ckpt_path, start_step = None, 0
    if cfg.resume and resume.exists():
        state = torch.load(resume, map_location="cpu", weights_only=True)
        check_resume(state, method.name, cfg.backbone.arch, f"{str(resume)!r}")
        ckpt_path, start_step = str(resume), int(state.get("global_step", 0))
        log.info("resuming from %s (step %d)", resume, start_step)

    callbacks: list[Any] = [ModelCheckpoint(dirpath=str(out / "lightning"), filename="step", save_last=True,
                                            every_n_train_steps=t.checkpoint_every_n_steps,
                                            enable_version_counter=False)]
    if t.progress_bar:
        callbacks.append(RichProgressBar(leave=True, console_kwargs={"stderr": True}))
    trainer = L.Trainer(
        max_steps=t.max_steps, max_epochs=1, accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
        num_nodes=t.num_nodes, precision=t.precision, accumulate_grad_batches=t.accumulate_grad_batches,
        gradient_clip_val=t.gradient_clip_val, log_every_n_steps=t.log_every_n_steps, callbacks=callbacks,
        enable_progress_bar=t.progress_bar, logger=CSVLogger(str(out), name="logs"), default_root_dir=str(out),
        plugins=[AtomicCheckpointIO()], enable_model_summary=False, use_distributed_sampler=False,
        num_sanity_val_steps=0,
    )
    sampler = GroupBatchSampler(groups, t.batch_size, seed=cfg.seed + start_step, balance=cfg.balance,
                                rank=trainer.global_rank, world_size=trainer.world_size)
    loader = DataLoader(GroupDataset(groups, cfg.seed + start_step), batch_sampler=sampler,
                        collate_fn=Collate(groups), num_workers=t.num_workers)
    t0 = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt_path, weights_only=True)
    seconds = time.perf_counter() - t0

    weights = out / "weights.safetensors"
    bb = method.export_backbone()
    if trainer.is_global_zero:
        bands = () if bb.band_flexible else tuple(bb.bands)
        save_backbone_weights(weights, bb.state_dict(), arch=bb.arch, bands=bands,
                              sensor=None if bb.band_flexible else bb.sensor_name)
        from eokit.datasets.download import file_digest

        _write_json(out / "weights.json", {
            "format": "eokit-pretrain-weights/1", "arch": bb.arch, "method": cfg.method,
            "method_options": cfg.method_options, "seed": cfg.seed, "steps": trainer.global_step,
            "images_seen": module.images_seen, "seconds": round(seconds, 2), "resumed_from_step": start_step,
            "groups": [{"sensor": g.sensor, "bands": [b.name for b in g.bands], "chips": len(g.idents),
                        "size": list(g.images.shape[-2:])} for g in groups],
            "sources": [s.name for s in cfg.sources], "splits": "splits.json", "curation": "curation.json",
            "sha256": file_digest(weights), "load_with": f"create_backbone({bb.arch!r}, bands=..., "
                                                         f"weights='file:{weights}')",
        })
    return PretrainResult(out, weights, trainer.global_step, module.images_seen, seconds, ckpt_path is not None)
