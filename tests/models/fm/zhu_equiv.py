"""Equivalence against TorchGeo's builders for the SSL4EO-S12-pretrained families (SSL4EO-S12, DeCUR, SoftCon).

``from zhu_equiv import ...`` in test_fm_ssl4eo.py, test_fm_decur.py and test_fm_softcon.py. The reference
model is TorchGeo 0.8.1's builder (``torchgeo.models.resnet.resnet50`` ...; a timm model) with seeded
random weights; its state dict is saved in the published container (a plain ``torch.save`` of the timm
state dict, as TorchGeo's loader reads it, or the authors' training containers) and loaded through
``create_backbone(arch.tag, weights='file:...')``; features must match to 1e-5.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from fm_ref import max_abs_diff, reference_module

from eokit.models import WeightSpec, create_backbone, list_models
from eokit.models.backbone import Backbone

TOL = 1e-5
StateDict = dict[str, torch.Tensor]


def family_specs(family: str) -> list[WeightSpec]:
    return sorted((s for s in list_models(pretrained=True) if s.family == family), key=lambda s: s.name)


def reference_builder(spec: WeightSpec) -> Callable[..., torch.nn.Module]:
    """TorchGeo's builder named in the entry's proof (``equivalence: torchgeo 0.8.1 torchgeo.models.vit.X``)."""
    target = spec.proof.split()[-1]
    module, _, name = target.rpartition(".")
    return getattr(reference_module(module), name)


def reference_model(spec: WeightSpec, seed: int = 0, **kwargs: Any) -> torch.nn.Module:
    builder = reference_builder(spec)
    if "dinov2" in spec.arch:
        kwargs.setdefault("img_size", spec.input_size)  # TorchGeo builds these at the weights' img_size
    torch.manual_seed(seed)
    return builder(None, in_chans=len(spec.bands), **kwargs).eval()


# published containers -------------------------------------------------------------------------
def plain(sd: StateDict) -> Any:
    """TorchGeo-hosted files: the timm state dict itself (classifier included: the loader drops it)."""
    return sd


def without_head(sd: StateDict) -> Any:
    """A backbone-only file: the timm state dict without the classifier (DeCUR's ViT files)."""
    return {k: v for k, v in sd.items() if not k.startswith(("head.", "fc."))}


def moco(sd: StateDict) -> Any:
    """MoCo v2 training checkpoint: query and momentum encoders under DDP, the queue, the epoch."""
    enc = {f"module.encoder_q.{k}": v for k, v in sd.items()}
    enc.update({f"module.encoder_k.{k}": v.clone() + 1 for k, v in sd.items()})
    enc["module.queue"] = torch.randn(128, 16)
    return {"epoch": 100, "arch": "resnet50", "state_dict": enc}


def dino(sd: StateDict) -> Any:
    """DINO training checkpoint: teacher and student (DDP) backbones with projection heads."""
    head = {"head.mlp.0.weight": torch.randn(32, 8), "head.last_layer.weight_g": torch.ones(1, 8)}
    return {"epoch": 100, "teacher": {**{f"backbone.{k}": v for k, v in sd.items()}, **head},
            "student": {f"module.backbone.{k}": v * 0 for k, v in sd.items()}}


def dinov2_original(sd: StateDict) -> Any:
    """The authors' DINOv2-layout file: timm's keys plus the mask token, no classifier."""
    out = {k: v for k, v in sd.items() if not k.startswith("head.")}
    out["mask_token"] = torch.zeros(1, sd["cls_token"].shape[-1])
    return out


def load_through_eokit(spec: WeightSpec, ref: torch.nn.Module, tmp_path: Path,
                       container: Callable[[StateDict], Any] = plain, **kwargs: Any) -> Backbone:
    path = tmp_path / spec.url.rsplit("/", 1)[-1] if spec.url else tmp_path / "w.pth"
    torch.save(container(ref.state_dict()), path)
    return create_backbone(spec.name, weights=f"file:{path}", **kwargs).eval()


def assert_equivalent(spec: WeightSpec, ref: torch.nn.Module, bb: Backbone, size: int, seed: int = 0) -> None:
    """Same pooled features (reference: forward_features + pre-logits head) and the same maps."""
    x = torch.randn(2, len(spec.bands), size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ours = bb(x, spec.bands)
        pooled = ref.forward_head(ref.forward_features(x), pre_logits=True)
        _, maps = ref.forward_intermediates(x, indices=bb._indices)  # type: ignore[attr-defined]
    assert ours.pooled.shape == pooled.shape
    err = max_abs_diff(ours.pooled, pooled)
    assert err <= TOL, f"{spec.name}: pooled features differ from TorchGeo's by {err:.2e}"
    assert len(ours.maps) == len(maps)
    for a, b in zip(ours.maps, maps, strict=True):
        assert max_abs_diff(a, b) <= TOL, f"{spec.name}: feature maps differ from TorchGeo's"
    assert float(ours.pooled.std()) > 0  # real features, not a constant
