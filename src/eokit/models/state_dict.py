"""Reading published checkpoint containers into plain ``{key: tensor}`` state dicts.

One place for what every published EO checkpoint needs before a family's own key
conversion: a safe reader for each container (safetensors; ``.pt``/``.pth``/
``.ckpt``/``.bin`` through ``torch.load(weights_only=True)`` only), unwrapping
of nested dicts (``state_dict``, ``model``, ``teacher``, per-modality sub-dicts),
prefix handling (``module.encoder_q.``, ``backbone.backbone.``...) and a strict
load that lists every missing or unexpected key.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from eokit.errors import CheckpointFormatError, CheckpointMismatchError

StateDict = dict[str, torch.Tensor]

TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")
# keys under which checkpoints nest their weights, most common first
NESTING_KEYS = ("state_dict", "model", "teacher", "student", "module", "model_state_dict", "net", "params")


def read_state_dict(path: str | Path) -> tuple[StateDict, dict[str, str]]:
    """Tensors (still in the file's own nesting, flattened with ``.``) and string metadata of a weights file.

    safetensors is read without pickle; torch containers only with ``weights_only=True``: a file
    that needs arbitrary pickled objects is refused (CheckpointFormatError says how to convert it).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointFormatError(f"weights file {str(path)!r} does not exist; pass an existing weights file")
    if path.stat().st_size == 0:
        raise CheckpointFormatError(f"weights file {str(path)!r} is empty; download it again")
    if path.suffix == ".safetensors" or _is_safetensors(path):
        return _read_safetensors(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointFormatError(
            f"weights file {str(path)!r} needs objects beyond tensors to unpickle ({_first_line(exc)}); eokit "
            "never runs arbitrary pickles. If you trust the file, convert it once: "
            "torch.save(torch.load(PATH, weights_only=False)['state_dict'], OUT) or save it as .safetensors"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointFormatError(
            f"cannot read weights file {str(path)!r} ({path.stat().st_size} bytes): {_first_line(exc)}; "
            "is it truncated? Delete it and download it again"
        ) from None
    return flatten(obj, where=str(path)), {}


def _is_safetensors(path: Path) -> bool:
    if path.suffix in TORCH_SUFFIXES:
        return False
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _read_safetensors(path: Path) -> tuple[StateDict, dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointFormatError(
            f"cannot read weights file {str(path)!r} as safetensors: {_first_line(exc)}; is it truncated? "
            "Delete it and download it again"
        ) from exc
    return tensors, meta


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def flatten(obj: Any, prefix: str = "", *, where: str = "checkpoint") -> StateDict:
    """Nested dicts of tensors -> one ``{'a.b.c': tensor}`` dict; non-tensor leaves (epochs, configs) are dropped."""
    out: StateDict = {}
    if isinstance(obj, torch.Tensor):
        out[prefix.rstrip(".")] = obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}.", where=where))
    if not prefix and not out:
        raise CheckpointFormatError(f"{where} holds no tensors (a {type(obj).__name__}); is it a weights file?")
    return out


def unwrap(sd: StateDict, keys: Iterable[str] = NESTING_KEYS) -> StateDict:
    """Descend into the one nesting level that holds the weights (``state_dict.``, ``model.``, ``teacher.``...).

    Repeats while every key starts with one of ``keys`` followed by a dot; a checkpoint holding
    weights beside other tensors (e.g. ``model.`` and ``optimizer.``) keeps only the first of ``keys``.
    """
    keys = tuple(keys)
    while True:
        tops = {k.split(".", 1)[0] for k in sd}
        nest = next((n for n in keys if n in tops and (len(tops) == 1 or n in ("state_dict", "model", "teacher"))),
                    None)
        if nest is None:
            return sd
        sd = take_prefix(sd, nest + ".")


def strip_prefix(sd: StateDict, prefixes: Iterable[str]) -> StateDict:
    """Remove the first matching prefix from every key that has one (others unchanged)."""
    prefixes = tuple(prefixes)
    out: StateDict = {}
    for k, v in sd.items():
        p = next((p for p in prefixes if k.startswith(p)), "")
        out[k[len(p):]] = v
    return out


def take_prefix(sd: StateDict, prefix: str) -> StateDict:
    """The keys under ``prefix``, with it removed (e.g. one modality's encoder of a joint checkpoint)."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def drop_keys(sd: StateDict, prefixes: Iterable[str]) -> StateDict:
    """Without the keys that start with any of ``prefixes`` (decoders, projection heads, mask tokens)."""
    prefixes = tuple(prefixes)
    return {k: v for k, v in sd.items() if not k.startswith(prefixes)}


def check_keys(module: nn.Module, sd: Mapping[str, torch.Tensor], what: str, file: str | None = None) -> None:
    """Raise CheckpointMismatchError listing every missing/unexpected key and shape mismatch (no partial loads)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shape = sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if missing or unexpected or shape:
        src = f" from {file!r}" if file else ""
        raise CheckpointMismatchError(
            f"{what}: checkpoint{src} does not fit ({len(missing)} missing keys {missing[:12]}, {len(unexpected)} "
            f"unexpected keys {unexpected[:12]}, {len(shape)} shape mismatches "
            f"{[(k, tuple(sd[k].shape), tuple(own[k].shape)) for k in shape[:8]]}); is it a checkpoint of "
            "another architecture or variant?"
        )


def load_strict(module: nn.Module, sd: Mapping[str, torch.Tensor], what: str, file: str | None = None) -> None:
    """``check_keys`` then ``load_state_dict(strict=True)``."""
    check_keys(module, sd, what, file)
    module.load_state_dict(dict(sd), strict=True)


def resize_pos_embed(pos: torch.Tensor, new_grid: tuple[int, int], num_prefix_tokens: int = 1,
                     old_grid: tuple[int, int] | None = None) -> torch.Tensor:
    """Bicubic interpolation of a ViT position embedding (1, prefix + h*w, D) to ``new_grid``."""
    from timm.layers import resample_abs_pos_embed

    if old_grid is None:
        n = pos.shape[1] - num_prefix_tokens
        side = round(n**0.5)
        if side * side != n:
            raise CheckpointMismatchError(
                f"position embedding of {n} patch tokens is not a square grid; pass old_grid=(h, w)")
        old_grid = (side, side)
    if tuple(old_grid) == tuple(new_grid):
        return pos
    return resample_abs_pos_embed(pos, list(new_grid), list(old_grid), num_prefix_tokens=num_prefix_tokens)
