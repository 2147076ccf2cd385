"""Scene-scale inference: tile, batch, blend and stream a scene through a model into a COG."""

from eokit.infer.blend import BlendWindows, window_1d
from eokit.infer.distributed import predict_scenes
from eokit.infer.ensemble import Predictor, tta_transforms
from eokit.infer.options import OutputOptions, PredictOptions, RunOptions, SceneOptions, TileOptions
from eokit.infer.output import OutputSpec, output_spec
from eokit.infer.plan import TilePlan, axis_offsets
from eokit.infer.predict import PredictResult, as_predictor, plan_scene, predict_scene
from eokit.infer.series import SeriesSource, open_series
from eokit.infer.source import open_scene
from eokit.models.contract import DataContract

__all__ = [
    "BlendWindows",
    "DataContract",
    "OutputOptions",
    "OutputSpec",
    "PredictOptions",
    "PredictResult",
    "Predictor",
    "RunOptions",
    "SceneOptions",
    "SeriesSource",
    "TileOptions",
    "TilePlan",
    "as_predictor",
    "axis_offsets",
    "open_scene",
    "open_series",
    "output_spec",
    "plan_scene",
    "predict_scene",
    "predict_scenes",
    "tta_transforms",
    "window_1d",
]
