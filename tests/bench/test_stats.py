"""Per-sample outcomes, bootstrap CIs and paired comparisons (eokit.bench.stats)."""

from __future__ import annotations

import numpy as np
import pytest

from eokit.bench import stats as S
from eokit.bench.protocols import bench_scores
from eokit.errors import MetricError


def _cls(n: int, acc: float, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    wrong = rng.random(n) > acc
    pred = np.where(wrong, (y + rng.integers(1, k, n)) % k, y)
    return y, pred


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(1)
    y, p = _cls(200, 0.6)
    ml_y = (rng.random((60, 4)) > 0.6).astype(float)
    ml_p = np.clip(ml_y * 0.6 + rng.random((60, 4)) * 0.5, 0, 1)
    seg_y = rng.integers(0, 3, (10, 8, 8))
    seg_y[0, :2] = -1
    seg_p = np.where(rng.random((10, 8, 8)) > 0.3, np.clip(seg_y, 0, 2), rng.integers(0, 3, (10, 8, 8)))
    ch_y = (rng.random((10, 8, 8)) > 0.8).astype(int)
    ch_p = np.where(rng.random((10, 8, 8)) > 0.2, ch_y, 1 - ch_y)
    ry = rng.normal(3, 2, 80)
    return [("classification", y, p, 5), ("multilabel", ml_y, ml_p, 4), ("segmentation", seg_y, seg_p, 3),
            ("change_detection", ch_y, ch_p, 2), ("regression", ry, ry + rng.normal(0, 1, 80), 0)]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_outcome_metrics_equal_tasks_metrics_score(case: tuple[str, np.ndarray, np.ndarray, int]) -> None:
    """metrics_from_sums on the whole test set == eokit.tasks.metrics.score (via bench_scores)."""
    task, y, p, k = case
    o = S.outcomes_of(task, y, p, k, ignore_index=-1)
    mine = S.metrics_from_sums(o.task, o.kind, o.k, o.sums())
    ref = bench_scores(task, y, p, k)
    assert set(mine) <= set(ref) and mine
    for name, v in mine.items():
        assert float(v) == pytest.approx(ref[name], abs=1e-6), name


def test_outcomes_roundtrip_bytes() -> None:
    o = S.outcomes_of("segmentation", *_cases()[2][1:], ignore_index=-1)
    back = S.Outcomes.from_bytes(o.task, o.kind, o.k, o.to_bytes())
    assert back.kind == "confusion" and np.array_equal(back.data, o.data) and back.n == 10


def test_ci_contains_point_and_shrinks_with_n() -> None:
    widths = []
    for n in (100, 1600):
        runs = [S.outcomes_of("classification", *_cls(n, 0.7, seed=s), 5) for s in range(3)]
        reps = S.replicates(runs, "accuracy", n_boot=1000, seed=0)
        lo, hi = S.ci(reps)
        point = S.point_value(runs, "accuracy")
        assert lo < point < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2.5  # ~ 1/sqrt(n): 4x fewer -> 1/4 the width
    assert 0.1 < widths[0] < 0.25  # 2 * 1.96 * sqrt(.7 * .3 / 100) ~ 0.18 at n = 100


def test_replicates_are_seeded_and_paired() -> None:
    runs = [S.outcomes_of("classification", *_cls(50, 0.5, seed=s), 5) for s in range(2)]
    a = S.replicates(runs, "accuracy", n_boot=200, seed=3)
    assert np.array_equal(a, S.replicates(runs, "accuracy", n_boot=200, seed=3))
    assert not np.array_equal(a, S.replicates(runs, "accuracy", n_boot=200, seed=4))


def test_paired_bootstrap_identical_and_better() -> None:
    y, p = _cls(300, 0.6, seed=0)
    same = [S.outcomes_of("classification", y, p, 5)]
    ra = S.replicates(same, "accuracy", seed=0)
    rb = S.replicates([S.outcomes_of("classification", y, p.copy(), 5)], "accuracy", seed=0)
    prob = S.p_better(ra, rb)
    assert prob == pytest.approx(0.5) and S.mark(prob) == ""
    # B is right on a superset of A's samples plus 30 more: clearly better
    better = np.where(np.arange(300) < 60, y, p)
    rc = S.replicates([S.outcomes_of("classification", y, better, 5)], "accuracy", seed=0)
    assert S.p_better(rc, ra) > 0.975 and S.mark(S.p_better(rc, ra)) == "*"
    assert S.mark(S.p_better(ra, rc)) == "*"
    # a slightly different but not better model: no mark
    swap = p.copy()
    swap[:4] = y[:4]
    swap[4:8] = (y[4:8] + 1) % 5
    rd = S.replicates([S.outcomes_of("classification", y, swap, 5)], "accuracy", seed=0)
    assert S.mark(S.p_better(rd, ra)) == ""
    # lower is better
    assert S.p_better(np.array([1.0, 1.0]), np.array([2.0, 2.0]), higher_is_better=False) == 1.0


def test_rank_reasons() -> None:
    small = S.outcomes_of("classification", *_cls(12, 0.5), 5)
    assert S.rank_reason([small]) == "only 12 test samples (< 20)"
    one = S.outcomes_of("classification", np.zeros(30, int), np.zeros(30, int), 3)
    assert "one class" in S.rank_reason([one])
    ml = S.outcomes_of("multilabel", np.tile([1.0, 0.0, 1.0], (25, 1)), np.full((25, 3), 0.7), 3)
    assert S.rank_reason([ml]) == "1 of 3 labels have no positive test sample (label 1)"
    ok = S.outcomes_of("classification", *_cls(40, 0.5), 5)
    assert S.rank_reason([ok]) == "" and S.rank_reason([]) == "no per-sample outcomes"
    seg = S.outcomes_of("segmentation", np.full((25, 4, 4), -1), np.zeros((25, 4, 4), int), 3, ignore_index=-1)
    assert S.rank_reason([seg]) == "no labelled pixel in the test split"
    calm = S.outcomes_of("change_detection", np.zeros((25, 4, 4), int), np.zeros((25, 4, 4), int), 2)
    assert "one class" in S.rank_reason([calm], "f1_change")
    some = np.zeros((25, 4, 4), int)
    some[0, 0, 0] = 1
    ch = S.outcomes_of("change_detection", some, np.zeros((25, 4, 4), int), 2)
    assert S.rank_reason([ch], "f1_change") == ""
    assert S.rank_reason([ml], "map_macro").startswith("1 of 3 labels")  # no per-sample form: not a reason
    with pytest.raises(MetricError, match="differ in test samples"):
        S.replicates([small, ok], "accuracy")


def test_chance_levels() -> None:
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    o = S.outcomes_of("classification", y, y, 3)
    assert S.chance_value(o, "accuracy") == pytest.approx(0.6)  # majority class
    ch = S.outcomes_of("change_detection", np.array([[[0, 0, 0, 1]]] * 20), np.zeros((20, 1, 4), int), 2)
    assert S.chance_value(ch, "f1_change") == pytest.approx(2 * 0.25 / 1.25)  # everything 'change'
    ry = np.arange(30, dtype=float)
    r = S.outcomes_of("regression", ry, ry, 0)
    assert S.chance_value(r, "r2") == pytest.approx(0.0)
    assert S.chance_value(r, "rmse") == pytest.approx(ry.std())
