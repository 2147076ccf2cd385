"""Curation of pretraining chips: drop nodata-heavy and cloudy windows, near-duplicates, balance sensors/places.

:func:`curate` runs four steps in this order, each on what the previous one kept, and counts every
drop per source and reason in a :class:`CurationReport`:

1. **nodata**: a chip with more than ``max_nodata`` of its pixels NaN in any band is dropped;
2. **cloud**: a chip with more than ``max_cloud`` of its valid pixels cloudy is dropped. The mask
   is the chip's ``qa_cloud`` (decoded from the scene's QA band) where it has one, else
   :func:`eokit.data.cloud.cloud_mask` with ``cloud_method`` (``auto``: s2cloudless for Sentinel-2
   L1C, else the reflectance test on calibrated data with blue, red and a NIR or SWIR band; SAR and
   other non-optical chips have no clouds (``none``); other optical chips (8-bit display RGB such as
   the EuroSAT JPEGs, visible-only bands) cannot be judged and are kept, counted as ``untested``; without
   the ``cloud`` extra, ``auto`` uses the reflectance test for Sentinel-2 too, with a warning;
   ``cloud_stride`` > 1 tests every n-th pixel per axis, n^2 times faster, for large Sentinel-2 runs);
3. **duplicate**: a perceptual signature per chip (each band reduced to an 8x8 mean thumbnail and
   centred on its own mean, so the spatial pattern counts rather than the spectrum; scaled to unit length) is compared by cosine similarity within each (sensor, bands)
   group; a chip whose similarity to an earlier kept chip exceeds ``dedup_threshold`` is dropped.
   Signatures longer than 64 values are compared first through a seeded random projection to 64
   (candidate pairs at ``dedup_threshold - 0.05``), then exactly; the comparison runs in blocks, so
   memory stays bounded and 30,000 chips take seconds;
4. **balance**: ``sensor`` caps every sensor at ``max_per_sensor`` chips (default: the median
   count per sensor), ``place`` caps every place at ``max_per_place`` (default: the median count
   per place), ``sensor+place`` does the place cap within each sensor, then the sensor cap. The
   chips kept under a cap are a seeded sample (``seed`` and the group's name), in input order.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from eokit.data.cloud import CLOUD_METHODS, cloud_mask, pick_method
from eokit.errors import BandError, CurationError, MissingDependencyError, PretrainError, suggest
from eokit.io import atomic_path
from eokit.pretrain.chips import Chip

log = logging.getLogger(__name__)

REASONS = ("nodata", "cloud", "duplicate", "balance")
BALANCE = ("none", "sensor", "place", "sensor+place")
PROJECTED_DIM = 64
PROJECTION_MARGIN = 0.05
_BLOCK = 2048


@dataclass(frozen=True)
class CurationConfig:
    """Curation settings (see the module docstring); ``dedup_threshold=None`` keeps near-duplicates."""

    max_nodata: float = 0.1
    max_cloud: float = 0.2
    cloud_method: str = "auto"
    dedup_threshold: float | None = 0.98
    balance: str = "none"
    max_per_place: int | None = None
    max_per_sensor: int | None = None
    seed: int = 0
    signature_size: int = 8
    cloud_stride: int = 1

    def __post_init__(self) -> None:
        for name in ("max_nodata", "max_cloud"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise PretrainError(f"curation {name}={value!r} is a share of a chip's pixels: give a value in 0..1")
        if self.cloud_method not in CLOUD_METHODS:
            raise PretrainError(f"curation cloud_method={self.cloud_method!r} is unknown; choose one of "
                                f"{sorted(CLOUD_METHODS)}")
        if self.dedup_threshold is not None and not -1.0 <= self.dedup_threshold <= 1.0:
            raise PretrainError(f"curation dedup_threshold={self.dedup_threshold!r} is a cosine similarity: give a "
                                "value in -1..1 (0.98 drops near-identical chips), or null to keep duplicates")
        if self.balance not in BALANCE:
            raise PretrainError(f"curation balance={self.balance!r} is unknown; choose one of {list(BALANCE)}")
        for name in ("max_per_place", "max_per_sensor"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise PretrainError(f"curation {name}={value!r} must be at least 1 (or null for the median)")
        if self.cloud_stride < 1:
            raise PretrainError(f"curation cloud_stride={self.cloud_stride!r} must be at least 1 (1: every pixel)")
        if self.signature_size < 1:
            raise PretrainError(f"curation signature_size={self.signature_size!r} must be at least 1 (8 is usual)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CurationConfig:
        """Settings from a mapping (the ``curation:`` section of a pretraining config); unknown keys fail."""
        values = dict(data or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PretrainError(f"unknown curation setting(s) {unknown}; the settings are {known}."
                                f"{suggest(unknown[0], known)}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise PretrainError(f"curation settings {values}: {exc}; give numbers for the thresholds and caps") from None


@dataclass
class SourceReport:
    """One source's counts: chips seen and kept, drops per reason, chips per cloud method."""

    source: str
    seen: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    cloud_methods: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "seen": self.seen, "kept": self.kept, "dropped": dict(self.dropped),
                "cloud_methods": dict(self.cloud_methods)}


@dataclass
class CurationReport:
    """What curation kept and dropped, per source and reason, with the settings it ran with."""

    config: CurationConfig
    sources: dict[str, SourceReport]
    seconds: float = 0.0

    @property
    def seen(self) -> int:
        return sum(s.seen for s in self.sources.values())

    @property
    def kept(self) -> int:
        return sum(s.kept for s in self.sources.values())

    def dropped(self) -> dict[str, int]:
        """Drops per reason over all sources."""
        return {r: sum(s.dropped[r] for s in self.sources.values()) for r in REASONS}

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "seen": self.seen, "kept": self.kept, "dropped": self.dropped(),
                "seconds": round(self.seconds, 3), "sources": [s.to_dict() for s in self.sources.values()]}

    def to_markdown(self) -> str:
        c = self.config
        lines = [
            "# Curation report", "",
            f"{self.kept} of {self.seen} chips kept in {self.seconds:.1f} s. Settings: max_nodata {c.max_nodata}, "
            f"max_cloud {c.max_cloud}, cloud_method {c.cloud_method}, dedup_threshold {c.dedup_threshold}, "
            f"balance {c.balance}, max_per_place {c.max_per_place}, max_per_sensor {c.max_per_sensor}, "
            f"seed {c.seed}, cloud_stride {c.cloud_stride}.", "",
            "| source | seen | kept | nodata | cloud | duplicate | balance | cloud method |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for s in self.sources.values():
            methods = ", ".join(f"{m} ({n})" for m, n in sorted(s.cloud_methods.items())) or "-"
            lines.append(f"| {s.source} | {s.seen} | {s.kept} | " + " | ".join(str(s.dropped[r]) for r in REASONS)
                         + f" | {methods} |")
        d = self.dropped()
        lines.append(f"| **all** | {self.seen} | {self.kept} | " + " | ".join(str(d[r]) for r in REASONS) + " | |")
        return "\n".join(lines) + "\n"

    def write(self, folder: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``curation.json`` and ``curation.md`` into ``folder``, atomically. Returns both paths."""
        out = Path(folder)
        paths = (out / "curation.json", out / "curation.md")
        with atomic_path(paths[0]) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        with atomic_path(paths[1]) as tmp:
            tmp.write_text(self.to_markdown(), encoding="utf-8")
        return paths


@dataclass
class CurationResult:
    """The chips curation kept (in input order) and its report."""

    kept: list[Chip]
    report: CurationReport


def curate(chips: Sequence[Chip], config: CurationConfig | None = None) -> CurationResult:
    """Drop nodata-heavy, cloudy and near-duplicate chips, then balance (see the module docstring)."""
    cfg = config or CurationConfig()
    start = time.perf_counter()
    sources: dict[str, SourceReport] = {}
    for chip in chips:
        sources.setdefault(chip.source, SourceReport(chip.source)).seen += 1
    alive = []
    for i, chip in enumerate(chips):
        if chip.nodata_fraction() > cfg.max_nodata:
            sources[chip.source].dropped["nodata"] += 1
            continue
        method, share = _cloud_share(chip, cfg.cloud_method, cfg.cloud_stride)
        rep = sources[chip.source]
        rep.cloud_methods[method] = rep.cloud_methods.get(method, 0) + 1
        if share > cfg.max_cloud:
            rep.dropped["cloud"] += 1
            continue
        alive.append(i)
    if cfg.dedup_threshold is not None:
        dup = set(near_duplicates([chips[i] for i in alive], cfg.dedup_threshold, size=cfg.signature_size,
                                  seed=cfg.seed))
        for k in sorted(dup):
            sources[chips[alive[k]].source].dropped["duplicate"] += 1
        alive = [i for k, i in enumerate(alive) if k not in dup]
    if cfg.balance != "none":
        kept_set = set(_balance([chips[i] for i in alive], cfg))
        for k, i in enumerate(alive):
            if k not in kept_set:
                sources[chips[i].source].dropped["balance"] += 1
        alive = [i for k, i in enumerate(alive) if k in kept_set]
    kept = [chips[i] for i in alive]
    for chip in kept:
        sources[chip.source].kept += 1
    report = CurationReport(cfg, sources, time.perf_counter() - start)
    if chips and not kept:
        raise CurationError(_nothing_left(report))
    return CurationResult(kept, report)


def _nothing_left(report: CurationReport) -> str:
    c = report.config
    per_source = "; ".join(
        f"{s.source}: {s.seen} seen, " + ", ".join(f"{s.dropped[r]} {r}" for r in REASONS if s.dropped[r])
        for s in report.sources.values())
    fixes = {
        "nodata": f"raise max_nodata (now {c.max_nodata}) or read windows inside the scenes' data",
        "cloud": f"raise max_cloud (now {c.max_cloud}) or choose another cloud_method (now {c.cloud_method!r})",
        "duplicate": f"raise dedup_threshold (now {c.dedup_threshold}) or set it to null",
        "balance": f"raise max_per_place/max_per_sensor (now {c.max_per_place}/{c.max_per_sensor}) or balance: none",
    }
    worst = max(REASONS, key=lambda r: report.dropped()[r])
    return (f"curation kept none of the {report.seen} chips ({per_source}); most were dropped for {worst}: "
            f"{fixes[worst]}")


@functools.lru_cache(maxsize=8)
def _warn_once(message: str) -> None:
    log.warning(message)


def _cloud_share(chip: Chip, method: str, stride: int = 1) -> tuple[str, float]:
    """(method used, share of the chip's valid pixels that are cloud); every ``stride``-th pixel is tested."""
    image = chip.image[:, ::stride, ::stride] if stride > 1 else chip.image
    valid = ~np.isnan(image).any(axis=0)
    n = int(valid.sum())
    if chip.qa_cloud is not None and method in ("auto", "qa"):
        mask = np.asarray(chip.qa_cloud, dtype=bool)[::stride, ::stride]
        return "qa", float((mask & valid).sum() / n) if n else 0.0
    if method == "qa":
        raise PretrainError(f"cloud_method 'qa' needs a QA cloud mask on every chip, but chip {chip.ident!r} of "
                            f"source {chip.source!r} ({chip.sensor}) has none; use cloud_method: auto")
    try:
        used = pick_method(chip.bands, chip.sensor, method)
        if used in ("none", "untested"):
            return used, 0.0
        try:
            mask = cloud_mask(image, chip.bands, chip.sensor, used)
        except MissingDependencyError as exc:
            if method != "auto":
                raise
            _warn_once(f"s2cloudless is not installed, curation uses the reflectance cloud test instead: {exc}")
            used = "reflectance"
            mask = cloud_mask(image, chip.bands, chip.sensor, used)
    except BandError:
        if method != "auto":
            raise
        return "untested", 0.0
    return used, float(mask.sum() / n) if n else 0.0


# --- near-duplicates ---------------------------------------------------------------------------------


def signature(image: np.ndarray, size: int = 8) -> np.ndarray:
    """Perceptual signature of a (C, H, W) chip: per band a size x size mean thumbnail centred on its mean; unit length."""
    return signatures(np.asarray(image)[None], size)[0]


def signatures(images: np.ndarray, size: int = 8) -> np.ndarray:
    """Signatures (N, C * size * size) of a stack of same-shaped chips (N, C, H, W); NaN pixels are left out."""
    n, c, h, w = images.shape
    rows = np.unique(np.linspace(0, h, size + 1).round().astype(int)[:-1])
    cols = np.unique(np.linspace(0, w, size + 1).round().astype(int)[:-1])
    data = np.asarray(images, dtype=np.float32)
    finite = np.isfinite(data)
    clean = np.where(finite, data, np.float32(0.0)) if not finite.all() else data
    if h % size == 0 and w % size == 0:  # equal cells: a reshape (fast path for the usual chip sizes)
        cells = (n, c, size, h // size, size, w // size)
        sums = clean.reshape(cells).sum(axis=(3, 5))
        counts = finite.reshape(cells).sum(axis=(3, 5)).astype(np.float32)
    else:
        sums = np.add.reduceat(np.add.reduceat(clean, rows, axis=2), cols, axis=3)
        counts = np.add.reduceat(np.add.reduceat(finite.astype(np.float32), rows, axis=2), cols, axis=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        thumb = sums / counts
    if thumb.shape[2:] != (size, size):  # chips smaller than the thumbnail: pad by edge values
        pad = ((0, 0), (0, 0), (0, size - thumb.shape[2]), (0, size - thumb.shape[3]))
        thumb = np.pad(thumb, pad, mode="edge")
    vec = thumb.reshape(n, c, -1)
    ok = np.isfinite(vec)
    # each band centred on its own mean: the spatial pattern counts, not the spectrum (two forests differ)
    mean = np.where(ok, vec, 0.0).sum(axis=2, keepdims=True) / np.maximum(ok.sum(axis=2, keepdims=True), 1)
    vec = np.where(ok, vec - mean, 0.0).reshape(n, -1)
    norm = np.linalg.norm(vec, axis=1, keepdims=True)
    return np.asarray(np.where(norm > 0, vec / np.where(norm > 0, norm, 1.0), vec), dtype=np.float32)


def _group_signatures(chips: Sequence[Chip], size: int) -> np.ndarray:
    """Signatures of ``chips`` (one group: same band count), batched per chip shape."""
    out = np.empty((len(chips), chips[0].image.shape[0] * size * size), dtype=np.float32)
    by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, chip in enumerate(chips):
        by_shape[chip.image.shape].append(i)
    for members in by_shape.values():
        for a in range(0, len(members), 1024):
            part = members[a: a + 1024]
            out[part] = signatures(np.stack([chips[i].image for i in part]), size)
    return out


def near_duplicates(chips: Sequence[Chip], threshold: float, *, size: int = 8, seed: int = 0) -> list[int]:
    """Positions of chips whose signature's cosine similarity to an earlier, kept chip exceeds ``threshold``.

    Chips are compared only within their (sensor, bands) group; within a group the first of a set
    of near-duplicates (in input order) is kept.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
    for i, chip in enumerate(chips):
        groups[(chip.sensor, tuple(chip.bands))].append(i)
    dropped: list[int] = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        sig = _group_signatures([chips[i] for i in members], size)
        for k in _duplicates_in(sig, threshold, seed=seed + zlib.crc32(repr(key).encode())):
            dropped.append(members[k])
    return sorted(dropped)


def _duplicates_in(sig: np.ndarray, threshold: float, *, seed: int) -> list[int]:
    """Rows of ``sig`` (unit vectors) that are near-duplicates of an earlier row that is kept."""
    n, dim = sig.shape
    if dim > PROJECTED_DIM:
        rng = np.random.default_rng(seed)
        proj = rng.standard_normal((dim, PROJECTED_DIM)).astype(np.float32)
        coarse = sig @ proj
        coarse /= np.maximum(np.linalg.norm(coarse, axis=1, keepdims=True), 1e-12)
        cut = threshold - PROJECTION_MARGIN
    else:
        coarse, cut = sig, threshold
    partners: dict[int, list[int]] = defaultdict(list)
    for a in range(0, n, _BLOCK):
        block = coarse[a: a + _BLOCK]
        for b in range(0, a + len(block), _BLOCK):
            sims = block @ coarse[b: b + _BLOCK].T
            if a == b:
                np.fill_diagonal(sims, -1.0)
            if sims.max() <= cut:  # the usual case: nothing alike in this pair of blocks
                continue
            ii, jj = np.nonzero(sims > cut)
            ii, jj = ii + a, jj + b
            earlier = jj < ii
            for i, j in zip(ii[earlier].tolist(), jj[earlier].tolist(), strict=True):
                if coarse is sig or float(sig[i] @ sig[j]) > threshold:
                    partners[i].append(j)
    gone: set[int] = set()
    for i in sorted(partners):
        if any(j not in gone for j in partners[i]):
            gone.add(i)
    return sorted(gone)


# --- balance -----------------------------------------------------------------------------------------


def _median_cap(sizes: Iterable[int]) -> int:
    return max(1, math.ceil(float(np.median(list(sizes)))))


def _sample(members: list[int], cap: int, seed: int, key: str) -> list[int]:
    if len(members) <= cap:
        return members
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    pick = np.sort(rng.permutation(len(members))[:cap])
    return [members[k] for k in pick.tolist()]


def _capped(positions: list[int], chips: Sequence[Chip], by: str, cap: int | None, seed: int) -> list[int]:
    groups: dict[str, list[int]] = defaultdict(list)
    for k in positions:
        groups[chips[k].sensor if by == "sensor" else chips[k].place].append(k)
    limit = cap if cap is not None else _median_cap(len(g) for g in groups.values())
    kept = [k for key, g in groups.items() for k in _sample(g, limit, seed, f"{by}:{key}")]
    return sorted(kept)


def _balance(chips: Sequence[Chip], cfg: CurationConfig) -> list[int]:
    """Positions of ``chips`` kept by the balance caps."""
    positions = list(range(len(chips)))
    if cfg.balance in ("place", "sensor+place"):
        if cfg.balance == "place":
            positions = _capped(positions, chips, "place", cfg.max_per_place, cfg.seed)
        else:  # the place cap within each sensor (median of that sensor's places), then the sensor cap
            per_sensor: dict[str, list[int]] = defaultdict(list)
            for k in positions:
                per_sensor[chips[k].sensor].append(k)
            positions = sorted(k for g in per_sensor.values()
                               for k in _capped(g, chips, "place", cfg.max_per_place, cfg.seed))
    if cfg.balance in ("sensor", "sensor+place"):
        positions = _capped(positions, chips, "sensor", cfg.max_per_sensor, cfg.seed)
    return positions


def source_counts(chips: Iterable[Chip]) -> dict[str, int]:
    """Chips per source (for logs and tests)."""
    return dict(Counter(c.source for c in chips))
