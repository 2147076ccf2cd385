"""Weights: local safetensors, timm's pretrained machinery, HTTP + sha256, mismatches, band mapping, normalisation."""

from __future__ import annotations

import hashlib
import http.server
import threading
import warnings
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from eokit.errors import (
    BandError,
    CheckpointMismatchError,
    ChecksumError,
    DownloadError,
    ModelError,
)
from eokit.models import (
    WeightSpec,
    create_backbone,
    get_weight_spec,
    map_bands,
    register_weights,
    resolve_bands,
)
from eokit.models.registry import WEIGHTS
from eokit.sensors import get_sensor, hyperspectral


@pytest.fixture(scope="module")
def resnet18_ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A timm resnet18 state dict (with its classifier) as a metadata-free safetensors file."""
    torch.manual_seed(0)
    sd = timm.create_model("resnet18", num_classes=10).state_dict()
    path = tmp_path_factory.mktemp("ckpt") / "resnet18.safetensors"
    save_file(sd, str(path))
    return path, sd


def test_local_file_without_metadata_is_imagenet_rgb(resnet18_ckpt) -> None:
    path, sd = resnet18_ckpt
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        bb = create_backbone("resnet18", bands=("B04", "B03", "B02", "B08"), sensor="sentinel2_l1c", weights=path)
    msgs = [str(w.message) for w in rec]
    assert any("['B08']" in m and "new_band_init='mean'" in m for m in msgs), msgs
    w = bb.model.conv1.weight.detach()
    src = sd["conv1.weight"]
    torch.testing.assert_close(w[:, :3], src * 3 / 4)  # R, G, B kept in that order, scaled by K/C
    torch.testing.assert_close(w[:, 3], src.mean(1) * 3 / 4)
    torch.testing.assert_close(bb.model.layer4[1].conv2.weight.detach(), sd["layer4.1.conv2.weight"])
    assert bb.spec.source == "file" and bb.spec.bands == ("R", "G", "B")


def test_reordered_rgb_is_an_exact_permutation(resnet18_ckpt) -> None:
    path, sd = resnet18_ckpt
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown bands -> no warning at all
        bb = create_backbone("resnet18", bands=("blue", "green", "red"), sensor="sentinel2_l1c", weights=path)
    torch.testing.assert_close(bb.model.conv1.weight.detach(), sd["conv1.weight"].flip(1))
    assert bb.bands == ("B02", "B03", "B04")


@pytest.mark.parametrize("init", ["zero", "random"])
def test_new_band_init_options(resnet18_ckpt, init: str) -> None:
    path, sd = resnet18_ckpt
    with pytest.warns(UserWarning, match="B11"):
        bb = create_backbone("resnet18", bands=("B04", "B11"), sensor="s2", weights=path, new_band_init=init)
    new = bb.model.conv1.weight.detach()[:, 1]
    assert (new == 0).all() if init == "zero" else new.std() > 0
    torch.testing.assert_close(bb.model.conv1.weight.detach()[:, 0], sd["conv1.weight"][:, 0] * 3 / 2)
    with pytest.raises(ModelError, match="new_band_init"):
        create_backbone("resnet18", bands=("B04",), sensor="s2", weights=path, new_band_init="copy")


def test_timm_pretrained_route_with_local_file(resnet18_ckpt) -> None:
    """A 'timm' WeightSpec goes through timm.create_model(pretrained=True); spec.file keeps it offline."""
    path, sd = resnet18_ckpt
    spec = WeightSpec("resnet18", "test_localfile", source="timm", timm_name="resnet18.a1_in1k", file=str(path),
                      bands=("R", "G", "B"), sensor="rgb", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    register_weights(spec)
    try:
        bb = create_backbone("resnet18.test_localfile", bands=("B", "G", "R"), sensor="rgb")
        torch.testing.assert_close(bb.model.conv1.weight.detach(), sd["conv1.weight"].flip(1))
        # the weights' own statistics apply to their own sensor's bands, by name
        assert bb.data_contract.mean == (0.406, 0.456, 0.485)
        # ...and a Sentinel-2 red band is standardised with Sentinel-2 statistics, not ImageNet's
        s2 = create_backbone("resnet18.test_localfile", bands=("B04",), sensor="sentinel2_l1c")
        assert list(s2.data_contract.mean or ()) == get_sensor("sentinel2_l1c").stats(["B04"])[0]
    finally:
        WEIGHTS._items.pop(spec.name)


def test_vit_checkpoint_at_another_image_size(tmp_path: Path) -> None:
    sd = timm.create_model("vit_small_patch16_224", num_classes=0).state_dict()
    save_file(sd, str(tmp_path / "vit.safetensors"))
    bb = create_backbone("vit_small_patch16_224", bands=("R", "G", "B"), sensor="rgb",
                         weights=tmp_path / "vit.safetensors", img_size=32)
    assert bb.model.pos_embed.shape[1] == 1 + 2 * 2  # resampled 14x14 -> 2x2
    assert bb(torch.randn(1, 3, 32, 32)).pooled.shape == (1, 384)


def test_wrong_architecture_checkpoint_lists_keys(resnet18_ckpt, tmp_path: Path) -> None:
    path, _ = resnet18_ckpt
    with pytest.raises(CheckpointMismatchError, match="missing keys|shape"):
        create_backbone("resnet50", bands=("R", "G", "B"), sensor="rgb", weights=path)
    bad = tmp_path / "bad.safetensors"
    save_file({"foo": torch.zeros(2)}, str(bad))
    with pytest.raises(CheckpointMismatchError, match="first-layer kernel"):
        create_backbone("resnet18", bands=("R",), sensor="rgb", weights=bad)
    with pytest.raises(CheckpointMismatchError, match="inc.block"):
        create_backbone("unet", bands=("R",), sensor="rgb", weights=bad)
    with pytest.raises(ModelError, match="does not exist"):
        create_backbone("resnet18", bands=("R",), sensor="rgb", weights=tmp_path / "nope.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot read"):
        create_backbone("resnet18", bands=("R",), sensor="rgb", weights=garbage)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_weights_download_with_sha256(http_root, resnet18_ckpt, tmp_path: Path, monkeypatch) -> None:
    root, base = http_root
    path, sd = resnet18_ckpt
    (root / "r18.safetensors").write_bytes(path.read_bytes())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / "cache"))
    good = WeightSpec("resnet18", "test_http", source="url", url=f"{base}/r18.safetensors", sha256=digest,
                      bands=("R", "G", "B"), sensor="rgb")
    bad = WeightSpec("resnet18", "test_http_bad", source="url", url=f"{base}/r18.safetensors", sha256="0" * 64,
                     bands=("R", "G", "B"), sensor="rgb")
    missing = WeightSpec("resnet18", "test_http_404", source="url", url=f"{base}/none.safetensors",
                         sha256="1" * 64, bands=("R", "G", "B"), sensor="rgb")
    for spec in (good, bad, missing):
        register_weights(spec)
    try:
        bb = create_backbone("resnet18.test_http", bands=("R", "G", "B"), sensor="rgb")
        torch.testing.assert_close(bb.model.conv1.weight.detach(), sd["conv1.weight"])
        cached = list((tmp_path / "cache" / "weights").rglob("*.safetensors"))
        assert len(cached) == 1 and digest.startswith(cached[0].parent.name)
        (root / "r18.safetensors").unlink()  # served from the verified cache now
        create_backbone("resnet18", weights="test_http", bands=("R",), sensor="rgb")
        (root / "r18.safetensors").write_bytes(path.read_bytes())
        cached[0].write_bytes(b"corrupted cache entry")  # a stale cache entry is fetched again
        create_backbone("resnet18.test_http", bands=("R",), sensor="rgb")
        assert hashlib.sha256(cached[0].read_bytes()).hexdigest() == digest
        with pytest.raises(ChecksumError, match="sha256 mismatch"):
            create_backbone("resnet18.test_http_bad", bands=("R",), sensor="rgb")
        assert not list((tmp_path / "cache" / "weights" / ("0" * 12)).glob("*")), "no half/mismatched file kept"
        with pytest.raises(DownloadError, match="404"):
            create_backbone("resnet18.test_http_404", bands=("R",), sensor="rgb")
    finally:
        for spec in (good, bad, missing):
            WEIGHTS._items.pop(spec.name)


def test_registry_errors_are_helpful() -> None:
    with pytest.raises(ModelError, match="resnet18"):
        create_backbone("resnet19", bands=("R",), sensor="rgb")
    with pytest.raises(ModelError, match=r"has weights \['imagenet', 'random'[,\]]"):  # + published tags
        get_weight_spec("resnet18.nonsense")
    with pytest.raises(ModelError, match="any bands"):
        create_backbone("resnet18")
    with pytest.raises(ModelError, match="names weights"):
        create_backbone("resnet18.imagenet", bands=("R",), sensor="rgb", weights="random")
    assert get_weight_spec("resnet50.imagenet").timm_name.startswith("resnet50")


def test_band_resolution_and_matching() -> None:
    s2, l8, naip = get_sensor("sentinel2_l1c"), get_sensor("landsat8"), get_sensor("naip")
    with pytest.raises(BandError, match="sensor="):
        resolve_bands(["XX1"])
    with pytest.raises(BandError, match="sequence"):
        resolve_bands("B04")
    # Landsat 8 onto Sentinel-2 by common name: B4 red -> B04, B5 nir08 -> B8A (closest of nir/nir08), B6 -> B11
    m = map_bands(resolve_bands(["B4", "B5", "B6", "B10"], "landsat8"), s2.bands)
    assert [s2.bands[i].name if i is not None else None for i in m.source] == ["B04", "B8A", "B11", None]
    assert m.new_bands == ["B10"]  # thermal: nothing in Sentinel-2
    # NAIP onto ImageNet RGB: N is new, R/G/B by common name
    m = map_bands(naip.bands, get_sensor("rgb").bands)
    assert [d["from"] for d in m.describe()] == ["R", "G", "B", "<mean init>"]
    # hyperspectral by wavelength, one-to-one: the band nearest each RGB centre wins
    hs = hyperspectral("hs", [450, 470, 500, 550, 560, 620, 640, 900])
    m = map_bands(hs.bands, get_sensor("rgb").bands)
    chosen = {hs.bands[i].center_nm: get_sensor("rgb").bands[j].name for i, j in enumerate(m.source) if j is not None}
    assert chosen == {470: "B", 550: "G", 620: "R"}
    # SAR never matches optical bands
    m = map_bands(get_sensor("sentinel1_grd_db").bands, s2.bands)
    assert m.source == [None, None]
    assert l8.band("nir").name == "B5"


def test_non_spectral_layers_as_band_objects(resnet18_ckpt) -> None:
    """Layers no sensor knows (a DSM) come as Band objects: from scratch they just work; with weights they are new."""
    from eokit.sensors import Band

    dsm = Band("DSM", 0.0, 0.0, 0.0)
    bb = create_backbone("resnet18", bands=("B04", dsm), sensor="sentinel2_l1c")
    assert bb.bands == ("B04", "DSM") and bb(torch.randn(2, 2, 32, 32)).pooled.shape == (2, 512)
    path, _ = resnet18_ckpt
    with pytest.warns(UserWarning, match=r"\['DSM'\]"):
        create_backbone("resnet18", bands=("B04", dsm), sensor="sentinel2_l1c", weights=path)
