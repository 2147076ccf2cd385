"""Run a suite: plan the job grid, execute it (in-process or on Dask), store rows as jobs finish.

The unit of computation is a :class:`Job` (not to be confused with a task
type, :class:`~eokit.tasktype.TaskType`, which is what a dataset asks for):

- ``features`` — per (model, dataset): extract and cache every split and
  corruption the jobs need (``eokit.bench.features``); stores nothing itself;
- ``eval`` — per (model, dataset, protocol, fraction, seed): fit once on the
  cached train features, score the clean test features and each corrupted
  copy;
- ``finetune`` — per (model, dataset, fraction, seed);
- ``efficiency`` — per (model, dataset): params, GFLOPs, throughput, peak
  memory, measured on the driver after the grid (so workers do not disturb
  the timing).

A job stores its rows as one store *entry* per condition (``Job.entries``): the
clean rows, and the rows under each (corruption, severity) when the job is part
of the robustness grid. An entry's
``job_key`` (the store's column name) hashes everything that determines its values (suite name, model
and dataset configs, protocol settings, fraction, seed, conditions), so adding
a seed, a protocol or a model adds entries without touching stored ones. The
driver asks the store which entries are done, submits only the jobs that still
have some, and writes each job's entries as soon as its future completes (``as_completed``), so a run
killed at any point and restarted recomputes nothing it stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eokit.bench.baselines import with_baselines
from eokit.bench.config import (
    DENSE_TASKS,
    POOLED_PROTOCOLS,
    POOLED_TASKS,
    ProtocolCfg,
    SuiteConfig,
    load_suite,
    stable_hash,
)
from eokit.env import (
    BENCH_PRELOAD,
    data_root,
    limit_threads,
    local_cluster,
    prepare_workers,
    route_worker_warnings,
    tune_allocator,
)
from eokit.errors import ConfigError, DatasetError, DatasetNotFoundError, DownloadError, MetricError
from eokit.tasktype import TaskType

log = logging.getLogger(__name__)

RUNNER_VERSION = 1
CLEAN = ("none", 0)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Job:
    """One unit of bench computation; ``entries`` = ((job_key, conditions), ...) it stores rows for."""

    kind: str  # 'eval' | 'finetune' | 'temporal' | 'efficiency' | 'superres' | 'modality'
    model: str
    dataset: str
    protocol: str
    fraction: float = 1.0
    seed: int = 0
    entries: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()

    @property
    def conditions(self) -> list[tuple[str, int]]:
        return [c for _, conds in self.entries for c in conds]

    @property
    def label(self) -> str:
        if self.kind == "efficiency":
            return f"efficiency {self.model} @ {self.dataset}"
        if self.kind == "superres":
            return f"superres {self.dataset} s={self.seed}"
        return f"{self.model} {self.protocol} {self.dataset} f={self.fraction:g} s={self.seed}"


class JobResult(dict[str, list[dict[str, Any]]]):
    """``{job_key: rows}`` of a finished job; ``outcomes``: ``{job_key: [outcome record]}`` (per-test-sample
    outcomes of each condition, or why it could not be scored) for the results store's outcomes table."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]] | None = None,
                 outcomes: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(rows or {})
        self.outcomes: dict[str, list[dict[str, Any]]] = outcomes or {}


@dataclass
class Plan:
    suite: SuiteConfig
    jobs: list[Job]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (model, dataset, reason)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # dataset -> task, bands, sizes

    @property
    def job_keys(self) -> list[str]:
        return [k for t in self.jobs for k, _ in t.entries]


@dataclass
class RunSummary:
    out: Path
    total_jobs: int
    done_before: int
    computed: int
    rows: int
    skipped: list[tuple[str, str, str]]
    exports: tuple[Path, ...] = ()
    feature_jobs: int = 0
    plan: Plan | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)  # (job label, error) of jobs that raised
    run_card: dict[str, Any] | None = None  # what `eokit.bench.runcard` stored as OUT/runcard.json
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds per stage: plan (read + decode the datasets), cluster (on Dask only: starting the
    LocalCluster's workers, or connecting to ``scheduler``; part of features and grid), features (until
    the last feature job finished), grid (features + protocols), efficiency, export; also in
    ``OUT/timings.json``."""


# -- planning -------------------------------------------------------------------------------------

def _job_key(suite: SuiteConfig, model: str, dataset: str, proto: ProtocolCfg | str, fraction: float, seed: int,
             conds: Iterable[tuple[str, int]]) -> str:
    m = next(x for x in suite.models if x.name == model)
    d = next(x for x in suite.datasets if x.name == dataset)
    p = proto.model_dump(mode="json", exclude={"fractions", "seeds"}) if isinstance(proto, ProtocolCfg) else {"name": proto}
    return stable_hash({
        "v": RUNNER_VERSION, "suite": suite.name,
        "model": m.model_dump(mode="json", exclude={"role", "protocols"}),
        "dataset": d.model_dump(mode="json"), "protocol": p, "fraction": fraction, "seed": seed,
        "conditions": sorted([list(c) for c in conds]),
    }, n=24)


def _protocol_ok(protocol: str, task: TaskType) -> bool:
    if protocol in POOLED_PROTOCOLS:
        return task in POOLED_TASKS
    if protocol == "decoder":
        return task in DENSE_TASKS
    if protocol == "finetune":
        return task in POOLED_TASKS
    if protocol == "temporal":
        return task == TaskType.CLASSIFICATION
    return False


def _unscored_why(suite: SuiteConfig, task: TaskType) -> str:
    """Why a dataset gets no score: which protocols its task takes, beside the suite's."""
    known = (*POOLED_PROTOCOLS, "decoder", "finetune", "temporal")
    takes = [p for p in known if _protocol_ok(p, task)]
    ours = [p.name for p in suite.protocol_cfgs()]
    if any(p in takes for p in ours):
        return "nothing scores it: no model of the suite applies to it (see the models skipped on it)"
    return f"nothing scores it: a {task} dataset takes the protocols {takes}; the suite has {ours}"


# what runs on a time-series dataset: the series encoders' own protocol, and a random forest on the flattened
# series for the baselines (the published reference for these data)
SERIES_PROTOCOLS = ("temporal", "random_forest")


def plan(suite: SuiteConfig) -> Plan:
    """The full job grid of ``suite`` (baselines included); loads each dataset once to learn bands and task."""
    from eokit.bench.data import load_split
    from eokit.bench.features import applicable, series_model, weights_problem

    suite = with_baselines(suite)
    jobs: list[Job] = []
    skipped: list[tuple[str, str, str]] = []
    info: dict[str, dict[str, Any]] = {}
    rob = suite.robustness
    rob_datasets = set(rob.datasets) if rob and rob.datasets is not None else None
    unavailable = {m.name: why for m in suite.models if (why := weights_problem(m, suite.allow_noncommercial))}
    for name, why in unavailable.items():
        log.info("model %s left out: %s", name, why)  # the CLI summarises; the run card keeps each reason
        skipped.append((name, "*", why))
    for d in suite.datasets:
        try:
            train = load_split(d, "train")
            test = load_split(d, "test")
        except (DatasetNotFoundError, DownloadError, DatasetError) as exc:  # the rest of the suite still runs
            log.warning("dataset %s skipped: %s", d.name, exc)
            skipped.append(("*", d.name, str(exc)))
            continue
        info[d.name] = {"task": train.task, "bands": list(train.bands), "sensor": train.sensor,
                        "n_train": len(train), "n_test": len(test), "shape": list(train.image.shape[1:])}
        conds: list[tuple[str, int]] = [CLEAN]
        if rob and train.task in POOLED_TASKS and not train.series and (rob_datasets is None or d.name in rob_datasets):
            conds += [(c, s) for c in rob.corruptions for s in rob.severities]
        elif rob and rob_datasets and d.name in rob_datasets:
            raise ConfigError(f"robustness.datasets: {d.name!r} is a {train.task} dataset; robustness is "
                              f"evaluated on pooled-feature tasks {[str(t) for t in POOLED_TASKS]}")
        for m in suite.models:
            if m.name in unavailable:
                continue
            if m.kind == "backbone" and series_model(m) != train.series:
                continue  # image backbones and pixel-series encoders each see only their own kind of data
            why = applicable(m, train)
            if why:
                skipped.append((m.name, d.name, why))
                continue
            for p in suite.protocol_cfgs():
                if not _protocol_ok(p.name, train.task):
                    continue
                if m.protocols is not None and p.name not in m.protocols:
                    continue
                if p.datasets is not None and d.name not in p.datasets:
                    continue
                if p.name == "finetune" and m.kind != "backbone":
                    continue
                if (p.name == "temporal") != series_model(m):  # series encoders are trained, not probed
                    continue
                if train.series and p.name not in SERIES_PROTOCOLS:
                    continue  # no image backbone runs here: a probe of baselines alone would leave every image
                    # entry of that protocol without an overall score
                for frac in p.fractions or []:
                    for seed in p.seeds or []:
                        robust = (rob is not None and p.name in rob.protocols and p.name in POOLED_PROTOCOLS
                                  and frac in rob.fractions and (rob.seeds is None or seed in rob.seeds))
                        # one store job per condition: adding a corruption later adds jobs, never duplicates
                        entries = [(_job_key(suite, m.name, d.name, p, frac, seed, [c]), (c,))
                                for c in (conds if robust else [CLEAN])]
                        kind = p.name if p.name in ("finetune", "temporal") else "eval"
                        jobs.append(Job(kind, m.name, d.name, p.name, frac, seed, tuple(entries)))
            if suite.efficiency.enabled:
                key = _job_key(suite, m.name, d.name, "efficiency", 1.0, 0, [CLEAN])
                jobs.append(Job("efficiency", m.name, d.name, "efficiency", 1.0, 0, ((key, (CLEAN,)),)))
        if not any(j.dataset == d.name and j.kind != "efficiency" for j in jobs):
            skipped.append(("*", d.name, _unscored_why(suite, train.task)))
    if suite.superres is not None:  # SR in the loop: one job per SR dataset and seed (eokit.bench.superres)
        from eokit.bench.superres import SR_PROTOCOL
        from eokit.bench.superres import plan_jobs as plan_superres

        sr_jobs, sr_skipped, sr_info = plan_superres(suite)
        jobs += [Job("superres", "*", d, SR_PROTOCOL, 1.0, s, ((k, (CLEAN,)),)) for d, s, k in sr_jobs]
        skipped += sr_skipped
        info.update(sr_info)
    if suite.modality is not None:  # the missing-modality protocol's own datasets and fusion models
        from eokit.bench.modality import MISSING_MODALITY
        from eokit.bench.modality import plan_jobs as plan_modality

        mjobs, mskipped, minfo = plan_modality(suite)
        jobs += [Job("modality", m, d, MISSING_MODALITY, 1.0, seed, entries) for m, d, seed, entries in mjobs]
        skipped += mskipped
        info.update(minfo)
    if not info:
        raise DatasetNotFoundError(
            f"suite {suite.name!r}: no dataset could be loaded (EOKIT_DATA={str(data_root())!r}):\n"
            + "\n".join(f"  {d}: {why}" for _, d, why in skipped)
        )
    return Plan(suite, jobs, skipped, info)


# -- job execution (runs in workers; top-level functions so Dask can pickle them) -------------------

def _suite(suite_json: dict[str, Any]) -> SuiteConfig:
    return SuiteConfig.model_validate(suite_json)


_WORKER_READY: list[bool] = []


def _worker_setup() -> None:
    """Once per Dask worker process: one torch/BLAS thread (threads_per_worker=1, so threads x
    workers <= cores) and glibc's allocator keeping freed buffers (``eokit.env.tune_allocator``;
    a worker of an external cluster may have been started with Dask's 64 KiB trim threshold)."""
    if _WORKER_READY:
        return
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return

    tune_allocator()
    limit_threads(1)
    route_worker_warnings()  # the worker's warnings join the command's eokit.log
    _WORKER_READY.append(True)


def _needed_conditions(jobs: Iterable[Job]) -> list[tuple[str, int]]:
    conds = {c for t in jobs for c in t.conditions}
    return sorted(conds, key=lambda c: (c != CLEAN, c))


FEATURE_PARTS = ("train", "test")
"""A feature set's shares that a cluster extracts as tasks of their own (one dataset's training
images, its test images under every condition): the largest set then runs on two workers at once."""


def feature_order(p: Plan, groups: dict[tuple[str, str], list[Job]]) -> dict[tuple[str, str, str], int]:
    """Dask priority (higher runs first) of each share of each feature set (:data:`FEATURE_PARTS`), by
    the pixels it reads: the training images, or the test images once per condition. Largest first keeps
    the tail of a run short (longest-processing-time-first); the models' own costs are not known before
    they are built, so the shares of one size keep the suite's order."""
    def pixels(unit: tuple[str, str, str]) -> int:
        info = p.info.get(unit[1], {})
        conds = len(_needed_conditions(groups[unit[:2]]))
        n = int(info.get("n_train", 0)) if unit[2] == "train" else int(info.get("n_test", 0)) * conds
        shape = list(info.get("shape", [1]))
        return n * int(np.prod(shape[-2:] if len(shape) >= 3 else shape))  # images: H x W (bands aside)

    ranked = sorted(((*g, part) for g in groups for part in FEATURE_PARTS), key=pixels, reverse=True)
    return {u: len(ranked) - i for i, u in enumerate(ranked)}


@dataclass(frozen=True)
class FeatureShare:
    """What a feature task returns: the feature files (``train``, ``test:CORRUPTION:SEVERITY``) and
    the sha256 of the model's initial state dict on the dataset's bands (None: not a backbone); the
    run card takes the latter from here, so the driver never builds the models itself."""

    paths: dict[str, str]
    state_dict_sha256: str | None = None


def _merged_paths(shares: FeatureShare | list[FeatureShare] | None) -> dict[str, str] | None:
    if shares is None:
        return None
    return {k: v for s in (shares if isinstance(shares, list) else [shares]) for k, v in s.paths.items()}


def features_job(suite_json: dict[str, Any], model: str, dataset: str, conds: list[tuple[str, int]],
                 part: str | None = None) -> FeatureShare:
    """Extract (or find cached) train features and test features under each condition (``part``:
    only the ``'train'`` or only the ``'test'`` share; None: both)."""
    from eokit.bench.data import load_split
    from eokit.bench.features import extract_features, make_extractor

    _worker_setup()
    suite = _suite(suite_json)
    m = next(x for x in suite.models if x.name == model)
    d = next(x for x in suite.datasets if x.name == dataset)
    train, test = load_split(d, "train"), load_split(d, "test")
    ex = make_extractor(m, train)
    out = {}
    if part in (None, "train"):
        out["train"] = str(extract_features(ex, train, batch_size=suite.batch_size))
    if part in (None, "test"):
        for c, s in conds:
            out[f"test:{c}:{s}"] = str(extract_features(ex, test, c, s, batch_size=suite.batch_size))
    return FeatureShare(out, getattr(ex, "state_dict_sha256", None))


def _row(suite: SuiteConfig, t: Job, cond: tuple[str, int], key: str, metric: str, value: float) -> dict[str, Any]:
    return {"suite": suite.name, "dataset": t.dataset, "model": t.model, "protocol": t.protocol,
            "fraction": float(t.fraction), "seed": int(t.seed), "corruption": cond[0], "severity": int(cond[1]),
            "metric": metric, "value": float(value), "job_key": key, "config_hash": suite.config_hash(),
            "time": dt.datetime.now(dt.UTC).replace(tzinfo=None)}


def _result(suite: SuiteConfig, t: Job, results: dict[tuple[str, int], dict[str, float]],
            keep: dict[tuple[str, int], Any]) -> JobResult:
    """The rows and outcome records of every entry of ``t``."""
    from eokit.bench.store import outcome_record

    rows = {key: [_row(suite, t, c, key, k, v) for c in cs for k, v in results[c].items()] for key, cs in t.entries}
    outs = {key: [outcome_record(_row(suite, t, c, key, "", 0.0), keep[c]) for c in cs if c in keep]
            for key, cs in t.entries}
    return JobResult(rows, outs)


def eval_job(suite_json: dict[str, Any], t: Job, paths: dict[str, str] | None = None) -> JobResult:
    """Fit protocol ``t.protocol`` once and score every condition of ``t``; ``{job_key: rows}``."""
    from eokit.bench import protocols as P
    from eokit.bench.data import fraction_indices, load_split
    from eokit.bench.features import load_features

    _worker_setup()
    suite = _suite(suite_json)
    d = next(x for x in suite.datasets if x.name == t.dataset)
    conds = t.conditions
    if paths is None or not all(Path(p).exists() for p in paths.values()):
        paths = features_job(suite_json, t.model, t.dataset, conds).paths  # e.g. a worker without the shared cache
    train, test = load_split(d, "train"), load_split(d, "test")
    y_train = train.target()
    idx = fraction_indices(y_train, t.fraction, t.seed, train.task)
    ftrain = load_features(paths["train"])
    results: dict[tuple[str, int], dict[str, float]]
    keep: dict[tuple[str, int], Any] = {}
    if t.protocol == "decoder":
        pcfg = next(p for p in suite.protocol_cfgs() if p.name == "decoder")
        tests = {}
        for c in conds:
            f = load_features(paths[f"test:{c[0]}:{c[1]}"])
            tests[c] = (_dense_inputs(train.task, f), test.target())
        results = P.run_decoder(train.task, [m[idx] for m in _dense_inputs(train.task, ftrain)], y_train[idx], tests,
                                t.seed, max(train.num_classes, test.num_classes, 2),
                                epochs=pcfg.epochs or 30, lr=pcfg.lr or 3e-3, batch_size=pcfg.batch_size or 8,
                                keep=keep)
    else:
        pooled = {c: (load_features(paths[f"test:{c[0]}:{c[1]}"]).pooled, test.target()) for c in conds}
        results = P.run_pooled(t.protocol, train.task, ftrain.pooled[idx], y_train[idx], pooled, t.seed,
                               max(train.num_classes, test.num_classes), keep=keep)
    return _result(suite, t, results, keep)


def _dense_inputs(task: TaskType, f: Any) -> list[np.ndarray]:
    from eokit.bench.protocols import fuse_change

    if task == TaskType.CHANGE_DETECTION:
        return fuse_change(f.maps, f.maps2 or [])
    return f.maps


def finetune_job(suite_json: dict[str, Any], t: Job) -> JobResult:
    from eokit.bench import protocols as P
    from eokit.bench.data import fraction_indices, load_split
    from eokit.bench.features import BackboneExtractor, reflectance_scale

    _worker_setup()
    suite = _suite(suite_json)
    m = next(x for x in suite.models if x.name == t.model)
    d = next(x for x in suite.datasets if x.name == t.dataset)
    pcfg = next(p for p in suite.protocol_cfgs() if p.name == "finetune")
    train, test = load_split(d, "train"), load_split(d, "test")
    ex = BackboneExtractor(m, train.bands, train.sensor, reflectance_scale(train))
    idx = fraction_indices(train.target(), t.fraction, t.seed, train.task)
    keep: dict[tuple[str, int], Any] = {}
    res = P.run_finetune(train.task, ex.model, ex.pooled, ex.num_features, train.image[idx], train.target()[idx],
                         test.image, test.target(), t.seed, max(train.num_classes, test.num_classes),
                         epochs=pcfg.epochs or 3, lr=pcfg.lr or 1e-3, batch_size=pcfg.batch_size or 32, keep=keep)
    ((_, (cond,)),) = t.entries
    return _result(suite, t, {cond: res}, keep)


def temporal_job(suite_json: dict[str, Any], t: Job) -> JobResult:
    """The temporal protocol: a series encoder trained from scratch (``eokit.bench.temporal``)."""
    from eokit.bench.data import fraction_indices, load_split
    from eokit.bench.temporal import run_temporal

    _worker_setup()
    suite = _suite(suite_json)
    m = next(x for x in suite.models if x.name == t.model)
    d = next(x for x in suite.datasets if x.name == t.dataset)
    pcfg = next(p for p in suite.protocol_cfgs() if p.name == "temporal")
    train, test = load_split(d, "train"), load_split(d, "test")
    idx = fraction_indices(train.target(), t.fraction, t.seed, train.task)
    keep: dict[tuple[str, int], Any] = {}
    res = run_temporal(m.arch or "", m.options, train, test, idx, t.seed, max(train.num_classes, test.num_classes),
                       epochs=pcfg.epochs or 30, lr=pcfg.lr or 2e-3, batch_size=pcfg.batch_size or 32, keep=keep)
    ((_, (cond,)),) = t.entries
    return _result(suite, t, {cond: res}, keep)


def efficiency_job(suite_json: dict[str, Any], t: Job) -> JobResult:
    from eokit.bench.data import load_split
    from eokit.bench.efficiency import measure
    from eokit.bench.features import make_extractor

    suite = _suite(suite_json)
    m = next(x for x in suite.models if x.name == t.model)
    d = next(x for x in suite.datasets if x.name == t.dataset)
    test = load_split(d, "test")
    ex = make_extractor(m, test)
    res = measure(ex, test.image[: suite.efficiency.batch_size], repeats=suite.efficiency.repeats)
    (key, (cond,)), = t.entries
    return JobResult({key: [_row(suite, t, cond, key, k, v) for k, v in res.items()]})


def superres_job(suite_json: dict[str, Any], t: Job) -> JobResult:
    """The SR-in-the-loop protocol on one SR dataset and seed (:func:`eokit.bench.superres.run_dataset`)."""
    from eokit.bench.superres import run_dataset

    _worker_setup()
    ((key, _),) = t.entries
    return JobResult(run_dataset(_suite(suite_json), t.dataset, t.seed, key))


def modality_job(suite_json: dict[str, Any], t: Job) -> JobResult:
    """A missing-modality job (``eokit.bench.modality``): train once, score each modality removed."""
    from eokit.bench.modality import run_job as run_modality

    _worker_setup()
    rows, outcomes = run_modality(suite_json, t)
    return JobResult(rows, outcomes)


def not_scored(suite_json: dict[str, Any], t: Job, reason: str) -> JobResult:
    """The result of an evaluation whose metric is undefined on its test set: no rows, and an
    outcome record per condition saying why, so the report marks the dataset 'not ranked'."""
    from eokit.bench.store import outcome_record

    base = {"suite": str(suite_json.get("name", "")), "dataset": t.dataset, "model": t.model, "protocol": t.protocol,
            "fraction": float(t.fraction), "seed": int(t.seed)}
    outs = {key: [outcome_record({**base, "corruption": c[0], "severity": int(c[1])}, reason=reason) for c in cs]
            for key, cs in t.entries}
    return JobResult({key: [] for key, _ in t.entries}, outs)


def run_job(suite_json: dict[str, Any], t: Job, features: FeatureShare | list[FeatureShare] | None = None) -> JobResult:
    """Run one job; ``{job_key: rows}`` with ``.outcomes``. A metric that cannot be computed on the
    test set (an empty split, no labelled pixel, no positive label) is not a crash and not 0.0: the
    job stores no rows and a reason (:func:`not_scored`), logged as a warning naming the job."""
    runners = {"eval": eval_job, "finetune": finetune_job, "temporal": temporal_job, "efficiency": efficiency_job,
               "superres": superres_job, "modality": modality_job}
    if t.kind not in runners:
        raise ConfigError(f"unknown job kind {t.kind!r}; one of {sorted(runners)}")
    paths = _merged_paths(features)  # an evaluation's feature set: one share, or its FEATURE_PARTS
    try:
        out = eval_job(suite_json, t, paths) if t.kind == "eval" else runners[t.kind](suite_json, t)
    except MetricError as exc:
        if t.kind == "efficiency":
            raise MetricError(f"{t.label}: {exc}") from exc
        log.warning("%s: not ranked: %s", t.label, exc)
        return not_scored(suite_json, t, str(exc))
    return out if isinstance(out, JobResult) else JobResult(out)


# -- driver ------------------------------------------------------------------------------------------

WORKER_PRELOAD = BENCH_PRELOAD
"""Modules the LocalCluster's forkserver imports once for every worker (:func:`eokit.env.local_cluster`)."""


def _client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    from distributed import Client

    if scheduler:
        return Client(scheduler), None
    # workers inherit eokit's allocator settings: Dask's own MALLOC_TRIM_THRESHOLD_=65536
    # made glibc mmap/munmap every buffer above 128 KiB (see eokit.env.tune_allocator)
    cluster = local_cluster(workers, preload=WORKER_PRELOAD)
    return Client(cluster), cluster


def run_suite(
    suite: SuiteConfig | str | Path,
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    on_stored: Callable[[str, int], None] | None = None,
    command: str | None = None,
) -> RunSummary:
    """Run ``suite`` into ``out`` (results.duckdb + Parquet/CSV exports; the CLI adds report.html).

    ``workers=0`` runs every job in this process; otherwise a loopback
    LocalCluster of ``workers`` processes (one thread each) is started, or the
    Dask scheduler at ``scheduler`` (``tcp://HOST:PORT``) is used. The run card
    (``OUT/runcard.json``: data, models, protocols, machine, ``command``, seconds per
    stage) is written at the end.
    """

    from eokit.bench import runcard as rc
    from eokit.bench.store import ResultsStore

    tune_allocator()  # the driver decodes the datasets and runs the in-process grid
    if not scheduler and workers > 0:
        prepare_workers(WORKER_PRELOAD)  # the workers' server imports while the driver plans
    cfg = suite if isinstance(suite, SuiteConfig) else load_suite(suite)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(out / "results.duckdb")
    started, t_start = dt.datetime.now(dt.UTC), time.perf_counter()
    clock = rc.StageClock()
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    with clock.time(rc.STAGE_DATA):
        p = plan(cfg)
    stages["plan"] = time.perf_counter() - t0
    suite_json = p.suite.model_dump(mode="json")
    done = store.done_jobs()
    pending = [dataclasses.replace(t, entries=tuple(e for e in t.entries if e[0] not in done))
               for t in p.jobs if any(k not in done for k, _ in t.entries)]
    grid = [t for t in pending if t.kind != "efficiency"]
    eff = [t for t in pending if t.kind == "efficiency"]
    total = len(p.jobs)
    finished = total - len(pending)
    n_entries = len(p.job_keys)
    done_before = sum(k in done for k in p.job_keys)
    log.info("suite %s: %d result entries, %d stored, %d jobs to run", cfg.name, n_entries, done_before, len(pending))
    if progress:
        progress(finished, total, f"{done_before}/{n_entries} results stored")
    computed = 0

    def store_results(batch: list[tuple[Job, dict[str, list[dict[str, Any]]]]]) -> None:
        """Store the entries of finished jobs (one connection, one transaction per entry)."""
        nonlocal computed, finished
        entries = {k: rows for _, result in batch for k, rows in result.items() if k not in done}
        outcomes = {k: recs for _, result in batch for k, recs in getattr(result, "outcomes", {}).items()
                    if k in entries and recs}
        if entries:
            store.add_jobs(entries, outcomes)
        for key, rows in entries.items():
            done.add(key)
            computed += 1
            if on_stored:
                on_stored(key, len(rows))
        finished += len(batch)
        if progress and batch:
            progress(finished, total, batch[-1][0].label)

    def store_result(t: Job, result: dict[str, list[dict[str, Any]]]) -> None:
        store_results([(t, result)])

    failed: list[tuple[str, str]] = []

    def fail(t: Job, exc: BaseException) -> None:
        nonlocal finished
        log.error("job %s failed: %s: %s", t.label, type(exc).__name__, exc)
        failed.append((t.label, f"{type(exc).__name__}: {exc}"))
        finished += 1
        if progress:
            progress(finished, total, f"FAILED {t.label}")

    feature_groups: dict[tuple[str, str], list[Job]] = {}
    for t in grid:
        if t.kind == "eval":
            feature_groups.setdefault((t.model, t.dataset), []).append(t)
    t_grid = time.perf_counter()
    features_done: list[float] = []
    digests: dict[tuple[str, str], str | None] = {}  # (model, dataset): initial state dict sha256, for the run card
    if grid and (scheduler or workers > 0):
        from distributed import as_completed, get_task_stream

        t_cluster = time.perf_counter()
        client, cluster = _client(scheduler, workers)
        stages["cluster"] = time.perf_counter() - t_cluster  # start (LocalCluster: its workers' imports) or connect
        clock.add(rc.STAGE_CLUSTER, stages["cluster"])
        clock.mode = "job stages: compute seconds summed over the Dask workers; other stages: wall"
        stage_of_key: dict[str, str] = {}
        try:
            # feature sets are handed out largest first, no more at a time than the cluster has threads
            # (Dask would otherwise queue some behind a long one on a busy worker), and each evaluation
            # runs as soon as its features exist: the tail of the run stays one set and its evaluations
            order = feature_order(p, feature_groups)
            queue = list(order)
            parts: dict[tuple[str, str], list[Any]] = {}
            share_of: dict[Any, tuple[str, str]] = {}
            futures: dict[Any, Job] = {}
            n_feats, done_feats = 0, 0
            ac = as_completed()

            def submit(t: Job, dep: Any = None, rank: int = 0) -> None:
                fut = client.submit(run_job, suite_json, t, dep, pure=False, priority=rank)
                futures[fut] = t
                stage_of_key[str(fut.key)] = _stage(t)
                ac.add(fut)

            def hand_out_features() -> None:
                nonlocal n_feats
                slots = max(1, sum(client.nthreads().values()))
                while queue and n_feats - done_feats < slots:
                    model, dataset, part = unit = queue.pop(0)
                    g = (model, dataset)
                    f = client.submit(features_job, suite_json, model, dataset, _needed_conditions(feature_groups[g]),
                                      part, pure=False, key=f"features-{model}-{dataset}-{part}-{os.getpid()}",
                                      priority=order[unit])
                    n_feats += 1
                    stage_of_key[str(f.key)] = rc.STAGE_FEATURES
                    ac.add(f)
                    parts.setdefault(g, []).append(f)
                    share_of[f] = g
                    if len(parts[g]) == len(FEATURE_PARTS):  # both shares handed out: its evaluations follow them
                        for t in feature_groups[g]:
                            submit(t, parts[g], len(order) + order[unit])  # above every share (ranks 1..n)

            with get_task_stream(client) as stream:
                for t in grid:
                    if t.kind != "eval":
                        submit(t)
                hand_out_features()
                for finished_batch in ac.batches():
                    ok = []
                    for fut in finished_batch:
                        if fut not in futures:  # a feature share: its failure is reported by its evaluations
                            done_feats += 1
                            features_done.append(time.perf_counter())
                            if fut.status == "finished":
                                share = fut.result()
                                digests[share_of[fut]] = share.state_dict_sha256
                            continue
                        try:
                            ok.append((futures[fut], fut.result()))
                        except Exception as exc:  # a failed job is reported; the others still run and store
                            fail(futures[fut], exc)
                    store_results(ok)
                    for fut in finished_batch:
                        futures.pop(fut, None)  # drop the result from the cluster
                    hand_out_features()
            for key, seconds in rc.task_stream_seconds(stream.data).items():
                if key in stage_of_key:
                    clock.add(stage_of_key[key], seconds)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    else:
        shares: dict[tuple[str, str], FeatureShare] = {}
        in_features = 0.0
        for t in grid:
            try:
                if t.kind == "eval" and (t.model, t.dataset) not in shares:
                    tf = time.perf_counter()
                    with clock.time(rc.STAGE_FEATURES):
                        share = shares[(t.model, t.dataset)] = features_job(
                            suite_json, t.model, t.dataset, _needed_conditions(feature_groups[(t.model, t.dataset)]))
                        digests[(t.model, t.dataset)] = share.state_dict_sha256
                    in_features += time.perf_counter() - tf
                with clock.time(_stage(t)):
                    result = run_job(suite_json, t, shares.get((t.model, t.dataset)))
            except Exception as exc:
                fail(t, exc)
                continue
            store_result(t, result)
        features_done.append(t_grid + in_features)
    stages["features"] = max(features_done, default=t_grid) - t_grid
    stages["grid"] = time.perf_counter() - t_grid
    t_eff = time.perf_counter()
    for t in eff:  # on the driver, after the grid: timings undisturbed by busy workers
        try:
            with clock.time(rc.STAGE_EFFICIENCY):
                result = run_job(suite_json, t)
        except Exception as exc:
            fail(t, exc)
            continue
        store_result(t, result)
    stages["efficiency"] = time.perf_counter() - t_eff
    t_export = time.perf_counter()
    exports = store.export(out, job_keys=p.job_keys)  # this suite's jobs, not earlier configurations'
    stages["export"] = time.perf_counter() - t_export
    write_timings(out, stages)
    card = rc.build_run_card(p, clock, out=out, command=command, started=started,
                             wall_s=time.perf_counter() - t_start, digests=digests)
    rc.write_run_card(card, out)
    summary = RunSummary(out, n_entries, done_before, computed, len(store), p.skipped, exports=tuple(exports),
                         feature_jobs=len(feature_groups), failed=failed, plan=p, run_card=card,
                         stage_seconds=stages)
    return summary


def write_timings(out: Path, stages: dict[str, float]) -> Path:
    """``OUT/timings.json``: ``{stage: wall seconds}`` of the latest run (written atomically)."""
    import json

    from eokit.io import atomic_path

    path = Path(out) / "timings.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({k: round(v, 3) for k, v in stages.items()}, indent=1) + "\n")
    return path


def _stage(t: Job) -> str:
    """The run card's stage of a job."""
    from eokit.bench.runcard import STAGE_EFFICIENCY, protocol_stage

    return STAGE_EFFICIENCY if t.kind == "efficiency" else protocol_stage(t.protocol)


def report_context(df: Any, p: Plan, out: Path | None = None, *,
                   outcomes: Any = None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(references, capability groups) of a run's rows, for ``eokit.report.summarise``.

    ``outcomes`` (``ResultsStore.outcomes()``) give the chance levels of the fixed references.
    Writes ``OUT/references.json`` and ``OUT/groups.json`` when ``out`` is given, so a
    later ``eokit report OUT`` scores the same way. (bench does not import report —
    it is the layer above — so the CLI combines the two.)
    """
    from eokit.bench.aggregate import NON_SCORE_PROTOCOLS
    from eokit.bench.groups import capability_groups, write_groups
    from eokit.bench.modality import FUSIONS_FILENAME, model_fusions, write_fusions
    from eokit.bench.modality import split_rows as split_modality
    from eokit.bench.references import compute_references, write_references
    from eokit.bench.superres import split_rows as split_superres

    df = split_superres(df)[0]  # the SR protocol's rows have their own table (eokit.bench.superres)
    df = split_modality(df)[0]  # missing-modality rows have their own table (eokit.bench.modality)
    refs = compute_references(df, p.suite, outcomes)
    scored = df[~df["protocol"].isin(NON_SCORE_PROTOCOLS)]  # a dataset nothing scores is in no group
    groups = capability_groups(sorted(set(scored["dataset"])), dataset_specs(p), core=p.suite.core)
    if out is not None:
        write_references(refs, out / "references.json")
        write_groups(groups, out / "groups.json")
        if p.suite.modality is not None:
            write_fusions(model_fusions(p.suite), out / FUSIONS_FILENAME)
    return refs, groups


def dataset_specs(p: Plan) -> dict[str, Any]:
    """``{suite dataset name: DatasetSpec}`` for capability groups: renamed to the suite's label, with the
    task and the bands the benchmark actually feeds the models."""
    from eokit.bench.data import open_dataset

    specs = {}
    for d in p.suite.datasets:
        try:
            if d.spec:
                from eokit.datasets.base import DATASETS

                ds_cls_spec = DATASETS.get(d.spec).spec
            else:
                split = d.train.split if isinstance(d.train.split, str) else d.train.split[0]
                ds_cls_spec = open_dataset(d, split).spec
        except Exception as exc:
            log.warning("no DatasetSpec for %s: %s", d.name, exc)
            continue
        info = p.info.get(d.name, {})
        task = info.get("task", ds_cls_spec.task)
        bands = tuple(info.get("bands") or ds_cls_spec.bands)
        sensor = info.get("sensor") or ds_cls_spec.sensor
        specs[d.name] = dataclasses.replace(ds_cls_spec, name=d.name, task=task, bands=bands, sensor=sensor)
    return specs
