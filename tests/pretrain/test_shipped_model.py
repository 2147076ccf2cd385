"""The shipped eokit_small.ssl: its file, its facts, every sensor it was trained on, and no evaluation leak."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from eokit.datasets.download import file_digest
from eokit.models import create_backbone, get_weight_spec
from eokit.models.eokit_small import SSL_FILE, SSL_RECORD, SSL_SPLITS
from eokit.pretrain.leakage import check_no_leakage, quick_suite_eval_idents


def test_shipped_weights_file_matches_its_entry() -> None:
    spec = get_weight_spec("eokit_small.ssl")
    assert SSL_FILE.exists() and SSL_FILE.stat().st_size <= 25 * 2**20
    assert spec.sha256 == file_digest(SSL_FILE)
    assert spec.noncommercial and "research" in spec.license
    from eokit.sensors import get_sensor

    assert [(b.mean, b.std) for b in get_sensor("rgb").bands] == list(zip(spec.mean, spec.std, strict=True))
    record = json.loads(SSL_RECORD.read_text())
    assert record["args"]["seed"] == "0" and record["steps"] > 1000 and record["device"]
    assert spec.extra["seed"] == 0 and "SimCLR" in spec.extra["method"]


def test_shipped_weights_take_every_trained_sensor() -> None:
    cases = [(["R", "G", "B"], "rgb"), (["B02", "B03", "B04", "B08", "B11", "B12"], "sentinel2_l1c"),
             (["B1", "B2", "B3", "B4", "B5", "B6", "B7"], "landsat8"), (["VV", "VH"], "sentinel1_grd_linear")]
    torch.manual_seed(0)
    for bands, sensor in cases:
        bb = create_backbone("eokit_small.ssl", bands=bands, sensor=sensor).eval()
        with torch.no_grad():
            f = bb(torch.randn(2, len(bands), 64, 64))
        assert f.pooled.shape == (2, 256) and [m.shape[-1] for m in f.maps] == [32, 16, 8, 4]
    twin = create_backbone("eokit_small", bands=["R", "G", "B"], sensor="rgb")
    assert not torch.equal(twin.state_dict()["net.stem.bias"],
                           create_backbone("eokit_small.ssl", bands=["R"], sensor="rgb").state_dict()["net.stem.bias"])


def test_shipped_split_lists_hold_no_quick_suite_evaluation_item(mirror: Path) -> None:
    splits = json.loads(SSL_SPLITS.read_text())["sources"]
    idents = [i for items in splits.values() for i in items]
    assert len(splits["eurosat_rgb"]) >= 10000 and "opensarship" in splits
    check_no_leakage(idents, quick_suite_eval_idents())
