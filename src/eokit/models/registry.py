"""Model registries: architectures (builders), weights (``arch.tag`` WeightSpecs) and heads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eokit.errors import ModelError
from eokit.models.weights import WeightSpec
from eokit.registry import Registry, RegistryError

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


@dataclass(frozen=True)
class HeadSpec:
    """A head: which kind of input it needs and its builder."""

    name: str
    builder: Callable[..., Any]
    kind: str  # "image" (pooled -> vector) or "dense" (maps -> per-pixel)
    description: str = ""


ARCHS: Registry[ArchSpec] = Registry("backbone architecture", "eokit.models")
WEIGHTS: Registry[WeightSpec] = Registry("model weights", "eokit.models")
HEADS: Registry[HeadSpec] = Registry("head", "eokit.heads")


def register_arch(spec: ArchSpec, *, random_weights: bool = True) -> ArchSpec:
    """Register an architecture (and its ``arch.random`` weights)."""
    ARCHS.register(spec.name, spec)
    if random_weights:
        register_weights(WeightSpec(spec.name, "random", description="random initialisation (any bands)"))
    return spec


def register_weights(spec: WeightSpec) -> WeightSpec:
    """Register weights for a registered architecture under ``arch.tag``."""
    _ensure_builtins()
    if spec.arch not in ARCHS:
        raise ModelError(f"weights {spec.name!r}: architecture {spec.arch!r} is not registered")
    return WEIGHTS.register(spec.name, spec)


def register_head(spec: HeadSpec) -> HeadSpec:
    return HEADS.register(spec.name, spec)


def _ensure_builtins() -> None:
    import eokit.models.zoo  # noqa: F401 - registers the built-in architectures, weights and heads


def get_arch(name: str) -> ArchSpec:
    _ensure_builtins()
    try:
        return ARCHS.get(name)
    except RegistryError as exc:
        raise ModelError(str(exc)) from None


def get_head(name: str) -> HeadSpec:
    _ensure_builtins()
    try:
        return HEADS.get(name)
    except RegistryError as exc:
        raise ModelError(str(exc)) from None


def split_name(name: str) -> tuple[str, str | None]:
    """``'resnet50.imagenet'`` -> ``('resnet50', 'imagenet')``; ``'resnet50'`` -> ``('resnet50', None)``."""
    _ensure_builtins()
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
    _ensure_builtins()
    arch, parsed = split_name(name)
    full = f"{arch}.{tag or parsed or 'random'}"
    try:
        return WEIGHTS.get(full)
    except RegistryError:
        tags = [w.tag for n, w in WEIGHTS.items() if w.arch == arch]
        raise ModelError(f"unknown weights {full!r}; {arch} has weights {tags}, or pass weights=PATH") from None


def list_models(pretrained: bool | None = None, arch: str | None = None) -> list[WeightSpec]:
    """Every registered ``arch.tag`` WeightSpec (filter by ``pretrained``/``arch``)."""
    _ensure_builtins()
    out = [w for _, w in WEIGHTS.items()]
    if pretrained is not None:
        out = [w for w in out if w.pretrained == pretrained]
    if arch is not None:
        out = [w for w in out if w.arch == arch]
    return out


def list_archs() -> list[ArchSpec]:
    _ensure_builtins()
    return [a for _, a in ARCHS.items()]


def list_heads() -> list[HeadSpec]:
    _ensure_builtins()
    return [h for _, h in HEADS.items()]
