"""Model registries: architectures (builders), weights (``arch.tag`` WeightSpecs) and heads.

The three share one loader: the first lookup or listing of any of them imports the built-ins
(:mod:`eokit.models.zoo`), then the ``eokit.models`` and ``eokit.heads`` entry-point plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eokit.errors import ModelError
from eokit.models.weights import WeightSpec
from eokit.registry import Loader, Registry, RegistryError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ArchSpec:
    """An architecture: how to build it and what it is."""

    name: str
    builder: Callable[..., Any]
    family: str
    description: str = ""
    default_head: dict[str, str] = field(default_factory=dict)  # "dense" -> head name
    test_kwargs: dict[str, Any] = field(default_factory=dict)  # tiny settings for contract tests
    input: str = "image"  # "image": (B, C, H, W) images; "series": pixel time series (B, T, C)


@dataclass(frozen=True)
class HeadSpec:
    """A head: which kind of input it needs and its builder."""

    name: str
    builder: Callable[..., Any]
    kind: str  # "image" (pooled -> vector) or "dense" (maps -> per-pixel)
    description: str = ""


LOADER = Loader("model", builtins=("eokit.models.zoo",), groups=("eokit.models", "eokit.heads"))
ARCHS: Registry[ArchSpec] = Registry("backbone architecture", loader=LOADER)
WEIGHTS: Registry[WeightSpec] = Registry("model weights", loader=LOADER)
HEADS: Registry[HeadSpec] = Registry("head", loader=LOADER)


def register_arch(spec: ArchSpec, *, random_weights: bool = True) -> ArchSpec:
    """Register an architecture (and its ``arch.random`` weights)."""
    ARCHS.register(spec.name, spec)
    if random_weights:
        register_weights(WeightSpec(spec.name, "random", description="random initialisation (any bands)"))
    return spec


def register_weights(spec: WeightSpec) -> WeightSpec:
    """Register weights for a registered architecture under ``arch.tag``."""
    if spec.arch not in ARCHS:
        raise ModelError(f"weights {spec.name!r}: architecture {spec.arch!r} is not registered")
    return WEIGHTS.register(spec.name, spec)


def register_head(spec: HeadSpec) -> HeadSpec:
    return HEADS.register(spec.name, spec)


def get_arch(name: str) -> ArchSpec:
    try:
        return ARCHS.get(name)
    except RegistryError as exc:
        raise ModelError(str(exc)) from None


def get_head(name: str) -> HeadSpec:
    try:
        return HEADS.get(name)
    except RegistryError as exc:
        raise ModelError(str(exc)) from None


def split_name(name: str) -> tuple[str, str | None]:
    """``'resnet50.imagenet'`` -> ``('resnet50', 'imagenet')``; ``'resnet50'`` -> ``('resnet50', None)``."""
    if name in ARCHS:
        return name, None
    arch, _, tag = name.rpartition(".")
    if arch and arch in ARCHS:
        return arch, tag
    try:
        ARCHS.get(name)
    except RegistryError as exc:
        raise ModelError(f"{exc} (weights are named arch.tag, e.g. 'resnet50.imagenet')") from None
    raise ModelError(f"unknown model {name!r}")


def get_weight_spec(name: str, tag: str | None = None) -> WeightSpec:
    """The WeightSpec for ``'arch.tag'`` (or ``name='arch', tag='tag'``); default tag ``random``."""
    arch, parsed = split_name(name)
    full = f"{arch}.{tag or parsed or 'random'}"
    try:
        return WEIGHTS.get(full)
    except RegistryError:
        tags = [w.tag for n, w in WEIGHTS.items() if w.arch == arch]
        raise ModelError(f"unknown weights {full!r}; {arch} has weights {tags}, or pass weights=PATH") from None


def list_models(pretrained: bool | None = None, arch: str | None = None) -> list[WeightSpec]:
    """Every registered ``arch.tag`` WeightSpec (filter by ``pretrained``/``arch``)."""
    out = [w for _, w in WEIGHTS.items()]
    if pretrained is not None:
        out = [w for w in out if w.pretrained == pretrained]
    if arch is not None:
        out = [w for w in out if w.arch == arch]
    return out


def list_archs() -> list[ArchSpec]:
    return [a for _, a in ARCHS.items()]


def list_heads() -> list[HeadSpec]:
    return [h for _, h in HEADS.items()]
