"""Entries with only a published sha256 prefix (TorchGeo file names) are checked against it after download."""

from __future__ import annotations

import hashlib
import http.server
import threading
from dataclasses import replace

import pytest
import torch

from eokit.errors import ChecksumError
from eokit.models import create_backbone, get_weight_spec
from eokit.models.registry import WEIGHTS, register_weights


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_sha256_prefix_is_verified_after_download(served, tmp_path, monkeypatch) -> None:
    root, base = served
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))
    published = get_weight_spec("resnet18.ssl4eo_s2rgb_moco")
    assert published.sha256 is None and published.extra["sha256_prefix"] == "e3a335e3"
    torch.manual_seed(0)
    src = create_backbone(published.name, pretrained=False)
    torch.save(src.model.state_dict(), root / "r18.pth")
    digest = hashlib.sha256((root / "r18.pth").read_bytes()).hexdigest()
    good = replace(published, tag="test_prefix_ok", url=f"{base}/r18.pth",
                   extra={**published.extra, "sha256_prefix": digest[:8]})
    bad = replace(published, tag="test_prefix_bad", url=f"{base}/r18.pth",
                  extra={**published.extra, "sha256_prefix": "00000000" if digest[:8] != "00000000" else "11111111"})
    for spec in (good, bad):
        register_weights(spec)
    try:
        bb = create_backbone(good.name)
        torch.testing.assert_close(bb.model.conv1.weight, src.model.conv1.weight)
        with pytest.raises(ChecksumError, match=r"starts with (00000000|11111111).*download it again"):
            create_backbone(bad.name)
        assert not list((tmp_path / "cache").rglob("r18.pth")), "the mismatching file is deleted"
    finally:
        for spec in (good, bad):
            WEIGHTS._items.pop(spec.name)
