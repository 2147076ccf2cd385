"""Published weights: download by name from a loopback server, file:/url: forms, safe containers,
strict loading, licences, and a bench suite that runs offline and says which model is missing what."""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from eokit.errors import (
    CheckpointFormatError,
    CheckpointMismatchError,
    ChecksumError,
    DownloadError,
    LicenseError,
)
from eokit.models import WeightSpec, create_backbone, download_weights, register_weights
from eokit.models.registry import WEIGHTS
from eokit.models.state_dict import read_state_dict, strip_prefix, take_prefix, unwrap

_spec = importlib.util.spec_from_file_location(
    "loopback_http_models", Path(__file__).resolve().parents[1] / "datasets" / "loopback_http.py")
assert _spec is not None and _spec.loader is not None
loopback = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loopback)

BANDS = ("B02", "B03", "B04", "B08")


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A resnet18 'published' as a MoCo-style .pth ({'state_dict': {'module.encoder_q.' + key}}) on 127.0.0.1."""
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    src = timm.create_model("resnet18", num_classes=0, in_chans=4)
    files = tmp_path / "www"
    files.mkdir()
    sd = {f"module.encoder_q.{k}": v for k, v in src.state_dict().items()}
    torch.save({"state_dict": sd, "epoch": 99}, files / "moco.pth")
    digest = hashlib.sha256((files / "moco.pth").read_bytes()).hexdigest()
    WEIGHTS.loader.load()
    before = dict(WEIGHTS._items)
    with loopback.LoopbackServer(files) as server:
        yield {"server": server, "src": src.eval(), "sha256": digest, "files": files}
    WEIGHTS._items.clear()  # the test entries must not leak into other tests (docs table, contract tests)
    WEIGHTS._items.update(before)


def _register(tag: str, url: str, sha256: str | None, **kw: Any) -> WeightSpec:
    spec = WeightSpec("resnet18", tag, source="url", url=url, sha256=sha256, bands=BANDS, sensor="sentinel2_l1c",
                      mean=(0.0,) * 4, std=(1.0,) * 4, license="CC-BY-4.0", family="test-family", **kw)
    return register_weights(spec)


def _moco_bb(name: str, **kw: Any):
    """create_backbone with the MoCo container converted (what a family's convert_checkpoint does)."""
    from eokit.models.timm_backbone import TimmBackbone

    orig = TimmBackbone.convert_checkpoint
    TimmBackbone.convert_checkpoint = lambda self, sd: strip_prefix(sd, ("module.encoder_q.",))  # type: ignore[method-assign]
    try:
        return create_backbone(name, **kw)
    finally:
        TimmBackbone.convert_checkpoint = orig  # type: ignore[method-assign]


def test_published_weights_download_verify_and_load(published: dict[str, Any]) -> None:
    url = published["server"].url("moco.pth")
    _register("pubtest_ok", url, published["sha256"])
    bb = _moco_bb("resnet18.pubtest_ok").eval()
    x = torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(bb(x, BANDS).pooled, published["src"](x), atol=1e-6)
    path = download_weights("resnet18.pubtest_ok")  # cached: no second request
    assert path.exists() and path.parent.name == published["sha256"][:12]
    assert len([r for r in published["server"].requests if r[0].endswith("moco.pth")]) == 1


def test_published_weights_checksum_mismatch(published: dict[str, Any]) -> None:
    _register("pubtest_bad", published["server"].url("moco.pth"), "0" * 64)
    with pytest.raises(ChecksumError, match="moco.pth"):
        create_backbone("resnet18.pubtest_bad")


def test_published_weights_offline_names_url_and_path(published: dict[str, Any]) -> None:
    _register("pubtest_off", "http://127.0.0.1:9/none/weights.pth", None)
    with pytest.raises(DownloadError) as err:
        create_backbone("resnet18.pubtest_off")
    msg = str(err.value)
    assert "http://127.0.0.1:9/none/weights.pth" in msg and "weights.pth" in msg


def test_published_weights_cli_download(published: dict[str, Any]) -> None:
    from eokit.cli.main import cli

    _register("pubtest_cli", published["server"].url("moco.pth"), published["sha256"])
    res = CliRunner().invoke(cli, ["models", "download", "resnet18.pubtest_cli"])
    assert res.exit_code == 0, res.output
    assert "resnet18.pubtest_cli" in res.output and "moco.pth" in res.output


def test_file_and_url_forms_keep_the_entry_contract(published: dict[str, Any], tmp_path: Path) -> None:
    _register("pubtest_form", "http://127.0.0.1:9/unreachable.pth", None)
    by_file = _moco_bb("resnet18.pubtest_form", weights=f"file:{published['files'] / 'moco.pth'}")
    assert by_file.bands == BANDS and by_file.spec.family == "test-family" and by_file.spec.source == "file"
    by_url = _moco_bb("resnet18.pubtest_form", weights=f"url:{published['server'].url('moco.pth')}")
    assert by_url.bands == BANDS and by_url.spec.source == "url"
    for bb in (by_file, by_url):
        torch.testing.assert_close(bb.model.conv1.weight, published["src"].conv1.weight)


def test_wrong_checkpoint_lists_keys(published: dict[str, Any]) -> None:
    small = timm.create_model("resnet18", num_classes=0, in_chans=4).state_dict()
    small.pop("layer4.1.conv2.weight")  # one key short: a strict load names it
    torch.save({"state_dict": small}, published["files"] / "short.pth")
    _register("pubtest_wrong", published["server"].url("short.pth"), None)
    with pytest.raises(CheckpointMismatchError, match=r"1 missing keys \['layer4.1.conv2.weight'\]"):
        create_backbone("resnet18.pubtest_wrong")


def test_noncommercial_refused_by_setting(published: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _register("pubtest_nc", published["server"].url("moco.pth"), published["sha256"], noncommercial=True)
    with pytest.raises(LicenseError, match="non-commercial.*allow_noncommercial"):
        create_backbone("resnet18.pubtest_nc", allow_noncommercial=False)
    monkeypatch.setenv("EOKIT_ALLOW_NONCOMMERCIAL", "0")
    with pytest.raises(LicenseError):
        create_backbone("resnet18.pubtest_nc")


def test_containers_are_read_safely(tmp_path: Path) -> None:
    t = {"a.weight": torch.ones(2, 2)}
    save_file(t, str(tmp_path / "w.safetensors"))
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointFormatError, match="truncated"):
        read_state_dict(tmp_path / "cut.safetensors")
    torch.save({"model": {"encoder": t}, "teacher": {"x": torch.zeros(1)}, "epoch": 3}, tmp_path / "n.pth")
    sd, _ = read_state_dict(tmp_path / "n.pth")
    assert set(unwrap(sd)) == {"encoder.a.weight"}  # model. nesting taken, teacher and epoch left
    assert set(take_prefix(unwrap(sd), "encoder.")) == {"a.weight"}

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pwned",))

    with (tmp_path / "evil.pth").open("wb") as f:
        torch.save({"state_dict": t, "obj": Evil()}, f, pickle_module=pickle)
    with pytest.raises(CheckpointFormatError, match="never runs arbitrary pickles"):
        read_state_dict(tmp_path / "evil.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "n.pth").read_bytes()[:100])
    with pytest.raises(CheckpointFormatError, match="truncated"):
        read_state_dict(tmp_path / "cut.pth")


def test_bench_suite_leaves_out_unavailable_weights(published: dict[str, Any]) -> None:
    from eokit.bench.config import ModelCfg
    from eokit.bench.features import weights_problem

    _register("pubtest_bench_off", "http://127.0.0.1:9/none/w.pth", None)
    _register("pubtest_bench_nc", published["server"].url("moco.pth"), published["sha256"], noncommercial=True)
    off = weights_problem(ModelCfg(name="a", arch="resnet18.pubtest_bench_off"))
    assert off is not None and "http://127.0.0.1:9/none/w.pth" in off
    nc = weights_problem(ModelCfg(name="b", arch="resnet18.pubtest_bench_nc"), allow_noncommercial=False)
    assert nc is not None and "non-commercial" in nc
    assert weights_problem(ModelCfg(name="c", arch="resnet18")) is None
