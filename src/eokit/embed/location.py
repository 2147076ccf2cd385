"""A SatCLIP-style location encoder: spherical harmonics of (lon, lat) + an MLP, trained with InfoNCE.

The encoder maps a place to a vector that is contrastively aligned with the image embeddings of
the chips there, so it can serve as a covariate (``encode(lon, lat)``) wherever there is no
image. Checkpoints are a safetensors file with the JSON config in its metadata and a ``.json``
sidecar, both written atomically, like eokit model weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eokit.errors import ConfigError, ModelError

FORMAT = "eokit-location-encoder"


def spherical_harmonics(lon: torch.Tensor, lat: torch.Tensor, degree: int) -> torch.Tensor:
    """Real orthonormal spherical harmonics Y_l^m(lat, lon) for l = 0..degree: (N, (degree+1)²).

    Columns run l = 0..L and, within l, m = -l..l. The convention is the usual real basis
    built from the complex Y_l^m with the Condon-Shortley phase (as ``scipy.special.sph_harm_y``):
    ``sqrt(2) (-1)^m Re Y_l^m`` for m > 0, ``Y_l^0``, ``sqrt(2) (-1)^m Im Y_l^|m|`` for m < 0.
    Computed in float64 by the associated-Legendre recurrences, returned in ``lon``'s dtype.
    """
    if degree < 0:
        raise ConfigError(f"degree={degree} must be >= 0")
    out_dtype = lon.dtype if lon.is_floating_point() else torch.float32
    phi = torch.deg2rad(lon.to(torch.float64)).reshape(-1)
    theta = torch.deg2rad(90.0 - lat.to(torch.float64)).reshape(-1)  # colatitude
    x, s = torch.cos(theta), torch.sin(theta)
    L = degree
    # P[l][m] = associated Legendre P_l^m(x) with the Condon-Shortley phase
    P: list[list[torch.Tensor | None]] = [[None] * (L + 1) for _ in range(L + 1)]
    P[0][0] = torch.ones_like(x)
    for m in range(1, L + 1):
        prev = P[m - 1][m - 1]
        assert prev is not None
        P[m][m] = -(2 * m - 1) * s * prev
    for m in range(0, L):
        pm = P[m][m]
        assert pm is not None
        P[m + 1][m] = (2 * m + 1) * x * pm
        for ell in range(m + 2, L + 1):
            a, b = P[ell - 1][m], P[ell - 2][m]
            assert a is not None and b is not None
            P[ell][m] = ((2 * ell - 1) * x * a - (ell + m - 1) * b) / (ell - m)
    cols: list[torch.Tensor] = []
    for ell in range(L + 1):
        for m in range(-ell, ell + 1):
            am = abs(m)
            k = math.sqrt((2 * ell + 1) / (4 * math.pi)
                          * math.exp(math.lgamma(ell - am + 1) - math.lgamma(ell + am + 1)))
            plm = P[ell][am]
            assert plm is not None
            if m == 0:
                cols.append(k * plm)
            elif m > 0:
                cols.append(math.sqrt(2) * (-1) ** m * k * plm * torch.cos(m * phi))
            else:
                cols.append(math.sqrt(2) * (-1) ** am * k * plm * torch.sin(am * phi))
    return torch.stack(cols, dim=1).to(out_dtype)


@dataclass
class LocationConfig:
    """Shape of a location encoder: SH degree, MLP width/depth, output dim, image dim."""

    degree: int = 10
    hidden: int = 256
    layers: int = 2
    dim: int = 64
    image_dim: int = 0  # 0: no image projection head (encoder only)
    temperature: float = 0.07


class LocationEncoder(nn.Module):
    """Spherical-harmonic features of (lon, lat) -> MLP -> vector (L2-normalised by :meth:`encode`)."""

    def __init__(self, config: LocationConfig) -> None:
        super().__init__()
        if config.layers < 1 or config.dim < 1 or config.hidden < 1:
            raise ConfigError(f"location encoder config {config} needs layers, hidden, dim >= 1")
        self.config = config
        n_in = (config.degree + 1) ** 2
        mods: list[nn.Module] = []
        for i in range(config.layers):
            mods += [nn.Linear(n_in if i == 0 else config.hidden, config.hidden), nn.ReLU()]
        mods.append(nn.Linear(config.hidden, config.dim))
        self.mlp = nn.Sequential(*mods)
        self.image_head = nn.Linear(config.image_dim, config.dim) if config.image_dim else None
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.temperature)))

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Unnormalised vectors for (N, 2) longitude, latitude in degrees."""
        return self.from_features(self.features(lonlat))

    def features(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Spherical-harmonic features (N, (degree+1)²) of (N, 2) lon/lat, in float32."""
        sh = spherical_harmonics(lonlat[:, 0], lonlat[:, 1], self.config.degree)
        return sh.to(torch.float32)

    def from_features(self, feats: torch.Tensor) -> torch.Tensor:
        """The MLP on precomputed spherical-harmonic features."""
        return self.mlp(feats)  # type: ignore[no-any-return]

    @torch.no_grad()
    def encode(self, lon: Any, lat: Any) -> np.ndarray:
        """Unit vectors (N, dim) float32 for longitudes and latitudes in degrees (a covariate)."""
        ll = np.column_stack([np.asarray(lon, dtype=np.float64).ravel(),
                              np.asarray(lat, dtype=np.float64).ravel()])
        if not np.isfinite(ll).all() or (np.abs(ll[:, 1]) > 90).any():
            raise ConfigError("encode() needs finite longitudes and latitudes within [-90, 90] "
                              "(degrees, EPSG:4326)")
        self.eval()
        out = self(torch.from_numpy(ll))
        return torch.nn.functional.normalize(out, dim=1).numpy().astype(np.float32)

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.safetensors, config in its metadata) and ``path.json``, atomically."""
        from safetensors.torch import save_file

        from eokit.io import atomic_path

        path = Path(path)
        meta = {"format": FORMAT, "version": "1", "config": json.dumps(asdict(self.config))}
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        side = path.with_name(path.name + ".json")
        with atomic_path(side) as tmp:
            tmp.write_text(json.dumps({"format": FORMAT, "version": 1,
                                       "config": asdict(self.config)}, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> LocationEncoder:
        """Rebuild an encoder saved by :meth:`save`."""
        from eokit.models.weights import read_safetensors

        tensors, meta = read_safetensors(path)
        if meta.get("format") != FORMAT or "config" not in meta:
            raise ModelError(f"{str(path)!r} is not a location-encoder checkpoint (metadata format "
                             f"{meta.get('format')!r}); pass a file written by LocationEncoder.save")
        model = cls(LocationConfig(**json.loads(meta["config"])))
        model.load_state_dict(tensors)
        return model


def info_nce(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) loss between matched rows of ``a`` and ``b``."""
    a = torch.nn.functional.normalize(a, dim=1)
    b = torch.nn.functional.normalize(b, dim=1)
    logits = logit_scale.exp().clamp(max=100.0) * a @ b.T
    target = torch.arange(len(a), device=a.device)
    ce = torch.nn.functional.cross_entropy
    return (ce(logits, target) + ce(logits.T, target)) / 2


def _lonlat_of(store: Any) -> np.ndarray:
    import geopandas as gpd

    table = store.table
    geom = gpd.GeoSeries(table.geometry.values, crs=table.crs or "EPSG:4326").to_crs("EPSG:4326")
    c = geom.representative_point()
    return np.column_stack([c.x.to_numpy(), c.y.to_numpy()])


def train_location_encoder(lonlat_or_store: Any, image_vectors: np.ndarray | None = None, *,
                           config: LocationConfig | None = None, epochs: int = 50,
                           batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                           device: str = "cpu") -> tuple[LocationEncoder, list[float]]:
    """Train a location encoder contrastively against image embeddings.

    Pass an ``EmbeddingStore`` (chip centres and vectors) or (N, 2) lon/lat with
    ``image_vectors`` (N, D). Returns the encoder and the mean loss of each epoch. Seeded.
    """
    if image_vectors is None:
        lonlat = _lonlat_of(lonlat_or_store)
        img = np.asarray(lonlat_or_store.vectors, dtype=np.float32)
    else:
        lonlat = np.asarray(lonlat_or_store, dtype=np.float64)
        img = np.asarray(image_vectors, dtype=np.float32)
    if lonlat.ndim != 2 or lonlat.shape[1] != 2 or len(lonlat) != len(img):
        raise ConfigError(f"lon/lat {lonlat.shape} and image vectors {img.shape} must be (N, 2) "
                          "and (N, D) with the same N")
    if len(img) < 2:
        raise ConfigError("contrastive training needs at least 2 places")
    cfg = config or LocationConfig()
    cfg = LocationConfig(**{**asdict(cfg), "image_dim": img.shape[1]})
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = LocationEncoder(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    feats = model.features(torch.from_numpy(lonlat)).to(device)  # fixed: compute once
    img_t = torch.from_numpy(img).to(device)
    assert model.image_head is not None
    history: list[float] = []
    for _ in range(epochs):
        perm = torch.randperm(len(img_t), generator=gen)
        total, nb = 0.0, 0
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2:
                continue
            loss = info_nce(model.from_features(feats[idx]), model.image_head(img_t[idx]),
                            model.logit_scale)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
            nb += 1
        history.append(total / max(nb, 1))
    return model.cpu(), history
