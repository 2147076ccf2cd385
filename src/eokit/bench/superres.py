"""Super-resolution in the loop (GeoSR-Bench style): does an SR model help a fixed downstream model?

For each SR dataset of ``suite.superres`` (low-res ``image``, high-res ``target``, optionally a
``mask`` on the target grid) and seed, one job:

1. reads the train and test pairs (:func:`load_pairs`);
2. trains the **fixed task model** once, on the original high-res train images and their masks
   (``downstream``; a registered backbone + dense head), and scores it on the original test
   images (the row ``hr (reference)``: what perfect SR would give);
3. for every SR model (interpolation, or a registered backbone + super-resolution head trained
   briefly on the train pairs) super-resolves the test inputs and scores fidelity against the
   targets (``psnr``, ``ssim``, ``sam`` in degrees, ``rmse``, ``mae``; :mod:`eokit.tasks.metrics`)
   and the task model on the SR output (``task_miou``, ``task_oa``, ``task_f1_macro``).

Rows go to the results store under protocol ``superres`` (model = the SR model).
:func:`superres_tables` turns them into the report's table and the rank correlations
(Spearman, Kendall) between each fidelity metric and the downstream score across SR models.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from eokit.bench.config import (
    DatasetCfg,
    SRDatasetCfg,
    SRModelCfg,
    SRTaskModelCfg,
    SuiteConfig,
    stable_hash,
)
from eokit.errors import BandError, ConfigError, DatasetError, MetricError
from eokit.sensors import match_bands
from eokit.tasks.metrics import rank_correlation, score
from eokit.tasktype import TaskType

log = logging.getLogger(__name__)

SR_PROTOCOL = "superres"
"""The ``protocol`` of the SR rows in the results store."""
SR_VERSION = 1
REFERENCE = "hr (reference)"
"""The row of the task model on the original high-res test images."""
FIDELITY = {"psnr": True, "ssim": True, "sam": False}
"""Fidelity metrics correlated with the downstream score: name -> higher is better."""
TASK_METRICS = {"task_miou": "miou", "task_oa": "oa", "task_f1_macro": "f1_macro"}
"""Stored downstream metrics: ``{stored name: eokit.tasks.metrics name}`` (segmentation)."""
DOWNSTREAM = "task_miou"
"""The downstream score the rank correlations use."""
IGNORE_INDEX = -1


@dataclass
class SRPairs:
    """One split of an SR dataset in memory: ``lr`` (N, C, h, w), ``hr`` (N, C', fh, fw), ``mask`` (N, fh, fw)."""

    bands: tuple[str, ...]
    target_bands: tuple[str, ...]
    sensor: str | None
    classes: tuple[str, ...]
    lr: np.ndarray
    hr: np.ndarray
    mask: np.ndarray | None
    factor: int

    def __len__(self) -> int:
        return int(self.lr.shape[0])


_MEMO: OrderedDict[str, SRPairs] = OrderedDict()


def load_pairs(cfg: SRDatasetCfg, part: str) -> SRPairs:
    """The 'train' or 'test' pairs of ``cfg`` (memoised per process; read-only arrays)."""
    from eokit.bench.data import open_dataset
    from eokit.env import data_root

    if part not in ("train", "test"):
        raise ConfigError(f"SR dataset part must be 'train' or 'test', got {part!r}")
    key = stable_hash({"cfg": cfg.model_dump(mode="json"), "part": part, "root": str(data_root())})
    if key in _MEMO:
        return _MEMO[key]
    split = cfg.train if part == "train" else cfg.test
    names = [split.split] if isinstance(split.split, str) else list(split.split)
    base = DatasetCfg(name=cfg.name, loader=cfg.loader_name, kwargs=cfg.kwargs)
    parts = [open_dataset(base, name) for name in names]
    refs = [(p, i) for p in parts for i in range(len(p))]
    if not refs:
        raise DatasetError(f"SR dataset {cfg.name!r} split {split.split!r} has no items")
    if split.max_items and len(refs) > split.max_items:
        rng = np.random.default_rng(cfg.split_seed + (0 if part == "train" else 1))
        refs = [refs[i] for i in np.sort(rng.permutation(len(refs))[: split.max_items])]
    samples = [p[i] for p, i in refs]
    pairs = _stack(cfg, samples, getattr(parts[0], "classes", ()) or getattr(parts[0].spec, "classes", ()) or ())
    _MEMO[key] = pairs
    while len(_MEMO) > 4:
        _MEMO.popitem(last=False)
    return pairs


def _stack(cfg: SRDatasetCfg, samples: list[dict[str, Any]], classes: Sequence[str]) -> SRPairs:
    first = samples[0]
    if "target" not in first:
        raise ConfigError(f"SR dataset {cfg.name!r}: samples have no 'target' (high-res image); use a "
                          "super-resolution dataset (wald_scene, landsat8_pansharpen, worldstrat)")
    lrs, hrs, masks = [], [], []
    for s in samples:
        img = s["image"].float()
        lrs.append(img[0] if img.ndim == 4 else img)  # a time series (WorldStrat revisits): the first date
        hrs.append(s["target"].float())
        if "mask" in s:
            masks.append(s["mask"].long())
    lr, hr = torch.stack(lrs).numpy(), torch.stack(hrs).numpy()
    (h, w), (fh, fw) = lr.shape[-2:], hr.shape[-2:]
    factor = fh // h
    if fh % h or fw % w or fw // w != factor or factor < 2:
        raise ConfigError(f"SR dataset {cfg.name!r}: target {fh}x{fw} px is not an integer multiple (>= 2) of the "
                          f"input {h}x{w} px, so the SR factor does not divide; crop or resize the pairs (e.g. "
                          f"chip sizes that are multiples of the factor)")
    return SRPairs(tuple(first.get("bands") or ()), tuple(first.get("target_bands") or first.get("bands") or ()),
                   first.get("sensor"), tuple(classes), lr, hr, torch.stack(masks).numpy() if masks else None, factor)


# -- SR models ------------------------------------------------------------------------------------

def band_mapping(pairs: SRPairs, where: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """How an interpolated input becomes the target's bands: the same bands, or their mean for a single
    band the input lacks (multispectral -> panchromatic); BandError for other missing bands."""
    try:
        idx = match_bands(pairs.target_bands, pairs.bands, pairs.sensor, where=where, what="the SR target")
    except BandError:
        if len(pairs.target_bands) != 1:
            raise
        return lambda x: x.mean(dim=1, keepdim=True)
    if idx == list(range(len(pairs.bands))):
        return lambda x: x
    return lambda x: x[:, idx]


def _interpolate(x: torch.Tensor, factor: int, mode: str) -> torch.Tensor:
    if mode == "nearest":
        return F.interpolate(x, scale_factor=factor, mode="nearest")
    return F.interpolate(x, scale_factor=factor, mode=mode, align_corners=False)


def _stats(a: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.from_numpy(np.ascontiguousarray(a)).double()
    dims = [0, *range(2, t.ndim)]
    mean, std = t.mean(dim=dims), t.std(dim=dims)
    shape = (1, -1, 1, 1)
    return mean.float().view(shape), std.clamp_min(1e-6).float().view(shape)


def _batches(n: int, size: int, gen: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    return list(order.split(size))


def train_sr_model(m: SRModelCfg, train: SRPairs, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """An SR function (low-res arrays in, high-res arrays out, in the data's units) for ``m``.

    ``interpolate``: torch interpolation (+ :func:`band_mapping`). ``trained``: backbone ``arch`` +
    super-resolution head ``head`` (``eokit.models.create_model``), trained with L1 on standardised
    train pairs for ``epochs`` epochs.
    """
    if m.kind == "interpolate":
        to_target = band_mapping(train, f"SR model {m.name!r}")

        def interp(lr: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return to_target(_interpolate(torch.from_numpy(lr), train.factor, m.mode)).numpy()

        return interp
    from eokit.models import create_model

    if train.factor not in (2, 3, 4, 8):
        raise ConfigError(f"SR model {m.name!r}: the super-resolution head supports factors 2, 3, 4 and 8; the "
                          f"dataset's factor is {train.factor}; use an interpolation model or another factor")
    torch.manual_seed(seed)
    c_out = train.hr.shape[1]
    head_kwargs = dict(m.head_options)
    if c_out != train.lr.shape[1]:
        head_kwargs.setdefault("out_chans", c_out)
    model = create_model(m.arch or "", "super_resolution", bands=list(train.bands), sensor=train.sensor,
                         scale=train.factor, head=m.head, head_kwargs=head_kwargs, **m.options)
    mu_in, sd_in = _stats(train.lr)
    mu_out, sd_out = _stats(train.hr)
    x = (torch.from_numpy(train.lr) - mu_in) / sd_in
    y = (torch.from_numpy(train.hr) - mu_out) / sd_out
    opt = torch.optim.AdamW(model.parameters(), lr=m.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(m.epochs):
        for idx in _batches(len(x), m.batch_size, gen):
            loss = F.l1_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()

    def run(lr: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            xt = (torch.from_numpy(lr) - mu_in) / sd_in
            for idx in _batches(len(xt), 64, None):
                out.append(model(xt[idx]) * sd_out + mu_out)
        return torch.cat(out).numpy()

    return run


# -- the fixed task model -------------------------------------------------------------------------

@dataclass
class TaskModel:
    """The downstream model: trained once on original images, then applied unchanged to every input."""

    model: nn.Module
    index: list[int]  # the target bands it reads
    mean: torch.Tensor
    std: torch.Tensor
    num_classes: int

    def predict(self, images: np.ndarray) -> np.ndarray:
        out = []
        x = torch.from_numpy(np.ascontiguousarray(images[:, self.index]))
        with torch.no_grad():
            for idx in _batches(len(x), 64, None):
                out.append(self.model((x[idx] - self.mean) / self.std).argmax(1))
        return torch.cat(out).numpy()


def train_task_model(cfg: SRTaskModelCfg, train: SRPairs, dataset: str, seed: int) -> TaskModel:
    """Train the segmentation model of ``cfg`` on the high-res train targets and masks."""
    from eokit.models import create_model

    if train.mask is None:
        raise ConfigError(f"SR dataset {dataset!r} has a 'downstream' model but its samples have no 'mask' to train "
                          "and score it on; give the loader a label raster (wald_scene: label=, qa=) or drop "
                          "'downstream'")
    wanted = cfg.bands or list(train.target_bands)
    index = match_bands(wanted, train.target_bands, train.sensor, where=f"SR dataset {dataset!r} (SR output bands)",
                        what="the downstream model")
    k = max(len(train.classes), int(train.mask.max()) + 1, 2)
    torch.manual_seed(seed)
    model = create_model(cfg.arch, "segmentation", bands=[train.target_bands[i] for i in index], sensor=train.sensor,
                         num_classes=k, head=cfg.head, **cfg.options)
    mean, std = _stats(train.hr[:, index])
    x = (torch.from_numpy(np.ascontiguousarray(train.hr[:, index])) - mean) / std
    y = torch.from_numpy(train.mask)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(cfg.epochs):
        for idx in _batches(len(x), cfg.batch_size, gen):
            loss = F.cross_entropy(model(x[idx]), y[idx], ignore_index=IGNORE_INDEX)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return TaskModel(model, index, mean, std, k)


def task_scores(task: TaskModel, images: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The stored downstream metrics of ``task`` on ``images`` against ``mask``."""
    got = score(TaskType.SEGMENTATION, mask, task.predict(images), num_classes=task.num_classes,
                ignore_index=IGNORE_INDEX)
    return {stored: float(got[name]) for stored, name in TASK_METRICS.items()}


def fidelity_scores(hr: np.ndarray, sr: np.ndarray, data_range: float) -> dict[str, float]:
    """PSNR, SSIM, SAM (degrees), RMSE and MAE of ``sr`` against ``hr`` (SAM left out for one band)."""
    if sr.shape != hr.shape:
        raise MetricError(f"SR output {sr.shape} does not match the targets {hr.shape}")
    got = score(TaskType.SUPER_RESOLUTION, hr, sr, data_range=data_range)
    return {k: float(v) for k, v in got.items() if np.isfinite(v) or k == "psnr"}


# -- planning and running -------------------------------------------------------------------------

def job_key(suite: SuiteConfig, dataset: SRDatasetCfg, seed: int) -> str:
    """Store key of one SR job: changes with the dataset, any SR model, the task model or the seed."""
    assert suite.superres is not None
    return stable_hash({"v": SR_VERSION, "suite": suite.name, "protocol": SR_PROTOCOL,
                        "dataset": dataset.model_dump(mode="json"),
                        "models": [m.model_dump(mode="json") for m in suite.superres.models], "seed": seed}, n=24)


def plan_jobs(suite: SuiteConfig) -> tuple[list[tuple[str, int, str]], list[tuple[str, str, str]], dict[str, Any]]:
    """``([(dataset, seed, job_key)], skipped, info)`` of the SR protocol; a dataset that cannot be read is
    skipped with its reason, as the other datasets are."""
    jobs: list[tuple[str, int, str]] = []
    skipped: list[tuple[str, str, str]] = []
    info: dict[str, Any] = {}
    if suite.superres is None:
        return jobs, skipped, info
    from eokit.datasets.base import DATASETS

    for d in suite.superres.datasets:
        try:
            train, test = load_pairs(d, "train"), load_pairs(d, "test")
        except (DatasetError, ConfigError, FileNotFoundError) as exc:
            if isinstance(exc, ConfigError) and d.loader_name in DATASETS:
                raise  # a configuration mistake (factor, layout), not missing data
            log.warning("SR dataset %s skipped: %s", d.name, exc)
            skipped.append((SR_PROTOCOL, d.name, str(exc)))
            continue
        info[d.name] = {"task": TaskType.SUPER_RESOLUTION, "bands": list(train.bands), "sensor": train.sensor,
                        "n_train": len(train), "n_test": len(test), "shape": list(train.lr.shape[1:]),
                        "factor": train.factor}
        jobs += [(d.name, s, job_key(suite, d, s)) for s in suite.superres.seeds]
    return jobs, skipped, info


def _row(suite: SuiteConfig, dataset: str, model: str, seed: int, key: str, metric: str,
         value: float) -> dict[str, Any]:
    return {"suite": suite.name, "dataset": dataset, "model": model, "protocol": SR_PROTOCOL, "fraction": 1.0,
            "seed": int(seed), "corruption": "none", "severity": 0, "metric": metric, "value": float(value),
            "job_key": key, "config_hash": suite.config_hash(), "time": dt.datetime.now(dt.UTC).replace(tzinfo=None)}


def run_dataset(suite: SuiteConfig, dataset: str, seed: int, key: str) -> dict[str, list[dict[str, Any]]]:
    """Run the SR protocol on one dataset and seed: ``{key: rows}`` (one row per model and metric)."""
    assert suite.superres is not None
    d = next(x for x in suite.superres.datasets if x.name == dataset)
    train, test = load_pairs(d, "train"), load_pairs(d, "test")
    if train.factor != test.factor:
        raise ConfigError(f"SR dataset {dataset!r}: train pairs are x{train.factor}, test pairs x{test.factor}")
    data_range = d.data_range or float(test.hr.max() - test.hr.min())
    if not data_range > 0:
        raise MetricError(f"SR dataset {dataset!r}: the test targets are constant; set data_range: in the suite")
    if d.downstream is not None and train.mask is not None and test.mask is None:
        raise ConfigError(f"SR dataset {dataset!r}: the test split has no 'mask' for the downstream model")
    task = train_task_model(d.downstream, train, dataset, seed) if d.downstream is not None else None
    rows: list[dict[str, Any]] = []
    if task is not None and test.mask is not None:
        rows += [_row(suite, dataset, REFERENCE, seed, key, k, v)
                 for k, v in task_scores(task, test.hr, test.mask).items()]
    for m in suite.superres.models:
        sr = train_sr_model(m, train, seed)(test.lr)
        values = fidelity_scores(test.hr, sr, data_range)
        if task is not None and test.mask is not None:
            values.update(task_scores(task, sr, test.mask))
        rows += [_row(suite, dataset, m.name, seed, key, k, v) for k, v in values.items()]
        log.info("superres %s %s seed %d: %s", dataset, m.name, seed,
                 ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
    return {key: rows}


# -- report tables ---------------------------------------------------------------------------------

def split_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the other rows, the SR protocol's rows) of a results frame."""
    from eokit.bench.store import split_protocol

    return split_protocol(df, SR_PROTOCOL)


TABLE_COLUMNS = ("dataset", "model", *FIDELITY, DOWNSTREAM, "task_oa", "n_seeds")
CORR_COLUMNS = ("dataset", "fidelity", "n_models", "spearman", "kendall", "reason")


def superres_tables(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per dataset x SR model: mean over seeds of the fidelity and downstream metrics, best downstream first;
    per dataset x fidelity metric: Spearman and Kendall rank correlation with the downstream score across
    the SR models, the reference left out). SAM is negated first (lower is better), so for every fidelity
    metric a positive correlation means "higher fidelity, better downstream score"."""
    _, sr = split_rows(rows)
    if sr.empty:
        return pd.DataFrame(columns=list(TABLE_COLUMNS)), pd.DataFrame(columns=list(CORR_COLUMNS))
    wide = sr.pivot_table(index=["dataset", "model", "seed"], columns="metric", values="value", aggfunc="mean")
    n_seeds = wide.reset_index().groupby(["dataset", "model"])["seed"].nunique()
    mean = wide.groupby(level=["dataset", "model"]).mean()
    mean["n_seeds"] = n_seeds
    table = mean.reset_index()
    for col in TABLE_COLUMNS:
        if col not in table.columns:
            table[col] = np.nan
    table = table.sort_values(["dataset", DOWNSTREAM, "psnr"], ascending=[True, False, False], na_position="last")
    corr = []
    for dataset, sub in table[table["model"] != REFERENCE].groupby("dataset", sort=True):
        for metric, higher in FIDELITY.items():
            ok = sub[[metric, DOWNSTREAM]].dropna()
            entry: dict[str, Any] = {"dataset": dataset, "fidelity": metric if higher else f"-{metric}",
                                     "n_models": len(ok), "spearman": np.nan, "kendall": np.nan, "reason": ""}
            try:
                fid = ok[metric].to_numpy() * (1 if higher else -1)
                entry.update(rank_correlation(fid, ok[DOWNSTREAM].to_numpy()))
            except MetricError as exc:
                same = len(ok) >= 3 and ok[DOWNSTREAM].nunique() == 1
                entry["reason"] = (f"{DOWNSTREAM} is {ok[DOWNSTREAM].iloc[0]:.3f} for every SR model: nothing to rank"
                                   if same else str(exc)) if len(ok) else (
                    "fidelity only: the dataset has no downstream model" if sub[DOWNSTREAM].isna().all()
                    else f"no {metric} scores (one-band targets have no spectral angle)")
            corr.append(entry)
    return table[list(TABLE_COLUMNS)].reset_index(drop=True), pd.DataFrame(corr, columns=list(CORR_COLUMNS))


__all__ = [
    "FIDELITY", "REFERENCE", "SR_PROTOCOL", "SRPairs", "TaskModel", "band_mapping", "fidelity_scores",
    "load_pairs", "plan_jobs", "run_dataset", "split_rows", "superres_tables", "task_scores", "train_sr_model",
    "train_task_model",
]
