"""Models in, blended-ready outputs out: normalisation, ensembles and test-time augmentation.

A :class:`Predictor` maps a batch of raw tiles (B, C, h, w) plus their validity
masks to (B, K + E, h, w) float32: K probabilities (classifiers) or values
(regressors), plus E = 1 extra channel when there are several members (models x
TTA views): the fraction of members agreeing with the ensemble's class, or the
standard deviation of the members' values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from eokit.errors import ConfigError, ModelError
from eokit.infer.optimize import OptimizeReport, optimize_for_inference
from eokit.models.contract import DataContract
from eokit.models.engine import (
    Agreement,
    Engine,
    EngineOptions,
    GuardReport,
    TorchEngine,
    build_engine,
    classes_of,
    first_tensor,
    judge,
)

Transform = tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]


def _rot(k: int) -> Transform:
    return (lambda t: torch.rot90(t, k, (-2, -1)), lambda t: torch.rot90(t, -k, (-2, -1)))


def _flip(dims: tuple[int, ...]) -> Transform:
    return (lambda t: torch.flip(t, dims), lambda t: torch.flip(t, dims))


def _identity() -> Transform:
    return (lambda t: t, lambda t: t)


def _compose(a: Transform, b: Transform) -> Transform:
    return (lambda t: b[0](a[0](t)), lambda t: a[1](b[1](t)))


TTA_MODES = ("none", "flips", "rot90", "d4")


def tta_transforms(mode: str | bool | None) -> list[Transform]:
    """Forward/inverse pairs: 'flips' (4 views), 'rot90' (4 rotations), 'd4' (all 8)."""
    if mode in (None, False, "none"):
        return [_identity()]
    if mode is True:
        mode = "d4"
    if mode == "flips":
        return [_identity(), _flip((-1,)), _flip((-2,)), _flip((-2, -1))]
    if mode == "rot90":
        return [_identity(), _rot(1), _rot(2), _rot(3)]
    if mode == "d4":
        rots = [_identity(), _rot(1), _rot(2), _rot(3)]
        return rots + [_compose(_flip((-1,)), r) for r in rots]
    raise ConfigError(f"unknown test-time augmentation {mode!r}; choose one of {list(TTA_MODES)}")


class Predictor:
    """One model or an ensemble, with its contract, TTA and device."""

    def __init__(
        self,
        models: nn.Module | Sequence[nn.Module],
        contract: DataContract | Sequence[DataContract],
        *,
        tta: str | bool | None = None,
        device: str | torch.device = "cpu",
        optimize: bool = True,
        engine: EngineOptions | None = None,
    ) -> None:
        self.models = [models] if isinstance(models, nn.Module) else list(models)
        self.engine_options = engine or EngineOptions()
        self.runners: list[nn.Module | Engine] = list(self.models)  # what runs: the modules, or their engines
        self.engine_report: GuardReport | None = None
        self._layout: list[bool] | None = None  # the fp32 modules' channels-last flags
        self.optimize = optimize
        self.channels_last: list[bool] = [False] * len(self.models)
        self.optimized: list[OptimizeReport] = []
        if not self.models:
            raise ModelError("no model given")
        contracts = [contract] * len(self.models) if isinstance(contract, DataContract) else list(contract)
        if len(contracts) != len(self.models):
            raise ModelError(f"{len(contracts)} contracts for {len(self.models)} models")
        first = contracts[0]
        for c in contracts[1:]:
            if tuple(c.bands) != tuple(first.bands) or c.output_activation != first.output_activation:
                raise ModelError(
                    f"ensemble members disagree: bands {list(first.bands)} / {first.output_activation} vs "
                    f"{list(c.bands)} / {c.output_activation}; ensemble models trained on the same bands and task"
                )
            if c.n_outputs and first.n_outputs and c.n_outputs != first.n_outputs:
                raise ModelError(f"ensemble members have {first.n_outputs} and {c.n_outputs} outputs")
        self.contracts = contracts
        self.contract = first
        self.device = torch.device(device)
        self.tta = tta_transforms(tta)
        for m in self.models:
            m.eval().to(self.device)
        self._norm: list[nn.Module | None] = [self._normalizer(c) for c in contracts]
        self.n_outputs: int | None = first.n_outputs
        self.dates: torch.Tensor | None = None  # (T,) day of year, given to temporal models as dates=

    def _normalizer(self, c: DataContract) -> nn.Module | None:
        """The contract's normalisation (``eokit.transforms.Normalize``) on this device; None for raw input."""
        m = c.module()
        return m.to(self.device) if m is not None else None

    def prepare(self, channels: int, size: int, frames: int | None = None) -> None:
        """Optimise each model for inference (BN folding, channels-last; see ``eokit.infer.optimize``).

        Checked on a seeded random (1, ``channels``, ``size``, ``size``) sample; a model
        whose optimised copy differs is kept as it is. Called once, before the first batch.
        A time series (``frames`` dates) runs its model as it is.
        """
        if not self.optimize or self.optimized or frames:
            return
        g = torch.Generator().manual_seed(0)
        sample = torch.randn(1, channels, size, size, generator=g).to(self.device)
        for i, m in enumerate(self.models):
            fast, report = optimize_for_inference(m, sample)
            self.models[i], self.channels_last[i] = fast, report.channels_last and not report.kept_original
            self.optimized.append(report)
        self.reset_engine()

    def reset_engine(self) -> None:
        """Run the members as torch fp32 modules again (as before :meth:`use_engine`)."""
        self.runners = list(self.models)
        self.channels_last = list(self._layout) if self._layout is not None else self.channels_last
        self._layout = list(self.channels_last)
        self.engine_report = None

    def _input(self, i: int, x: torch.Tensor, invalid: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """Member ``i``'s normalised input: contract normalisation, nodata set to 0, its memory layout."""
        norm = self._norm[i]
        if inplace and len(self.models) == 1 and x.dtype == torch.float32:
            xm = norm(x, inplace=True) if norm is not None else x
        else:
            xm = norm(x) if norm is not None else x.clone()
        if xm.device.type != "cpu" or bool(invalid.any()):  # a scene's tiles mostly hold no nodata: skip the pass
            xm.masked_fill_(invalid, 0.0)  # (on a GPU the check would wait for the device: fill anyway)
        if self.channels_last[i] and xm.ndim == 4:
            xm = xm.contiguous(memory_format=torch.channels_last)
        return xm

    def use_engine(self, guard: tuple[Any, Any], calibration: tuple[Any, Any] | None = None,
                   batch: int = 2) -> GuardReport | None:
        """Run the members with ``self.engine_options`` (ONNX Runtime, int8, bf16 ...), guarded against fp32.

        ``guard`` and ``calibration``: raw tiles (N, C, h, w) in any numeric dtype (numpy or torch) +
        validity (N, h, w), as ``__call__`` takes them (calibration: int8 only; default: the guard
        tiles). The engine's outputs on the guard tiles are compared with fp32 torch's, ``batch``
        tiles at a time; below ``min_agreement`` (classifiers) or above ``max_rel_error``
        (regressors) the members keep running in fp32 torch, with a warning. Call after :meth:`prepare`.
        """
        opts = self.engine_options
        self.reset_engine()  # a Predictor reused for another scene: back to fp32 first
        if opts.is_default:
            return None
        t0 = time.perf_counter()
        gx, gv = guard
        cx, cv = calibration if calibration is not None else guard
        shape = tuple(gx.shape[1:])
        engines: list[nn.Module | Engine] = []
        for i, m in enumerate(self.models):
            calib = None
            if opts.precision == "int8":  # normalised as the model sees them, a few tiles at a time
                calib = np.empty((len(cx), *shape), np.float32)
                with torch.inference_mode():
                    for s in range(0, len(cx), batch):
                        x, v = _tiles(cx, cv, s, s + batch, self.device)
                        calib[s:s + len(x)] = self._input(i, x, ~v.unsqueeze(-3)).contiguous().cpu().numpy()
            engines.append(build_engine(m, opts, shape=shape, calibration=calib, device=self.device,
                                        channels_last=self.channels_last[i]))
            del calib
        k = self.n_outputs or None
        fp32 = (self.runners, list(self.channels_last))
        fast = (engines, [cl and isinstance(e, TorchEngine) for cl, e in zip(fp32[1], engines, strict=True)])
        agreement = Agreement(self.contract.is_classifier)
        try:
            for s in range(0, len(gx), batch):
                x, v = _tiles(gx, gv, s, s + batch, torch.device("cpu"))
                self.runners, self.channels_last = fp32
                ref = self(x, v)[:, :k]
                self.runners, self.channels_last = fast
                agreement.add(ref, self(x, v)[:, :k], (v if v.ndim == 3 else v.any(1)).to(ref.device))
        finally:
            self.runners, self.channels_last = fp32
        report = judge(GuardReport(opts.label, opts.engine, opts.precision, *agreement.result()), opts,
                       self.contract.is_classifier)
        if not report.fell_back:
            self.runners, self.channels_last = fast
        report.seconds = time.perf_counter() - t0
        self.engine_report = report
        return report

    @property
    def members(self) -> int:
        return len(self.models) * len(self.tta)

    @property
    def extra_channels(self) -> int:
        return 1 if self.members > 1 else 0

    def extra_name(self) -> str:
        return "agreement" if self.contract.is_classifier else "std"

    def infer_outputs(self, channels: int, size: int = 32, frames: int | None = None) -> int:
        """K, from the contract or one tiny forward pass ((1, ``frames``, C, s, s) for a time series)."""
        if self.n_outputs:
            return self.n_outputs
        x = torch.zeros(1, *((frames,) if frames else ()), channels, size, size, device=self.device)
        with torch.inference_mode():
            self.n_outputs = int(self._forward(self.models[0], x).shape[1])
        return self.n_outputs

    def _forward(self, model: nn.Module | Engine, x: torch.Tensor) -> torch.Tensor:
        # a time series (B, T, C, h, w): the model gets the days of year
        y = first_tensor(_temporal_forward(model, x, self.dates) if x.ndim == 5 else model(x))
        if y.ndim != 4 or y.shape[-2:] != x.shape[-2:]:
            raise ModelError(
                f"model returned shape {tuple(y.shape)} for input {tuple(x.shape)}; scene inference needs a "
                "dense model mapping (B, C, H, W) to (B, K, H, W)"
            )
        act = self.contract.output_activation
        if act == "softmax":
            y = torch.softmax(y, dim=1)
        elif act == "sigmoid":
            y = torch.sigmoid(y)
        return y.float().contiguous()  # channels-last models: back to (B, K, h, w) rows for blending

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, valid: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """Raw tiles (B,C,h,w) float32 + validity (B,h,w) bool -> (B, K+E, h, w) float32.

        A time series is (B,T,C,h,w) + (B,T,h,w); the model gets ``self.dates`` (days of year).

        ``inplace=True`` lets a single model normalise ``x`` in place (no copy).
        """
        x = x.to(self.device, non_blocking=True)
        invalid = ~valid.to(self.device).unsqueeze(-3)  # (B, 1, h, w); a series: (B, T, 1, h, w)
        total: torch.Tensor | None = None
        sq: torch.Tensor | None = None
        votes: list[torch.Tensor] = []
        for i, model in enumerate(self.runners):
            xm = self._input(i, x, invalid, inplace)
            for fwd, inv in self.tta:
                y = inv(self._forward(model, fwd(xm)))
                total = y if total is None else total + y
                if self.members > 1:
                    if self.contract.is_classifier:
                        votes.append(classes_of(y))
                    else:
                        sq = y * y if sq is None else sq + y * y
        assert total is not None
        if self.members == 1:
            return total
        mean = total / self.members
        if self.contract.is_classifier:
            winner = classes_of(mean)
            agree = torch.stack([v == winner for v in votes]).float().mean(0, keepdim=False)
            extra = agree.unsqueeze(1)
        else:
            assert sq is not None  # summed for every member when members > 1
            var = (sq / self.members - mean * mean).clamp_min(0)
            extra = var.sqrt().mean(1, keepdim=True)
        return torch.cat([mean, extra], dim=1)


def _temporal_forward(model: nn.Module | Engine, x: torch.Tensor, doy: torch.Tensor | None) -> torch.Tensor:
    """``model(x, dates=doy)`` for a (B, T, C, h, w) series (``model(x)`` if it takes no dates)."""
    import inspect

    target: Any = model.module if isinstance(model, TorchEngine) else model
    try:
        takes_dates = "dates" in inspect.signature(target.forward).parameters
    except (TypeError, ValueError):
        takes_dates = False
    if not takes_dates or doy is None:
        return model(x)  # type: ignore[no-any-return]
    if doy.shape[0] != x.shape[1]:
        raise ModelError(f"{doy.shape[0]} days of year for a series of {x.shape[1]} dates")
    return model(x, dates=doy.to(x.device).expand(x.shape[0], -1))  # type: ignore[no-any-return]


def _tiles(x: Any, v: Any, s: int, e: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiles ``s:e`` of raw ``x`` (numpy or torch, any dtype) as float32 and of ``v`` as bool, on ``device``."""
    xs = torch.from_numpy(np.asarray(x[s:e], np.float32)) if isinstance(x, np.ndarray) else x[s:e].float()
    vs = torch.from_numpy(np.asarray(v[s:e], bool)) if isinstance(v, np.ndarray) else v[s:e].bool()
    return xs.to(device), vs.to(device)

