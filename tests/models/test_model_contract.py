"""Contract tests, parametrised over every registered architecture and head (from the registry)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from eokit.errors import BandError, ModelError
from eokit.models import (
    create_backbone,
    create_model,
    list_archs,
    list_heads,
    list_models,
    model_from_config,
    save_backbone_weights,
)
from eokit.sensors import get_sensor

ALL_ARCHS = [a.name for a in list_archs()]
# fusion backbones take the bands of their modalities only (tests/models/test_fusion.py covers them);
# series encoders: tests/models/test_series_models.py
ARCHS = [a.name for a in list_archs() if a.family != "fusion" and a.input == "image"]
HEADS = list_heads()
BANDS = ("B02", "B03", "B04", "B08")
S2 = "sentinel2_l1c"
# a small CNN for head tests, and a small ViT (its maps all share one stride)
HEAD_BACKBONES = ["mobilecnn", "dofa_tiny"]


def arch_kwargs(name: str) -> dict:
    return dict(next(a for a in list_archs() if a.name == name).test_kwargs)


def size_for(name: str) -> int:
    return int(arch_kwargs(name).get("img_size", 32))


def build(name: str, bands=BANDS, sensor=S2, **kw):
    return create_backbone(name, bands=bands, sensor=sensor, **{**arch_kwargs(name), **kw})


_CACHE: dict[str, object] = {}


def default_backbone(name: str):
    """One backbone per architecture for the read-mostly tests (building the big ones dominates the time)."""
    if name not in _CACHE:
        torch.manual_seed(0)
        _CACHE[name] = build(name)
    bb = _CACHE[name]
    bb.zero_grad(set_to_none=True)
    return bb


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registry_names_follow_arch_dot_tag() -> None:
    names = [w.name for w in list_models()]
    assert len(names) == len(set(names))
    for w in list_models():
        assert w.name == f"{w.arch}.{w.tag}" and w.arch in ALL_ARCHS
    assert {f"{a}.random" for a in ALL_ARCHS} <= set(names)
    assert {"resnet18", "resnet50", "convnext_tiny", "vit_small_patch16_224", "swin_tiny_patch4_window7_224",
            "efficientnet_b0", "dofa_small", "unet", "mobilecnn"} <= set(ARCHS)


@pytest.mark.parametrize("arch", ARCHS)
def test_backbone_forward_backward_and_feature_info(arch: str) -> None:
    bb = default_backbone(arch).train()
    s = size_for(arch)
    x = torch.randn(2, len(BANDS), s, s, requires_grad=True)
    f = bb(x)
    assert f.pooled.shape == (2, bb.num_features)
    assert len(f.maps) == len(bb.feature_info) > 0
    for m, info in zip(f.maps, bb.feature_info, strict=True):
        assert m.shape[:2] == (2, info["channels"]), (arch, m.shape, info)
        assert m.shape[2:] == (math.ceil(s / info["stride"]),) * 2, (arch, m.shape, info)
    assert [i["stride"] for i in bb.feature_info] == sorted(i["stride"] for i in bb.feature_info)
    loss = f.pooled.pow(2).mean() + sum(m.pow(2).mean() for m in f.maps)
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    no_grad = [n for n, p in bb.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"{arch}: parameters without gradient: {no_grad[:5]}"


@pytest.mark.parametrize("arch", ARCHS)
def test_band_contract(arch: str) -> None:
    bb = default_backbone(arch).eval()
    assert bb.bands == BANDS and bb.in_chans == len(bb.bands) == len(bb.wavelengths)
    assert bb.wavelengths == tuple(get_sensor(S2).wavelengths(BANDS))
    c = bb.data_contract
    assert c.bands == BANDS and len(c.mean or ()) == len(c.std or ()) == len(BANDS)
    assert c.wavelengths == bb.wavelengths and c.sensor == get_sensor(S2).name
    for key in bb.first_conv_keys:  # band-dependent kernels have one input channel per band
        sd = bb.state_dict()
        k = key if key in sd else f"model.{key}"
        assert sd[k].shape[1] == len(BANDS)
    s = size_for(arch)
    x = torch.randn(2, len(BANDS), s, s)
    with torch.no_grad():
        ref = bb(x).pooled
        # the same pixels in another band order, with names, give the same features (reorder by name)
        perm = [2, 0, 3, 1]
        out = bb(x[:, perm], bands=[BANDS[i] for i in perm]).pooled
        # common names and aliases resolve too
        out2 = bb(x, bands=("blue", "green", "red", "nir")).pooled
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out2, ref, atol=1e-5, rtol=1e-4)
    if not bb.band_flexible:
        with pytest.raises(BandError, match="B08"):
            bb(x[:, :3], bands=("B02", "B03", "B04"))
    with pytest.raises(BandError):
        bb(x, bands=("B02", "B03"))  # 4 channels, 2 names
    if bb.arch.startswith(("vit", "dofa")):
        with pytest.raises(ModelError, match="multiple of the patch size"):
            bb(torch.randn(1, len(BANDS), s + 8, s + 8))
    sample = bb.transforms()({"image": torch.ones(len(BANDS), s, s) * 1000, "bands": BANDS})
    assert sample["image"].shape == (len(BANDS), s, s) and torch.isfinite(sample["image"]).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_prune_pooling_leaves_no_unused_parameter(arch: str) -> None:
    """Dense models drop pooled-only layers: maps unchanged, every parameter gets a gradient from the maps."""
    bb = default_backbone(arch).eval()
    _CACHE.pop(arch)  # consumed: the backbone is modified below
    s = size_for(arch)
    x = torch.randn(2, len(BANDS), s, s)
    with torch.no_grad():
        before = bb(x).maps
    bb.prune_pooling()
    with torch.no_grad():
        f = bb(x)  # still eval mode: BatchNorm running statistics untouched
    after = f.maps
    assert bb.num_features == bb.feature_info[-1]["channels"] == f.pooled.shape[1]
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b)
    bb.zero_grad(set_to_none=True)
    sum(m.pow(2).mean() for m in bb.train()(x).maps).backward()
    assert not [n for n, p in bb.named_parameters() if p.grad is None]


@pytest.mark.parametrize("arch", ARCHS)
def test_unknown_bands_warn_and_known_bands_keep_kernels(arch: str, tmp_path) -> None:
    """Weights trained on RGB, loaded for S2 B04,B03,B02,B11,B12: SWIR bands are new and named in a warning."""
    src = build(arch, bands=("R", "G", "B"), sensor="rgb")
    path = save_backbone_weights(tmp_path / "w.safetensors", src.state_dict() if not hasattr(src, "model")
                                 else src.model.state_dict(), arch=arch, bands=src.bands, sensor="rgb")
    target = ("B04", "B03", "B02", "B11", "B12")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        bb = build(arch, bands=target, weights=path)
    msgs = [str(w.message) for w in rec if issubclass(w.category, UserWarning)]
    if bb.band_flexible:
        assert not [m for m in msgs if "not in the checkpoint" in m]
    else:
        hits = [m for m in msgs if "B11" in m and "B12" in m]
        assert hits, msgs
        assert "B04" not in hits[0].split("are not in")[0]
        assert [d["from"] for d in bb.band_mapping.describe()] == ["R", "G", "B", "<mean init>", "<mean init>"]
        key = bb.first_conv_keys[0]
        sd_src = src.state_dict() if not hasattr(src, "model") else src.model.state_dict()
        sd_new = bb.state_dict() if not hasattr(bb, "model") else bb.model.state_dict()
        w_src, w_new = sd_src[key], sd_new[key]
        torch.testing.assert_close(w_new[:, :3], w_src * 3 / 5)  # same order R,G,B; scaled by K/C
        torch.testing.assert_close(w_new[:, 3], w_src.mean(dim=1) * 3 / 5)
    # every other tensor is loaded unchanged
    sd_src = src.state_dict()
    for k, v in bb.state_dict().items():
        if not any(k.endswith(f) for f in bb.first_conv_keys):
            torch.testing.assert_close(v, sd_src[k], msg=k)
    s = size_for(arch)
    with torch.no_grad():
        assert bb.eval()(torch.randn(2, 5, s, s)).pooled.shape == (2, bb.num_features)


def _tasks_for(kind: str) -> list[tuple[str, dict]]:
    return {
        "image": [("classification", {"num_classes": 5}), ("multilabel", {"num_classes": 6}),
                  ("regression", {})],
        "dense": [("segmentation", {"num_classes": 3}), ("pixel_regression", {}),
                  ("change_detection", {"fusion": "diff"}), ("change_detection", {"fusion": "concat", "num_classes": 1})],
        "super_resolution": [("super_resolution", {"scale": 2}), ("super_resolution", {"scale": 4})],
        "detection": [("detection", {"num_classes": 2})],
    }[kind]


CASES = [
    pytest.param(h.name, task, kw, bbn, id=f"{h.name}-{task}-{'-'.join(map(str, kw.values()))}-{bbn}")
    for h in HEADS
    for task, kw in _tasks_for(h.kind)
    for bbn in (HEAD_BACKBONES if h.kind == "dense" else HEAD_BACKBONES[:1])
]


@pytest.mark.parametrize(("head", "task", "kw", "backbone"), CASES)
def test_head_forward_backward(head: str, task: str, kw: dict, backbone: str) -> None:
    s = 64 if task == "detection" else size_for(backbone)
    # fewer sampled RoIs than torchvision's 512 per image: same code path, a fraction of the CPU time
    hk = {"box_batch_size_per_image": 64, "rpn_post_nms_top_n_train": 300} if head == "faster_rcnn" else {}
    model = create_model(backbone, task=task, bands=BANDS, sensor=S2, head=head, head_kwargs=hk, **kw,
                         **arch_kwargs(backbone))
    x = torch.randn(2, len(BANDS), s, s)
    if task == "detection":
        targets = [{"boxes": torch.tensor([[4.0, 6.0, 30.0, 40.0]]), "labels": torch.tensor([1])},
                   {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
        model.train()
        losses = model(x, targets)
        assert isinstance(losses, dict) and all(torch.isfinite(v) for v in losses.values())
        sum(losses.values()).backward()
        no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
        assert not no_grad, no_grad[:5]
        model.eval()
        with torch.no_grad():
            out = model(x)
        assert len(out) == 2 and {"boxes", "scores", "labels"} <= set(out[0])
        assert out[0]["boxes"].shape[-1] == 4 and (out[0]["labels"] >= 0).all()
        with pytest.raises(ModelError, match="0..1"):
            model.train()(x, [{"boxes": torch.tensor([[1.0, 1.0, 5.0, 5.0]]), "labels": torch.tensor([2])}] * 2)
        return
    y = model(x, torch.randn_like(x)) if task == "change_detection" else model(x)
    k = model.config["num_classes"]
    expected = {
        "classification": (2, k), "multilabel": (2, k), "regression": (2,),
        "segmentation": (2, k, s, s), "pixel_regression": (2, 1, s, s), "change_detection": (2, k, s, s),
        "super_resolution": (2, len(BANDS), s * kw.get("scale", 2), s * kw.get("scale", 2)),
    }[task]
    assert tuple(y.shape) == expected
    y.float().pow(2).mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without gradient (DDP would fail): {no_grad[:5]}"


@pytest.mark.parametrize("head", [h.name for h in HEADS])
def test_head_task_mismatch_is_a_clear_error(head: str) -> None:
    kind = next(h.kind for h in HEADS if h.name == head)
    wrong = "segmentation" if kind != "dense" else "classification"
    with pytest.raises(ModelError, match="needs one of"):
        create_model("mobilecnn", task=wrong, bands=BANDS, sensor=S2, num_classes=2, head=head)


@pytest.mark.parametrize("temporal", ["ltae", "mean", "max"])
@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_time_series(task: str, temporal: str) -> None:
    model = create_model("mobilecnn", task=task, bands=BANDS, sensor=S2, num_classes=3, temporal=temporal,
                         width=0.5)
    x = torch.randn(2, 5, len(BANDS), 32, 32)
    y = model(x, dates=torch.tensor([[10, 40, 70, 100, 130]] * 2))
    assert y.shape == ((2, 3) if task == "classification" else (2, 3, 32, 32))
    y.pow(2).mean().backward()
    if temporal == "ltae":
        ltae = model.temporal.pooled if task == "classification" else model.temporal.maps[-1]
        assert ltae.query.grad is not None
        assert all(p.grad is not None for p in model.temporal.parameters())
        attn = ltae.last_attention
        torch.testing.assert_close(attn.sum(-1), torch.ones_like(attn.sum(-1)))
    with pytest.raises(ModelError, match="temporal"):
        create_model("mobilecnn", task=task, bands=BANDS, sensor=S2, num_classes=3)(x)


@pytest.mark.parametrize("task", ["segmentation", "change_detection", "super_resolution", "detection"])
def test_config_roundtrip(task: str) -> None:
    model = create_model("mobilecnn", task=task, bands=BANDS, sensor=S2, num_classes=2, width=0.5).eval()
    import json

    cfg = json.loads(json.dumps(model.config))
    again = model_from_config(cfg).eval()
    again.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, len(BANDS), 64, 64)
    with torch.no_grad():
        a = model(x, x.flip(-1)) if task == "change_detection" else model(x)
        b = again(x, x.flip(-1)) if task == "change_detection" else again(x)
    if task == "detection":
        a, b = a[0]["boxes"], b[0]["boxes"]
    torch.testing.assert_close(a, b)
    assert cfg["bands"] == list(BANDS) and "normalization" not in cfg  # the contract is model.data_contract
    contract = again.data_contract
    assert contract.bands == BANDS and contract.task == task and contract.normalizer() is not None


def test_super_resolution_out_chans_ms_to_pan() -> None:
    """3+ MS bands in, 1 pan band out: the base is the bicubic band mean, the model keeps out_chans in its config."""
    import json

    import torch.nn.functional as F

    torch.manual_seed(0)
    model = create_model("mobilecnn", task="super_resolution", bands=BANDS, sensor=S2, scale=2,
                         head_kwargs={"out_chans": 1}, width=0.5).eval()
    x = torch.rand(2, len(BANDS), 32, 32)
    with torch.no_grad():
        y = model(x)
        assert y.shape == (2, 1, 64, 64)
        model.head.out.weight.zero_()
        model.head.out.bias.zero_()
        base = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False).mean(1, keepdim=True)
        torch.testing.assert_close(model(x), base)
    again = model_from_config(json.loads(json.dumps(model.config)))
    again.load_state_dict(model.state_dict(), strict=True)
    with pytest.raises(ModelError, match="out_chans"):
        create_model("mobilecnn", task="super_resolution", bands=BANDS, sensor=S2, head_kwargs={"out_chans": 0})


def test_golden_tensor_seeded_model() -> None:
    """A seeded dofa_tiny classifier gives the recorded logits (catches numeric drift in init or forward).

    Recorded with torch 2.14.1 on CPU; identical with 1 and 2 threads. Re-recorded when dofa_tiny took the
    published DOFA layout (128 weight tokens, padded patch conv, LayerNorm eps 1e-6, normalised mean pool).
    """
    torch.manual_seed(1234)
    model = create_model("dofa_tiny", task="classification", bands=("B04", "B03", "B02"), sensor=S2,
                         num_classes=4, img_size=32).eval()
    g = torch.Generator().manual_seed(99)
    x = torch.rand(2, 3, 32, 32, generator=g)
    with torch.no_grad():
        y = model(x)
    torch.testing.assert_close(y, torch.tensor(GOLDEN), atol=1e-4, rtol=1e-4)


GOLDEN = [[-0.20519, 0.81496, 0.55197, 0.07543], [-0.15655, 0.72687, 0.58983, 0.21508]]


@pytest.mark.parametrize("name", [w.name for w in list_models()])
def test_weight_spec_data_contract(name: str) -> None:
    """Every registered weight states a consistent data contract; its transforms derive from it."""
    spec = next(w for w in list_models() if w.name == name)
    assert spec.license and spec.input_size > 0
    if not spec.pretrained:
        assert spec.bands == () and spec.url is None
        return
    assert spec.bands and len(spec.mean) == len(spec.std) == len(spec.bands)
    assert spec.url or spec.file or spec.timm_name
    bands = spec.band_objects()  # every band resolves through the spec's sensor
    norm = spec.transforms()
    assert list(norm.stats) == [b.name for b in bands]
    assert [m for m, _ in norm.stats.values()] == list(spec.mean)


def test_create_model_errors_name_the_fix() -> None:
    kw = {"bands": BANDS, "sensor": S2, "width": 0.5}
    with pytest.raises(ModelError, match="is not one of"):
        create_model("mobilecnn", task="panoptic", num_classes=2, **kw)
    with pytest.raises(ModelError, match="fusion"):
        create_model("mobilecnn", task="change_detection", fusion="sum", **kw)
    with pytest.raises(ModelError, match="num_classes="):
        create_model("mobilecnn", task="segmentation", **kw)
    with pytest.raises(ModelError, match="mlp"):
        create_model("mobilecnn", task="classification", num_classes=2, head="mpl", **kw)
    x = torch.randn(2, len(BANDS), 32, 32)
    with pytest.raises(ModelError, match="two images"):
        create_model("mobilecnn", task="change_detection", **kw)(x)
    with pytest.raises(ModelError, match="only for change_detection"):
        create_model("mobilecnn", task="segmentation", num_classes=2, **kw)(x, x)
    with pytest.raises(ModelError, match="scale"):
        create_model("mobilecnn", task="super_resolution", scale=5, **kw)


def test_reading_the_catalogue_imports_neither_timm_nor_torchvision() -> None:
    """Listing architectures and weights (what `eokit bench` plans with) stays light: timm and
    torchvision (~2.5 s of imports here) load only when a model that needs them is built."""
    import subprocess
    import sys

    code = ("import sys; from eokit.models.registry import ARCHS, WEIGHTS; "
            "assert len(ARCHS.names()) > 10 and len(WEIGHTS.names()) > 10; "
            "from eokit.models.factory import resolve_spec; resolve_spec('resnet18', None); "
            "print(sorted(m for m in ('timm', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
