"""TerraMind v1: equivalence with TerraTorch 1.2.13's TerraMindViT on the published container.

The published file (TerraMind_v1_base.pt) is the state dict of the whole encoder-decoder
(``terramind.TerraMind``); TerraTorch's backbone keeps what its ``TerraMindViT`` has (its
``checkpoint_filter_fn``). The test builds the reference encoder-decoder with random weights, saves it
as that file, loads it into the reference ViT the way TerraTorch does and into eokit, and compares.
TerraTorch's package ``__init__`` does not import here, so its ``terramind/model`` package is loaded
under stub parent packages (their ``__init__`` files are not run).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from functools import partial
from pathlib import Path

import pytest
import torch
from fm_ref import max_abs_diff, reference_file

from eokit.errors import BandError, CheckpointMismatchError, ModelError
from eokit.models import create_backbone
from eokit.models.fm.terramind import MODALITIES

TOL = 1e-5
SMALL = {"dim": 64, "depth": 2, "num_heads": 4, "img_size": 32}
KEYS = [v[0] for v in MODALITIES.values()]
PKG = "terratorch.models.backbones.terramind.model"


def _reference_package() -> types.SimpleNamespace:
    reference_file("terratorch", "models/backbones/terramind/model/tm_utils.py")  # skips without TerraTorch
    spec = importlib.util.find_spec("terratorch")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    parts = PKG.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name in sys.modules:
            continue
        path = root.joinpath(*parts[1:i])
        mod = types.ModuleType(name)
        mod.__path__ = [str(path)]
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        mod.__spec__.submodule_search_locations = [str(path)]
        sys.modules[name] = mod
    names = ("terramind_vit", "terramind", "encoder_embeddings", "decoder_embeddings", "modality_info", "tm_utils")
    return types.SimpleNamespace(**{n: importlib.import_module(f"{PKG}.{n}") for n in names})


def _common(tm: types.SimpleNamespace, dim: int, heads: int, gated: bool = True) -> dict:
    """The block settings of terramind_v1_base/large (gated) or _tiny/_small (terramind_register.py)."""
    return dict(dim=dim, num_heads=heads, mlp_ratio=4, qkv_bias=not gated, proj_bias=not gated, mlp_bias=not gated,
                norm_layer=partial(tm.tm_utils.LayerNorm, eps=1e-6, bias=False),
                act_layer=torch.nn.SiLU if gated else torch.nn.GELU, gated_mlp=gated)


def _published(tmp_path: Path, tm: types.SimpleNamespace, dim: int, depth: int, heads: int, img: int,
               gated: bool = True) -> Path:
    """A random encoder-decoder in the published layout (+ a tokenised modality, its decoder embedding)."""
    torch.manual_seed(0)
    info = tm.modality_info.MODALITY_INFO
    # as TerraTorch's build_modality_embeddings makes them (its table's num_channels wins over the partial's)
    enc = {k: info[k]["encoder_embedding"](image_size=img, **info[k]) for k in KEYS}
    enc["tok_sen2l2a@224"] = tm.encoder_embeddings.ImageTokenEncoderEmbedding(vocab_size=32, patch_size=16,
                                                                              image_size=img)
    dec = {"tok_sen2l2a@224": tm.decoder_embeddings.ImageTokenDecoderEmbedding(vocab_size=32, patch_size=16,
                                                                               image_size=img)}
    full = tm.terramind.TerraMind(encoder_embeddings=enc, decoder_embeddings=dec, modality_info=info,
                                  encoder_depth=depth, decoder_depth=1, **_common(tm, dim, heads, gated))
    path = tmp_path / "TerraMind_v1_base.pt"
    torch.save(full.state_dict(), path)
    return path


def _reference_vit(tm: types.SimpleNamespace, path: Path, dim: int, depth: int, heads: int, img: int,
                   gated: bool = True):
    vit = tm.terramind_vit.TerraMindViT(img_size=img, modalities=list(KEYS), patch_size=16, encoder_depth=depth,
                                        merge_method="mean", **_common(tm, dim, heads, gated))
    sd = torch.load(path, weights_only=True)
    own = vit.state_dict()
    kept = {k: v for k, v in sd.items() if k in own}  # what TerraTorch's checkpoint_filter_fn keeps
    assert set(kept) == set(own)
    vit.load_state_dict(kept, strict=True)
    return vit.eval()


def _check(tmp_path: Path, dim: int, depth: int, heads: int, img: int, size: int, kw: dict,
           arch: str = "terramind_v1_base") -> None:
    tm = _reference_package()
    gated = arch.endswith(("base", "large"))
    path = _published(tmp_path, tm, dim, depth, heads, img, gated)
    ref = _reference_vit(tm, path, dim, depth, heads, img, gated)
    g = torch.Generator().manual_seed(2)
    s2 = torch.randn(2, 12, size, size, generator=g)
    s1 = torch.randn(2, 2, size, size, generator=g)
    dem = torch.randn(2, 1, size, size, generator=g)
    bb = create_backbone(f"{arch}.s2l2a", weights=f"file:{path}", modalities="all", **kw).eval()
    assert set(bb.modalities) == set(MODALITIES)
    with torch.no_grad():
        for inputs, ref_inputs in (
            ({"s2l2a": s2}, {"untok_sen2l2a@224": s2}),
            ({"s2l2a": s2, "s1grd": s1, "dem": dem},
             {"untok_sen2l2a@224": s2, "untok_sen1grd@224": s1, "untok_dem@224": dem}),
        ):
            out = ref(dict(ref_inputs))
            f = bb.forward_multimodal(inputs) if len(inputs) > 1 else bb(s2, bb.bands)
            for level, i in enumerate(bb.out_indices):
                assert max_abs_diff(f.maps[level].flatten(2).transpose(1, 2), out[i]) <= TOL, (list(inputs), i)
            assert max_abs_diff(f.pooled, out[-1].mean(dim=1)) <= TOL
        named = bb.forward_multimodal({"s2l2a": s2, "s1grd": s1.flip(1), "dem": dem}, bands={"s1grd": ("VH", "VV")})
        assert max_abs_diff(named.pooled, f.pooled) == 0.0
        # the S1 GRD entry of the same file: its primary input is the radar embedding
        sar = create_backbone(f"{arch}.s1grd", weights=f"file:{path}", **kw).eval()
        assert max_abs_diff(sar(s1, ("VV", "VH")).pooled, ref({"untok_sen1grd@224": s1})[-1].mean(dim=1)) <= TOL


def test_fm_terramind_small_equals_terratorch(tmp_path: Path) -> None:
    _check(tmp_path, 64, 2, 4, 32, 32, SMALL)


def test_fm_terramind_small_tiny_layout_equals_terratorch(tmp_path: Path) -> None:
    """tiny/small: biased projections and GELU MLPs instead of bias-free SwiGLU."""
    _check(tmp_path, 64, 2, 4, 32, 32, SMALL, arch="terramind_v1_tiny")


def test_fm_terramind_position_embedding_interpolated(tmp_path: Path) -> None:
    """An input larger than the pretraining size: the sin-cos grid is interpolated as TerraTorch does."""
    _check(tmp_path, 64, 2, 4, 32, 64, SMALL)


@pytest.mark.slow
def test_fm_terramind_base_full_size_equals_terratorch(tmp_path: Path) -> None:
    _check(tmp_path, 768, 12, 12, 224, 64, {})


@pytest.mark.slow
def test_fm_terramind_tiny_full_size_equals_terratorch(tmp_path: Path) -> None:
    _check(tmp_path, 192, 12, 3, 224, 64, {}, arch="terramind_v1_tiny")


def test_fm_terramind_bad_inputs(tmp_path: Path) -> None:
    bb = create_backbone("terramind_v1_base.s2l2a", pretrained=False, modalities=["S1GRD"], **SMALL)
    assert list(bb.modalities) == ["s2l2a", "s1grd"]
    x = torch.randn(1, 12, 32, 32)
    with pytest.raises(BandError, match="not one of"):
        bb.forward_multimodal({"dem": torch.randn(1, 1, 32, 32)})  # not built
    with pytest.raises(BandError, match="not one of"):
        bb.forward_multimodal({"hyperspectral": x})
    with pytest.raises(BandError, match="VV"):
        bb.forward_multimodal({"s1grd": x})
    with pytest.raises(BandError, match="different sizes"):
        bb.forward_multimodal({"s2l2a": x, "s1grd": torch.randn(1, 2, 64, 64)})
    # TerraTorch's own modality names work as well
    assert bb.forward_multimodal({"S2L2A": x, "untok_sen1grd@224": torch.randn(1, 2, 32, 32)}).pooled.shape == (1, 64)
    with pytest.raises(ModelError, match="hyperspectral"):
        create_backbone("terramind_v1_base.s2l2a", pretrained=False, modalities=["hyperspectral"], **SMALL)
    # a checkpoint of another family: every key it lacks is listed
    other = tmp_path / "other.pt"
    torch.save({"blocks.0.attn.qkv.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(CheckpointMismatchError, match=r"embeddings\.s2l2a\.proj\.weight"):
        create_backbone("terramind_v1_base.s2l2a", weights=f"file:{other}", **SMALL)
