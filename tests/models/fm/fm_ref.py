"""Helpers for the foundation-model tests (``from fm_ref import ...``): reference code, key manifests, synthetic checkpoints.

Reference implementations (TorchGeo, TerraTorch) come from ``make ref-deps``
(requirements-ref.txt, installed --no-deps). Without them a test that needs one skips
on a developer's machine and fails under ``EOKIT_REQUIRE_DATA=1`` (CI), like the data mirror.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

MANIFESTS = Path(__file__).resolve().parents[2] / "data" / "fm_manifests"


def _require() -> bool:
    return os.environ.get("EOKIT_REQUIRE_DATA", "").strip().lower() in ("1", "true", "yes")


def reference_module(name: str) -> ModuleType:
    """Import a reference module (e.g. ``'torchgeo.models.dofa'``), or skip/fail without it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        msg = f"reference implementation {name} is not importable ({exc}); run `make ref-deps`"
        if _require():
            pytest.fail(f"{msg}; EOKIT_REQUIRE_DATA=1 requires it", pytrace=False)
        pytest.skip(msg)


def reference_file(dist_module: str, relpath: str, name: str | None = None,
                   stubs: dict[str, ModuleType] | None = None) -> ModuleType:
    """Load one source file of an installed package without running the package's ``__init__``.

    For reference code whose package imports far more than the model needs (TerraTorch):
    ``reference_file('terratorch', 'models/backbones/prithvi_mae.py')``. ``stubs`` pre-registers
    modules in ``sys.modules`` for imports the file makes that the model does not use.
    """
    spec = importlib.util.find_spec(dist_module)
    if spec is None or not spec.submodule_search_locations:
        msg = f"reference package {dist_module} is not installed; run `make ref-deps`"
        if _require():
            pytest.fail(f"{msg}; EOKIT_REQUIRE_DATA=1 requires it", pytrace=False)
        pytest.skip(msg)
    path = Path(next(iter(spec.submodule_search_locations))) / relpath
    modname = name or f"_eokit_ref_{dist_module}_{relpath.replace('/', '_').removesuffix('.py')}"
    for k, v in (stubs or {}).items():
        sys.modules.setdefault(k, v)
    fspec = importlib.util.spec_from_file_location(modname, path)
    assert fspec is not None and fspec.loader is not None, path
    module = importlib.util.module_from_spec(fspec)
    sys.modules[modname] = module
    fspec.loader.exec_module(module)
    return module


def load_manifest(name: str) -> dict[str, Any]:
    """A key manifest: ``{"source": repo, "commit": sha, "path": file, "weights": [arch.tag...],
    "prefix": str, "keys": {key: shape}}`` (tests/data/fm_manifests/NAME.json)."""
    return json.loads((MANIFESTS / f"{name}.json").read_text())


def synthetic_checkpoint(keys: dict[str, list[int]], *, device: str = "cpu", seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with the manifest's key names and shapes (meta device: shapes only)."""
    g = torch.Generator().manual_seed(seed)
    if device == "meta":
        return {k: torch.empty(s, device="meta") for k, s in keys.items()}
    return {k: torch.randn(s, generator=g) * 0.02 for k, s in keys.items()}


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().float() - b.detach().float()).abs().max())
