"""Keep evaluation data out of pretraining: stable item identifiers and the quick suite's evaluation set.

An item's identifier is ``<dataset>:<file relative to the data root>`` (``!member`` for a file inside a
zip; the dataset's own id when there is no file), the same whether the item is packed for pretraining or
evaluated by a suite. EuroSAT's RGB ``.jpg`` and MS ``.tif`` of one stem (``AnnualCrop_12``) are the same
place: the stem is compared across both versions too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eokit.env import data_root
from eokit.errors import LeakageError

_EUROSAT_STEM = re.compile(r"(AnnualCrop|Forest|HerbaceousVegetation|Highway|Industrial|Pasture|PermanentCrop|"
                           r"Residential|River|SeaLake)_\d+")


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(data_root().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def item_ident(dataset: str, ds: Any, index: int) -> str:
    """``dataset:<relative file>`` of item ``index`` of an eokit dataset, without reading its pixels."""
    items = getattr(ds, "items", None)
    item = items[index] if items is not None else index
    if isinstance(item, Path):
        return f"{dataset}:{_rel(item)}"
    if isinstance(item, tuple | list):
        paths = [p for p in item if isinstance(p, Path)]
        if paths:
            return f"{dataset}:{_rel(paths[0])}"
        return f"{dataset}:{item[0]}"
    if hasattr(item, "zip_path") and hasattr(item, "member"):
        return f"{dataset}:{_rel(Path(item.zip_path))}!{item.member}"
    return f"{dataset}:{item}"


def eurosat_stem(ident: str) -> str | None:
    """The EuroSAT stem (``Forest_12``) an identifier refers to, if any."""
    m = _EUROSAT_STEM.fullmatch(Path(ident.rsplit("/", 1)[-1]).stem) if "eurosat" in ident.lower() else None
    return m.group(0) if m else None


def suite_eval_idents(suite: Any) -> set[str]:
    """Identifiers of every item a suite may evaluate on: each dataset's test part; for a dataset split by a
    seeded ``holdout``, every item (the held-out tiles can come from any of them)."""
    from eokit.bench.data import open_dataset

    out: set[str] = set()
    for cfg in suite.datasets:
        parts = _as_list(cfg.train.split if cfg.holdout else cfg.test.split)
        for split in parts:
            ds = open_dataset(cfg, split)
            out.update(item_ident(cfg.name, ds, i) for i in range(len(ds)))
    return out


def quick_suite_eval_idents(suite: Any | None = None) -> set[str]:
    """:func:`suite_eval_idents` of the quick suite (or ``suite``)."""
    if suite is None:
        from eokit.bench.config import load_suite

        suite = load_suite("quick")
    return suite_eval_idents(suite)


def item_key(ident: str) -> str:
    """What identifies the data of an item: its file (or id) without the dataset name and window suffix."""
    return ident.split(":", 1)[-1].split("@", 1)[0]


def check_no_leakage(pretrain_idents: Iterable[str], eval_idents: Iterable[str], where: str = "") -> None:
    """Raise LeakageError when a pretraining item reads an evaluation item's file (under any dataset name) or
    shares a EuroSAT stem with one."""
    ev_keys = {item_key(i) for i in eval_idents}
    stems = {s for s in map(eurosat_stem, ev_keys) if s}
    clash = sorted({i for i in pretrain_idents if item_key(i) in ev_keys
                    or (eurosat_stem(item_key(i)) or "") in stems})
    if clash:
        raise LeakageError(
            f"{len(clash)} pretraining item(s) {where}are evaluated by the suite, e.g. {clash[:3]}: pretrain on "
            "training splits only (drop those files, or evaluate on another split)")


def _as_list(v: Any) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list | tuple) else [str(v)]
