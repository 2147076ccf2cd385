"""Make a model cheaper to run for inference without changing what it computes.

Two rewrites, both checked on a sample before they are kept:

* **Batch-norm folding**: an eval-mode ``BatchNorm2d`` (or timm's ``BatchNormAct2d``) applied directly to a
  ``Conv2d``'s output is an affine map per channel, so it folds into the
  convolution's weight and bias and the BN layer becomes ``Identity``. Pairs are
  found by running the model once with hooks (the BN's input must *be* the
  conv's output tensor, each module called once), so any architecture works —
  timm/torchvision ResNets, eokit's U-Nets, plain ``nn.Sequential`` blocks —
  without tracing its Python code.
* **channels-last** memory format for models with convolutions (oneDNN's
  preferred layout on CPU, tensor cores' on GPU).

The optimised copy must reproduce the original outputs on a random sample
(relative tolerance ``rtol`` of the output range); otherwise the original is
used and a warning says why. The caller's model is never modified.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from eokit.models.engine import compare_outputs, first_tensor

log = logging.getLogger(__name__)


@dataclass
class OptimizeReport:
    """What :func:`optimize_for_inference` did."""

    folded: int = 0  # conv + BN pairs folded
    channels_last: bool = False
    kept_original: bool = False
    max_error: float = 0.0
    reason: str = ""


def _conv_bn_pairs(model: nn.Module, sample: torch.Tensor) -> list[tuple[str, str]]:
    """(conv name, bn name) pairs where the BN consumed exactly the conv's output, found with hooks."""
    names = {m: n for n, m in model.named_modules()}
    calls: dict[nn.Module, int] = {}
    outputs: dict[int, tuple[nn.Module, torch.Tensor]] = {}  # id -> (conv, tensor kept alive)
    pairs: list[tuple[nn.Module, nn.Module]] = []

    def conv_hook(mod: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        calls[mod] = calls.get(mod, 0) + 1
        if isinstance(out, torch.Tensor):
            outputs[id(out)] = (mod, out)

    def bn_hook(mod: nn.Module, inp: tuple) -> None:
        calls[mod] = calls.get(mod, 0) + 1
        x = inp[0] if inp else None
        hit = outputs.get(id(x)) if isinstance(x, torch.Tensor) else None
        if hit is not None and hit[1] is x:
            pairs.append((hit[0], mod))

    handles = []
    for m in model.modules():
        if type(m) is nn.Conv2d:
            handles.append(m.register_forward_hook(conv_hook))
        elif _foldable_bn(m):
            handles.append(m.register_forward_pre_hook(bn_hook))
    try:
        with torch.inference_mode():
            model(sample)
    finally:
        for h in handles:
            h.remove()
    return [(names[c], names[b]) for c, b in pairs if calls.get(c) == 1 and calls.get(b) == 1]


def _foldable_bn(m: nn.Module) -> bool:
    """A plain BatchNorm2d, or timm's BatchNormAct2d (BN, then ``drop`` and ``act`` modules)."""
    if not isinstance(m, nn.BatchNorm2d) or not m.track_running_stats or m.running_mean is None:
        return False
    return type(m) is nn.BatchNorm2d or (type(m).__name__ == "BatchNormAct2d" and hasattr(m, "act")
                                         and hasattr(m, "drop"))


def _after_bn(bn: nn.Module) -> nn.Module:
    """What is left of a BN layer once folded: nothing, or timm's dropout + activation."""
    if type(bn) is nn.BatchNorm2d:
        return nn.Identity()
    return nn.Sequential(bn.get_submodule("drop"), bn.get_submodule("act"))


def _set(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, new)


def _fold(model: nn.Module, pairs: list[tuple[str, str]]) -> None:
    for conv_name, bn_name in pairs:
        conv = cast(nn.Conv2d, model.get_submodule(conv_name))
        bn = cast(nn.BatchNorm2d, model.get_submodule(bn_name))
        assert bn.running_mean is not None and bn.running_var is not None  # checked when pairing
        w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                    bn.weight, bn.bias)
        conv.weight, conv.bias = w, b
        _set(model, bn_name, _after_bn(bn))




def optimize_for_inference(
    model: nn.Module, sample: torch.Tensor, *, channels_last: bool = True, rtol: float = 1e-4,
) -> tuple[nn.Module, OptimizeReport]:
    """An optimised eval-mode copy of ``model`` (or ``model`` itself) and a report.

    ``sample`` is an input of the shape the model will see (batch 1–2 is enough).
    """
    report = OptimizeReport()
    model = model.eval()
    try:
        with torch.inference_mode():
            ref = first_tensor(model(sample))
        fast = copy.deepcopy(model)
        pairs = _conv_bn_pairs(fast, sample)
        _fold(fast, pairs)
        report.folded = len(pairs)
        x = sample
        if channels_last and any(isinstance(m, nn.Conv2d) for m in fast.modules()) and sample.ndim == 4:
            fast = fast.to(memory_format=torch.channels_last)
            x = sample.contiguous(memory_format=torch.channels_last)
            report.channels_last = True
        with torch.inference_mode():
            got = first_tensor(fast(x))
        report.max_error = compare_outputs(ref, got, classifier=False)[1]
    except Exception as exc:  # an unusual model: run it as it is
        report.kept_original, report.reason = True, f"{type(exc).__name__}: {exc}"
        log.warning("inference optimisation skipped (%s); running the model unchanged", report.reason)
        return model, report
    if got.shape != ref.shape or not report.max_error <= rtol:
        report.kept_original = True
        report.reason = f"optimised outputs differ (max relative error {report.max_error:.2e} > {rtol:.0e})"
        log.warning("inference optimisation skipped: %s; running the model unchanged", report.reason)
        return model, report
    if not report.folded and not report.channels_last:
        return model, report
    return fast, report
