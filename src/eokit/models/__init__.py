"""Band-aware backbones, heads and models.

>>> from eokit.models import create_backbone, create_model
>>> bb = create_backbone("resnet18", bands=("B02", "B03", "B04"), sensor="sentinel2_l1c")
>>> model = create_model("resnet18", task="segmentation", bands=("B04", "B08"), sensor="s2", num_classes=3)
"""

from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandMapping, map_bands, resolve_bands
from eokit.models.contract import DataContract
from eokit.models.factory import check_license, create_backbone, download_weights
from eokit.models.model import TASKS, DetectionModel, EOModel, create_model, model_from_config
from eokit.models.registry import (
    ArchSpec,
    HeadSpec,
    get_arch,
    get_head,
    get_weight_spec,
    list_archs,
    list_heads,
    list_models,
    register_arch,
    register_head,
    register_weights,
)
from eokit.models.weights import WeightSpec, save_backbone_weights

__all__ = [
    "TASKS",
    "ArchSpec",
    "Backbone",
    "BandMapping",
    "DataContract",
    "DetectionModel",
    "EOModel",
    "Features",
    "HeadSpec",
    "WeightSpec",
    "check_license",
    "create_backbone",
    "create_model",
    "download_weights",
    "get_arch",
    "get_head",
    "get_weight_spec",
    "list_archs",
    "list_heads",
    "list_models",
    "map_bands",
    "model_from_config",
    "register_arch",
    "register_head",
    "register_weights",
    "resolve_bands",
    "save_backbone_weights",
]
