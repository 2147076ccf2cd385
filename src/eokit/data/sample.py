"""The Sample contract shared by datasets, samplers, models and the benchmark.

A Sample is a plain ``dict`` (so it passes through torch's DataLoader) with:

- ``image``: float32 tensor (C, H, W); (T, C, H, W) for image time series,
  (T, C) for pixel time series
- ``bands``: tuple of band names, one per channel of ``image``
- ``sensor``: sensor name (``eokit.sensors``) or None
- optional targets: ``mask`` (H, W) int64, ``label`` (int64 scalar or multi-hot
  float vector), ``target`` (float regression value or (H, W) map),
  ``image2`` (second date, change detection), ``boxes`` (N, 4) float xyxy
  pixels + ``labels`` (N,) int64 (detection)
- time series: ``doy`` (T,) int64 day of year (1-366) of each date, ``time_mask``
  (T,) bool, True where the date holds an observation (padded or missing dates
  are False and never filled silently); ``dates`` (tuple of ISO date strings,
  metadata)
- multi-modal: ``modalities``, a dict ``name -> sub-sample`` (each a dict with
  its own ``image``, ``bands``, ``sensor`` and optional ``doy``/``time_mask``),
  all on the grid of the sample's ``crs``/``transform``; targets stay at the top
  level. ``collate_samples`` batches each modality like a sample.
- metadata: ``crs`` (str or None), ``transform`` (6-tuple or None),
  ``bounds`` (4-tuple or None), ``time`` (ISO string or None), ``path``/``id``

Metadata stays as plain Python values (never tensors) and ``collate_samples``
keeps it as lists, so a batch still knows its bands and georeferencing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import get_worker_info

Sample = dict[str, Any]

TENSOR_KEYS = ("image", "image2", "mask", "label", "target", "valid", "doy", "time_mask")
RAGGED_KEYS = ("boxes", "labels")  # detection: a list per batch


def crs_string(crs: Any) -> str | None:
    """A compact, picklable CRS string ('EPSG:32631' or WKT)."""
    if crs is None:
        return None
    epsg = crs.to_epsg() if hasattr(crs, "to_epsg") else None
    return f"EPSG:{epsg}" if epsg else str(crs)


def _stack(values: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack``; in a DataLoader worker straight into shared memory, as torch's default
    collate does (otherwise the batch is copied into shared memory again to reach the main process)."""
    out = None
    if get_worker_info() is not None:
        elem = values[0]
        numel = sum(v.numel() for v in values)
        # torch has no typed public API for a shared-memory storage; default_collate uses this one
        storage = elem._typed_storage()._new_shared(numel, device=elem.device)  # type: ignore[no-untyped-call]
        out = elem.new(storage).resize_(len(values), *elem.shape)
    return torch.stack(values, out=out)


def collate_samples(samples: Sequence[Sample]) -> Sample:
    """Stack tensors; keep boxes/labels and metadata as per-sample lists.

    ``bands`` must agree across the batch (a model is fed one band order).
    """
    from eokit.errors import BandError

    batch: Sample = {}
    keys = samples[0].keys()
    bands = samples[0].get("bands")
    for s in samples[1:]:
        if s.get("bands") != bands:
            raise BandError(f"cannot batch samples with different bands: {bands} vs {s.get('bands')}")
    for k in keys:
        values = [s[k] for s in samples]
        if k == "modalities" and isinstance(values[0], dict):
            names = list(values[0])
            if any(list(v) != names for v in values[1:]):
                raise BandError(f"cannot batch samples with different modalities: {names} vs "
                                f"{next(list(v) for v in values if list(v) != names)}")
            batch[k] = {m: collate_samples([v[m] for v in values]) for m in names}
        elif k in TENSOR_KEYS and isinstance(values[0], torch.Tensor):
            batch[k] = _stack(values)
        elif k in TENSOR_KEYS and isinstance(values[0], int | float):
            batch[k] = torch.tensor(values)
        elif k == "bands" or k == "sensor":
            batch[k] = values[0]
        else:
            batch[k] = values
    return batch
