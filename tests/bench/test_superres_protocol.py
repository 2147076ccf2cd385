"""The SR-in-the-loop protocol (eokit.bench.superres) on the mirror's real Landsat 8 scene and the WorldStrat
fixture: fidelity and downstream rows, report tables, rank correlations, typed errors."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

from eokit.bench.config import SRDatasetCfg, SRModelCfg, parse_suite
from eokit.bench.store import ResultsStore
from eokit.bench.superres import (
    REFERENCE,
    SR_PROTOCOL,
    band_mapping,
    load_pairs,
    superres_tables,
    train_sr_model,
)
from eokit.cli.main import main
from eokit.errors import BandError, ConfigError
from eokit.report import summarise

DATA = Path(__file__).resolve().parents[1] / "data"
L8 = ("scenes", "landsat8_LC80200392015216")
MODELS = [{"name": "nearest", "mode": "nearest"}, {"name": "bilinear", "mode": "bilinear"},
          {"name": "bicubic", "mode": "bicubic"},
          {"name": "sr_unet", "kind": "trained", "arch": "unet", "options": {"base_channels": 4, "depth": 2},
           "head_options": {"channels": 8}, "epochs": 2, "batch_size": 8}]


def _landsat(mirror: Path, **extra: Any) -> dict[str, Any]:
    return {"name": "landsat8_cloud_x2", "loader": "wald_scene",
            "kwargs": {"root": str(mirror.joinpath(*L8)), "image": "l8_B*.tif", "label": "l8_BQA.tif",
                       "qa": "landsat8_precollection_bqa_cloud", "sensor": "landsat8",
                       "bands": ["B2", "B3", "B4", "B5", "B6", "B7"], "chip_size": 32},
            "train": {"split": "train", "max_items": 48}, "test": {"split": "test", "max_items": 24}, **extra}


def _suite(datasets: list[dict[str, Any]], models: list[dict[str, Any]] = MODELS) -> dict[str, Any]:
    return {"name": "sr_tiny", "models": [], "datasets": [], "baselines": False,
            "superres": {"seeds": [0], "models": models, "datasets": datasets}}


def _worldstrat(tmp: Path) -> Path:
    spec = importlib.util.spec_from_file_location("gen_worldstrat_sr", DATA / "worldstrat" / "data.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.write(tmp / "worldstrat"))


@pytest.mark.slow
def test_sr_protocol_from_the_cli_on_the_landsat_scene(tmp_path: Path, mirror: Path, cache: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "sr.yaml"
    downstream = {"arch": "unet", "options": {"base_channels": 4, "depth": 2}, "epochs": 3, "batch_size": 8}
    suite.write_text(yaml.safe_dump(_suite([_landsat(mirror, downstream=downstream)])))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(suite), "--out", str(out), "--workers", "0"]) == 0
    text = capsys.readouterr().out
    assert "super-resolution in the loop" in text and "rank correlation" in text
    df = ResultsStore(out / "results.duckdb").frame()
    assert set(df["protocol"]) == {SR_PROTOCOL} and set(df["dataset"]) == {"landsat8_cloud_x2"}
    got = {(m, k): v for m, k, v in zip(df["model"], df["metric"], df["value"], strict=True)}
    for m in ("nearest", "bilinear", "bicubic", "sr_unet"):
        assert {"psnr", "ssim", "sam", "rmse", "mae", "task_miou", "task_oa", "task_f1_macro"} <= \
            {k for mm, k in got if mm == m}, m
        assert 0 <= got[(m, "task_miou")] <= 1 and 0 < got[(m, "ssim")] <= 1 and got[(m, "sam")] > 0
    assert (REFERENCE, "task_miou") in got and (REFERENCE, "psnr") not in got
    # bicubic PSNR recomputed from the pairs: 10 log10(range^2 / MSE) over the test targets
    cfg = SRDatasetCfg.model_validate(_landsat(mirror))
    test = load_pairs(cfg, "test")
    import torch
    import torch.nn.functional as F

    bic = F.interpolate(torch.from_numpy(test.lr), scale_factor=2, mode="bicubic", align_corners=False).numpy()
    span = float(test.hr.max() - test.hr.min())
    psnr = 10 * math.log10(span ** 2 / float(((bic.astype(np.float64) - test.hr) ** 2).mean()))
    assert got[("bicubic", "psnr")] == pytest.approx(psnr, abs=1e-3)
    assert got[("bicubic", "psnr")] > got[("nearest", "psnr")]  # Wald-degraded real data: bicubic wins
    html = (out / "report.html").read_text()
    assert 'id="superres-table"' in html and 'id="superres-correlation-table"' in html and "sr_unet" in html
    assert html.count("<td class=\"l\">landsat8_cloud_x2</td>") == 5 + 3  # 5 SR rows, 3 correlation rows
    assert main(["bench", "--suite", str(suite), "--out", str(out), "--workers", "0", "--no-report"]) == 0
    assert "0 computed" in capsys.readouterr().err  # stored: nothing runs again


def _rows(dataset: str, protocol: str, metric_values: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    return [{"suite": "s", "dataset": dataset, "model": m, "protocol": protocol, "fraction": 1.0, "seed": 0,
             "corruption": "none", "severity": 0, "metric": k, "value": v, "job_key": f"{m}{protocol}",
             "config_hash": "h", "time": pd.Timestamp("2026-01-01")} for m, vals in metric_values.items()
            for k, v in vals.items()]


def test_sr_tables_rank_correlation_and_leaderboard_separation() -> None:
    sr = {"a": {"psnr": 30.0, "ssim": 0.80, "sam": 2.0, "task_miou": 0.60},
          "b": {"psnr": 32.0, "ssim": 0.85, "sam": 1.5, "task_miou": 0.58},
          "c": {"psnr": 34.0, "ssim": 0.90, "sam": 1.0, "task_miou": 0.70},
          REFERENCE: {"task_miou": 0.9}}
    main_rows = {"cnn": {"accuracy": 0.7}, "raw": {"accuracy": 0.5}}
    df = pd.DataFrame(_rows("sr_ds", SR_PROTOCOL, sr) + _rows("eurosat", "linear", main_rows))
    table, corr = superres_tables(df)
    assert list(table["model"]) == [REFERENCE, "c", "a", "b"]  # best downstream first
    psnr = corr[corr["fidelity"] == "psnr"].iloc[0]
    assert psnr["n_models"] == 3 and psnr["spearman"] == pytest.approx(0.5, abs=1e-5)
    assert psnr["kendall"] == pytest.approx(1 / 3, abs=1e-5)
    assert corr[corr["fidelity"] == "-sam"].iloc[0]["spearman"] == pytest.approx(0.5, abs=1e-5)  # SAM negated
    s = summarise(df)
    assert set(s.datasets["dataset"]) == {"eurosat"} and set(s.superres["dataset"]) == {"sr_ds"}
    two = pd.DataFrame(_rows("sr_ds", SR_PROTOCOL, {k: sr[k] for k in ("a", "b")}))
    _, corr2 = superres_tables(two)
    assert corr2["spearman"].isna().all() and corr2["reason"].str.contains(">= 3 pairs").all()


def test_band_mapping_and_bad_input(tmp_path: Path, mirror: Path, cache: Path) -> None:
    root = _worldstrat(tmp_path)
    ws = SRDatasetCfg(name="ws", loader="worldstrat", kwargs={"root": str(root)})
    pairs = load_pairs(ws, "train")
    assert pairs.factor == 6 and pairs.lr.shape == (2, 12, 8, 8) and pairs.hr.shape == (2, 4, 48, 48)
    import torch

    x = torch.arange(12.0).view(1, 12, 1, 1)
    # SPOT red, green, blue, nir are the L2A bands B04, B03, B02, B08 (positions 3, 2, 1, 7)
    assert band_mapping(pairs, "ws")(x).flatten().tolist() == [3.0, 2.0, 1.0, 7.0]
    from eokit.bench.superres import run_dataset

    suite = parse_suite(_suite([{"name": "ws_run", "loader": "worldstrat", "kwargs": {"root": str(root)}}],
                               MODELS[:3]))
    rows = run_dataset(suite, "ws_run", 0, "k")["k"]  # x6: interpolation only (the SR head has no x6)
    assert {r["model"] for r in rows} == {"nearest", "bilinear", "bicubic"}
    assert all(r["metric"] not in ("task_miou",) for r in rows) and all(np.isfinite(r["value"]) for r in rows)
    with pytest.raises(ConfigError, match="factors 2, 3, 4 and 8"):
        train_sr_model(SRModelCfg.model_validate(MODELS[3]), pairs, 0)
    pan = SRDatasetCfg(name="pan", loader="landsat8_pansharpen",
                       kwargs={"root": str(mirror.joinpath(*L8)), "chip_size": 32}, train={"split": "train",
                                                                                         "max_items": 4})
    p = load_pairs(pan, "train")
    assert p.target_bands == ("B8",) and p.factor == 2
    assert band_mapping(p, "pan")(torch.tensor([[[[1.0]], [[2.0]], [[6.0]]]])).item() == 3.0  # MS mean -> pan
    head = train_sr_model(SRModelCfg.model_validate(MODELS[3] | {"epochs": 1}), p, 0)  # 3 bands in, 1 out
    assert head(p.lr[:2]).shape == (2, 1, 64, 64)
    _, corr = superres_tables(pd.DataFrame(_rows("pan", SR_PROTOCOL, {m: {"psnr": v, "ssim": v / 40}
                                                                     for m, v in zip("abc", (22.0, 23.0, 24.0), strict=True)})))
    assert corr["reason"].str.startswith("fidelity only").all()
    p.target_bands = ("B8", "B10")
    with pytest.raises(BandError, match="B10"):
        band_mapping(p, "pan")
    # an SR factor that does not divide: a 50 px target over an 8 px input (a fresh fixture: the files
    # read above stay open in eokit's handle cache)
    root = _worldstrat(tmp_path / "odd")
    hr = next((root / "hr_dataset" / "12bit" / "UNHCR-SSDs001234").glob("*_rgbn.tiff"))
    with rasterio.open(hr) as d:
        profile = d.profile
    profile.update(width=50, height=50)
    with rasterio.open(hr, "w", **profile) as d:
        d.write(np.zeros((4, 50, 50), np.uint16))
    with pytest.raises(ConfigError, match="SR factor does not divide"):
        load_pairs(SRDatasetCfg(name="ws_odd", loader="worldstrat", kwargs={"root": str(root)}), "test")


def test_downstream_bands_missing_and_no_labels(tmp_path: Path, mirror: Path, cache: Path) -> None:
    from eokit.bench.superres import run_dataset

    bad = parse_suite(_suite([_landsat(mirror, downstream={"bands": ["B2", "B10"], "epochs": 1})],
                             MODELS[:1]))
    with pytest.raises(BandError, match="B10"):
        run_dataset(bad, "landsat8_cloud_x2", 0, "k")
    d = _landsat(mirror, downstream={"epochs": 1})
    del d["kwargs"]["label"], d["kwargs"]["qa"]
    with pytest.raises(ConfigError, match="no 'mask'"):
        run_dataset(parse_suite(_suite([d], MODELS[:1])), "landsat8_cloud_x2", 0, "k")
    with pytest.raises(ConfigError, match="kind 'trained' needs 'arch'"):
        parse_suite(_suite([d], [{"name": "x", "kind": "trained"}]))
    clash = _suite([d], MODELS[:1]) | {"datasets": [{"name": "landsat8_cloud_x2", "loader": "eurosat_ms"}]}
    with pytest.raises(ConfigError, match="reuse names of the suite's datasets"):
        parse_suite(clash)


def test_quick_suite_runs_the_sr_protocol_with_a_downstream_model(mirror: Path, cache: Path) -> None:
    from eokit.bench.config import load_suite
    from eokit.bench.superres import plan_jobs

    suite = load_suite("quick")
    assert suite.superres is not None
    kinds = {m.name: m.kind for m in suite.superres.models}
    assert kinds == {"nearest": "interpolate", "bilinear": "interpolate", "bicubic": "interpolate",
                     "sr_unet": "trained"}
    (d,) = suite.superres.datasets
    assert d.loader == "wald_scene" and d.downstream is not None
    jobs, skipped, info = plan_jobs(suite)
    assert [j[:2] for j in jobs] == [("landsat8_cloud_x2", 0)] and not skipped
    assert info["landsat8_cloud_x2"]["n_train"] == 57 and info["landsat8_cloud_x2"]["n_test"] == 16
    assert info["landsat8_cloud_x2"]["factor"] == 2


def test_sr_tables_constant_downstream_score_is_explained() -> None:
    same = {m: {"psnr": p, "ssim": 0.8, "sam": 1.0, "task_miou": 0.45} for m, p in zip("abc", (30.0, 31.0, 32.0),
                                                                                      strict=True)}
    _, corr = superres_tables(pd.DataFrame(_rows("d", SR_PROTOCOL, same)))
    assert corr["spearman"].isna().all()
    assert corr.set_index("fidelity").loc["psnr", "reason"] == "task_miou is 0.450 for every SR model: nothing to rank"
