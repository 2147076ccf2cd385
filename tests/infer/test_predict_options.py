"""The option objects of scene inference: validated once, shared by predict_scene, Dask and the CLI."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from infer_helpers import ConvNet, contract, noisy_scene, write_scene

from eokit.errors import ConfigError
from eokit.infer import (
    OutputOptions,
    PredictOptions,
    RunOptions,
    SceneOptions,
    TileOptions,
    plan_scene,
    predict_scene,
    predict_scenes,
)


@pytest.mark.parametrize(("build", "match"), [
    (lambda: TileOptions(crop=0), r"crop must be a positive whole number of pixels.*got 0"),
    (lambda: TileOptions(crop=64, stride=65), r"stride 65 is larger than crop 64.*use stride <= crop"),
    (lambda: TileOptions(crop=64, stride=48, margin=32), r"margin 32 .*less than half the crop \(64\)"),
    (lambda: TileOptions(window="gauss"), r"unknown blending window 'gauss'; choose one of \['hann'"),
    (lambda: TileOptions(floor=0), r"window floor 0 must lie in \(0, 1\]"),
    (lambda: TileOptions(align="left"), r"unknown tile alignment 'left'; choose one of \['even', 'snap'\]"),
    (lambda: OutputOptions(kind="labels"), r"unknown output kind 'labels'; choose one of \['classes'"),
    (lambda: OutputOptions(prob_dtype="int8"), r"unknown probability dtype 'int8'"),
    (lambda: OutputOptions(nodata=float("inf")), r"nodata inf cannot be infinite"),
    (lambda: SceneOptions(band_names=("B2", "B2")), r"repeat \['B2'\]; give every band"),
    (lambda: SceneOptions(band_names=("B2", "")), r"must be non-empty names"),
    (lambda: SceneOptions(resampling="bilinar"), r"unknown resampling 'bilinar'; choose one of \['nearest'"),
    (lambda: SceneOptions(reference=-1), r"reference -1 must be a band name .* or a 0-based band index"),
    (lambda: RunOptions(device="gpu"), r"device 'gpu' is not a torch device; use e.g. 'cpu'"),
    (lambda: RunOptions(batch_size=0), r"batch_size must be a positive whole number of tiles.*got 0"),
    (lambda: RunOptions(batch_size=4, forward_batch=8), r"forward_batch 8 exceeds batch_size 4"),
    (lambda: RunOptions(read_budget_mb=0), r"read_budget_mb 0 must be a positive number of MiB"),
    (lambda: RunOptions(tta="d8"), r"unknown test-time augmentation 'd8'; choose one of \['none'"),
    (lambda: PredictOptions.of(crops=64), r"unknown predict option\(s\) \['crops'\]; valid ones are \["),
    (lambda: PredictOptions(tile=RunOptions()), r"PredictOptions.tile must be a TileOptions, got RunOptions"),
])
def test_each_field_is_validated_with_the_value_and_the_fix(build, match) -> None:
    with pytest.raises(ConfigError, match=match):
        build()


def test_flat_fields_route_to_their_group_and_objects_are_frozen() -> None:
    names = PredictOptions.field_names()
    groups = [f.name for f in dataclasses.fields(PredictOptions)]
    assert len(names) == sum(len(dataclasses.fields(type(getattr(PredictOptions(), g)))) for g in groups)  # unique
    o = PredictOptions.of(crop=128, stride=112, kind="probabilities", band_names="B2, B3", device="cpu", tta="none")
    assert (o.tile.crop, o.tile.stride, o.tile.overlap) == (128, 112, 16)
    assert o.output.kind == "probabilities" and o.scene.band_names == ("B2", "B3") and o.run.tta is None
    p = o.replace(tta="d4", stride=64)
    assert (p.run.tta, p.tile.stride, p.tile.crop, o.tile.stride) == ("d4", 64, 128, 112)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.tile.crop = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="stride 200 is larger than crop 128"):
        o.replace(stride=200)  # a replaced field is validated again
    assert pickle.loads(pickle.dumps(o)) == o  # shipped to Dask workers as is
    assert SceneOptions(sensor="landsat8").with_sensor("sentinel2_l1c").sensor == "landsat8"
    assert SceneOptions().with_sensor("sentinel2_l1c").sensor == "sentinel2_l1c"


def test_options_drive_plan_and_prediction(tmp_path) -> None:
    scene = write_scene(tmp_path / "s.tif", noisy_scene(100, 130, seed=2))
    opts = PredictOptions.of(crop=64, stride=48, align="snap")
    plan = plan_scene(scene, opts)
    assert (plan.crop, plan.stride, plan.align, plan.cols[-1]) == (64, 48, "snap", 130 - 64)
    res = predict_scene(ConvNet(k=3), scene, tmp_path / "m.tif", opts.replace(kind="probabilities"),
                        contract=contract(3))
    assert res.plan == plan and res.output.kind == "probabilities" and res.tiles == plan.n_tiles
    with pytest.raises(ConfigError, match="options must be a PredictOptions, got dict"):
        predict_scene(ConvNet(k=3), scene, tmp_path / "x.tif", {"crop": 64}, contract=contract(3))  # type: ignore[arg-type]


def test_predict_scenes_in_this_process(tmp_path) -> None:
    """n_workers=0: the scenes one after the other here, with the same options as the Dask path."""
    scenes = [str(write_scene(tmp_path / f"s{i}.tif", noisy_scene(70, 90, seed=i))) for i in range(2)]
    done: list[dict] = []
    res = predict_scenes(ConvNet(k=3), scenes, tmp_path / "maps", PredictOptions.of(crop=64, stride=48),
                         contract=contract(3), n_workers=0, on_done=done.append)
    assert [r["path"] for r in res] == [str(tmp_path / "maps" / f"s{i}.tif") for i in range(2)] and len(done) == 2
    with pytest.raises(ConfigError, match="n_workers -1 must be a whole number >= 0"):
        predict_scenes(ConvNet(k=3), scenes, tmp_path / "maps", n_workers=-1, contract=contract(3))
