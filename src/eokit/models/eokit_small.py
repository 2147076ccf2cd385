"""``eokit_small``: eokit's own multi-sensor backbone (a wavelength-conditioned ResNet).

One set of weights takes any bands with a centre wavelength (RGB, Sentinel-2, Landsat, hyperspectral) and
SAR polarisations (VV/VH/HH/HV): the stem's kernels are generated per band (:mod:`eokit.models.nets.wresnet`).
``eokit_small.ssl`` is the self-supervised checkpoint shipped inside the package (docs/pretrain.md says how it
was made); ``eokit_small.random`` is its random-init twin.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from eokit.errors import BandError
from eokit.models.backbone import Backbone, Features
from eokit.models.band_adapter import BandLike, is_sar
from eokit.models.nets.wresnet import POLARISATIONS, WavelengthResNet
from eokit.models.weights import WeightSpec
from eokit.sensors import Band, Sensor


def band_codes(bands: Sequence[Band]) -> tuple[torch.Tensor, torch.Tensor]:
    """(wavelengths in nm, polarisation codes) of resolved bands; code 0 = optical, 1.. = VV, VH, HH, HV."""
    codes = []
    for b in bands:
        code = 0
        if is_sar(b):
            names = {b.name.upper(), *(a.upper() for a in b.aliases)}
            code = next((i + 1 for i, p in enumerate(POLARISATIONS) if p in names), 0)
        codes.append(code)
    return torch.tensor([b.center_nm for b in bands], dtype=torch.float32), torch.tensor(codes, dtype=torch.long)


class EokitSmall(Backbone):
    """Wavelength-conditioned ResNet (GroupNorm, stride-2 stem); any bands at forward time.

    Maps at strides 2, 4, 8, 16 (widths 32-64-128-256 by default); ``pooled`` is the mean of the last map.
    """

    arch = "eokit_small"
    band_flexible = True

    def __init__(self, bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec, *,
                 widths: Sequence[int] = (32, 64, 128, 256), blocks: Sequence[int] = (2, 2, 2, 2),
                 stem_stride: int = 2) -> None:
        super().__init__(bands, sensor, spec)
        self.net = WavelengthResNet(tuple(widths), tuple(blocks), stem_stride)
        self.feature_info = [{"channels": w, "stride": s} for w, s in zip(self.net.widths, self.net.strides,
                                                                          strict=True)]
        self.num_features = self.net.num_features
        self.band_table(None)  # every band needs a wavelength: fail at build time, not at the first batch
        self._wv: torch.Tensor
        self._codes: torch.Tensor
        wv, codes = band_codes(self.band_objects)
        self.register_buffer("_wv", wv, persistent=False)
        self.register_buffer("_codes", codes, persistent=False)

    def forward(self, image: torch.Tensor, bands: Sequence[BandLike] | None = None,
                wavelengths: Sequence[float] | None = None) -> Features:
        """Any bands: ``bands`` (names resolved through the backbone's sensor, or Band objects) or ``wavelengths`` (nm)."""
        if image.ndim != 4:
            raise BandError(f"{self.arch}: expected (B, C, H, W), got shape {tuple(image.shape)}")
        if wavelengths is not None:
            wv = torch.tensor(list(wavelengths), dtype=torch.float32)
            codes = torch.zeros(len(wv), dtype=torch.long)
        elif bands is not None:
            wv, codes = band_codes(self.band_table(bands))
        else:
            wv, codes = self._wv, self._codes
        if wv.shape[0] != image.shape[1]:
            raise BandError(f"{self.arch}: image has {image.shape[1]} channels but {wv.shape[0]} bands/wavelengths "
                            f"were given (default bands: {list(self.bands)})")
        return self._run(image, wv, codes)

    def forward_features(self, x: torch.Tensor) -> Features:
        return self._run(x, self._wv, self._codes)

    def _run(self, x: torch.Tensor, wv: torch.Tensor, codes: torch.Tensor) -> Features:
        pooled, maps = self.net(x, wv.to(x.device), codes.to(x.device))
        return Features(pooled=pooled, maps=maps)


def build_eokit_small(bands: Sequence[BandLike], sensor: str | Sensor | None, spec: WeightSpec,
                      **kw: Any) -> EokitSmall:
    return EokitSmall(bands, sensor, spec, **kw)


WEIGHTS_DIR = Path(__file__).resolve().parent / "weights_data"
SSL_FILE = WEIGHTS_DIR / "eokit_small_ssl.safetensors"
SSL_RECORD = WEIGHTS_DIR / "eokit_small_ssl.run.json"
SSL_SPLITS = WEIGHTS_DIR / "eokit_small_ssl.splits.json"
SSL_SHA256 = "408a7e50dba64edccc25fa70f489684c447903dde225d8650b1a207dffab0f84"

SSL_WEIGHTS = WeightSpec(
    "eokit_small", "ssl", source="file", file=str(SSL_FILE), sha256=SSL_SHA256, input_size=64,
    # the default band set when none is given; any other bands work (each with its sensor's statistics)
    bands=("R", "G", "B"), sensor="rgb", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
    license="research use only",  # trained on OpenSARShip (research use) and Dubai (no licence stated)
    noncommercial=True,
    citation="eokit contributors (2026), eokit_small.ssl; SimCLR: Chen et al., ICML 2020",
    description="eokit's own self-supervised multi-sensor CNN, shipped in the package: SimCLR on the mirror's "
                "training splits (EuroSAT RGB and MS, Dubai aerial, OpenSARShip S1, Landsat 8 and Sentinel-2 "
                "scenes, eo-learn series with seasonal positives); any bands with a wavelength, SAR VV/VH. "
                "Licence: the training data include OpenSARShip (research use with attribution) and the Dubai "
                "aerial set (no licence stated), hence non-commercial research use (docs/pretrain.md)",
    normalization="raw values -> reflectance with the sensor's scale/offset, then each band by its sensor's "
                  "default mean/std (eokit.sensors): the same statistics in pretraining and in use",
    proof="trained by eokit (scripts/pretrain_gpu.py on the pack of scripts/pretrain_pack.py); the run record "
          "(steps, images, seed, device) is eokit_small_ssl.run.json beside the weights",
    extra={"method": "contrastive (SimCLR NT-Xent)", "seed": 0, "record": str(SSL_RECORD),
           "splits": str(SSL_SPLITS), "budget": "452 s on one NVIDIA H200 (12,776 steps, 7.50 M image pairs; any bands: R, G, B is only the default set)"},
)
