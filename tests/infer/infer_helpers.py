"""Tiny scenes and models for scene-inference tests (imported by the tests, not a conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.transform import from_origin
from torch import nn

from eokit.infer import DataContract

BANDS = ("B02", "B03", "B04", "B08")
CRS = "EPSG:32633"
TRANSFORM = from_origin(500000.0, 4600000.0, 10.0, 10.0)


def write_scene(path: Path, array: np.ndarray, *, nodata: float | None = None, bands=BANDS,
                transform=TRANSFORM, crs=CRS, **profile) -> Path:
    """Write (C, H, W) as a tiled GeoTIFF with band descriptions."""
    c, h, w = array.shape
    prof = dict(driver="GTiff", width=w, height=h, count=c, dtype=array.dtype.name, crs=crs, transform=transform,
                nodata=nodata, tiled=True, blockxsize=128, blockysize=128, compress="deflate")
    prof.update(profile)
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(array)
        for i, b in enumerate(bands[:c], start=1):
            ds.set_band_description(i, b)
    return path


def smooth_scene(h: int, w: int, c: int = 4, seed: int = 0) -> np.ndarray:
    """Smooth uint16 reflectance-like fields (sums of low-frequency sinusoids)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((c, h, w), np.float64)
    for k in range(c):
        f = np.zeros((h, w))
        for _ in range(3):
            fy, fx, ph = rng.uniform(0.002, 0.02), rng.uniform(0.002, 0.02), rng.uniform(0, 6.28)
            f += np.sin(2 * np.pi * (fy * yy + fx * xx) + ph)
        out[k] = 2000 + 600 * f + 150 * k
    return out.astype(np.uint16)


def noisy_scene(h: int, w: int, c: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(200, 4000, size=(c, h, w), dtype=np.uint16)


class ConvNet(nn.Module):
    """Translation-equivariant: 3x3 'same' convolutions (receptive radius = n_layers) and a 1x1 head."""

    def __init__(self, c_in: int = 4, k: int = 3, width: int = 8, n_layers: int = 2, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        ch = c_in
        for _ in range(n_layers):
            layers += [nn.Conv2d(ch, width, 3, padding=1), nn.Tanh()]
            ch = width
        layers.append(nn.Conv2d(ch, k, 1))
        self.net = nn.Sequential(*layers)
        self.radius = n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * 3.0


def contract(k: int = 3, activation: str = "softmax") -> DataContract:
    classifier = activation != "none"
    return DataContract(
        bands=BANDS, mean=(2000.0, 2100.0, 2200.0, 2300.0), std=(600.0, 600.0, 700.0, 700.0),
        classes=tuple(f"c{i}" for i in range(k)) if classifier else None,
        targets=tuple(f"t{i}" for i in range(k)) if not classifier else None,
        task="segmentation" if classifier else "regression", activation=activation,
    )


def whole_forward(model: nn.Module, arr: np.ndarray, ctr: DataContract, valid: np.ndarray | None = None) -> np.ndarray:
    """Reference: normalise the whole scene and run one forward pass."""
    x = torch.from_numpy(arr.astype(np.float32))
    mean = torch.tensor(ctr.mean).view(-1, 1, 1)
    std = torch.tensor(ctr.std).view(-1, 1, 1)
    x = (x - mean) / std
    if valid is not None:
        x[:, ~torch.from_numpy(valid)] = 0
    with torch.inference_mode():
        y = model(x[None])[0]
        if ctr.activation == "softmax":
            y = torch.softmax(y, 0)
    return y.numpy()
