"""Deterministic, stratified, seeded splits that stay valid as a dataset grows.

For datasets that publish no split, eokit assigns each item to a split by a
rule that depends only on the item's id, its class and the seed, never on
file-system order, the machine or the random state:

1. Items of one class are ordered by ``sha256(f"{seed}:{id}")``.
2. Walking that order, each item goes to the split whose count is furthest
   below its target share (largest deficit ``fraction * (n + 1) - count``;
   ties go to the earlier split), so every class is split in the requested
   proportions (stratified, exact up to rounding).
3. The assignment is written to a JSON split file. When the file exists its
   assignments are kept as they are and only new items are assigned by the
   same rule, counting the existing ones, so adding images never moves an
   image from train to test.

Official splits (published file lists) are always preferred; see each
dataset's ``split_policy``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

from eokit.env import cache_dir
from eokit.errors import ConfigError, DatasetError

DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.7, "val": 0.1, "test": 0.2}
SPLIT_FILE_VERSION = 1


def _key(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def _check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    fr = {k: float(v) for k, v in fractions.items()}
    if not fr or any(v < 0 for v in fr.values()) or abs(sum(fr.values()) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must be non-negative and sum to 1, got {fr}")
    return fr


def assign_splits(
    ids: Sequence[str],
    labels: Sequence[Hashable] | None = None,
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    existing: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map every id to a split name, stratified by ``labels`` (or unstratified if None)."""
    fr = _check_fractions(fractions)
    names = list(fr)
    existing = dict(existing or {})
    labels = list(labels) if labels is not None else [None] * len(ids)
    if len(labels) != len(ids):
        raise ConfigError(f"{len(ids)} ids but {len(labels)} labels")
    groups: dict[Hashable, list[str]] = defaultdict(list)
    for i, lab in zip(ids, labels, strict=True):
        groups[lab].append(str(i))
    out: dict[str, str] = {}
    for members in groups.values():
        counts = dict.fromkeys(names, 0)
        new = []
        for m in members:
            if m in existing:
                out[m] = existing[m]
                if existing[m] in counts:
                    counts[existing[m]] += 1
            else:
                new.append(m)
        total = sum(counts.values())
        for m in sorted(new, key=lambda m: _key(seed, m)):
            total += 1
            best = max(names, key=lambda s: (fr[s] * total - counts[s], -names.index(s)))
            counts[best] += 1
            out[m] = best
    return out


def load_split_file(path: str | os.PathLike[str]) -> dict:
    """Read a split file ``{"version", "seed", "fractions", "stratified", "assignments": {id: split}}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data.get("assignments"), dict):
            raise ValueError("no 'assignments' mapping")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"split file {str(path)!r} is unreadable: {exc}; delete it to regenerate") from exc
    return data


def split_file_path(dataset: str, seed: int) -> Path:
    """Default split file: ``$EOKIT_CACHE/splits/<dataset>-seed<seed>.json``.

    Kept outside the dataset folder (which may be read-only); keyed by item
    id, so the same file serves a subset and the full dataset consistently.
    """
    return cache_dir() / "splits" / f"{dataset}-seed{seed}.json"


def stable_split(
    ids: Sequence[str],
    labels: Sequence[Hashable] | None,
    split: str,
    *,
    path: str | os.PathLike[str],
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> list[str]:
    """Ids of ``split`` from the split file at ``path`` (created or extended as needed), in input order."""
    from eokit.io import atomic_path

    fr = _check_fractions(fractions)
    if split not in fr:
        raise DatasetError(f"split {split!r} is not one of {list(fr)}")
    path = Path(path)
    existing: dict[str, str] = {}
    if path.exists():
        data = load_split_file(path)
        if data.get("seed") != seed or {k: float(v) for k, v in data.get("fractions", {}).items()} != fr:
            raise ConfigError(
                f"split file {str(path)!r} was made with seed={data.get('seed')} fractions={data.get('fractions')}, "
                f"not seed={seed} fractions={fr}; pass split_file= another path or delete it"
            )
        existing = data["assignments"]
    assignment = assign_splits(ids, labels, fr, seed, existing)
    if any(i not in existing for i in map(str, ids)):
        merged = {**existing, **assignment}
        payload = {
            "version": SPLIT_FILE_VERSION,
            "seed": seed,
            "fractions": fr,
            "stratified": labels is not None,
            "rule": "per class: sha256(seed:id) order, largest-deficit assignment; existing entries kept",
            "assignments": dict(sorted(merged.items())),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(payload, indent=1))
    return [i for i in ids if assignment[str(i)] == split]
