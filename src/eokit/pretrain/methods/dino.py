"""DINO self-distillation on any eokit backbone's pooled features (CNN or ViT).

DINO (Caron et al., ICCV 2021, "Emerging Properties in Self-Supervised Vision Transformers",
github.com/facebookresearch/dino): a student and a teacher of the same architecture each end in a projection
head (3-layer MLP -> L2-normalised bottleneck -> weight-normalised linear layer to ``out_dim`` prototypes).
The teacher sees the 2 global views, the student every view (2 global + ``local_crops`` smaller ones, made
in reflectance by :func:`eokit.pretrain.augment.make_view`: crop on the native grid, dihedral flips, band
jitter, blur, then normalisation). The loss is the cross-entropy between the teacher's centred and sharpened
softmax (temperature ``teacher_temp``, warmed up from ``warmup_teacher_temp``) and the student's softmax
(``student_temp``) over all pairs of different views; the centre is an EMA of the teacher's outputs
(``center_momentum``). After each optimiser step the teacher's weights become an EMA of the student's, with
the momentum rising from ``momentum`` to 1 on a cosine schedule. The teacher's backbone is exported.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eokit.errors import PretrainError
from eokit.models.backbone import Backbone
from eokit.pretrain.augment import ViewConfig, make_view
from eokit.pretrain.methods.base import PretrainBatch, PretrainMethod, register_method


class WeightNormLinear(nn.Module):
    """Linear layer without bias whose rows are weight-normalised: ``w = g * v / |v|`` (DINO's last layer).

    With ``fixed_norm`` (DINO's ``norm_last_layer``) ``g`` is 1 and not trained.
    """

    def __init__(self, in_dim: int, out_dim: int, fixed_norm: bool = True) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.trunc_normal_(self.v, std=0.02)
        self.g = None if fixed_norm else nn.Parameter(torch.ones(out_dim, 1))

    def weight(self) -> torch.Tensor:
        w = F.normalize(self.v, dim=1)
        return w if self.g is None else w * self.g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight().to(x.dtype))


class DINOHead(nn.Module):
    """Projection head: MLP (GELU) -> L2-normalised bottleneck -> weight-normalised prototypes."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 512, bottleneck_dim: int = 128,
                 layers: int = 3, fixed_norm: bool = True) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (layers - 1) + [bottleneck_dim]
        mods: list[nn.Module] = []
        for i in range(len(dims) - 1):
            mods.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                mods.append(nn.GELU())
        self.mlp = nn.Sequential(*mods)
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_layer = WeightNormLinear(bottleneck_dim, out_dim, fixed_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(F.normalize(self.mlp(x), dim=-1, eps=1e-6))


def cosine_momentum(base: float, progress: float) -> float:
    """DINO's teacher momentum: ``1 - (1 - base) * (cos(pi * progress) + 1) / 2`` (base at 0, 1 at the end)."""
    p = min(max(progress, 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * p) + 1.0) / 2.0


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``t = m * t + (1 - m) * s`` for every parameter (same module structure)."""
    t_params: list[torch.Tensor] = list(teacher.parameters())
    s_params: list[torch.Tensor] = list(student.parameters())
    if len(t_params) != len(s_params):
        raise PretrainError(f"dino: teacher has {len(t_params)} parameters, student {len(s_params)}")
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, [s.detach().to(t.dtype) for t, s in zip(t_params, s_params, strict=True)],
                        alpha=1.0 - momentum)


def _patch_size(backbone: Backbone) -> int:
    """The side a view must be a multiple of: a ViT's patch size, else 1."""
    p = getattr(backbone, "patch_size", None)
    if isinstance(p, int):
        return p
    pe = getattr(getattr(backbone, "model", None), "patch_embed", None)
    size = getattr(pe, "patch_size", None)
    if isinstance(size, (tuple, list)):
        return int(size[0])
    return 1


@register_method
class DINO(PretrainMethod):
    """DINO self-distillation with multi-crop on any backbone (see the module).

    Options: ``out_dim`` (4096), ``hidden_dim`` (512), ``bottleneck_dim`` (128), ``norm_last_layer`` (True),
    ``momentum`` (0.996), ``teacher_temp`` (0.04), ``warmup_teacher_temp`` (0.04), ``warmup_frac`` (0.1 of
    training), ``student_temp`` (0.1), ``center_momentum`` (0.9), ``local_crops`` (4), ``global_size`` (the
    chip size), ``local_size`` (half of it, a multiple of the patch size), ``global_scale`` ((0.4, 1.0)),
    ``local_scale`` ((0.05, 0.4)).
    """

    name = "dino"
    center: torch.Tensor
    progress_state: torch.Tensor

    def __init__(self, backbone: Backbone, *, out_dim: int = 4096, hidden_dim: int = 512,
                 bottleneck_dim: int = 128, norm_last_layer: bool = True, momentum: float = 0.996,
                 teacher_temp: float = 0.04, warmup_teacher_temp: float = 0.04, warmup_frac: float = 0.1,
                 student_temp: float = 0.1, center_momentum: float = 0.9, local_crops: int = 4,
                 global_size: int | None = None, local_size: int | None = None,
                 global_scale: tuple[float, float] = (0.4, 1.0),
                 local_scale: tuple[float, float] = (0.05, 0.4)) -> None:
        super().__init__(backbone, out_dim=out_dim, momentum=momentum, teacher_temp=teacher_temp,
                         local_crops=local_crops)
        if not 0.0 <= momentum <= 1.0 or not 0.0 <= center_momentum <= 1.0:
            raise PretrainError(f"dino: momentum {momentum!r} and center_momentum {center_momentum!r} must be "
                                "in [0, 1] (DINO: 0.996 and 0.9)")
        if min(teacher_temp, warmup_teacher_temp, student_temp) <= 0:
            raise PretrainError(f"dino: temperatures must be > 0, got teacher_temp={teacher_temp!r}, "
                                f"warmup_teacher_temp={warmup_teacher_temp!r}, student_temp={student_temp!r}")
        if local_crops < 0:
            raise PretrainError(f"dino: local_crops {local_crops!r} must be >= 0")
        dim = int(backbone.num_features)
        self.student_head = DINOHead(dim, out_dim, hidden_dim, bottleneck_dim, fixed_norm=norm_last_layer)
        self.teacher = copy.deepcopy(backbone)
        self.teacher_head = copy.deepcopy(self.student_head)
        for p in [*self.teacher.parameters(), *self.teacher_head.parameters()]:
            p.requires_grad_(False)
        self.register_buffer("center", torch.zeros(1, out_dim))
        self.base_momentum, self.momentum = float(momentum), float(momentum)
        self.teacher_temp, self.warmup_teacher_temp = float(teacher_temp), float(warmup_teacher_temp)
        self.warmup_frac, self.student_temp = float(warmup_frac), float(student_temp)
        self.center_momentum, self.local_crops = float(center_momentum), int(local_crops)
        self.global_size, self.local_size = global_size, local_size
        self.global_scale, self.local_scale = tuple(global_scale), tuple(local_scale)
        self.register_buffer("progress_state", torch.zeros(()))  # in checkpoints: a resumed run keeps its schedules
        self.patch = _patch_size(backbone)

    @property
    def progress(self) -> float:
        """Training progress in [0, 1] at the last optimiser step (a buffer, so it survives a resume)."""
        return float(self.progress_state)

    @progress.setter
    def progress(self, value: float) -> None:
        self.progress_state.fill_(float(value))

    def sizes(self, chip: int) -> tuple[int, int]:
        """(global, local) view sizes for chips of side ``chip``, multiples of the patch size."""
        p = self.patch
        g = self.global_size or chip // p * p
        loc = self.local_size or max(g // 2 // p * p, p)
        if g % p or loc % p or g < p:
            raise PretrainError(f"dino: view sizes global={g}, local={loc} must be multiples of the patch size "
                                f"{p} of {getattr(self.backbone, 'arch', 'the backbone')}; set global_size/"
                                "local_size")
        return g, loc

    def current_teacher_temp(self) -> float:
        """Teacher temperature: linear warm-up from warmup_teacher_temp over warmup_frac, then teacher_temp."""
        if self.warmup_frac <= 0 or self.progress >= self.warmup_frac:
            return self.teacher_temp
        t = self.progress / self.warmup_frac
        return self.warmup_teacher_temp + t * (self.teacher_temp - self.warmup_teacher_temp)

    def views(self, batch: PretrainBatch) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """2 global and ``local_crops`` local normalised views of the batch."""
        g, loc = self.sizes(min(batch.image.shape[-2:]))
        gc = ViewConfig(size=g, scale=self.global_scale)  # type: ignore[arg-type]
        lc = ViewConfig(size=loc, scale=self.local_scale, blur_p=0.5)  # type: ignore[arg-type]
        glob = [make_view(batch.image, batch.mean, batch.std, gc) for _ in range(2)]
        local = [make_view(batch.image, batch.mean, batch.std, lc) for _ in range(self.local_crops)]
        return glob, local

    def _embed(self, net: Backbone, head: nn.Module, views: list[torch.Tensor], batch: PretrainBatch
               ) -> list[torch.Tensor]:
        """Head outputs per view; views of one size go through the network together."""
        out: list[torch.Tensor] = []
        i = 0
        while i < len(views):
            j = i
            while j < len(views) and views[j].shape == views[i].shape:
                j += 1
            z = head(self.encode(torch.cat(views[i:j]), batch, net).pooled)
            out.extend(z.chunk(j - i))
            i = j
        return out

    def training_loss(self, batch: PretrainBatch) -> tuple[torch.Tensor, dict[str, float]]:
        glob, local = self.views(batch)
        student = self._embed(self.backbone, self.student_head, glob + local, batch)
        with torch.no_grad():
            teacher = [t.float() for t in self._embed(self.teacher, self.teacher_head, glob, batch)]
        temp = self.current_teacher_temp()
        targets = [F.softmax((t - self.center) / temp, dim=-1) for t in teacher]
        loss = torch.zeros((), device=batch.image.device)
        pairs = 0
        for ti, q in enumerate(targets):
            for si, s in enumerate(student):
                if si == ti:
                    continue
                loss = loss + torch.sum(-q * F.log_softmax(s.float() / self.student_temp, dim=-1), dim=-1).mean()
                pairs += 1
        loss = loss / pairs
        self.update_center(torch.cat(teacher))
        with torch.no_grad():
            entropy = float(-(targets[0] * targets[0].clamp_min(1e-12).log()).sum(-1).mean())
        return loss, {"teacher_temp": temp, "momentum": self.momentum, "teacher_entropy": entropy}

    @torch.no_grad()
    def update_center(self, teacher_out: torch.Tensor) -> None:
        """``c = m * c + (1 - m) * mean(teacher outputs)`` (averaged over processes under DDP)."""
        mean = teacher_out.mean(dim=0, keepdim=True)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(mean)
            mean = mean / torch.distributed.get_world_size()
        self.center.mul_(self.center_momentum).add_(mean, alpha=1.0 - self.center_momentum)

    def after_step(self, progress: float) -> None:
        """EMA of the student into the teacher with the cosine momentum for ``progress``."""
        self.progress = float(progress)
        self.momentum = cosine_momentum(self.base_momentum, self.progress)
        ema_update(self.teacher, self.backbone, self.momentum)
        ema_update(self.teacher_head, self.student_head, self.momentum)

    def export_backbone(self) -> Backbone:
        return self.teacher

    def state_summary(self) -> dict[str, Any]:
        """Schedules now (for progress logs)."""
        return {"progress": self.progress, "momentum": self.momentum, "teacher_temp": self.current_teacher_temp()}
