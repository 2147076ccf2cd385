"""The run card: what a benchmark run used and where its time went, stored beside its results.

``eokit bench`` writes ``OUT/runcard.json`` (the latest run, atomically) and keeps
every run as ``OUT/runs/<run id>.json``; the report renders the latest. A card holds

- ``data``: per dataset, its loader, root, and for each part (train/test) the list
  of source items used (``OUT/splits/<dataset>.<part>.txt``) with its sha256;
- ``models``: kind, architecture, weights (tag, or ``random``) and a sha256 of the
  initial state dict (``eokit.bench.features.weights_digest``) with the init seed;
- ``protocols`` with their hyper-parameters, the ``seeds``;
- ``machine``: CPU, cores, RAM, GPU, OS, Python, library versions, eokit version and
  git sha;
- ``command`` and ``stages``: seconds per stage (data loading, feature extraction,
  each protocol, efficiency, report). With Dask workers the job stages are compute
  seconds summed over workers (``stage_clock`` says which).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eokit.bench.config import SuiteConfig
from eokit.errors import ConfigError


class Plan(Protocol):
    """What the card reads of ``eokit.bench.runner.Plan`` (not imported: the runner imports this module)."""

    suite: SuiteConfig
    skipped: list[tuple[str, str, str]]
    info: dict[str, dict[str, Any]]

log = logging.getLogger(__name__)

RUNCARD_FILENAME = "runcard.json"
RUNS_DIR = "runs"
SPLITS_DIR = "splits"
STAGE_DATA = "data loading"
STAGE_CLUSTER = "cluster start"  # wall: the LocalCluster's workers up, or the connect to a scheduler
STAGE_FEATURES = "feature extraction"
STAGE_EFFICIENCY = "efficiency"
STAGE_REPORT = "report"


def protocol_stage(protocol: str) -> str:
    """The stage name of a protocol's jobs."""
    return f"protocol {protocol}"


@dataclass
class StageClock:
    """Seconds per stage, in first-seen order; ``mode`` says 'wall' or 'summed worker compute'."""

    seconds: dict[str, float] = field(default_factory=dict)
    mode: str = "wall"

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + max(0.0, float(seconds))

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)


def task_stream_seconds(records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Compute seconds per task key from Dask task-stream records (``distributed.get_task_stream``)."""
    out: dict[str, float] = {}
    for r in records:
        key = str(r.get("key", ""))
        for ss in r.get("startstops", ()):
            if ss.get("action") == "compute":
                out[key] = out.get(key, 0.0) + float(ss["stop"]) - float(ss["start"])
    return out


# -- machine --------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[str]:
    try:
        import torch

        if torch.cuda.is_available():
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as exc:  # a broken CUDA install must not stop the run card
        log.info("no GPU information: %s", exc)
    return []


def _versions(names: Iterable[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            continue
    return out


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, GPU, OS, Python, library versions, eokit version and git sha."""
    from eokit import __version__
    from eokit.bench.store import git_sha

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count() or 0, "cores_usable": usable, "ram_gb": _ram_gb(),
        "gpu": ", ".join(_gpus()) or "none", "os": platform.platform(), "python": platform.python_version(),
        "libraries": _versions(("torch", "numpy", "timm", "lightning", "scikit-learn", "rasterio", "dask",
                                "distributed", "duckdb")),
        "eokit_version": __version__, "git_sha": git_sha(),
    }


# -- data and models ------------------------------------------------------------------------------

def _sha256_lines(lines: list[str]) -> str:
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def _data_section(p: Plan, out: Path | None) -> dict[str, Any]:
    from eokit.bench.data import open_dataset, split_extra
    from eokit.io import atomic_path

    section: dict[str, Any] = {}
    modality = p.suite.modality.datasets if p.suite.modality is not None else []  # missing-modality protocol's own
    for d in [*p.suite.datasets, *modality]:
        entry: dict[str, Any] = {"loader": d.loader_name, "spec": d.spec, "info": p.info.get(d.name, {})}
        if d.name not in p.info:
            entry["skipped"] = next((why for _, name, why in p.skipped if name == d.name), "not loaded")
            section[d.name] = entry
            continue
        unscored = next((why for m, name, why in p.skipped if m == "*" and name == d.name), None)
        if unscored is not None:  # loaded, but no model and protocol of the suite score it
            entry["unscored"] = unscored
        extras = {part: split_extra(d, part) for part in ("train", "test")}  # the plan loaded both splits
        if "root" in extras["train"]:
            entry["root"] = extras["train"]["root"]
        else:  # decoded by an earlier eokit: open the dataset to learn it
            try:
                split = d.train.split if isinstance(d.train.split, str) else d.train.split[0]
                entry["root"] = str(getattr(open_dataset(d, split), "root", "") or "")
            except Exception as exc:  # the root is a fact for the card, not a reason to fail the run
                entry["root"] = f"unknown ({exc})"
        for part in ("train", "test"):
            extra = extras[part]  # its cache holds the item list
            items = [str(i) for i in extra.get("items") or []]
            info = p.info.get(d.name, {})
            rec: dict[str, Any] = {"split": (d.train if part == "train" or d.holdout else d.test).split,
                                   "samples": info.get(f"n_{part}"), "source_items": len(items)}
            if items:
                rec["sha256"] = _sha256_lines(items)
                if out is not None:
                    path = out / SPLITS_DIR / f"{d.name}.{part}.txt"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with atomic_path(path) as tmp:
                        tmp.write_text("\n".join(items) + "\n")
                    rec["list"] = str(path.relative_to(out))
            else:
                rec["sha256"] = "unknown (data cached before item lists were recorded)"
            entry[part] = rec
        section[d.name] = entry
    return section


def _models_section(p: Plan, digests: Mapping[tuple[str, str], str | None] | None = None) -> dict[str, Any]:
    """Per model: config, weights, and the sha256 of the initial state dict on its first dataset's bands
    (from ``digests[(model, dataset)]``, what the run's feature tasks measured, else built here)."""
    from eokit.bench.features import BackboneExtractor, select_bands, weights_digest
    from eokit.errors import BandError

    section: dict[str, Any] = {}
    for m in p.suite.models:
        entry: dict[str, Any] = {"kind": m.kind, "role": m.role, "arch": m.arch, "bands": m.bands,
                                 "weights": m.weights or ("random" if m.kind == "backbone" else "none"),
                                 "init_seed": m.init_seed if m.kind == "backbone" and not m.weights else None,
                                 "options": m.options}
        left_out = next((why for name, ds, why in p.skipped if name == m.name and ds == "*"), None)
        if left_out:
            entry["left_out"] = left_out
        elif m.kind == "backbone":
            for d in p.suite.datasets:
                info = p.info.get(d.name)
                if not info:
                    continue
                bands, sensor = tuple(info["bands"]), info.get("sensor")
                try:
                    index = select_bands(m, bands, sensor)
                except BandError:  # the model does not run on this dataset
                    continue
                known = (digests or {}).get((m.name, d.name))
                if known:
                    entry["state_dict_sha256"] = known
                    entry["hashed_on"] = f"{d.name} ({len(index)} bands)"
                    break
                try:  # the input scale does not touch the weights: (1, 0) spares reading the arrays
                    ex = BackboneExtractor(m, bands, sensor, (1.0, 0.0))
                    entry["state_dict_sha256"] = weights_digest(ex.model)
                    entry["hashed_on"] = f"{d.name} ({len(ex.bands)} bands)"
                except Exception as exc:
                    entry["state_dict_sha256"] = f"unknown ({type(exc).__name__}: {exc})"
                break
        section[m.name] = entry
    return section


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed: ``eokit`` and its arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["eokit", *args])


def build_run_card(p: Plan, clock: StageClock, *, out: Path | None = None, command: str | None = None,
                   started: dt.datetime | None = None, wall_s: float | None = None,
                   digests: Mapping[tuple[str, str], str | None] | None = None) -> dict[str, Any]:
    """The run card of a run of plan ``p`` (writes the split lists under ``out/splits`` when given;
    ``digests``: the models' initial state dict sha256 per (model, dataset), see :func:`_models_section`)."""
    suite = p.suite
    now = dt.datetime.now(dt.UTC)
    started = started or now
    protocols = {pc.name: pc.model_dump(mode="json", exclude_none=True) for pc in suite.protocol_cfgs()}
    seeds = sorted({s for pc in suite.protocol_cfgs() for s in (pc.seeds or [])})
    card = {
        "run_id": started.strftime("%Y%m%dT%H%M%SZ") + "-" + hashlib.sha256(
            f"{time.time_ns()}-{os.getpid()}".encode()).hexdigest()[:6],
        "started": started.isoformat(timespec="seconds"), "finished": now.isoformat(timespec="seconds"),
        "command": command or command_line(), "suite": suite.name, "config_hash": suite.config_hash(),
        "data": _data_section(p, out), "models": _models_section(p, digests), "protocols": protocols, "seeds": seeds,
        "robustness": suite.robustness.model_dump(mode="json") if suite.robustness else None,
        "superres": suite.superres.model_dump(mode="json") if suite.superres else None,
        "modality": suite.modality.model_dump(mode="json") if suite.modality else None,
        "machine": machine_info(),
        "stages": {k: round(v, 3) for k, v in clock.seconds.items()}, "stage_clock": clock.mode,
        "wall_s": round(wall_s, 3) if wall_s is not None else None,
    }
    return card


def write_run_card(card: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write ``OUT/runcard.json`` and ``OUT/runs/<run id>.json`` atomically; returns the first."""
    from eokit.io import atomic_path

    out = Path(out)
    text = json.dumps(card, indent=2, default=str)
    (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    for path in (out / RUNS_DIR / f"{card['run_id']}.json", out / RUNCARD_FILENAME):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return out / RUNCARD_FILENAME


def set_stage(out: str | os.PathLike[str], stage: str, seconds: float) -> dict[str, Any]:
    """Record ``seconds`` for ``stage`` (e.g. the report) in the stored latest card and its run copy."""
    card = read_run_card(Path(out) / RUNCARD_FILENAME)
    card.setdefault("stages", {})[stage] = round(seconds, 3)
    write_run_card(card, out)
    return card


def read_run_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A run card from ``runcard.json`` (or the results folder holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / RUNCARD_FILENAME
    try:
        card = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the run card {str(p)!r}: {exc} (written by `eokit bench`)") from exc
    if not isinstance(card, dict) or "run_id" not in card:
        raise ConfigError(f"{str(p)!r} is not an eokit run card (no run_id); rerun `eokit bench`")
    return card
