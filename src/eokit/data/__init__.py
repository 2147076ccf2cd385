"""Scenes, samplers and the torch Dataset path that yields Samples."""

from eokit.data.collection import Scene, SceneCollection, parse_months
from eokit.data.dataset import GeoDataset, SceneDataset
from eokit.data.labels import RasterLabels, VectorLabels
from eokit.data.sample import Sample, collate_samples
from eokit.data.samplers import (
    GridWindowSampler,
    RandomWindowSampler,
    VectorWindowSampler,
    WindowSpec,
    grid_offsets,
)
from eokit.data.timeseries import (
    GridSpaceTimeSampler,
    RandomSpaceTimeSampler,
    SpaceTimeDataset,
    SpaceTimeWindow,
    TimeSelection,
)

__all__ = [
    "GeoDataset",
    "GridSpaceTimeSampler",
    "GridWindowSampler",
    "RandomSpaceTimeSampler",
    "RandomWindowSampler",
    "RasterLabels",
    "Sample",
    "Scene",
    "SceneCollection",
    "SceneDataset",
    "SpaceTimeDataset",
    "SpaceTimeWindow",
    "TimeSelection",
    "VectorLabels",
    "VectorWindowSampler",
    "WindowSpec",
    "collate_samples",
    "grid_offsets",
    "parse_months",
]
