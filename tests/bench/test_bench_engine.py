"""Bench feature extraction through an inference engine: pooled features from ONNX Runtime, guarded, keyed apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eokit.bench.config import ModelCfg
from eokit.bench.features import BackboneExtractor

pytest.importorskip("onnxruntime", reason="pip install 'eokit[onnx]' for the ONNX engine tests")
BANDS = ("B02", "B03", "B04", "B08")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))


def _cfg(**kw):
    return ModelCfg(name="m", arch="mobilecnn", **kw)


def test_pooled_features_from_onnxruntime_match_torch() -> None:
    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 0.4, (3, 4, 32, 32)).astype(np.float32))
    ref = BackboneExtractor(_cfg(), BANDS, "sentinel2_l1c", (1.0, 0.0))
    onnx = BackboneExtractor(_cfg(engine="onnxruntime"), BANDS, "sentinel2_l1c", (1.0, 0.0))
    assert onnx.fingerprint != ref.fingerprint  # cached apart from fp32's features
    assert ref.fingerprint == BackboneExtractor(_cfg(), BANDS, "sentinel2_l1c", (1.0, 0.0)).fingerprint
    p_ref, _ = ref.extract(x, maps=False)
    p, maps = onnx.extract(x, maps=False)
    assert maps == [] and onnx.engine_report is not None and onnx.engine_report.engine == "onnxruntime"
    np.testing.assert_allclose(p.numpy(), p_ref.numpy(), rtol=1e-3, atol=1e-4)
    p_dense, maps = onnx.extract(x)  # feature maps asked for: torch runs
    assert len(maps) > 0 and torch.allclose(p_dense, p_ref)


def test_bench_engine_choices_are_validated() -> None:
    with pytest.raises(ValueError, match="--engine onnxruntime --precision int8"):
        _cfg(precision="int8")
