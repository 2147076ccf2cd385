"""GEO-Bench-2 aggregation checked against hand computations (and scipy as a reference)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eokit.bench.aggregate import (
    capability_scores,
    dataset_scores,
    efficiency_table,
    iqm,
    make_references,
    normalise,
    robustness_summary,
    robustness_table,
    trimmed_se,
)
from eokit.bench.groups import GROUPS, capability_groups, dataset_groups
from eokit.datasets.base import DatasetSpec, list_datasets
from eokit.errors import ConfigError


def rows(model: str, dataset: str, values: list[float], metric: str = "accuracy", **kw: object) -> list[dict]:
    base = {"suite": "t", "protocol": "linear", "fraction": 1.0, "corruption": "none", "severity": 0}
    base.update(kw)
    return [{**base, "model": model, "dataset": dataset, "seed": s, "metric": metric, "value": v}
            for s, v in enumerate(values)]


def test_iqm_and_trimmed_se_by_hand() -> None:
    # 5 values: int(0.25*5)=1 cut at each end -> middle three [0.4, 0.5, 0.75]
    v = [1.0, 0.25, 0.5, 0.75, 0.4]
    assert iqm(v) == pytest.approx((0.4 + 0.5 + 0.75) / 3) == pytest.approx(0.55)
    assert iqm(v) == pytest.approx(stats.trim_mean(v, 0.25))
    # trimmed SE: deviations of the kept values from 0.55: -0.15, -0.05, 0.20
    # sum of squares 0.0225 + 0.0025 + 0.04 = 0.065; var (ddof=1) = 0.0325; SE = sqrt(0.0325/3)
    assert trimmed_se(v) == pytest.approx(math.sqrt(0.0325 / 3)) == pytest.approx(0.1040833, abs=1e-6)
    # 4 values: one cut each end -> mean of the middle two
    assert iqm([0.1, 0.2, 0.3, 10.0]) == pytest.approx(0.25) == pytest.approx(stats.trim_mean([0.1, 0.2, 0.3, 10], 0.25))
    # 3 values: int(0.75)=0 cut -> plain mean, plain SE
    assert iqm([0.1, 0.2, 0.6]) == pytest.approx(0.3)
    assert trimmed_se([0.1, 0.2, 0.6]) == pytest.approx(stats.sem([0.1, 0.2, 0.6]))
    rng = np.random.default_rng(0)
    for n in (2, 5, 7, 8, 13):
        x = rng.random(n)
        assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25))
    assert math.isnan(trimmed_se([0.5])) and math.isnan(iqm([]))


def test_normalise_by_hand() -> None:
    df = pd.DataFrame(
        rows("A", "d1", [0.6, 0.7]) + rows("A", "d2", [0.4]) + rows("A", "reg", [15.0], metric="rmse")
        + rows("A", "noref", [0.3])
    )
    refs = {"d1": {"accuracy": (0.5, 0.9)}, "d2": (0.2, 0.6), "reg": {"rmse": (10.0, 30.0)}}
    out = normalise(df, refs)
    got = dict(zip(zip(out["dataset"], out["value"], strict=True), out["score"], strict=True))
    assert got[("d1", 0.6)] == pytest.approx(0.25)  # (0.6-0.5)/0.4
    assert got[("d1", 0.7)] == pytest.approx(0.5)
    assert got[("d2", 0.4)] == pytest.approx(0.5)  # (0.4-0.2)/0.4, pair applies to every metric
    assert got[("reg", 15.0)] == pytest.approx(0.75)  # lower is better: (30-15)/(30-10)
    assert math.isnan(got[("noref", 0.3)])
    assert "score" not in df.columns  # a copy
    with pytest.raises(ConfigError, match="min 0.9 > max 0.5"):
        normalise(df, {"d1": (0.9, 0.5)})


def hand_example() -> pd.DataFrame:
    """Model A on d1 (5 seeds) and d2 (3 seeds); model B only on d1. References d1 (0.5, 0.9), d2 (0.2, 0.6)."""
    return pd.DataFrame(
        rows("A", "d1", [0.60, 0.70, 0.80, 0.66, 0.90])
        + rows("A", "d2", [0.30, 0.40, 0.50])
        + rows("A", "d1", [0.1, 0.1, 0.1, 0.1, 0.1], metric="f1_macro")  # not the ranked metric: ignored
        + rows("A", "d1", [0.0] * 5, corruption="haze", severity=5)  # corrupted: not in clean scores
        + rows("B", "d1", [0.70, 0.70, 0.70])
    )


def test_dataset_scores_by_hand() -> None:
    df = normalise(hand_example(), {"d1": (0.5, 0.9), "d2": (0.2, 0.6)})
    ds = dataset_scores(df).set_index(["model", "dataset"])
    # A/d1 normalised: 0.25, 0.5, 0.75, 0.4, 1.0 -> IQM 0.55, trimmed SE 0.10408 (see test above)
    assert ds.loc[("A", "d1"), "score"] == pytest.approx(0.55)
    assert ds.loc[("A", "d1"), "error"] == pytest.approx(0.1040833, abs=1e-6)
    assert ds.loc[("A", "d1"), "n_seeds"] == 5 and ds.loc[("A", "d1"), "metric"] == "accuracy"
    # A/d2 normalised: 0.25, 0.5, 0.75 -> mean 0.5, SE = sd(0.25)/sqrt(3)
    assert ds.loc[("A", "d2"), "score"] == pytest.approx(0.5)
    assert ds.loc[("A", "d2"), "error"] == pytest.approx(0.25 / math.sqrt(3))
    assert ds.loc[("B", "d1"), "score"] == pytest.approx(0.5)
    assert ds.loc[("B", "d1"), "error"] == pytest.approx(0.0, abs=1e-12)
    # without normalise the raw values are aggregated
    raw = dataset_scores(hand_example()).set_index(["model", "dataset"])
    assert raw.loc[("A", "d1"), "score"] == pytest.approx((0.66 + 0.70 + 0.80) / 3)


def test_make_references_min_max_of_seed_means() -> None:
    refs = make_references(hand_example())
    # seed means on d1: A = 0.732, B = 0.70 ; on d2 only A = 0.40
    assert refs["d1"]["accuracy"] == pytest.approx((0.70, 0.732))
    assert refs["d2"]["accuracy"] == pytest.approx((0.40, 0.40))
    assert make_references(hand_example(), models=["B"])["d1"]["accuracy"] == pytest.approx((0.7, 0.7))


def test_capability_bootstrap_matches_exact_enumeration() -> None:
    """Stratified bootstrap of 2 datasets x 2 seeds vs the exact distribution, enumerated by hand.

    Resampling 2 seeds of d1 = [0.2, 0.6] gives {0.2,0.2} w.p. 1/4, {0.2,0.6} 1/2, {0.6,0.6} 1/4;
    likewise d2 = [0.4, 0.8]. The IQM of the 4 pooled values is the mean of the middle two:

                 d2:{.4,.4}  {.4,.8}  {.8,.8}
      d1:{.2,.2}    0.3       0.3      0.5
         {.2,.6}    0.4       0.5      0.7
         {.6,.6}    0.5       0.6      0.7

    E = 1/4(.25*.3+.5*.3+.25*.5) + 1/2(.25*.4+.5*.5+.25*.7) + 1/4(.25*.5+.5*.6+.25*.7) = 0.5
    E[x^2] = 0.2675 -> variance 0.0175, standard deviation 0.1322876.
    """
    table = {("22", "44"): 0.3, ("22", "48"): 0.3, ("22", "88"): 0.5,
             ("26", "44"): 0.4, ("26", "48"): 0.5, ("26", "88"): 0.7,
             ("66", "44"): 0.5, ("66", "48"): 0.6, ("66", "88"): 0.7}
    p = {"22": 0.25, "26": 0.5, "66": 0.25, "44": 0.25, "48": 0.5, "88": 0.25}
    mean = sum(p[a] * p[b] * v for (a, b), v in table.items())
    var = sum(p[a] * p[b] * v * v for (a, b), v in table.items()) - mean**2
    assert mean == pytest.approx(0.5) and var == pytest.approx(0.0175)
    # the hand table agrees with brute-force enumeration of all 16 index draws
    d1, d2 = [0.2, 0.6], [0.4, 0.8]
    brute = [stats.trim_mean([d1[i], d1[j], d2[k], d2[m]], 0.25) for i, j, k, m in itertools.product((0, 1), repeat=4)]
    assert np.mean(brute) == pytest.approx(mean) and np.var(brute) == pytest.approx(var)

    df = pd.DataFrame(rows("A", "d1", d1) + rows("A", "d2", d2))
    cap = capability_scores(df, {"G": ["d1", "d2"]}, n_boot=20_000, seed=0).iloc[0]
    # Monte-Carlo error of the mean over 20000 draws: 0.132/sqrt(20000) = 0.00094
    assert cap["score"] == pytest.approx(0.5, abs=0.004)
    assert cap["error"] == pytest.approx(math.sqrt(0.0175), abs=0.004)
    assert cap["reason"] == "" and cap["n_datasets"] == 2
    # fixed seed -> identical result; another seed -> a different draw
    again = capability_scores(df, {"G": ["d1", "d2"]}, n_boot=20_000, seed=0).iloc[0]
    assert again["score"] == cap["score"] and again["error"] == cap["error"]
    assert capability_scores(df, {"G": ["d1", "d2"]}, n_boot=500, seed=1).iloc[0]["score"] != cap["score"]


def test_capability_zero_variance_and_missing_dataset() -> None:
    df = normalise(hand_example(), {"d1": (0.5, 0.9), "d2": (0.2, 0.6)})
    cap = capability_scores(df, {"Core": ["d1", "d2"], "Only-d1": ["d1"], "Absent": ["d9"]}, n_boot=200, seed=3)
    cap = cap.set_index(["model", "group"])
    # B's d1 seeds are identical (0.5): every bootstrap IQM is 0.5, std 0
    assert cap.loc[("B", "Only-d1"), "score"] == pytest.approx(0.5)
    assert cap.loc[("B", "Only-d1"), "error"] == pytest.approx(0.0)
    # B lacks d2: no Core score, and the reason names the dataset
    assert math.isnan(cap.loc[("B", "Core"), "score"])
    assert "d2" in cap.loc[("B", "Core"), "reason"]
    assert cap.loc[("A", "Core"), "reason"] == "" and 0.3 < cap.loc[("A", "Core"), "score"] < 0.8
    assert ("A", "Absent") not in cap.index  # a group no result covers is not reported
    with pytest.raises(ConfigError, match="at least 100"):
        capability_scores(df, {"Core": ["d1"]}, n_boot=10)


def test_robustness_and_efficiency_tables() -> None:
    df = pd.DataFrame(
        rows("A", "d1", [0.8, 0.9])
        + rows("A", "d1", [0.7, 0.8], corruption="haze", severity=1)
        + rows("A", "d1", [0.4, 0.5], corruption="haze", severity=5)
        + rows("A", "d1", [0.6, 0.6], corruption="clouds", severity=1)
        + rows("A", "d1", [0.2, 0.2], corruption="clouds", severity=5)
        + rows("A", "d1", [11.2e6], metric="params", protocol="efficiency")
        + rows("A", "d2", [11.2e6], metric="params", protocol="efficiency")
        + rows("A", "d1", [1.8], metric="gflops", protocol="efficiency")
        + rows("A", "d2", [3.6], metric="gflops", protocol="efficiency")
    )
    rob = robustness_table(df).set_index(["corruption", "severity"])
    assert rob.loc[("haze", 5), "value"] == pytest.approx(0.45)
    assert rob.loc[("haze", 5), "clean"] == pytest.approx(0.85)
    assert rob.loc[("haze", 5), "drop"] == pytest.approx(0.40)
    mean = robustness_summary(robustness_table(df)).set_index("severity")
    assert mean.loc[1, "drop"] == pytest.approx(((0.85 - 0.75) + (0.85 - 0.6)) / 2)
    assert mean.loc[5, "value"] == pytest.approx((0.45 + 0.2) / 2)
    eff = efficiency_table(df).set_index("model")
    assert eff.loc["A", "params"] == 11.2e6 and eff.loc["A", "gflops"] == pytest.approx(2.7)
    # efficiency rows never enter the scores
    assert set(dataset_scores(df)["metric"]) == {"accuracy"}


def spec(name: str, task: str, tags: set[str], bands: tuple[str, ...], sensor: str | None, gsd: float | None = None
         ) -> DatasetSpec:
    return DatasetSpec(name=name, task=task, sensor=sensor, bands=bands, tags=frozenset(tags), gsd=gsd)


def test_capability_groups_from_tags() -> None:
    s2 = ("B02", "B03", "B04", "B08", "B11", "B12")
    specs = [
        spec("eurosat_ms", "classification", {"multispectral", "gsd>=10"}, s2, "sentinel2_l1c"),
        spec("eurosat_rgb", "classification", {"gsd>=10"}, ("B04", "B03", "B02"), "sentinel2_l1c"),
        spec("oscd", "change_detection", {"multispectral", "temporal", "pixelwise"}, s2, "sentinel2_l1c", 10),
        spec("aerial_seg", "segmentation", {"rgbn"}, ("R", "G", "B", "N"), "naip", 0.6),
        spec("boxes", "detection", set(), ("R", "G", "B"), "rgb", 0.3),
        spec("bigearthnet", "multilabel", {"multispectral"}, s2, "sentinel2_l2a", 10),
    ]
    assert dataset_groups(specs[0]) == ["Multi-Spectral-Dependent", "Classification", ">=10 m"]
    assert dataset_groups(specs[1]) == ["Classification", ">=10 m", "RGB/NIR"]
    assert dataset_groups(specs[2]) == ["Multi-Spectral-Dependent", "Multi-Temporal", "Pixel-wise", ">=10 m"]
    assert dataset_groups(specs[3]) == ["Pixel-wise", "<10 m", "RGB/NIR"]
    assert dataset_groups(specs[4]) == ["Detection", "<10 m", "RGB/NIR"]
    groups = capability_groups(specs)
    assert list(groups) == [g for g in GROUPS if g in groups]
    assert groups["Core"] == ["aerial_seg", "bigearthnet", "boxes", "eurosat_ms", "eurosat_rgb", "oscd"]
    assert groups["Multi-Spectral-Dependent"] == ["bigearthnet", "eurosat_ms", "oscd"]
    assert groups["Classification"] == ["bigearthnet", "eurosat_ms", "eurosat_rgb"]
    # names resolve through a mapping; unknown names join no group
    by_name = capability_groups(["eurosat_ms", "not_a_dataset"], specs={s.name: s for s in specs})
    assert by_name["Core"] == ["eurosat_ms"] and all("not_a_dataset" not in v for v in by_name.values())


def test_every_registered_dataset_gets_groups() -> None:
    specs = list_datasets()
    groups = capability_groups(specs)
    for s in specs:
        assert dataset_groups(s), f"{s.name} joins no capability group"
    assert sum(len(v) for v in groups.values()) >= len(specs)


def test_group_scope_is_per_protocol() -> None:
    """A 'decoder' entry is judged on the dense datasets decoders ran on, not on classification ones."""
    df = pd.DataFrame(
        rows("A", "cls", [0.8, 0.8, 0.8]) + rows("B", "cls", [0.6, 0.6, 0.6])
        + rows("A", "seg", [0.5, 0.5, 0.5], protocol="decoder", metric="miou")
        + rows("B", "seg", [0.4, 0.4, 0.4], protocol="decoder", metric="miou")
    )
    cap = capability_scores(df, {"Core": ["cls", "seg"]}, n_boot=100).set_index(["model", "protocol"])
    assert cap.loc[("A", "linear"), "score"] == pytest.approx(0.8) and cap.loc[("A", "linear"), "n_datasets"] == 1
    assert cap.loc[("B", "decoder"), "score"] == pytest.approx(0.4) and cap.loc[("B", "decoder"), "reason"] == ""
