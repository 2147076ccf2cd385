"""timm architectures behind the eokit backbone contract, with band adaptation by name."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, cast

import torch

from eokit.errors import CheckpointMismatchError, ModelError
from eokit.models.backbone import Backbone, Features, check_state_dict, vit_feature_blocks
from eokit.models.band_adapter import BandLike, adapt_conv_weight, map_bands
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor

# which intermediate blocks a plain ViT exposes as feature maps (4 evenly spaced)
VIT_LIKE = ("vit_",)
# where self-supervised training code keeps the encoder in its checkpoints: MoCo v2 (encoder_q),
# MoCo v3 (base_encoder), DINO (teacher/student -> backbone), DDP (module.), plain encoders
SSL_ENCODER_PREFIXES = ("module.encoder_q.", "encoder_q.", "module.base_encoder.", "base_encoder.",
                        "module.backbone.", "backbone.", "module.encoder.", "encoder.", "module.")


class TimmBackbone(Backbone):
    """Any timm model with ``forward_intermediates``: maps from its stages, pooled from its own head pooling."""

    def __init__(
        self,
        arch: str,
        bands: Sequence[BandLike],
        sensor: str | Sensor | None,
        spec: WeightSpec,
        *,
        img_size: int | None = None,
        new_band_init: str = "mean",
        **timm_kwargs: Any,
    ) -> None:
        self.arch = arch
        super().__init__(bands, sensor, spec)
        self.new_band_init = new_band_init
        kwargs = dict(timm_kwargs)
        is_vit = arch.startswith(VIT_LIKE)
        if is_vit or arch.startswith("swin"):
            kwargs["img_size"] = img_size or spec.input_size
            if is_vit:
                kwargs.setdefault("dynamic_img_size", True)
            else:
                kwargs.setdefault("strict_img_size", False)
        self.img_size = kwargs.get("img_size")
        # imported here, not at the top: the catalogue is read without importing timm (and torchvision)
        import timm

        # timm models carry dynamic attributes (feature_info, pretrained_cfg, forward_intermediates)
        self.model: Any = cast(Any, timm.create_model(arch, pretrained=False, num_classes=0, in_chans=self.in_chans,
                                                      **kwargs))
        info = self.model.feature_info
        if is_vit:
            n = len(info)
            self._indices: list[int] | None = vit_feature_blocks(n)
            info = [info[i] for i in self._indices]
        else:
            self._indices = None
        self.feature_info = [{"channels": int(f["num_chs"]), "stride": int(f["reduction"])} for f in info]
        self.num_features = int(self.model.num_features)
        first = self.model.pretrained_cfg.get("first_conv") or "conv1"
        self.first_conv_keys = [f"{first}.weight"] if isinstance(first, str) else [f"{k}.weight" for k in first]

    def _prune_pooling(self) -> None:
        self._indices = self._indices or list(range(len(self.model.feature_info)))
        self.model.prune_intermediate_layers(self._indices, prune_norm=True, prune_head=True)

    def forward_features(self, x: torch.Tensor) -> Features:
        pe = getattr(self.model, "patch_embed", None)
        if self.arch.startswith(VIT_LIKE) and pe is not None:
            p = pe.patch_size
            if x.shape[-2] % p[0] or x.shape[-1] % p[1]:
                raise ModelError(
                    f"{self.arch}: image size {tuple(x.shape[-2:])} is not a multiple of the patch size "
                    f"{tuple(p)}; crop or pad the input (e.g. eokit.transforms.CenterCrop)"
                )
        if self.pooling_pruned:
            maps = self.model.forward_intermediates(x, indices=self._indices, intermediates_only=True)
            return Features(pooled=maps[-1].mean(dim=(2, 3)), maps=list(maps))
        final, maps = self.model.forward_intermediates(x, indices=self._indices)
        pooled = self.model.forward_head(final)
        if pooled.ndim > 2:
            pooled = pooled.flatten(1)
        return Features(pooled=pooled, maps=list(maps))

    # -- weights -----------------------------------------------------------------
    def convert_checkpoint(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A self-supervised training container -> the timm encoder's keys (timm state dicts unchanged).

        Checkpoints whose keys already name the first layer (timm files, this module's own
        ``state_dict()``) pass through. Otherwise one nesting level (``state_dict``, ``model``,
        ``teacher``...) is removed and the encoder is taken from under its training-code prefix
        (:data:`SSL_ENCODER_PREFIXES`: MoCo ``module.encoder_q.``, DINO ``backbone.``...), which drops
        the momentum encoder, queues and projection heads beside it.
        """
        from eokit.models.state_dict import take_prefix, unwrap

        first = self.first_conv_keys[0] if self.first_conv_keys else None
        if first is None or first in state_dict or f"model.{first}" in state_dict:
            return state_dict
        sd = unwrap(state_dict)
        if first in sd:
            return sd
        prefix = next((p for p in SSL_ENCODER_PREFIXES if f"{p}{first}" in sd), None)
        return take_prefix(sd, prefix) if prefix else sd

    def load_checkpoint(self, state_dict: dict[str, torch.Tensor], ckpt_bands: tuple[Band, ...]) -> None:
        """Load a timm-format state dict trained on ``ckpt_bands``, adapting the first layer by band name."""
        state_dict = self.convert_checkpoint(dict(state_dict))
        sd = {k: v for k, v in state_dict.items() if not k.startswith(("fc.", "head.fc.", "classifier.", "head.weight", "head.bias"))}
        sd = {k.removeprefix("model."): v for k, v in sd.items()}
        filt = getattr(sys.modules[type(self.model).__module__], "checkpoint_filter_fn", None)
        for key in self.first_conv_keys:
            if key not in sd:
                raise CheckpointMismatchError(
                    f"{self.arch}: checkpoint has no first-layer kernel {key!r} (it has e.g. {sorted(sd)[:5]}); "
                    "is it a checkpoint of this architecture?"
                )
            mapping = map_bands(self.band_objects, ckpt_bands, self.new_band_init)
            sd[key] = adapt_conv_weight(sd[key], mapping, owner=f"{self.arch}.{self.spec.tag}")
            self.band_mapping = mapping
        if filt is not None:
            try:
                sd = filt(sd, self.model)
            except Exception as exc:
                raise CheckpointMismatchError(f"{self.arch}: timm could not convert the checkpoint: {exc}") from exc
        check_state_dict(self.model, sd, self.arch)
        self.model.load_state_dict(sd)

    def checkpoint_from_timm(self) -> dict[str, torch.Tensor]:
        """Fetch the spec's timm weights through timm's own pretrained machinery (hub or ``spec.file``)."""
        spec = self.spec
        overlay = {"file": spec.file} if spec.file else None
        kwargs: dict[str, Any] = {}
        if self.img_size is not None:
            kwargs["img_size"] = spec.input_size
        import timm

        try:
            src = timm.create_model(
                spec.timm_name or self.arch, pretrained=True, num_classes=0,
                in_chans=len(spec.bands), pretrained_cfg_overlay=overlay, **kwargs,
            )
        except Exception as exc:
            raise ModelError(
                f"cannot load timm weights {spec.timm_name!r} for {spec.name!r}: {exc}. Offline? Download the "
                "checkpoint once and pass weights=PATH (a .safetensors file)"
            ) from exc
        return src.state_dict()


def build_timm(arch: str, **defaults: Any):
    def builder(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, **kw: Any) -> TimmBackbone:
        return TimmBackbone(arch, bands, sensor, spec, **{**defaults, **kw})

    builder.__doc__ = f"timm {arch}"
    return builder
