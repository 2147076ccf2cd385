"""PretrainModule: any :class:`PretrainMethod` as a LightningModule (AdamW, warm-up + cosine, images/s)."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch

from eokit.errors import PretrainError
from eokit.pretrain.methods.base import PretrainBatch, PretrainMethod

CKPT_KEY = "eokit_pretrain"


class PretrainModule(L.LightningModule):
    """Optimises ``method.training_loss``; ``after_step`` gets the run's progress (momentum schedules)."""

    def __init__(self, method: PretrainMethod, *, lr: float, weight_decay: float, warmup_steps: int,
                 max_steps: int, arch: str) -> None:
        super().__init__()
        self.method = method
        self.lr, self.weight_decay, self.warmup, self.max_steps, self.arch = lr, weight_decay, warmup_steps, \
            max_steps, arch
        self.images_seen = 0
        self._t0: float | None = None
        self._images_at_t0 = 0

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return batch.to(device) if isinstance(batch, PretrainBatch) else super().transfer_batch_to_device(
            batch, device, dataloader_idx)

    def training_step(self, batch: PretrainBatch, batch_idx: int) -> torch.Tensor:
        loss, logs = self.method.training_loss(batch)
        n = len(batch)
        self.images_seen += n
        if self._t0 is None:
            self._t0, self._images_at_t0 = time.perf_counter(), self.images_seen
        elapsed = time.perf_counter() - self._t0
        self.log("train/loss", loss, prog_bar=True, batch_size=n)
        for k, v in logs.items():
            if k != "loss":
                self.log(f"train/{k}", float(v), batch_size=n)
        if elapsed > 0:
            self.log("img_s", (self.images_seen - self._images_at_t0) / elapsed, prog_bar=True, batch_size=n)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.method.after_step(min(self.global_step / max(self.max_steps, 1), 1.0))

    def configure_optimizers(self) -> Any:
        params = [p for p in self.method.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        rest = [p for p in params if p.ndim <= 1]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                 {"params": rest, "weight_decay": 0.0}], lr=self.lr, betas=(0.9, 0.95))
        warm, total = self.warmup, self.max_steps

        def factor(step: int) -> float:
            w = min(1.0, (step + 1) / warm) if warm else 1.0
            return w * 0.5 * (1 + math.cos(math.pi * min(step / max(total, 1), 1.0)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CKPT_KEY] = {"method": self.method.name, "arch": self.arch, "images_seen": self.images_seen}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_resume(checkpoint, self.method.name, self.arch, "the resume checkpoint")
        self.images_seen = int(checkpoint.get(CKPT_KEY, {}).get("images_seen", 0))


def check_resume(checkpoint: dict[str, Any], method: str, arch: str, where: str) -> None:
    """PretrainError when ``checkpoint`` was written by another method or backbone."""
    info = checkpoint.get(CKPT_KEY)
    if info is None:
        raise PretrainError(f"{where} was not written by eokit pretrain (no {CKPT_KEY!r} entry): delete it or set "
                            "resume: false / another output_dir")
    if info.get("method") != method or info.get("arch") != arch:
        raise PretrainError(
            f"{where} holds a {info.get('method')!r} run of {info.get('arch')!r}, but this config trains "
            f"{method!r} on {arch!r}: resume only the same method and backbone (set output_dir to a new folder, or "
            "resume: false to start over there)")
