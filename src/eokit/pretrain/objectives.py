"""Self-supervised objectives as plain functions and modules (pure PyTorch: no eokit imports).

Shared by the methods in :mod:`eokit.pretrain.methods` and by the bare GPU driver that trained the shipped
``eokit_small.ssl`` (tools/pretrain_gpu.py), so both optimise exactly the same losses.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn


class Projector(nn.Module):
    """MLP head: Linear-BN-ReLU (x ``layers - 1``) then Linear (SimCLR / MoCo-v3 projector and predictor)."""

    def __init__(self, dim_in: int, hidden: int = 1024, dim_out: int = 128, layers: int = 2,
                 last_bn: bool = False) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        d = dim_in
        for _ in range(layers - 1):
            mods += [nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            d = hidden
        mods.append(nn.Linear(d, dim_out, bias=not last_bn))
        if last_bn:
            mods.append(nn.BatchNorm1d(dim_out, affine=False))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def info_nce(q: torch.Tensor, k: torch.Tensor, temperature: float = 0.2,
             targets: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE of queries ``q`` against keys ``k`` (B, D): the positive of row i is key i.

    ``targets`` (B, B), rows summing to 1, replaces the one-hot positives by soft ones (SoftCon: the
    label overlap of two chips). The loss is multiplied by ``2 * temperature`` as in MoCo-v3.
    """
    q = F.normalize(q.float(), dim=1)
    k = F.normalize(k.float(), dim=1)
    logits = q @ k.t() / temperature
    if targets is None:
        loss = F.cross_entropy(logits, torch.arange(q.shape[0], device=q.device))
    else:
        loss = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
    return loss * 2 * temperature


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2,
            targets: torch.Tensor | None = None) -> torch.Tensor:
    """SimCLR's NT-Xent over 2B views: each view's positive is its twin, the 2B - 2 others are negatives.

    With ``targets`` (B, B) soft positives (label overlap), the targets are spread over both views' keys.
    """
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * b, device=z.device, dtype=torch.bool), float("-inf"))
    if targets is None:
        idx = torch.arange(b, device=z.device)
        return F.cross_entropy(sim, torch.cat([idx + b, idx]))
    t = targets.float()
    eye = torch.eye(b, device=z.device)
    same = t * (1 - eye)  # other chips with overlapping labels, in the same view
    full = torch.cat([torch.cat([same, t], 1), torch.cat([t, same], 1)], 0)
    full = full / full.sum(1, keepdim=True).clamp_min(1e-8)
    logp = F.log_softmax(sim, dim=1).masked_fill(torch.eye(2 * b, device=z.device, dtype=torch.bool), 0.0)
    return -(full * logp).sum(1).mean()


def label_overlap(labels: torch.Tensor) -> torch.Tensor:
    """(B, K) multi-hot labels -> (B, B) soft targets: Jaccard overlap, each row normalised to sum 1."""
    y = labels.float()
    inter = y @ y.t()
    union = y.sum(1, keepdim=True) + y.sum(1)[None] - inter
    jac = inter / union.clamp_min(1e-8)
    jac.fill_diagonal_(1.0)
    return jac / jac.sum(1, keepdim=True)


def momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` for a momentum (EMA) encoder."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, momentum: float) -> None:
    """target = momentum * target + (1 - momentum) * source, parameter by parameter (buffers copied)."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)
    for tb, sb in zip(target.buffers(), source.buffers(), strict=True):
        tb.copy_(sb)


def cosine_momentum(base: float, progress: float) -> float:
    """MoCo-v3/BYOL/DINO schedule: ``base`` at the start, 1.0 at the end, cosine in between."""
    return 1 - (1 - base) * (math.cos(math.pi * min(max(progress, 0.0), 1.0)) + 1) / 2
