"""Inference engines: ONNX Runtime export parity, int8 guard and fall-back, cache reuse, metadata, errors."""

from __future__ import annotations

import builtins
import warnings

import numpy as np
import pytest
import rasterio
import torch
from infer_helpers import ConvNet, contract, smooth_scene, write_scene
from torch import nn

from eokit.errors import ConfigError, MissingDependencyError
from eokit.infer import PredictOptions, RunOptions, predict_scene
from eokit.models import engine as eng
from eokit.models.engine import (
    EngineOptions,
    TorchEngine,
    build_engine,
    check_engine,
    compare_outputs,
)

ort = pytest.importorskip("onnxruntime", reason="pip install 'eokit[onnx]' for the ONNX engine tests")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))


class BNNet(nn.Module):
    """Conv + BN + ReLU, then a 1x1 head: what int8 quantisation and BN folding see in real models."""

    def __init__(self, k: int = 3, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, k, 1)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_onnx_fp32_matches_torch_and_the_cache_is_reused() -> None:
    model = BNNet().eval()
    x = torch.randn(3, 4, 32, 32, generator=torch.Generator().manual_seed(1))
    before = dict(eng.STATS)
    e = build_engine(model, EngineOptions("onnxruntime", "fp32"), shape=(4, 32, 32))
    with torch.inference_mode():
        ref = model(x)
    got = e(x)
    assert got.shape == ref.shape and got.dtype == torch.float32
    assert float((got - ref).abs().max()) < 1e-4
    assert eng.STATS["exports"] == before["exports"] + 1
    assert e.path.parent == eng.engine_dir() and e.path.exists()
    again = build_engine(model, EngineOptions("onnxruntime", "fp32"), shape=(4, 32, 32))
    assert again.path == e.path
    assert eng.STATS["exports"] == before["exports"] + 1  # not exported again
    assert eng.STATS["cache_hits"] == before["cache_hits"] + 1
    other = BNNet(seed=5).eval()  # other weights: another file
    assert build_engine(other, EngineOptions("onnxruntime", "fp32"), shape=(4, 32, 32)).path != e.path
    assert not [p for p in eng.engine_dir().iterdir() if p.name.startswith(".")]  # no temporary left


def test_int8_is_keyed_by_calibration_and_stays_close() -> None:
    model = BNNet().eval()
    g = torch.Generator().manual_seed(2)
    cal = torch.randn(4, 4, 32, 32, generator=g).numpy()
    e1 = build_engine(model, EngineOptions("onnxruntime", "int8"), shape=(4, 32, 32), calibration=cal)
    q = eng.STATS["quantisations"]
    e2 = build_engine(model, EngineOptions("onnxruntime", "int8"), shape=(4, 32, 32), calibration=cal)
    assert e2.path == e1.path and eng.STATS["quantisations"] == q
    e3 = build_engine(model, EngineOptions("onnxruntime", "int8"), shape=(4, 32, 32), calibration=cal * 2)
    assert e3.path != e1.path and eng.STATS["quantisations"] == q + 1
    x = torch.randn(2, 4, 32, 32, generator=g)
    with torch.inference_mode():
        ref = torch.softmax(model(x), 1)
    agreement, rel = compare_outputs(ref, torch.softmax(e1(x), 1), classifier=True)
    assert agreement is not None and agreement > 0.9 and 0 < rel < 0.2


def test_bf16_autocast_runs_on_cpu() -> None:
    model = BNNet().eval()
    x = torch.randn(2, 4, 16, 16)
    e = TorchEngine(model, "bf16")
    with torch.inference_mode():
        ref, got = model(x), e(x)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert 0 < float((got - ref).abs().max()) < 0.1 * float(ref.abs().max())  # bf16 really ran, and is close


def _scene(tmp_path):
    return write_scene(tmp_path / "scene.tif", smooth_scene(200, 230))


def test_predict_int8_writes_engine_metadata(tmp_path) -> None:
    out = tmp_path / "map.tif"
    opts = PredictOptions.of(crop=64, stride=56, engine="onnxruntime", precision="int8", guard_tiles=4,
                             calibration_tiles=4, min_agreement=0.5)
    res = predict_scene(BNNet().eval(), _scene(tmp_path), out, opts, contract=contract())
    ref = predict_scene(BNNet().eval(), _scene(tmp_path), tmp_path / "ref.tif", PredictOptions.of(crop=64, stride=56),
                        contract=contract())
    assert res.engine is not None and not res.engine.fell_back
    assert res.engine.engine == "onnxruntime" and res.engine.precision == "int8"
    with rasterio.open(out) as ds, rasterio.open(ref.path) as rd:
        tags = ds.tags()
        same = float((ds.read(1) == rd.read(1)).mean())
        assert rd.tags()["EOKIT_ENGINE"] == "torch" and rd.tags()["EOKIT_PRECISION"] == "fp32"
    assert tags["EOKIT_ENGINE"] == "onnxruntime" and tags["EOKIT_PRECISION"] == "int8"
    assert tags["EOKIT_ENGINE_FALLBACK"] == "no"
    assert abs(float(tags["EOKIT_ENGINE_AGREEMENT"]) - res.engine.agreement) < 1e-6
    assert same > 0.9  # the int8 map is the fp32 map, up to a few pixels


def test_guard_falls_back_to_fp32_below_the_threshold(tmp_path, caplog) -> None:
    out = tmp_path / "map.tif"
    # threshold 1.0 with a classifier whose int8 copy changes some pixel: always falls back
    opts = PredictOptions.of(crop=64, stride=56, engine="onnxruntime", precision="int8", guard_tiles=4,
                             calibration_tiles=2, min_agreement=1.0)
    model = ConvNet(k=3, width=8, seed=3).eval()
    with pytest.warns(RuntimeWarning, match="accuracy guard"):
        res = predict_scene(model, _scene(tmp_path), out, opts, contract=contract())
    ref = predict_scene(model, _scene(tmp_path), tmp_path / "ref.tif", PredictOptions.of(crop=64, stride=56),
                        contract=contract())
    assert res.engine is not None and res.engine.fell_back and res.engine.agreement < 1.0
    assert "accuracy guard" in caplog.text
    with rasterio.open(out) as ds, rasterio.open(ref.path) as rd:
        tags = ds.tags()
        assert np.array_equal(ds.read(), rd.read())  # the fp32 map
    assert tags["EOKIT_ENGINE"] == "torch" and tags["EOKIT_PRECISION"] == "fp32"
    assert tags["EOKIT_ENGINE_REQUESTED"] == "onnxruntime/int8"
    assert tags["EOKIT_ENGINE_FALLBACK"].startswith("yes: onnxruntime/int8 kept the fp32 class")


def test_guard_catches_a_bad_engine_for_regression(tmp_path, monkeypatch) -> None:
    class Broken(TorchEngine):
        def __call__(self, x, **kw):
            return super().__call__(x, **kw) * 1.5

    monkeypatch.setattr("eokit.infer.ensemble.build_engine",
                        lambda m, o, **kw: Broken(m, "bf16", channels_last=kw.get("channels_last", False)))
    opts = PredictOptions.of(crop=64, stride=56, precision="bf16", guard_tiles=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = predict_scene(ConvNet(k=2).eval(), _scene(tmp_path), tmp_path / "v.tif", opts,
                            contract=contract(2, activation="none"))
    assert res.engine is not None and res.engine.fell_back and res.engine.rel_error > 0.3
    assert res.engine.agreement is None
    with rasterio.open(res.path) as ds:
        assert ds.tags()["EOKIT_PRECISION"] == "fp32" and "relative error" in ds.tags()["EOKIT_ENGINE_FALLBACK"]


def test_engine_choices_fail_typed_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="unknown precision 'int4'.*fp32"):
        check_engine("torch", "int4")
    with pytest.raises(ConfigError, match="unknown engine 'tensorrt'"):
        RunOptions(engine="tensorrt")
    with pytest.raises(ConfigError, match="--engine onnxruntime --precision int8"):
        RunOptions(precision="int8")
    with pytest.raises(ConfigError, match="--engine torch --precision bf16"):
        EngineOptions("onnxruntime", "bf16")
    with pytest.raises(ConfigError, match="min_agreement 1.5"):
        RunOptions(min_agreement=1.5)
    with pytest.raises(ConfigError, match="used by --precision int8 only"):
        RunOptions(engine="onnxruntime", calibration=("a.tif",))


def test_missing_onnxruntime_names_the_extra(monkeypatch) -> None:
    real = builtins.__import__

    def no_ort(name, *a, **kw):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_ort)
    monkeypatch.setattr(eng.importlib, "import_module", lambda name: no_ort(name))
    with pytest.raises(MissingDependencyError, match=r"pip install 'eokit\[onnx\]'"):
        build_engine(BNNet().eval(), EngineOptions("onnxruntime", "fp32"), shape=(4, 16, 16))


def test_a_predictor_reused_for_another_scene_starts_from_fp32(tmp_path) -> None:
    from eokit.infer import as_predictor

    pred = as_predictor(BNNet().eval(), contract())
    int8 = PredictOptions.of(crop=64, stride=56, engine="onnxruntime", precision="int8", guard_tiles=2,
                             calibration_tiles=2, min_agreement=0.5)
    first = predict_scene(pred, _scene(tmp_path), tmp_path / "a.tif", int8)
    assert first.engine is not None and first.engine.precision == "int8"
    fp32 = predict_scene(pred, _scene(tmp_path), tmp_path / "b.tif", PredictOptions.of(crop=64, stride=56))
    ref = predict_scene(BNNet().eval(), _scene(tmp_path), tmp_path / "c.tif", PredictOptions.of(crop=64, stride=56),
                        contract=contract())
    assert fp32.engine is None and all(not isinstance(r, eng.Engine) for r in pred.runners)
    with rasterio.open(fp32.path) as a, rasterio.open(ref.path) as b:
        assert np.array_equal(a.read(), b.read())


def test_cli_predict_engine_options(tmp_path, capsys) -> None:
    from dataclasses import replace

    from eokit.cli.main import main
    from eokit.models import create_model
    from eokit.train import save_checkpoint

    torch.manual_seed(0)
    bands = ["B2", "B3", "B4", "B5"]
    model = create_model("unet", task="segmentation", bands=bands, num_classes=3, sensor="landsat8")
    meta = {"model": model.config, "task": {"name": "segmentation", "num_classes": 3},
            "contract": replace(model.data_contract, classes=("water", "land", "cloud"))}
    ckpt = save_checkpoint(tmp_path / "ckpt", model, meta)
    scene = write_scene(tmp_path / "s.tif", smooth_scene(96, 100), bands=tuple(bands))
    out = tmp_path / "m.tif"
    assert main(["predict", str(ckpt), str(scene), "-o", str(out), "-q", "--crop", "64", "--stride", "48",
                 "--engine", "onnxruntime", "--precision", "fp32"]) == 0
    err = capsys.readouterr().err
    assert "engine onnxruntime/fp32: 100.00% of checked pixels keep the fp32 class" in err
    with rasterio.open(out) as ds:
        assert ds.tags()["EOKIT_ENGINE"] == "onnxruntime" and ds.tags()["EOKIT_ENGINE_AGREEMENT"] == "1.000000"
    assert main(["predict", str(ckpt), str(scene), "-o", str(out), "--precision", "int8"]) == 2
    assert "use --engine onnxruntime --precision int8" in capsys.readouterr().err


def test_int8_calibrated_on_given_scenes(tmp_path) -> None:
    other = write_scene(tmp_path / "other.tif", smooth_scene(120, 140, seed=7))
    opts = PredictOptions.of(crop=64, stride=56, engine="onnxruntime", precision="int8", guard_tiles=2,
                             calibration_tiles=2, min_agreement=0.5, calibration=(str(other),))
    q = eng.STATS["quantisations"]
    res = predict_scene(BNNet().eval(), _scene(tmp_path), tmp_path / "m.tif", opts, contract=contract())
    assert res.engine is not None and res.engine.precision == "int8" and eng.STATS["quantisations"] == q + 1
    empty = write_scene(tmp_path / "empty.tif", np.zeros((4, 80, 80), np.uint16), nodata=0)
    with pytest.raises(ConfigError, match="empty.tif.*holds no valid pixels"):
        predict_scene(BNNet().eval(), _scene(tmp_path), tmp_path / "n.tif",
                      opts.replace(calibration=(str(empty),)), contract=contract())


def test_onnx_lanes_split_batches_and_match_one_run() -> None:
    """On the CPU a batch is cut into single-threaded runs side by side; the outputs are the same."""
    model = BNNet().eval()
    path = eng.onnx_model(model, (4, 32, 32), "fp32")
    lanes = eng.OnnxEngine(path, threads=2)
    one = eng.OnnxEngine(path, threads=1)
    assert lanes.lanes == 2 and one.lanes == 1 and one._pool is None
    x = torch.randn(5, 4, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        ref = model(x)
    for batch in (x, x[:2], x[:1]):  # 3 + 2 split across the lanes, 1 + 1, one tile on one lane
        got = lanes(batch)
        assert got.shape == (len(batch), 3, 32, 32)
        assert torch.allclose(got, one(batch), atol=1e-6)
        assert float((got - ref[:len(batch)]).abs().max()) < 1e-4
    lanes.close()
    assert lanes._pool is None


def test_classes_of_is_the_first_maximum() -> None:
    p = torch.tensor([[[[0.2]], [[0.5]], [[0.5]]], [[[0.9]], [[0.1]], [[0.0]]]])  # a tie: the first wins
    assert eng.classes_of(p).flatten().tolist() == [1, 0]
    x = torch.randn(2, 7, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(eng.classes_of(x), x.argmax(1))
    assert eng.classes_of(torch.tensor([[[[0.4, 0.6]]]])).tolist() == [[[0, 1]]]


def test_onnx_stream_overlap_raises_in_the_caller_and_leaves_nothing(tmp_path) -> None:
    """With an ONNX engine the forward passes run in a thread of the stream: a failure mid-scene
    (here the progress callback) reaches the caller, no file is left, and the thread ends."""
    import threading

    scene = write_scene(tmp_path / "s.tif", smooth_scene(160, 160))
    calls = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == 3:
            raise KeyboardInterrupt("stop mid-scene")

    out = tmp_path / "out" / "map.tif"
    with pytest.raises(KeyboardInterrupt, match="mid-scene"):
        predict_scene(ConvNet(), scene, out, PredictOptions.of(crop=32, stride=24, batch_size=4, engine="onnxruntime"),
                      contract=contract(3), progress=progress)
    assert not out.exists() and list(out.parent.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("eokit-forward")]
    ok = predict_scene(ConvNet(), scene, tmp_path / "ok.tif",
                       PredictOptions.of(crop=32, stride=24, batch_size=4, engine="onnxruntime"), contract=contract(3))
    ref = predict_scene(ConvNet(), scene, tmp_path / "ref.tif", PredictOptions.of(crop=32, stride=24, batch_size=4),
                        contract=contract(3))
    with rasterio.open(ok.path) as a, rasterio.open(ref.path) as b:
        assert (a.read(1) == b.read(1)).mean() > 0.999  # the overlapped ONNX stream maps what torch maps


def test_onnx_passes_in_flight_write_the_same_map(tmp_path, monkeypatch) -> None:
    """Several forward passes in flight (ONNX Runtime on a CPU with threads to share) blend in the
    order one pass would: the map is the same, byte for byte, as with one pass in flight."""
    from eokit.infer import predict as pr

    scene = write_scene(tmp_path / "s.tif", smooth_scene(150, 170))
    opts = PredictOptions.of(crop=32, stride=24, batch_size=4, forward_batch=2, engine="onnxruntime",
                             kind="probabilities")
    queued: list[int] = []
    collect_one = pr._Stream._collect_one

    def spy(self) -> None:
        queued.append(len(self._inflight))
        collect_one(self)

    monkeypatch.setattr(pr._Stream, "_collect_one", spy)
    maps = []
    for depth, threads, expected in ((1, 2, 1), (3, 2, 3), (3, 1, 1)):  # one thread (a Dask worker): one pass
        monkeypatch.setattr(pr, "ORT_CPU_DEPTH", depth)
        monkeypatch.setattr(torch, "get_num_threads", lambda n=threads: n)
        queued.clear()
        res = predict_scene(ConvNet(), scene, tmp_path / f"d{depth}-{threads}.tif", opts, contract=contract(3))
        assert res.tiles == res.plan.n_tiles and max(queued) == expected + 1  # a pass waits behind the others
        with rasterio.open(res.path) as ds:
            maps.append(ds.read())
    assert np.array_equal(maps[0], maps[1]) and np.array_equal(maps[0], maps[2])


def test_int8_over_several_scenes_is_calibrated_and_quantised_once(tmp_path) -> None:
    """Several scenes at int8 with no calibration scenes: windows of the scenes calibrate one quantised
    model for all of them (one quantisation, not one per scene); each scene is guarded on its own."""
    from eokit.infer import predict_scenes
    from eokit.infer.distributed import shared_calibration

    scenes = [write_scene(tmp_path / f"s{i}.tif", smooth_scene(120, 140, seed=i)) for i in range(3)]
    opts = PredictOptions.of(crop=64, stride=56, engine="onnxruntime", precision="int8", guard_tiles=2,
                             calibration_tiles=4, min_agreement=0.5)
    q = eng.STATS["quantisations"]
    res = predict_scenes(BNNet().eval(), scenes, tmp_path / "maps", opts, contract=contract(), n_workers=0)
    assert eng.STATS["quantisations"] == q + 1
    assert [r["engine"]["precision"] for r in res] == ["int8"] * 3
    assert shared_calibration(opts, scenes).run.calibration == tuple(map(str, scenes))
    many = [f"/data/{i}.tif" for i in range(10)]  # 4 calibration windows: 4 scenes spread over the list
    assert shared_calibration(opts, many).run.calibration == tuple(f"/data/{i}.tif" for i in (0, 3, 6, 9))
    given = opts.replace(calibration=("/data/cal.tif",))
    for unchanged in (given, opts.replace(precision="fp32")):
        assert shared_calibration(unchanged, many) == unchanged
    assert shared_calibration(opts, many[:1]) == opts
