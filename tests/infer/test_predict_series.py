"""`eokit predict --time-series`: one map from the real Landsat 1985-2020 composites of Pucallpa."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.windows import Window
from torch import nn

from eokit.cli.main import main
from eokit.errors import GridAlignError, TimeSeriesError
from eokit.infer import PredictOptions, open_series, predict_scene
from eokit.io import is_cog
from eokit.models.contract import DataContract

NAMES = "SWIR1,NIR,Red,Green"  # the composites' band order (their README); with landsat7: B5, B4, B3, B2
YEARS = tuple(range(1985, 2021, 5))


@pytest.fixture(scope="module")
def landsat(mirror: Path) -> Path:
    return mirror / "timeseries" / "landsat_pucallpa_peru_1985_2020"


class NirChange(nn.Module):
    """Pixel-wise 'NIR rose between the first and last date' logits; records the dates it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, dates: torch.Tensor | None = None) -> torch.Tensor:
        self.seen.append(dates)
        d = x[:, -1, 1] - x[:, 0, 1]
        return torch.stack([torch.zeros_like(d), d], dim=1)


def test_series_map_is_the_per_pixel_rule_on_the_first_dates_grid(landsat: Path, tmp_path: Path) -> None:
    series = open_series(str(landsat / "*.tif"), band_names=NAMES.split(","))
    assert len(series) == 8 and series.doy.tolist() == [1] * 8  # year-only names: 1 January
    assert [t.year for t in series.times] == list(YEARS)
    model = NirChange()
    contract = DataContract(bands=("NIR", "Red"), task="segmentation", classes=("not greener", "greener"))
    out = tmp_path / "change.tif"
    res = predict_scene(model, series, out, PredictOptions.of(crop=128, stride=112),
                        contract=replace(contract, bands=("SWIR1", "NIR", "Red", "Green")))
    assert is_cog(out)[0] and res.tiles > 0
    with rasterio.open(landsat / "1985.tif") as a, rasterio.open(landsat / "2020.tif") as b:
        nir0, nir1 = a.read(2).astype(np.float32), b.read(2).astype(np.float32)
        valid = (a.read() != 0).all(0) & (b.read() != 0).all(0)  # both dates hold data
        grid = (a.crs, a.transform, a.shape)
    with rasterio.open(out) as m:
        assert (m.crs, m.transform, m.shape) == grid and m.descriptions == ("class", "confidence")
        cls = m.read(1)
    want = (nir1 - nir0 > 0).astype(np.uint8)
    inside = valid & (cls != 255)
    assert inside.mean() > 0.9
    np.testing.assert_array_equal(cls[inside], want[inside])
    assert model.seen and all(d is not None and d.shape[1] == 8 for d in model.seen)


@pytest.fixture(scope="module")
def temporal_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny U-Net + L-TAE checkpoint in eokit's format, on Landsat 7 bands."""
    from eokit.models import create_model
    from eokit.train import save_checkpoint

    torch.manual_seed(0)
    model = create_model("unet", task="segmentation", bands=["B3", "B4", "B5"], num_classes=3, sensor="landsat7",
                         temporal="ltae", base_channels=8, depth=3)
    folder = tmp_path_factory.mktemp("ts_ckpt") / "checkpoint"
    meta = {"model": model.config, "task": {"name": "segmentation", "num_classes": 3},
            "contract": replace(model.data_contract, classes=("forest", "cleared", "urban"))}
    return save_checkpoint(folder, model, meta)


@pytest.mark.slow
def test_cli_maps_the_landsat_series_with_a_temporal_checkpoint(landsat: Path, temporal_checkpoint: Path,
                                                                tmp_path: Path, capsys) -> None:
    out = tmp_path / "pucallpa.tif"
    args = ["predict", str(temporal_checkpoint), str(landsat / "1985.tif"), str(landsat / "2000.tif"),
            str(landsat / "2020.tif"), "--time-series", "--band-names", "swir16,nir,red,green", "-o", str(out),
            "--crop", "128", "--stride", "112", "-q"]
    assert main(args) == 0
    assert is_cog(out)[0]
    with rasterio.open(out) as m, rasterio.open(landsat / "1985.tif") as ref:
        assert m.crs == ref.crs and m.transform == ref.transform and m.shape == ref.shape
        cls = m.read(1)
        assert set(np.unique(cls)) <= {0, 1, 2, 255} and (cls != 255).mean() > 0.9
        assert m.descriptions == ("class", "confidence")
    err = capsys.readouterr().err
    assert "3 dates 1985-01-01 .. 2020-01-01" in err


def test_bad_series_input_is_typed_and_names_the_fix(landsat: Path, temporal_checkpoint: Path,
                                                     tmp_path: Path, capsys) -> None:
    plan_out = tmp_path / "plan.tif"
    assert main(["predict", str(temporal_checkpoint), str(landsat), "--time-series", "--band-names",
                 "swir16,nir,red,green", "-o", str(plan_out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "SeriesSource(8 dates 1985-01-01 .. 2020-01-01" in text and "697x377 px scene" in text
    assert not plan_out.exists()
    assert main(["predict", str(temporal_checkpoint), str(landsat / "1985.tif"), "--dates", "1985-06-01",
                 "-o", str(plan_out)]) == 2  # --dates without --time-series: a usage error
    with pytest.raises(TimeSeriesError, match=r"at least 2 dates.*1985\.tif"):
        open_series([landsat / "1985.tif"])
    with pytest.raises(TimeSeriesError, match=r"'June 2000'.*ISO 8601"):
        open_series([landsat / "1985.tif", landsat / "2000.tif"], dates=["1985-06-01", "June 2000"])
    nodate = tmp_path / "nodate"
    nodate.mkdir()
    shutil.copy(landsat / "1985.tif", nodate / "first.tif")
    shutil.copy(landsat / "1990.tif", nodate / "second.tif")
    with pytest.raises(TimeSeriesError, match=r"first\.tif.*no date.*--dates"):
        open_series(nodate)
    assert [t.year for t in open_series(nodate, dates=["2001-03-01", "2002-03-01"]).times] == [2001, 2002]
    # a date on a grid shifted by half a pixel: refused as read, warped with --resampling
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    shutil.copy(landsat / "1985.tif", shifted / "1985.tif")
    with rasterio.open(landsat / "1990.tif") as src:
        profile = src.profile | {"transform": src.transform * src.transform.translation(0.5, 0)}
        data = src.read()
    with rasterio.open(shifted / "1990.tif", "w", **profile) as dst:
        dst.write(data)
    series = open_series(shifted, band_names=NAMES.split(","))
    with pytest.raises(GridAlignError, match=r"1990\.tif.*not on the grid of.*1985\.tif.*resampling="):
        series.read(Window(0, 0, 16, 16))
    out = tmp_path / "x.tif"
    code = main(["predict", str(temporal_checkpoint), str(shifted), "--time-series", "--band-names",
                 "swir16,nir,red,green", "-o", str(out), "-q"])
    msg = capsys.readouterr().err
    assert code == 2 and "error:" in msg and "1990.tif" in msg and "resampling=" in msg and not out.exists()
    chip = open_series(shifted, band_names=NAMES.split(","), resampling="bilinear").read(Window(8, 8, 16, 16))
    assert chip.array.shape == (2, 4, 16, 16) and chip.frames_valid.all()
    with rasterio.open(landsat / "1990.tif") as src:  # moved half a pixel east: mean of columns c-1 and c
        nir = src.read(2, window=((8, 24), (7, 24))).astype(np.float32)
    np.testing.assert_allclose(chip.array[1, 1], (nir[:, :-1] + nir[:, 1:]) / 2, atol=0.51)


class FourDates(nn.Module):
    """A model built for exactly 4 dates (a linear layer over time), like a fixed-length temporal CNN."""

    def __init__(self) -> None:
        super().__init__()
        self.over_time = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.over_time(x[:, :, 0].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def test_a_series_with_fewer_dates_than_the_model_needs(landsat: Path, tmp_path: Path) -> None:
    contract = DataContract(bands=("SWIR1", "NIR", "Red", "Green"), task="segmentation", classes=("a", "b"))
    series = open_series([landsat / f"{y}.tif" for y in YEARS[:3]], band_names=NAMES.split(","))
    with pytest.raises(TimeSeriesError, match=r"3 dates \(3 dates 1985-01-01 .. 1995-01-01.*exactly that many"):
        predict_scene(FourDates(), series, tmp_path / "no.tif", PredictOptions.of(crop=64, stride=64),
                      contract=contract)
    assert not (tmp_path / "no.tif").exists()
    four = open_series([landsat / f"{y}.tif" for y in YEARS[:4]], band_names=NAMES.split(","))
    res = predict_scene(FourDates(), four, tmp_path / "ok.tif", PredictOptions.of(crop=128, stride=128),
                        contract=contract)
    assert res.tiles > 0 and is_cog(tmp_path / "ok.tif")[0]
