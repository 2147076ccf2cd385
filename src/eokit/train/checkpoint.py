"""eokit checkpoints: ``model.safetensors`` + ``config.json`` in one folder.

The JSON says how to rebuild the model and feed it (format ``eokit-checkpoint/2``):

- ``model``: the model's own config (``model.config``; ``model_from_config`` rebuilds it)
- ``contract``: the data contract, ``eokit.models.DataContract.to_dict()``: input bands in channel
  order, sensor, wavelengths, normalisation (per-band mean/std, scale/offset), input size, task and
  classes. ``DataContract.from_config(config)`` reads it.
- ``task``: task type and options (``num_classes``, ``class_names``, ``ignore_index``...)
- ``eokit_version``, ``git_sha``, ``created``, ``weights_sha256``, ``epoch``, ``metrics``, ``train_config``

Format 1 (before the data contract) kept ``bands``, ``sensor``, ``normalization`` and ``classes``
at the top level; such checkpoints still load: ``read_checkpoint_config`` adds their ``contract``
through ``DataContract``'s legacy adapter.

Both files are written atomically (weights first; the JSON, which carries the
weights' sha256, last), so a folder with a ``config.json`` is complete.
No pickle is involved anywhere.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from eokit import __version__
from eokit.errors import CheckpointMismatchError, EokitError, ModelError
from eokit.io import atomic_path
from eokit.models.contract import LEGACY_CONTRACT_KEYS, DataContract

FORMAT = "eokit-checkpoint/2"
FORMATS = ("eokit-checkpoint/1", FORMAT)  # the formats this eokit reads
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def git_sha() -> str | None:
    """The source tree's commit (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _resolve(path: str | os.PathLike[str]) -> Path:
    """The checkpoint folder for a folder, its ``config.json`` or its ``model.safetensors``."""
    p = Path(path)
    if p.is_file() and p.name in (WEIGHTS, CONFIG):
        p = p.parent
    if p.is_file() and p.suffix == ".ckpt":
        raise ModelError(
            f"{str(p)!r} is a Lightning resume checkpoint; pass the exported eokit checkpoint folder "
            f"(the one holding {WEIGHTS} and {CONFIG}, e.g. <output_dir>/checkpoint)"
        )
    if not (p / CONFIG).is_file() or not (p / WEIGHTS).is_file():
        raise ModelError(f"{str(p)!r} is not an eokit checkpoint: it needs {WEIGHTS} and {CONFIG}")
    return p


def _contract_of(meta: Mapping[str, Any]) -> DataContract:
    c = meta.get("contract")
    if isinstance(c, DataContract):
        return c
    return DataContract.from_dict(c) if isinstance(c, Mapping) else DataContract.from_config(meta)


def save_checkpoint(path: str | Path, model: nn.Module, meta: Mapping[str, Any]) -> Path:
    """Write ``model``'s weights and ``meta`` (see the module doc) into folder ``path``; return it.

    ``meta["contract"]`` is a ``DataContract`` (or its dict); metadata in the format-1 form (top-level
    ``bands``/``normalization``/``classes``) is converted to one.
    """
    folder = Path(path)
    contract = _contract_of(meta)
    rest = {k: v for k, v in meta.items() if k == "task" or k not in LEGACY_CONTRACT_KEYS}
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    config = {
        "format": FORMAT,
        "eokit_version": __version__,
        "git_sha": git_sha(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **rest,
        "contract": contract.to_dict(),
        "weights_sha256": _sha256(folder / WEIGHTS),
    }
    with atomic_path(folder / CONFIG) as tmp:
        tmp.write_text(json.dumps(config, indent=2, default=str))
    return folder


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """The JSON config of a checkpoint folder (no weights loaded), with its ``contract`` in every format."""
    folder = _resolve(path)
    try:
        cfg = json.loads((folder / CONFIG).read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{str(folder / CONFIG)!r} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise ModelError(f"{str(folder / CONFIG)!r} holds {type(cfg).__name__}, not a JSON object")
    if cfg.get("format") not in FORMATS:
        raise ModelError(f"{str(folder)!r} has format {cfg.get('format')!r}; this eokit reads {list(FORMATS)}")
    try:
        cfg["contract"] = DataContract.from_config(cfg).to_dict()
    except EokitError as exc:
        raise type(exc)(f"{str(folder / CONFIG)!r}: {exc}") from None
    return cfg


def mismatches(model: nn.Module, tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """Human-readable differences between ``model``'s state dict and ``tensors``."""
    own = model.state_dict()
    out = [f"missing in checkpoint: {k} {tuple(own[k].shape)}" for k in own if k not in tensors]
    out += [f"unexpected in checkpoint: {k} {tuple(tensors[k].shape)}" for k in tensors if k not in own]
    out += [
        f"shape differs: {k} checkpoint {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own if k in tensors and tuple(own[k].shape) != tuple(tensors[k].shape)
    ]
    return out


def load_weights(model: nn.Module, path: str | Path, bands: tuple[str, ...] | None = None) -> nn.Module:
    """Load a checkpoint's weights into ``model`` (strict).

    Raises CheckpointMismatchError listing every mismatching key (missing,
    unexpected, other shape) when the checkpoint is from another
    architecture, head or class count, and the two band lists when ``bands``
    (the model's input bands) differ from the checkpoint's.
    """
    folder = _resolve(path)
    cfg = read_checkpoint_config(folder)
    ckpt_bands = cfg["contract"]["bands"]
    if bands is not None and tuple(ckpt_bands) != tuple(bands):
        raise CheckpointMismatchError(
            f"checkpoint {str(folder)!r} was trained on bands {ckpt_bands} but the model takes "
            f"{list(bands)}; build the model with the checkpoint's bands (load_checkpoint does)"
        )
    tensors = load_file(str(folder / WEIGHTS))
    bad = mismatches(model, tensors)
    if bad:
        lines, counts = [], []
        for kind in ("missing in checkpoint", "unexpected in checkpoint", "shape differs"):
            group = [b for b in bad if b.startswith(kind)]
            if group:
                counts.append(f"{len(group)} {kind}")
                lines += group[:15] + ([f"... and {len(group) - 15} more {kind}"] if len(group) > 15 else [])
        raise CheckpointMismatchError(
            f"checkpoint {str(folder)!r} (model {cfg.get('model', {}).get('backbone', '?')!r}) does not fit "
            f"this model: {len(bad)} mismatching keys ({', '.join(counts)}):\n  " + "\n  ".join(lines)
        )
    model.load_state_dict(tensors, strict=True)
    return model


def model_bands(bands: tuple[str, ...], sensor: str | None) -> tuple[Any, ...]:
    """Band names, or non-spectral Band objects (0 nm) for layers no sensor knows (a DSM, a label raster).

    Only a from-scratch model can take such layers; a pretrained backbone then
    fails in ``create_model`` with a message naming them.
    """
    from eokit.sensors import Band, list_sensors

    if sensor is not None or any(all(s.has(b) for b in bands) for s in list_sensors()):
        return bands
    return tuple(Band(b, 0.0, 0.0, 0.0) for b in bands)


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained model from an eokit checkpoint: ``(model, config)``.

    ``path``: the checkpoint folder (``<output_dir>/checkpoint``) or one of its
    two files. The model is rebuilt with ``eokit.models.model_from_config(config["model"])``,
    its weights loaded strictly, moved to ``map_location`` and put in eval mode.

    ``config`` (a dict, see the module doc) gives what inference needs:

    - ``DataContract.from_config(config)``: input bands in channel order (feed exactly these),
      sensor, classes, and ``.normalizer()`` (None, or the ``eokit.transforms.NormalizeBands`` to
      apply to raw Sample values before ``model(image)``)
    - ``config["task"]["name"]``: task type; ``eokit.tasks.get_task(**...)``
      rebuilds the task, whose ``predict(output)`` turns logits into labels/probabilities
    - ``config["eokit_version"]``, ``config["git_sha"]``, ``config["metrics"]``
    """
    from eokit.models import model_from_config

    folder = _resolve(path)
    cfg = read_checkpoint_config(folder)
    mcfg = cfg.get("model")
    if not isinstance(mcfg, dict):
        raise ModelError(f"{str(folder / CONFIG)!r} has no 'model' section to rebuild the model from")
    if cfg.get("weights_sha256") and cfg["weights_sha256"] != _sha256(folder / WEIGHTS):
        raise ModelError(f"{str(folder / WEIGHTS)!r} does not match the sha256 in {CONFIG}; the checkpoint "
                         "folder is inconsistent (re-export it)")
    model = model_from_config({**mcfg, "bands": model_bands(tuple(mcfg.get("bands") or ()), mcfg.get("sensor"))})
    load_weights(model, folder)
    return model.to(map_location).eval(), cfg
