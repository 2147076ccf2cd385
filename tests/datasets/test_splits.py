"""Seeded, stratified, stable splits (eokit.datasets.splits)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from eokit.datasets.splits import assign_splits, stable_split
from eokit.errors import ConfigError

FR = {"train": 0.7, "val": 0.1, "test": 0.2}


def _data(n_per_class: dict[str, int]) -> tuple[list[str], list[str]]:
    ids, labels = [], []
    for c, n in n_per_class.items():
        ids += [f"{c}/{c}_{i}.jpg" for i in range(1, n + 1)]
        labels += [c] * n
    return ids, labels


def test_stratified_exact_and_order_independent() -> None:
    ids, labels = _data({"A": 100, "B": 30, "C": 7})
    a = assign_splits(ids, labels, FR, seed=3)
    counts = Counter((lab, a[i]) for i, lab in zip(ids, labels, strict=True))
    assert (counts["A", "train"], counts["A", "val"], counts["A", "test"]) == (70, 10, 20)
    assert (counts["B", "train"], counts["B", "val"], counts["B", "test"]) == (21, 3, 6)
    assert sum(counts["C", s] for s in FR) == 7 and counts["C", "train"] in (4, 5)
    pairs = list(zip(ids, labels, strict=True))
    random.Random(0).shuffle(pairs)
    b = assign_splits([p[0] for p in pairs], [p[1] for p in pairs], FR, seed=3)
    assert a == b  # depends on ids, labels and seed only
    assert assign_splits(ids, labels, FR, seed=4) != a


def test_new_items_never_move_old_ones() -> None:
    ids, labels = _data({"A": 70, "B": 70})
    old = assign_splits(ids, labels, FR, seed=0)
    more_ids, more_labels = _data({"A": 100, "B": 100})
    new = assign_splits(more_ids, more_labels, FR, seed=0, existing=old)
    assert all(new[i] == old[i] for i in ids)
    counts = Counter((lab, new[i]) for i, lab in zip(more_ids, more_labels, strict=True))
    assert (counts["A", "train"], counts["A", "val"], counts["A", "test"]) == (70, 10, 20)


def test_split_file_roundtrip_and_growth(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    ids, labels = _data({"A": 20, "B": 10})
    test1 = stable_split(ids, labels, "test", path=path, fractions=FR, seed=1)
    data = json.loads(path.read_text())
    assert data["seed"] == 1 and len(data["assignments"]) == 30 and data["stratified"] is True
    assert len(test1) == 6
    more_ids, more_labels = _data({"A": 40, "B": 10})
    test2 = stable_split(more_ids, more_labels, "test", path=path, fractions=FR, seed=1)
    assert set(test1) <= set(test2) and len(test2) == 10
    # a subset of the items still reads the same assignments
    assert stable_split(ids[:5], labels[:5], "test", path=path, fractions=FR, seed=1) == [i for i in ids[:5] if i in test1]
    with pytest.raises(ConfigError, match="seed=1"):
        stable_split(ids, labels, "test", path=path, fractions=FR, seed=2)
    with pytest.raises(ConfigError, match="sum to 1"):
        assign_splits(ids, labels, {"train": 0.5, "test": 0.2})
