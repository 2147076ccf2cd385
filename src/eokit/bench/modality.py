"""The missing-modality protocol: train a fusion model with every modality, test it with each one removed.

For each multi-modal dataset of the suite's ``modality`` section (its samples carry
``modalities``, e.g. Sen1Floods11 S1 + S2), each fusion model (``fusion_early``,
``fusion_late``, ``fusion_cross_attention`` over any registered encoder) and each seed, one job
trains backbone + head end to end on all modalities (per-band standardisation from the
training split), then scores the test split

- with every modality (condition ``none``), and
- with each modality removed (condition ``without_<modality>``): its bands are left out of the
  input, so early fusion **zeroes** them (the standardised mean) and late and cross-attention
  fusion **drop** the modality (its encoder does not run; see ``eokit.models.fusion``).

Rows are stored like any bench rows (protocol ``missing_modality``, the condition in the
``corruption`` column) with per-test-sample outcomes, so :func:`modality_table` reports each
condition's score and its **drop** from all modalities with 95 % bootstrap CIs over test
samples and seeds (``eokit.bench.stats``; the conditions of one entry share a test set, so the
drop's replicates are paired).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from eokit.bench.config import (
    DENSE_TASKS,
    PRIMARY_METRIC,
    DatasetCfg,
    ModalityCfg,
    ModelCfg,
    SuiteConfig,
    stable_hash,
)
from eokit.errors import ConfigError, MetricError
from eokit.tasktype import TaskType

MISSING_MODALITY = "missing_modality"
"""The protocol name of this protocol's result rows."""
CLEAN = ("none", 0)
TASKS = (TaskType.CLASSIFICATION, TaskType.MULTILABEL, TaskType.REGRESSION, TaskType.SEGMENTATION)
"""Task types the protocol trains (one image per sample; change detection is not multi-modal here)."""
PREFIX = "without_"
REMOVED_SEVERITY = 1
"""Severity stored with a removed-modality condition (a removal has one level; the store wants 1-5)."""
TABLE_COLUMNS = ("dataset", "model", "fusion", "missing", "policy", "metric", "value", "ci_lo", "ci_hi",
                 "drop", "drop_lo", "drop_hi", "p_drop", "n_test", "n_seeds")


def condition(modality: str) -> tuple[str, int]:
    """The stored condition of a test with ``modality`` removed."""
    return (f"{PREFIX}{modality}", REMOVED_SEVERITY)


def removed(corruption: str) -> str | None:
    """The modality a stored condition removed (None for all modalities)."""
    return corruption[len(PREFIX):] if corruption.startswith(PREFIX) else None


def _section(suite: SuiteConfig) -> ModalityCfg:
    if suite.modality is None:
        raise ConfigError(f"suite {suite.name!r} has no 'modality' section")
    return suite.modality


def _find(items: Sequence[Any], name: str, what: str) -> Any:
    for x in items:
        if x.name == name:
            return x
    raise ConfigError(f"modality section: no {what} named {name!r} ({[x.name for x in items]})")


def job_key(suite: SuiteConfig, model: ModelCfg, dataset: DatasetCfg, seed: int, cond: tuple[str, int]) -> str:
    """Results-store key of one (model, dataset, seed, condition) entry."""
    sec = _section(suite)
    return stable_hash({
        "v": 1, "suite": suite.name, "protocol": MISSING_MODALITY,
        "model": model.model_dump(mode="json", exclude={"role", "protocols"}),
        "dataset": dataset.model_dump(mode="json"), "epochs": sec.epochs, "lr": sec.lr,
        "batch_size": sec.batch_size, "seed": seed, "conditions": [list(cond)],
    }, n=24)


def data_modalities(extra: Mapping[str, Any], dataset: str) -> dict[str, dict[str, Any]]:
    """``{modality: {'bands', 'sensor'}}`` recorded for a bench split; ConfigError unless there are two or more."""
    mods = extra.get("modalities") or {}
    if len(mods) < 2:
        raise ConfigError(
            f"modality dataset {dataset!r} has {len(mods)} modalities ({sorted(mods)}); the missing-modality "
            "protocol needs a multi-modal dataset (e.g. loader sen1floods11 with kwargs modalities: [s1, s2])"
        )
    return {str(n): dict(v) for n, v in mods.items()}


def plan_jobs(suite: SuiteConfig) -> tuple[list[tuple[str, str, int, tuple[Any, ...]]], list[tuple[str, str, str]],
                                           dict[str, dict[str, Any]]]:
    """The protocol's jobs ``(model, dataset, seed, entries)``, skipped datasets and dataset info."""
    from eokit.bench.data import load_split
    from eokit.errors import DatasetError, DatasetNotFoundError, DownloadError

    sec = _section(suite)
    jobs: list[tuple[str, str, int, tuple[Any, ...]]] = []
    skipped: list[tuple[str, str, str]] = []
    info: dict[str, dict[str, Any]] = {}
    for d in sec.datasets:
        try:
            train, test = load_split(d, "train"), load_split(d, "test")
        except (DatasetNotFoundError, DownloadError, DatasetError) as exc:
            skipped.append(("*", d.name, str(exc)))
            continue
        if train.task not in TASKS:
            raise ConfigError(f"modality dataset {d.name!r} is a {train.task} dataset; the missing-modality protocol "
                              f"trains {[str(t) for t in TASKS]}")
        mods = data_modalities(train.extra, d.name)
        info[d.name] = {"task": train.task, "bands": list(train.bands), "sensor": train.sensor, "n_train": len(train),
                        "n_test": len(test), "shape": list(train.image.shape[1:]),
                        "modalities": {n: v["bands"] for n, v in mods.items()}}
        conds = [CLEAN, *(condition(n) for n in mods)]
        for m in sec.models:
            for seed in sec.seeds if sec.seeds is not None else suite.seeds:
                entries = tuple((job_key(suite, m, d, seed, c), (c,)) for c in conds)
                jobs.append((m.name, d.name, seed, entries))
    return jobs, skipped, info


# -- one job -----------------------------------------------------------------------------------------

def _standardiser(images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = images.astype(np.float64).transpose(1, 0, 2, 3).reshape(images.shape[1], -1)
    finite = np.isfinite(x)
    mean = np.array([row[ok].mean() if ok.any() else 0.0 for row, ok in zip(x, finite, strict=True)])
    std = np.array([row[ok].std() if ok.any() else 1.0 for row, ok in zip(x, finite, strict=True)])
    std[std < 1e-6] = 1.0
    return (torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
            torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))


def _loss(task: TaskType, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from eokit.bench.data import IGNORE_INDEX

    if task == TaskType.SEGMENTATION:
        return F.cross_entropy(out, y, ignore_index=IGNORE_INDEX)
    if task == TaskType.CLASSIFICATION:
        return F.cross_entropy(out, y)
    if task == TaskType.MULTILABEL:
        return F.binary_cross_entropy_with_logits(out, y)
    return F.mse_loss(out.reshape(-1), y)


def _predict(task: TaskType, out: torch.Tensor) -> np.ndarray:
    if task in (TaskType.SEGMENTATION, TaskType.CLASSIFICATION):
        return out.argmax(1).numpy()
    if task == TaskType.MULTILABEL:
        return torch.sigmoid(out).numpy()
    return out.reshape(-1).numpy()


def build_model(model: ModelCfg, task: TaskType, bands: Sequence[str], modalities: Mapping[str, Any],
                num_classes: int) -> torch.nn.Module:
    """The fusion model of ``model`` for the data's bands and modalities (random init; encoder weights as set)."""
    from eokit.models import create_model
    from eokit.models.fusion import fusion_backbone

    if not model.arch:
        raise ConfigError(f"modality model {model.name!r} needs 'arch' (fusion_early, fusion_late, fusion_cross_attention)")
    opts = dict(model.options)
    if model.weights is not None:
        opts.setdefault("encoder_weights", model.weights)
    torch.manual_seed(model.init_seed)
    net = create_model(model.arch, task=task.value, bands=list(bands), num_classes=num_classes,
                       modalities={n: dict(v) for n, v in modalities.items()}, **opts)
    fusion_backbone(net)  # ModalityError unless it is a fusion model
    return net


def run_job(suite_json: dict[str, Any], t: Any) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Train and score one (model, dataset, seed): ``({job_key: rows}, {job_key: outcome records})``."""
    from eokit.bench.data import IGNORE_INDEX, load_split
    from eokit.bench.protocols import bench_scores
    from eokit.bench.stats import outcomes_of
    from eokit.bench.store import outcome_record

    suite = SuiteConfig.model_validate(suite_json)
    sec = _section(suite)
    m = _find(sec.models, t.model, "model")
    d = _find(sec.datasets, t.dataset, "dataset")
    train, test = load_split(d, "train"), load_split(d, "test")
    task = train.task
    mods = data_modalities(train.extra, d.name)
    k = int(train.label.shape[1]) if task == TaskType.MULTILABEL and train.label is not None \
        else 1 if task == TaskType.REGRESSION else max(train.num_classes, test.num_classes, 2)
    net = build_model(m, task, train.bands, mods, k)
    mean, std = _standardiser(train.image)

    def inputs(a: np.ndarray) -> torch.Tensor:
        return (torch.nan_to_num(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))) - mean) / std

    y_train = train.target()
    ys = torch.from_numpy(y_train.astype(np.int64 if task in (TaskType.SEGMENTATION, TaskType.CLASSIFICATION)
                                         else np.float32))
    torch.manual_seed(t.seed)
    rng = np.random.default_rng(t.seed)
    opt = torch.optim.AdamW(net.parameters(), lr=sec.lr, weight_decay=1e-4)
    n, bs = len(train), min(sec.batch_size, len(train))
    net.train()
    for _ in range(sec.epochs):
        perm = rng.permutation(n)
        for i in range(0, n, bs):
            b = perm[i:i + bs]
            if len(b) < 2 and n >= 2:  # BatchNorm needs two items
                b = np.r_[b, perm[0]]
            loss = _loss(task, net(inputs(train.image[b])), ys[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    y_test = test.target()
    results: dict[tuple[str, int], tuple[dict[str, float], Any]] = {}
    bands = list(train.bands)
    with torch.no_grad():
        for _, (cond,) in t.entries:
            gone = removed(cond[0])
            keep = [i for i, b in enumerate(bands) if gone is None or b not in mods[gone]["bands"]]
            sub = [bands[i] for i in keep]
            preds = np.concatenate([
                _predict(task, net(inputs(test.image[i:i + 32])[:, keep], bands=sub))
                for i in range(0, len(test), 32)])
            scores = bench_scores(task, y_test, preds, k)
            outs = outcomes_of(task, y_test, preds, k, ignore_index=IGNORE_INDEX if task in DENSE_TASKS else None)
            results[cond] = (scores, outs)
    rows: dict[str, list[dict[str, Any]]] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for key, (cond,) in t.entries:
        scores, outs = results[cond]
        base = {"suite": suite.name, "dataset": t.dataset, "model": t.model, "protocol": MISSING_MODALITY,
                "fraction": 1.0, "seed": int(t.seed), "corruption": cond[0], "severity": int(cond[1])}
        rows[key] = [{**base, "metric": name, "value": float(v), "job_key": key, "config_hash": suite.config_hash(),
                      "time": now} for name, v in scores.items()]
        records[key] = [outcome_record({**base, "metric": "", "value": 0.0}, outs)]
    return rows, records


# -- reporting ----------------------------------------------------------------------------------------

def split_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the other protocols' rows, this protocol's rows): the leaderboard leaves these out."""
    from eokit.bench.store import split_protocol

    return split_protocol(df, MISSING_MODALITY)


def modality_table(df: pd.DataFrame, outcomes: pd.DataFrame | None = None, *, fusions: Mapping[str, str] | None = None,
                   n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per (dataset, model, missing modality): the primary metric (seed mean) with its 95 % CI and the drop
    from all modalities with its paired-bootstrap CI and ``p_drop`` = P(all modalities score higher).

    ``fusions``: ``{model: fusion type}`` for the ``fusion``/``policy`` columns (zeroed or dropped).
    Without outcomes the CIs are NaN (seed means only).
    """
    from eokit.bench.stats import ci, point_value, replicates
    from eokit.models.fusion import MISSING_POLICY

    _, rows = split_rows(df)
    if rows is None or rows.empty:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    outs = None
    if outcomes is not None and not outcomes.empty:
        outs = outcomes[(outcomes["protocol"] == MISSING_MODALITY) & outcomes["outcomes"].notna()]
    recs: list[dict[str, Any]] = []
    for (ds, model), sub in rows.groupby(["dataset", "model"], sort=True):
        runs: dict[str, list[Any]] = {}
        if outs is not None:
            mine = outs[(outs["dataset"] == ds) & (outs["model"] == model)]
            for cond, s in mine.groupby("corruption"):
                runs[str(cond)] = [o for _, o in sorted(zip(s["seed"], s["outcomes"], strict=True), key=lambda x: x[0])]
        task = next(iter(runs.values()))[0].task if runs else None
        metric = PRIMARY_METRIC.get(TaskType(task)) if task else None
        if metric is None:  # no outcomes: the first primary metric present (stored under the same name)
            metric = next(x for x in (*PRIMARY_METRIC.values(), *sorted(set(sub["metric"])))
                          if x in set(sub["metric"]))
        fusion = (fusions or {}).get(str(model), "")
        base_reps = None
        clean_value = float("nan")
        for cond in ["none", *sorted(c for c in set(sub["corruption"]) if c != "none")]:
            vals = sub[(sub["corruption"] == cond) & (sub["metric"] == metric)]["value"]
            value, lo, hi, reps = (float(vals.mean()) if len(vals) else float("nan")), float("nan"), float("nan"), None
            n_test = n_seeds = 0
            if cond in runs and metric is not None:
                try:
                    reps = replicates(runs[cond], metric, n_boot=n_boot, seed=seed)
                    value = point_value(runs[cond], metric)
                    lo, hi = ci(reps)
                    n_test, n_seeds = runs[cond][0].n, len(runs[cond])
                except MetricError:
                    reps = None
            if cond == "none":
                base_reps, clean_value = reps, value
                drop = dlo = dhi = p = float("nan")
            else:
                drop = clean_value - value
                dlo = dhi = p = float("nan")
                if reps is not None and base_reps is not None and reps.shape == base_reps.shape:
                    dlo, dhi = ci(base_reps - reps)
                    p = float(((base_reps - reps) > 0).mean() + 0.5 * ((base_reps - reps) == 0).mean())
            gone = removed(cond)
            recs.append({"dataset": ds, "model": model, "fusion": fusion, "missing": gone or "none",
                         "policy": MISSING_POLICY.get(fusion, "") if gone else "", "metric": metric, "value": value,
                         "ci_lo": lo, "ci_hi": hi, "drop": drop, "drop_lo": dlo, "drop_hi": dhi, "p_drop": p,
                         "n_test": n_test, "n_seeds": n_seeds})
    return pd.DataFrame.from_records(recs, columns=list(TABLE_COLUMNS))


FUSIONS_FILENAME = "modality.json"
"""Sidecar ``eokit bench`` writes beside its store: ``{modality model: fusion type}`` (for ``eokit report``)."""


def write_fusions(fusions: Mapping[str, str], path: Any) -> None:
    """Write ``{model: fusion type}`` atomically (``OUT/modality.json``)."""
    import json
    from pathlib import Path

    from eokit.io import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(dict(fusions), indent=1, sort_keys=True) + "\n")


def read_fusions(path: Any) -> dict[str, str]:
    """``{model: fusion type}`` from a ``modality.json`` ({} when absent or unreadable)."""
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def model_fusions(suite: SuiteConfig | None) -> dict[str, str]:
    """``{model name: fusion type}`` of the suite's modality models."""
    if suite is None or suite.modality is None:
        return {}
    return {m.name: (m.arch or "").removeprefix("fusion_") for m in suite.modality.models}
