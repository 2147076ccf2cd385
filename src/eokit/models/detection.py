"""Object detection: torchvision Faster R-CNN / RetinaNet / FCOS on an eokit backbone + torchvision FPN.

Contract: targets are ``[{"boxes": (N, 4) float xyxy pixels, "labels": (N,) int64 in 0..K-1}]``;
train mode returns the detector's loss dict, eval mode a list of
``{"boxes", "scores", "labels"}`` (labels again 0..K-1). Images are used at
their own size (no resizing) and are expected already normalised.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from eokit.errors import ModelError
from eokit.models.backbone import Backbone

DETECTORS = ("faster_rcnn", "retinanet", "fcos")


class _NoResize(GeneralizedRCNNTransform):
    """torchvision's batching/normalising transform, without its resize (EO chips keep their GSD)."""

    def resize(self, image: torch.Tensor, target: dict[str, torch.Tensor] | None = None):
        return image, target


class BackboneFPN(nn.Module):
    """eokit backbone maps (stride >= 4, up to 4 levels) -> torchvision FPN -> OrderedDict of maps."""

    def __init__(self, backbone: Backbone, out_channels: int = 128, extra: str = "pool") -> None:
        super().__init__()
        self.body = backbone
        levels = [i for i, f in enumerate(backbone.feature_info) if f["stride"] >= 4][-4:]
        if not levels:
            levels = [len(backbone.feature_info) - 1]
        self.levels = levels
        chans = [backbone.feature_info[i]["channels"] for i in levels]
        extra_block = LastLevelMaxPool() if extra == "pool" else LastLevelP6P7(out_channels, out_channels)
        self.fpn = FeaturePyramidNetwork(chans, out_channels, extra_blocks=extra_block)
        self.out_channels = out_channels
        strides = [backbone.feature_info[i]["stride"] for i in levels]
        n_extra = 1 if extra == "pool" else 2
        self.strides = strides + [strides[-1] * 2 ** (k + 1) for k in range(n_extra)]
        self.names = [str(i) for i in range(len(levels))]

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        maps = self.body(x).maps
        return self.fpn(OrderedDict((n, maps[i]) for n, i in zip(self.names, self.levels, strict=True)))


class Detector(nn.Module):
    """A torchvision detector around an eokit backbone."""

    def __init__(self, backbone: Backbone, num_classes: int, detector: str = "faster_rcnn",
                 fpn_channels: int = 128, **kwargs: Any) -> None:
        super().__init__()
        if detector not in DETECTORS:
            raise ModelError(f"detector {detector!r} is not one of {DETECTORS}")
        self.kind = detector
        self.num_classes = num_classes
        c = backbone.in_chans
        body = BackboneFPN(backbone, fpn_channels, "pool" if detector == "faster_rcnn" else "p6p7")
        common: dict[str, Any] = {"min_size": 32, "max_size": 4096, "image_mean": [0.0] * c, "image_std": [1.0] * c}
        common.update(kwargs)
        base = [4 * s for s in body.strides]
        if detector == "faster_rcnn":
            anchors = AnchorGenerator(tuple((b,) for b in base), ((0.5, 1.0, 2.0),) * len(base))
            pool = MultiScaleRoIAlign(body.names, output_size=7, sampling_ratio=2)
            self.net = FasterRCNN(body, num_classes=num_classes + 1, rpn_anchor_generator=anchors,
                                  box_roi_pool=pool, **common)
        elif detector == "retinanet":
            sizes = tuple((b, int(b * 2 ** (1 / 3)), int(b * 2 ** (2 / 3))) for b in base)
            anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(base))
            self.net = RetinaNet(body, num_classes=num_classes, anchor_generator=anchors, **common)
        else:
            anchors = AnchorGenerator(tuple((s * 2,) for s in body.strides), ((1.0,),) * len(base))
            self.net = FCOS(body, num_classes=num_classes, anchor_generator=anchors, **common)
        self.net.transform = _NoResize(common["min_size"], common["max_size"], common["image_mean"],
                                       common["image_std"])
        self.label_offset = 1 if detector == "faster_rcnn" else 0

    def forward(self, images: torch.Tensor | list[torch.Tensor],
                targets: list[dict[str, torch.Tensor]] | None = None) -> Any:
        imgs = list(images)
        if targets is not None:
            for t in targets:
                lab = t["labels"]
                if lab.numel() and (lab.min() < 0 or lab.max() >= self.num_classes):
                    raise ModelError(f"detection labels must be in 0..{self.num_classes - 1}, got "
                                     f"{sorted(set(lab.tolist()))}")
            targets = [{**t, "labels": t["labels"].long() + self.label_offset} for t in targets]
        if self.training:
            if targets is None:
                raise ModelError("a detector in train mode needs targets (list of dicts with boxes and labels)")
            return self.net(imgs, targets)
        out = self.net(imgs)
        return [{**o, "labels": o["labels"] - self.label_offset} for o in out]
