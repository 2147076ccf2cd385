"""``evaluate(checkpoint, dataset)``: a trained eokit checkpoint's metrics on a dataset split."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from eokit.errors import MetricError
from eokit.io import atomic_path
from eokit.models.contract import DataContract
from eokit.tasks import compute_metrics, get_task
from eokit.train.checkpoint import load_checkpoint
from eokit.train.data import Mapped, SelectBands, _subset, collate
from eokit.transforms import Compose


def evaluate(
    checkpoint: str | Path,
    dataset: str,
    split: str = "test",
    *,
    root: str | Path | None = None,
    options: dict[str, Any] | None = None,
    batch_size: int = 32,
    max_samples: int | None = None,
    num_workers: int = 0,
    device: str = "cpu",
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Run the checkpoint over ``dataset``/``split`` and return (and optionally write) its metrics.

    The samples get the checkpoint's bands (selected by name, in its order)
    and normalisation, exactly as in training. ``out``: a JSON file written atomically.
    """
    from eokit.datasets.base import get_dataset

    model, cfg = load_checkpoint(checkpoint, map_location=device)
    tcfg = dict(cfg["task"])
    task = get_task(tcfg.pop("name"), **{k: v for k, v in tcfg.items() if v is not None})
    kw = dict(options or {})
    if root is not None:
        kw["root"] = str(root)
    ds = get_dataset(dataset, split=split, **kw)
    contract = DataContract.from_config(cfg)
    ts: list[Any] = [SelectBands(contract.bands, contract.sensor)]
    norm = contract.normalizer()
    if norm is not None:
        ts.append(norm)
    data = Mapped(ds, _subset(len(ds), max_samples, 0), Compose(ts))
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate)
    metrics = task.metrics().to(device)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for batch in loader:
            batch = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
            if "boxes" in batch:
                batch["boxes"] = [b.to(device) for b in batch["boxes"]]
                batch["labels"] = [b.to(device) for b in batch["labels"]]
            output = task.forward(model, batch)
            task.check_output(output, batch)
            task.update(metrics, output, batch)
    try:
        values = compute_metrics(metrics, task.class_names)
    except MetricError as exc:
        raise MetricError(f"evaluate {checkpoint} on {dataset!r} split {split!r} ({len(data)} samples): {exc}") from exc
    result = {
        "checkpoint": str(checkpoint),
        "dataset": dataset,
        **({"root": str(ds.root)} if getattr(ds, "root", None) is not None else {}),
        "split": split,
        **({"split_origin": origin} if (origin := getattr(ds, "split_origin", None)) else {}),
        "samples": len(data),
        "task": task.name,
        "seconds": round(time.perf_counter() - t0, 3),
        "metrics": values,
    }
    if out is not None:
        with atomic_path(out) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=2))
    return result
