"""Time-series models: the pixel-series encoders (tempcnn, ltae, temporal_transformer) and per-date
encoding + temporal pooling of image backbones; masking (a padded date changes nothing) and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from eokit.errors import BandError, DatasetError, ModelError
from eokit.models import create_model, list_archs, model_from_config
from eokit.models.temporal import doy_from_dates

BANDS = ("B4", "B3", "B2")  # Formosat-2 NIR, red, green
SERIES = [a.name for a in list_archs() if a.input == "series"]


def kwargs(arch: str) -> dict:
    return dict(next(a for a in list_archs() if a.name == arch).test_kwargs)


def series_model(arch: str, **kw):
    torch.manual_seed(0)
    return create_model(arch, task="timeseries_classification", bands=BANDS, sensor="formosat2",
                        num_classes=5, **{**kwargs(arch), **kw})


def test_series_encoders_are_registered() -> None:
    assert {"tempcnn", "ltae", "temporal_transformer"} <= set(SERIES)
    assert all(a.family == "temporal" for a in list_archs() if a.input == "series")


@pytest.mark.parametrize("arch", SERIES)
def test_series_forward_backward_shapes(arch: str) -> None:
    model = series_model(arch).train()
    x = torch.randn(4, 12, 3, requires_grad=True)
    doy = torch.arange(1, 361, 30)[None].expand(4, 12)
    y = model(x, dates=doy)
    assert y.shape == (4, 5)
    y.pow(2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    # (B, T, C, 1, 1): the layout of single-pixel image series (the TempCNN loader) gives the same
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x[..., None, None], dates=doy), model(x, dates=doy))


@pytest.mark.parametrize("arch", SERIES)
def test_series_band_order_by_name(arch: str) -> None:
    model = series_model(arch).eval()
    x = torch.randn(2, 10, 3)
    with torch.no_grad():
        ref = model(x)
        out = model.backbone(x[..., [2, 0, 1]], bands=("B2", "B4", "B3")).pooled
    torch.testing.assert_close(out, model.backbone(x).pooled)
    assert ref.shape == (2, 5)


@pytest.mark.parametrize("arch", SERIES)
def test_padded_dates_change_nothing(arch: str) -> None:
    """Appending padded dates (garbage values, time_mask False) or changing a masked date's values
    leaves the output unchanged; unmasking it does change it."""
    model = series_model(arch).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 10, 3, generator=g)
    doy = torch.arange(10, 310, 30)[None].expand(3, 10)
    with torch.no_grad():
        ref = model(x, dates=doy)
        pad = torch.cat([x, 100 * torch.randn(3, 4, 3, generator=g)], 1)
        pdoy = torch.cat([doy, torch.zeros(3, 4, dtype=torch.long)], 1)  # no day for a padded date
        mask = torch.ones(3, 14, dtype=torch.bool)
        mask[:, 10:] = False
        torch.testing.assert_close(model(pad, dates=pdoy, time_mask=mask), ref, atol=1e-5, rtol=1e-4)
        # a masked date inside the series: its values do not matter
        inner = torch.ones(3, 10, dtype=torch.bool)
        inner[:, 4] = False
        a = model(x, dates=doy, time_mask=inner)
        x2 = x.clone()
        x2[:, 4] = 1e3
        torch.testing.assert_close(model(x2, dates=doy, time_mask=inner), a, atol=1e-5, rtol=1e-4)
        assert not torch.allclose(model(x2, dates=doy), a, atol=1e-3)


def test_tempcnn_flatten_ignores_masked_dates_and_needs_n_dates() -> None:
    model = series_model("tempcnn", n_dates=12).eval()
    x = torch.randn(2, 12, 3)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[:, 3] = False
    x2 = x.clone()
    x2[:, 3] = -50.0
    with torch.no_grad():
        torch.testing.assert_close(model(x, time_mask=mask), model(x2, time_mask=mask))
        with pytest.raises(ModelError, match=r"n_dates=12.*T=9.*time_mask False"):
            model(x[:, :9])


@pytest.mark.parametrize("temporal", ["ltae", "mean", "max"])
def test_per_date_encoding_ignores_padded_dates(temporal: str) -> None:
    """Any image backbone, encoded date by date and pooled: a padded date changes nothing."""
    torch.manual_seed(0)
    model = create_model("mobilecnn", task="timeseries_classification", bands=("B02", "B03", "B04", "B08"),
                         sensor="sentinel2_l2a", num_classes=3, temporal=temporal, width=0.5).eval()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 4, 32, 32, generator=g)
    doy = torch.tensor([[20, 80, 140, 200]] * 2)
    with torch.no_grad():
        ref = model(x, dates=doy)
        pad = torch.cat([x[:, :2], 50 * torch.randn(2, 1, 4, 32, 32, generator=g), x[:, 2:]], 1)
        pdoy = torch.tensor([[20, 80, 0, 140, 200]] * 2)
        mask = torch.tensor([[True, True, False, True, True]] * 2)
        torch.testing.assert_close(model(pad, dates=pdoy, time_mask=mask), ref, atol=1e-5, rtol=1e-4)
    # training mode: padded frames are not encoded, so they do not reach BatchNorm statistics either
    model.train()
    out = model(pad, dates=pdoy, time_mask=mask)
    out.pow(2).mean().backward()
    assert out.shape == (2, 3)
    assert not [n for n, p in model.named_parameters() if p.grad is None]


def test_task_passes_doy_and_time_mask() -> None:
    from eokit.tasks import get_task

    task = get_task("timeseries_classification", num_classes=5)
    model = series_model("ltae").eval()
    x = torch.randn(2, 6, 3, 1, 1)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    batch = {"image": x, "doy": torch.tensor([[5, 50, 90, 130, 170, 210]] * 2), "time_mask": mask,
             "label": torch.tensor([1, 3])}
    with torch.no_grad():
        out = task.forward(model, batch)
        x2 = x.clone()
        x2[1, 4:] = 99.0
        torch.testing.assert_close(task.forward(model, {**batch, "image": x2}), out)
    task.check_output(out, batch)
    assert torch.isfinite(task.loss(out, batch))


def test_series_config_roundtrip() -> None:
    model = series_model("tempcnn", n_dates=8).eval()
    again = model_from_config(json.loads(json.dumps(model.config))).eval()
    again.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 8, 3)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x))
    assert model.data_contract.bands == BANDS


# -- bad input -------------------------------------------------------------------------------------

def test_wrong_band_count_names_value_and_fix() -> None:
    model = series_model("temporal_transformer")
    with pytest.raises(BandError, match=r"expected 3 channels per date.*got 4.*bands="):
        model(torch.randn(2, 10, 4))
    with pytest.raises(BandError, match="has 3 channels per date but bands lists 2"):
        model.backbone(torch.randn(2, 10, 3), bands=("B4", "B3"))
    with pytest.raises(BandError, match="B2"):
        model.backbone(torch.randn(2, 10, 3), bands=("B4", "B3", "B1"))


def test_too_few_dates_names_value_and_fix() -> None:
    model = series_model("ltae", min_dates=3)
    mask = torch.tensor([[True, True, True, True], [True, False, True, False]])
    with pytest.raises(ModelError, match=r"sample 1 of the batch has 2 observed date\(s\).*at least 3"):
        model(torch.randn(2, 4, 3), time_mask=mask)
    with pytest.raises(ModelError, match="0 observed date"):  # an all-padded series is never pooled to NaN
        series_model("temporal_transformer")(torch.randn(1, 4, 3), time_mask=torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ModelError, match="pixel time series"):
        model(torch.randn(2, 4, 3, 8, 8))


def test_missing_or_unparsable_dates() -> None:
    doy, mask = doy_from_dates(["2021-01-05", None, "2021-03-01T10:30:00", "2020-12-31"])
    assert doy.tolist() == [5, 0, 60, 366] and mask.tolist() == [True, False, True, True]
    with pytest.raises(DatasetError, match=r"date 1 = '2021-13-40' is not an ISO date.*None for a missing date"):
        doy_from_dates(["2021-01-05", "2021-13-40"], where="s2_tile.json")
    model = series_model("ltae", positions="doy")
    with pytest.raises(ModelError, match=r"positions='doy'.*needs the day of year.*positions='index'"):
        model(torch.randn(2, 5, 3))
    with pytest.raises(ModelError, match=r"doy\[0, 2\] = 0 is not a day of year.*doy_from_dates"):
        model(torch.randn(2, 5, 3), dates=torch.tensor([[1, 40, 0, 90, 120]] * 2))
    with pytest.raises(ModelError, match="doy has shape"):
        model(torch.randn(2, 5, 3), dates=torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ModelError, match="time_mask has shape"):
        model(torch.randn(2, 5, 3), time_mask=torch.ones(2, 3, dtype=torch.bool))


def test_series_encoders_refuse_dense_tasks_and_temporal() -> None:
    with pytest.raises(ModelError, match=r"tempcnn encodes a pixel time series.*temporal='ltae'"):
        create_model("tempcnn", task="segmentation", bands=BANDS, sensor="formosat2", num_classes=3)
    with pytest.raises(ModelError, match="without temporal="):
        create_model("ltae", task="classification", bands=BANDS, sensor="formosat2", num_classes=3,
                     temporal="mean")
