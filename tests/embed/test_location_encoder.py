"""SatCLIP-style location encoder: SH features against scipy, training, checkpoint round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from eokit.embed.location import (
    LocationConfig,
    LocationEncoder,
    spherical_harmonics,
    train_location_encoder,
)
from eokit.errors import ModelError


def _scipy_real_sh(lon: np.ndarray, lat: np.ndarray, degree: int) -> np.ndarray:
    theta, phi = np.radians(90 - lat), np.radians(lon)
    cols = []
    for ell in range(degree + 1):
        for m in range(-ell, ell + 1):
            y = sph_harm_y(ell, abs(m), theta, phi)
            if m == 0:
                cols.append(y.real)
            elif m > 0:
                cols.append(np.sqrt(2) * (-1) ** m * y.real)
            else:
                cols.append(np.sqrt(2) * (-1) ** m * y.imag)
    return np.stack(cols, 1)


def test_spherical_harmonics_match_scipy():
    rng = np.random.default_rng(0)
    lon = np.concatenate([rng.uniform(-180, 180, 200), [0.0, 179.9, -180.0, 10.0]])
    lat = np.concatenate([rng.uniform(-90, 90, 200), [90.0, -90.0, 0.0, 89.999]])
    ours = spherical_harmonics(torch.from_numpy(lon), torch.from_numpy(lat), 12).numpy()
    ref = _scipy_real_sh(lon, lat, 12)
    assert ours.shape == (204, 169)
    np.testing.assert_allclose(ours, ref, atol=1e-9, rtol=1e-7)
    # orthonormal on the sphere: a quadrature on a fine lat/lon grid gives ~ identity
    glat, glon = np.meshgrid(np.linspace(-89.75, 89.75, 360), np.linspace(-179.75, 179.75, 720))
    Y = spherical_harmonics(torch.from_numpy(glon.ravel()), torch.from_numpy(glat.ravel()), 4)
    w = np.cos(np.radians(glat.ravel())) * np.radians(0.5) ** 2
    gram = (Y.numpy() * w[:, None]).T @ Y.numpy()
    np.testing.assert_allclose(gram, np.eye(25), atol=2e-3)


@pytest.fixture
def one_thread():
    """Tiny MLPs are faster (and steadier on a shared machine) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_train_encode_and_checkpoint_round_trip(tmp_path, one_thread):
    rng = np.random.default_rng(0)
    lonlat = np.column_stack([rng.uniform(-10, 30, 256), rng.uniform(35, 60, 256)])
    # image embeddings that depend on location (a smooth field) plus noise
    img = np.column_stack([np.sin(np.radians(lonlat[:, 0]) * 6), np.cos(np.radians(lonlat[:, 1]) * 8),
                           rng.normal(size=256) * 0.1]).astype(np.float32)
    cfg = LocationConfig(degree=6, hidden=32, layers=2, dim=8)
    model, hist = train_location_encoder(lonlat, img, config=cfg, epochs=15, batch_size=64, seed=1)
    assert hist[-1] < hist[0] - 0.3  # contrastive loss decreases
    _, hist2 = train_location_encoder(lonlat, img, config=cfg, epochs=3, batch_size=64, seed=1)
    assert hist[:3] == hist2  # seeded: the same first epochs
    v = model.encode(lonlat[:5, 0], lonlat[:5, 1])
    assert v.shape == (5, 8) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    path = model.save(tmp_path / "loc.safetensors")
    assert json.loads((tmp_path / "loc.safetensors.json").read_text())["config"]["degree"] == 6
    back = LocationEncoder.load(path)
    np.testing.assert_allclose(back.encode(lonlat[:5, 0], lonlat[:5, 1]), v, rtol=1e-6)
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


def test_load_rejects_other_safetensors(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ModelError, match="not a location-encoder checkpoint"):
        LocationEncoder.load(tmp_path / "other.safetensors")
