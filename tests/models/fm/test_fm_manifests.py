"""Key-manifest proof: a synthetic checkpoint with every key and shape of the published file loads
into eokit's full-size architecture with no missing or unexpected key (shapes only: meta device).

A manifest (tests/data/fm_manifests/NAME.json) records the published checkpoint's keys and shapes,
taken from the upstream model definition at a pinned commit (``source``/``commit``/``path``).
"""

from __future__ import annotations

import pytest
import torch
from fm_ref import MANIFESTS, load_manifest, synthetic_checkpoint

from eokit.models import create_backbone, get_weight_spec
from eokit.models.state_dict import check_keys

NAMES = sorted(p.stem for p in MANIFESTS.glob("*.json"))


@pytest.mark.parametrize("name", NAMES)
def test_fm_manifest_loads_without_missing_or_unexpected_keys(name: str) -> None:
    m = load_manifest(name)
    assert m["source"] and len(m["commit"]) >= 7 and m["keys"], f"{name}: source, commit and keys are required"
    sd = synthetic_checkpoint(m["keys"], device="meta")
    for weights in m["weights"]:
        spec = get_weight_spec(weights)
        with torch.device("meta"):
            bb = create_backbone(spec.name, pretrained=False)
        converted = bb.convert_checkpoint(dict(sd))
        check_keys(bb, converted, spec.name, file=f"manifest {name}")
