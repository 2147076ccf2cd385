"""Scene inference correctness: tiled == whole-image forward, seams, georeferencing, nodata, atomicity."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import rasterio
import torch
from infer_helpers import (
    BANDS,
    CRS,
    TRANSFORM,
    ConvNet,
    contract,
    noisy_scene,
    smooth_scene,
    whole_forward,
    write_scene,
)
from torch import nn

from eokit.errors import BandError, ConfigError
from eokit.infer import DataContract, PredictOptions, TilePlan, predict_scene
from eokit.io import is_cog, open_raster


def _read(path) -> tuple[np.ndarray, rasterio.profiles.Profile]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile


@pytest.mark.parametrize(("h", "w", "crop", "stride", "budget", "prefetch"), [
    (300, 410, 64, 48, 0.3, False),  # not a multiple of the tile; several reads per tile row
    (300, 410, 64, 48, 0.3, True),   # the same, groups read ahead in a thread
    (256, 256, 64, 64, 48, None),    # exact multiple, no overlap
    (200, 333, 96, 80, 48, None),    # one read per tile row
])
def test_tiled_equals_whole_forward(tmp_path, h, w, crop, stride, budget, prefetch) -> None:
    arr = noisy_scene(h, w, seed=h)
    scene = write_scene(tmp_path / "s.tif", arr)
    model, ctr = ConvNet(n_layers=2), contract(3, "none")
    margin = model.radius if crop != stride else 0
    out = tmp_path / "map.tif"
    res = predict_scene(model, scene, out,
                        PredictOptions.of(crop=crop, stride=stride, batch_size=5, margin=margin,
                                          read_budget_mb=budget, prefetch=prefetch),
                        contract=ctr)
    got, prof = _read(out)
    ref = whole_forward(model, arr, ctr)
    assert got.shape == ref.shape and prof["dtype"] == "float32"
    if crop == stride:  # no overlap: interior tile borders see zero padding, compare one receptive radius inside
        r = model.radius
        plan = TilePlan.build(h, w, crop, stride)
        keep = np.ones((h, w), bool)
        for o in plan.rows[1:]:
            keep[o - r:o + r] = False
        for o in plan.cols[1:]:
            keep[:, o - r:o + r] = False
        assert np.abs(got - ref)[:, keep].max() < 1e-5
    else:
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)  # everywhere, scene border included
    assert res.tiles == TilePlan.build(h, w, crop, stride).n_tiles


def test_default_blending_matches_away_from_tile_borders_and_probabilities(tmp_path) -> None:
    """Softmax probabilities, default window/margin: equal within 1e-5 one overlap from the border."""
    arr = noisy_scene(260, 300, seed=3)
    scene = write_scene(tmp_path / "s.tif", arr)
    model, ctr = ConvNet(k=4, n_layers=3), contract(4)
    out = tmp_path / "p.tif"
    predict_scene(model, scene, out,
                  PredictOptions.of(crop=64, stride=40, kind="probabilities", prob_dtype="float32", batch_size=7),
                  contract=ctr)
    got, _ = _read(out)
    ref = whole_forward(model, arr, ctr)
    ov = 64 - 40
    np.testing.assert_allclose(got[:, ov:-ov, ov:-ov], ref[:, ov:-ov, ov:-ov], atol=1e-5, rtol=0)
    np.testing.assert_allclose(got.sum(0), 1.0, atol=1e-5)


def test_no_seams_on_a_smooth_scene(tmp_path) -> None:
    """Along tile boundaries the map is no rougher than inside tiles."""
    arr = smooth_scene(320, 320)
    scene = write_scene(tmp_path / "s.tif", arr)

    class Padded(nn.Module):  # reflect-padded convs: border effects exist, blending must hide them
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(1)
            self.c1 = nn.Conv2d(4, 8, 5, padding=2, padding_mode="reflect")
            self.c2 = nn.Conv2d(8, 1, 5, padding=2, padding_mode="zeros")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.c2(torch.tanh(self.c1(x)))

    out = tmp_path / "v.tif"
    predict_scene(Padded(), scene, out,
                  PredictOptions.of(crop=64, stride=48, margin=0), contract=contract(1, "none"))
    got = _read(out)[0][0].astype(np.float64)
    plan = TilePlan.build(320, 320, 64, 48)
    dx = np.abs(np.diff(got, axis=1))
    edges = sorted({o - 1 for o in plan.cols[1:]} | {o + 63 for o in plan.cols[:-1]})
    inner = np.ones(dx.shape[1], bool)
    inner[edges] = False
    inner[:8] = inner[-8:] = False
    assert dx[8:-8, edges].max() <= 1.05 * dx[8:-8][:, inner].max()


def test_georeferencing_cog_and_classes(tmp_path) -> None:
    arr = noisy_scene(700, 600, seed=5)
    scene = write_scene(tmp_path / "s.tif", arr)
    model, ctr = ConvNet(k=5, n_layers=1), contract(5)
    out = tmp_path / "classes.tif"
    res = predict_scene(model, scene, out,
                        PredictOptions.of(crop=128, stride=112, margin=1), contract=ctr)
    ok, problems = is_cog(out)
    assert ok, problems
    with rasterio.open(out) as ds:
        assert ds.crs.to_string() == CRS and ds.transform == TRANSFORM
        assert ds.dtypes == ("uint8", "uint8") and ds.nodata == 255
        assert ds.descriptions == ("class", "confidence")
        assert ds.block_shapes[0] == (512, 512) and ds.overviews(1)
        assert ds.tags()["EOKIT_CLASSES"] == "c0,c1,c2,c3,c4"
        cls, conf = ds.read()
    ref = whole_forward(model, arr, ctr)
    ties = np.sort(ref, 0)[-1] - np.sort(ref, 0)[-2] < 1e-4
    assert (cls == ref.argmax(0))[~ties].all()
    assert np.abs(conf.astype(int) - np.rint(ref.max(0) * 100)).max() <= 1
    assert res.grid.transform == TRANSFORM and res.output.kind == "classes"


def test_nodata_regions_in_and_out(tmp_path) -> None:
    arr = noisy_scene(300, 300, seed=9)
    arr[:, 40:120, 50:200] = 0  # a nodata hole
    arr[:, :, 250:] = 0  # a nodata strip wider than a tile: its tiles are skipped
    scene = write_scene(tmp_path / "s.tif", arr, nodata=0)
    model, ctr = ConvNet(n_layers=2), contract(3, "none")
    out = tmp_path / "m.tif"
    res = predict_scene(model, scene, out,
                        PredictOptions.of(crop=64, stride=48, margin=2), contract=ctr)
    got, prof = _read(out)
    valid = (arr != 0).all(0)
    assert np.isnan(prof["nodata"]) and np.isnan(got[:, ~valid]).all() and not np.isnan(got[:, valid]).any()
    ref = whole_forward(model, arr, ctr, valid=valid)  # nodata -> 0 after normalisation
    np.testing.assert_allclose(got[:, valid], ref[:, valid], atol=1e-5, rtol=0)
    assert res.skipped > 0
    classes = tmp_path / "c.tif"
    predict_scene(ConvNet(k=3), scene, classes,
                  PredictOptions.of(crop=64, stride=48, nodata=200), contract=contract(3))
    with rasterio.open(classes) as ds:
        assert ds.nodata == 200 and (ds.read(1)[~valid] == 200).all() and (ds.read(1)[valid] < 3).all()


def test_bands_are_matched_by_name(tmp_path) -> None:
    arr = noisy_scene(150, 170, seed=2)
    order = [2, 0, 3, 1]  # the file stores bands in another order
    scene = write_scene(tmp_path / "s.tif", arr[order], bands=tuple(BANDS[i] for i in order))
    model, ctr = ConvNet(n_layers=1), contract(3, "none")
    predict_scene(model, scene, tmp_path / "m.tif",
                  PredictOptions.of(crop=64, stride=48, margin=1), contract=ctr)
    np.testing.assert_allclose(_read(tmp_path / "m.tif")[0], whole_forward(model, arr, ctr), atol=1e-5)
    three = write_scene(tmp_path / "rgb.tif", arr[:3], bands=("B02", "B03", "B04"))
    with pytest.raises(BandError, match=r"\['B08'\] that the model needs not found.*bands are \['B02', 'B03', 'B04'\]"):
        predict_scene(model, three, tmp_path / "x.tif", contract=ctr)
    assert not (tmp_path / "x.tif").exists()


def test_scene_smaller_than_a_tile_and_bad_options(tmp_path) -> None:
    arr = noisy_scene(40, 50, seed=4)
    scene = write_scene(tmp_path / "s.tif", arr)
    model, ctr = ConvNet(n_layers=1), contract(3, "none")
    predict_scene(model, scene, tmp_path / "m.tif",
                  PredictOptions.of(crop=64, stride=48), contract=ctr)
    got = _read(tmp_path / "m.tif")[0]
    assert got.shape == (3, 40, 50)
    np.testing.assert_allclose(got, whole_forward(model, arr, ctr), atol=1e-5)  # padding zero == 'same' padding
    with pytest.raises(ConfigError, match="needs a DataContract"):
        predict_scene(model, scene, tmp_path / "n.tif")
    with pytest.raises(ConfigError, match="margin 20 px needs an overlap of at least 40"):
        predict_scene(model, write_scene(tmp_path / "b.tif", noisy_scene(200, 200)), tmp_path / "n.tif",
                      PredictOptions.of(crop=64, stride=48, margin=20), contract=ctr)
    with pytest.raises(ConfigError, match="needs a classifier"):
        predict_scene(model, scene, tmp_path / "n.tif",
                      PredictOptions.of(kind="classes"), contract=ctr)
    assert not (tmp_path / "n.tif").exists()


@pytest.mark.parametrize("prefetch", [False, True])
def test_exception_mid_run_leaves_no_file(tmp_path, prefetch: bool) -> None:
    scene = write_scene(tmp_path / "s.tif", noisy_scene(300, 300))

    class Boom(ConvNet):
        calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            Boom.calls += x.shape[0] > 1  # tile batches only (not the one-tile optimisation/probe passes)
            if Boom.calls == 4:
                raise RuntimeError("model failed mid-scene")
            return super().forward(x)

    out = tmp_path / "out" / "map.tif"
    with pytest.raises(RuntimeError, match="mid-scene"):
        predict_scene(Boom(), scene, out,
                      PredictOptions.of(crop=64, stride=48, batch_size=4, prefetch=prefetch),
                      contract=contract(3))
    assert not out.exists() and list(out.parent.iterdir()) == []  # temporaries cleaned up too
    # the forward passes run in a thread of the stream: its error reached the caller, and it stopped
    assert not [t for t in threading.enumerate() if t.name.startswith("eokit-forward")]


def test_ensemble_and_tta(tmp_path) -> None:
    arr = noisy_scene(160, 160, seed=6)
    scene = write_scene(tmp_path / "s.tif", arr)
    ctr = contract(3)

    class Pointwise(nn.Module):  # 1x1 convs: commutes with flips and rotations
        def __init__(self, seed: int) -> None:
            super().__init__()
            torch.manual_seed(seed)
            self.net = nn.Sequential(nn.Conv2d(4, 6, 1), nn.Tanh(), nn.Conv2d(6, 3, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x) * 4

    a, b = Pointwise(0), Pointwise(1)
    opts = PredictOptions.of(crop=64, stride=48, kind="probabilities", prob_dtype="float32")
    predict_scene(a, scene, tmp_path / "a.tif", opts, contract=ctr)
    predict_scene(a, scene, tmp_path / "tta.tif", opts.replace(tta="d4"), contract=ctr)
    single, tta = _read(tmp_path / "a.tif")[0], _read(tmp_path / "tta.tif")[0]
    np.testing.assert_allclose(tta[:3], single, atol=1e-5)
    np.testing.assert_allclose(tta[3], 1.0, atol=1e-6)  # all 8 views agree
    predict_scene([a, b], scene, tmp_path / "ens.tif", opts, contract=ctr)
    ens = _read(tmp_path / "ens.tif")[0]
    pa, pb = whole_forward(a, arr, ctr), whole_forward(b, arr, ctr)
    np.testing.assert_allclose(ens[:3], (pa + pb) / 2, atol=1e-5)
    winner = ((pa + pb) / 2).argmax(0)
    agree = ((pa.argmax(0) == winner).astype(float) + (pb.argmax(0) == winner)) / 2
    np.testing.assert_allclose(ens[3], agree, atol=1e-5)
    with rasterio.open(tmp_path / "ens.tif") as ds:
        assert ds.descriptions[-1] == "agreement"
    predict_scene([a, b], scene, tmp_path / "ensc.tif",
                  PredictOptions.of(crop=64, stride=48), contract=ctr)
    with rasterio.open(tmp_path / "ensc.tif") as ds:
        assert ds.descriptions == ("class", "confidence", "agreement") and set(np.unique(ds.read(3))) <= {0, 50, 100}


def test_contract_from_checkpoint_config() -> None:
    cfg = {"bands": ["B4", "B3"], "normalization": {"stats": {"B4": [0.1, 0.05], "B3": [0.2, 0.04]},
                                                    "scale": 1e-4, "offset": 0.0, "sensor": "landsat8"},
           "task": {"name": "segmentation", "num_classes": 2}, "classes": ["land", "water"]}
    c = DataContract.from_config(cfg)
    assert c.mean == (0.1, 0.2) and c.std == (0.05, 0.04) and c.scale == 1e-4 and c.sensor == "landsat8"
    assert c.classes == ("land", "water") and c.output_activation == "softmax"
    assert DataContract.from_config({"bands": ["a"], "task": {"name": "pixel_regression"}}).output_activation == "none"


def test_raster_source_and_stac_inputs(tmp_path) -> None:
    arr = noisy_scene(130, 140, seed=8)
    model, ctr = ConvNet(n_layers=1), contract(3, "none")
    files = []
    for i, b in enumerate(BANDS):
        files.append(write_scene(tmp_path / f"T33_{b}.tif", arr[i:i + 1], bands=(b,)))
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "tiny", "properties": {"datetime": None},
            "geometry": None, "links": [],
            "assets": {b: {"href": str(f), "type": "image/tiff", "roles": ["data"], "eo:bands": [{"name": b}]}
                       for b, f in zip(BANDS, files, strict=True)}}
    ref = whole_forward(model, arr, ctr)
    for i, scene in enumerate([files, item, open_raster(write_scene(tmp_path / "all.tif", arr))]):
        out = tmp_path / f"m{i}.tif"
        predict_scene(model, scene, out,
                      PredictOptions.of(crop=64, stride=48, margin=1), contract=ctr)
        np.testing.assert_allclose(_read(out)[0], ref, atol=1e-5)


def test_sample_tiles_are_the_same_on_any_number_of_threads(tmp_path) -> None:
    """Sample windows read by several threads (each with raster handles of its own) are the first
    ones with data in the seeded order, as one thread reads them; no helper's handle stays open."""
    from eokit.infer.plan import TilePlan
    from eokit.infer.predict import sample_tiles
    from eokit.infer.source import open_scene
    from eokit.io import raster

    arr = smooth_scene(300, 260)
    arr[:, :150] = 0  # the top half is nodata: the first places of the order are skipped
    path = write_scene(tmp_path / "s.tif", arr, nodata=0)
    src = open_scene(path)
    plan = TilePlan.build(300, 260, 64, 48)
    opened = []
    real_open = raster._open
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(raster, "_open", lambda p: opened.append(real_open(p)) or opened[-1])
        got = [sample_tiles(src, list(src.bands), plan, 7, seed=3, skip=2, threads=t) for t in (1, 2, 3)]
    for x, v in got:
        assert x.shape == (7, 4, 64, 64) and x.dtype == np.uint16 and v.shape == (7, 64, 64)
        assert v.any(axis=(1, 2)).all()
    for x, v in got[1:]:
        assert np.array_equal(x, got[0][0]) and np.array_equal(v, got[0][1])
    shared = [ds for key, ds in raster._handles.items() if key.startswith(str(path))]
    helpers = [ds for ds in opened if all(ds is not s for s in shared)]
    assert len(shared) == 1 and not shared[0].closed  # this thread's, kept for the stream
    assert helpers and all(ds.closed for ds in helpers)  # one per helper thread and round, each closed
