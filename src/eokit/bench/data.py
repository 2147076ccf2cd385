"""Benchmark data: a dataset split read once into arrays and cached on disk.

``load_split(cfg, 'train'|'test')`` returns :class:`SplitArrays` (images
N×C×H×W float32 in the dataset's own units, or pixel time series N×T×C, plus
labels / masks / second dates / days of year and time masks). Subsets are seeded and class-balanced; dense samples can be cut into
tiles; a dataset that ships a single split is divided by a seeded, stratified
holdout. Results are cached as ``.npz`` (no pickle) under
``cache_dir()/bench/data`` and written atomically.
"""

from __future__ import annotations

import json
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from eokit.bench.config import DENSE_TASKS, TASKS, DatasetCfg, stable_hash
from eokit.env import cache_dir, data_root
from eokit.errors import ConfigError, DatasetError
from eokit.io import atomic_path
from eokit.tasktype import TaskType

log = logging.getLogger(__name__)

DATA_VERSION = 2  # bump when the array layout, the subset rule or the recorded extras change
IGNORE_INDEX = -1  # the datasets' value for unlabelled pixels (eokit.datasets.catalog._util)


@dataclass
class SplitArrays:
    """One split of a benchmark dataset, in memory."""

    task: TaskType
    bands: tuple[str, ...]
    sensor: str | None
    classes: tuple[str, ...]
    image: np.ndarray  # (N, C, H, W) float32
    label: np.ndarray | None = None  # (N,) int64 | (N, K) float32 multi-hot | (N,) float32 regression
    mask: np.ndarray | None = None  # (N, H, W) int64, IGNORE_INDEX = unlabelled
    image2: np.ndarray | None = None  # (N, C, H, W) second date (change detection)
    key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    doy: np.ndarray | None = None  # (N, T) int64 day of year (pixel time series with dates)
    time_mask: np.ndarray | None = None  # (N, T) bool, False = padded or missing date

    def __post_init__(self) -> None:
        self.task = TaskType.parse(self.task, "bench data")

    def __len__(self) -> int:
        return int(self.image.shape[0])

    @property
    def series(self) -> bool:
        """The items are pixel time series (N, T, C), scored as classification (one class per series)."""
        return self.image.ndim == 3

    @property
    def num_classes(self) -> int:
        if self.mask is not None:  # a mask value beyond the class list still needs an output channel
            return max(len(self.classes), int(self.mask.max()) + 1)
        if self.classes:
            return len(self.classes)
        if self.label is not None and self.label.ndim == 2:
            return int(self.label.shape[1])
        return int(self.label.max()) + 1 if self.label is not None else 0

    def target(self) -> np.ndarray:
        """What the protocols fit: class ids, multi-hot rows, masks or values."""
        if self.task in DENSE_TASKS:
            assert self.mask is not None
            return self.mask
        assert self.label is not None
        return self.label

    def subset(self, idx: np.ndarray) -> SplitArrays:
        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return SplitArrays(self.task, self.bands, self.sensor, self.classes, self.image[idx], take(self.label),
                           take(self.mask), take(self.image2), self.key, dict(self.extra), take(self.doy),
                           take(self.time_mask))


def data_key(cfg: DatasetCfg, part: str) -> str:
    """Cache key of one split of a dataset configuration (and, without a ``root``, of the folder it is read from)."""
    return stable_hash({"v": DATA_VERSION, "cfg": cfg.model_dump(mode="json"), "part": part,
                        "root": str(data_root()), **_default_folder(cfg)})


def _default_folder(cfg: DatasetCfg) -> dict[str, str]:
    """Where a loader without ``root`` reads: its home, or the data mirror's copy while only that exists."""
    from eokit.datasets.base import DATASETS

    if "root" in cfg.kwargs:
        return {}
    spec = getattr(DATASETS.get(cfg.loader_name), "spec", None)
    return {"read_from": str(spec.path())} if spec is not None else {}


def _cache_file(key: str) -> Path:
    return cache_dir() / "bench" / "data" / f"{key}.npz"


_MEMO: OrderedDict[str, SplitArrays] = OrderedDict()
MEMO_SIZE = 4  # splits kept in memory per process (a Dask worker runs many tasks on the same data)
STATS = {"decodes": 0, "disk_reads": 0}
"""Splits built from the dataset (images decoded) / read from the disk cache in this process (tests)."""


def load_split(cfg: DatasetCfg, part: str) -> SplitArrays:
    """The 'train' or 'test' arrays of ``cfg`` (from memory or the disk cache when present).

    Callers must treat the arrays as read-only (``subset`` copies).
    """
    if part not in ("train", "test"):
        raise ConfigError(f"dataset part must be 'train' or 'test', got {part!r}")
    key = data_key(cfg, part)
    path = _cache_file(key)
    if key in _MEMO and path.exists():
        _MEMO.move_to_end(key)
        return _MEMO[key]
    arrays = None
    if path.exists():
        try:
            arrays = _read(path, key)
        except (OSError, ValueError, KeyError) as exc:  # a damaged cache entry is rebuilt
            log.warning("rebuilding damaged bench data cache %s: %s", path, exc)
    if arrays is None:
        arrays = _build(cfg, part)
        arrays.key = key
        _write(path, arrays)
    _MEMO[key] = arrays
    while len(_MEMO) > MEMO_SIZE:
        _MEMO.popitem(last=False)
    return arrays


def _write(path: Path, a: SplitArrays) -> None:
    meta = {"task": a.task, "bands": list(a.bands), "sensor": a.sensor, "classes": list(a.classes),
            "extra": a.extra}
    arrays: dict[str, Any] = {"image": a.image, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name in ("label", "mask", "image2", "doy", "time_mask"):
        v = getattr(a, name)
        if v is not None:
            arrays[name] = v
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def split_extra(cfg: DatasetCfg, part: str) -> dict[str, Any]:
    """The recorded extras (``items``, ``source_items``) of a loaded split, without reading its arrays."""
    key = data_key(cfg, part)
    if key in _MEMO:
        return dict(_MEMO[key].extra)
    path = _cache_file(key)
    if not path.exists():
        return dict(load_split(cfg, part).extra)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
    return dict(meta.get("extra", {}))


def _read(path: Path, key: str) -> SplitArrays:
    STATS["disk_reads"] += 1
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        get = {k: z[k] for k in z.files if k != "meta"}
    return SplitArrays(meta["task"], tuple(meta["bands"]), meta["sensor"], tuple(meta["classes"]), get["image"],
                       get.get("label"), get.get("mask"), get.get("image2"), key, meta.get("extra", {}),
                       get.get("doy"), get.get("time_mask"))


# -- building --------------------------------------------------------------------------------------

def _expand(value: Any) -> Any:
    """``$EOKIT_DATA/...`` in a string kwarg -> a path under the data root."""
    if isinstance(value, str) and value.startswith("$EOKIT_DATA"):
        return data_root() / value.removeprefix("$EOKIT_DATA").lstrip("/")
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def open_dataset(cfg: DatasetCfg, split: str) -> Any:
    """Instantiate the eokit dataset of ``cfg`` for ``split``.

    ``root`` is relative to EOKIT_DATA; other string kwargs may start with ``$EOKIT_DATA/``.
    """
    from eokit.datasets.base import DATASETS

    kwargs = {k: _expand(v) for k, v in cfg.kwargs.items()}
    if "root" in kwargs:
        root = Path(str(kwargs["root"])).expanduser()
        kwargs["root"] = root if root.is_absolute() else data_root() / root
    if cfg.download:
        kwargs.setdefault("download", True)
    return DATASETS.get(cfg.loader_name)(split=split, **kwargs)


def dataset_task(cfg: DatasetCfg, ds: Any) -> TaskType:
    task = cfg.task or getattr(getattr(ds, "spec", None), "task", None)
    if task == TaskType.TIMESERIES_CLASSIFICATION:  # one class per series: scored as classification
        return TaskType.CLASSIFICATION
    if task not in TASKS:
        raise ConfigError(
            f"dataset {cfg.name!r}: task {task!r} is not benchmarked yet; supported tasks: "
            f"{', '.join(TASKS)} (set 'task:' in the suite to override)"
        )
    return TaskType(task)


def item_labels(ds: Any) -> list[Any] | None:
    """Class labels of every item without loading images, when the dataset exposes them."""
    for attr in ("targets", "labels"):
        v = getattr(ds, attr, None)
        if isinstance(v, list | tuple | np.ndarray) and len(v) == len(ds):
            return list(v)
    items = getattr(ds, "items", None)
    if items and isinstance(items[0], tuple | list):
        ints = [j for j, v in enumerate(items[0]) if isinstance(v, int | np.integer) and not isinstance(v, bool)]
        if len(ints) == 1:
            return [it[ints[0]] for it in items]
    if items and isinstance(items[0], dict):
        for k in ("label", "class_index", "target"):
            if isinstance(items[0].get(k), int | np.integer):
                return [it[k] for it in items]
    return None


def balanced_subset(labels: np.ndarray | list[Any], n: int, seed: int) -> np.ndarray:
    """``n`` indices, as equal per class as the classes allow, seeded; sorted."""
    labels = np.asarray(labels)
    total = len(labels)
    if n >= total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    keys = labels if labels.ndim == 1 else np.argmax(labels, axis=1)
    by_class = {c: rng.permutation(np.flatnonzero(keys == c)) for c in np.unique(keys)}
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n:
        for c in sorted(by_class):
            if depth < len(by_class[c]) and len(chosen) < n:
                chosen.append(int(by_class[c][depth]))
        depth += 1
    return np.sort(np.asarray(chosen, dtype=np.int64))


def stratified_holdout(labels: np.ndarray | None, n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified train/test split of ``n`` items (random when there are no class labels)."""
    rng = np.random.default_rng(seed)
    if labels is None or np.asarray(labels).ndim != 1:
        perm = rng.permutation(n)
        k = max(1, min(n - 1, round(n * test_fraction)))
        return np.sort(perm[k:]), np.sort(perm[:k])
    labels = np.asarray(labels)
    test: list[int] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = round(len(idx) * test_fraction) if len(idx) > 1 else 0
        test.extend(idx[:k].tolist())
    test_arr = np.sort(np.asarray(test, dtype=np.int64))
    return np.setdiff1d(np.arange(n), test_arr), test_arr


def _build(cfg: DatasetCfg, part: str) -> SplitArrays:
    STATS["decodes"] += 1
    split_cfg = cfg.train if (part == "train" or cfg.holdout) else cfg.test
    names = [split_cfg.split] if isinstance(split_cfg.split, str) else list(split_cfg.split)
    parts = [open_dataset(cfg, name) for name in names]
    ds = parts[0] if len(parts) == 1 else _Joined(parts)
    task = dataset_task(cfg, ds)
    n = len(ds)
    if n == 0:
        raise DatasetError(f"dataset {cfg.name!r} split {split_cfg.split!r} has no items (root {getattr(ds, 'root', '?')})")
    labels = item_labels(ds) if task == TaskType.CLASSIFICATION else None
    idx = np.arange(n)
    split_items = bool(cfg.holdout) and n >= 2  # hold out whole items; a single item is split by tiles
    if split_items:
        if labels is None and task == TaskType.CLASSIFICATION:
            labels = [_label_of(ds[i]) for i in range(n)]
        tr, te = stratified_holdout(np.asarray(labels) if labels is not None else None, n, float(cfg.holdout or 0),
                                    cfg.split_seed)
        idx = tr if part == "train" else te
    max_items = (cfg.train if part == "train" else cfg.test).max_items
    if max_items and len(idx) > max_items and not cfg.tile:
        sub_labels = np.asarray(labels)[idx] if labels is not None else np.zeros(len(idx))
        idx = idx[balanced_subset(sub_labels, max_items, cfg.split_seed + (0 if part == "train" else 1))]
    samples = [ds[int(i)] for i in idx]
    arrays = _stack(cfg, task, samples, ds)
    if cfg.tile:
        arrays = _tile(arrays, cfg.tile)
        if cfg.holdout and not split_items:
            tr, te = stratified_holdout(None, len(arrays), cfg.holdout, cfg.split_seed)
            arrays = arrays.subset(tr if part == "train" else te)
        if max_items and len(arrays) > max_items:
            keep = np.sort(np.random.default_rng(cfg.split_seed).permutation(len(arrays))[:max_items])
            arrays = arrays.subset(keep)
    arrays.extra["source_items"] = len(idx)
    arrays.extra["items"] = item_ids(ds, idx)
    arrays.extra["root"] = str(getattr(ds, "root", "") or "")  # for the run card, without indexing the folder again
    if isinstance(samples[0].get("modalities"), dict):  # multi-modal: which stacked bands are which modality
        arrays.extra["modalities"] = {n: {"bands": list(m["bands"]), "sensor": m.get("sensor")}
                                      for n, m in samples[0]["modalities"].items()}
    return arrays


def item_ids(ds: Any, idx: np.ndarray) -> list[str]:
    """The chosen items of ``ds`` as text, paths relative to the dataset root (the run card's split list)."""
    items = getattr(ds, "items", None)
    root = getattr(ds, "root", None)
    if items is None or len(items) != len(ds):
        return [str(int(i)) for i in idx]

    def one(v: Any) -> str:
        if isinstance(v, str | Path):
            text = str(v)
            if root is not None:
                prefix = str(root).rstrip("/") + "/"
                text = text[len(prefix):] if text.startswith(prefix) else text
            return text
        if isinstance(v, tuple | list):
            return "\t".join(one(x) for x in v)
        if isinstance(v, dict):
            return "\t".join(f"{k}={one(x)}" for k, x in sorted(v.items()))
        if isinstance(v, int | float | np.integer | np.floating | bool) or v is None:
            return str(v)
        return type(v).__name__

    return [one(items[int(i)]) for i in idx]


class _Joined:
    """Several splits of one dataset read as one sequence (e.g. to hold out from all of them)."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self.spec = parts[0].spec
        self.root = parts[0].root
        self.items = [it for p in parts for it in p.items]
        self._where = [(i, j) for i, p in enumerate(parts) for j in range(len(p))]

    def __len__(self) -> int:
        return len(self._where)

    def __getitem__(self, k: int) -> dict[str, Any]:
        i, j = self._where[k]
        return self.parts[i][j]


def _label_of(sample: dict[str, Any]) -> Any:
    lab = sample.get("label")
    if isinstance(lab, torch.Tensor):
        return int(lab) if lab.ndim == 0 else int(torch.argmax(lab))
    return lab


def _resize(t: torch.Tensor, size: int, nearest: bool = False) -> torch.Tensor:
    if t.shape[-2:] == (size, size):
        return t
    if nearest:
        return F.interpolate(t[None, None].float(), size=(size, size), mode="nearest")[0, 0].to(t.dtype)
    return F.interpolate(t[None].float(), size=(size, size), mode="bilinear", align_corners=False)[0]


def _stack_series(cfg: DatasetCfg, task: TaskType, samples: list[dict[str, Any]], ds: Any) -> SplitArrays:
    """Pixel time series ((T, C) or (T, C, 1, 1) images) of a classification dataset -> (N, T, C)."""
    bands = tuple(samples[0].get("bands") or ())
    series: list[torch.Tensor] = []
    labels: list[int] = []
    doy: list[torch.Tensor] = []
    masks: list[torch.Tensor] = []
    for s in samples:
        img = s["image"]
        x = img[..., 0, 0] if img.ndim == 4 else img
        if tuple(s.get("bands") or ()) != bands or tuple(x.shape) != tuple(series[0].shape if series else x.shape):
            raise DatasetError(f"dataset {cfg.name!r}: series disagree on bands or length ({bands}, "
                               f"{tuple(series[0].shape) if series else ''} vs {s.get('bands')}, {tuple(x.shape)}); "
                               "pad them to one length with time_mask False on the added dates")
        series.append(x.float())
        labels.append(int(_label_of(s)))
        if s.get("doy") is not None:
            doy.append(torch.as_tensor(s["doy"], dtype=torch.int64))
        if s.get("time_mask") is not None:
            masks.append(torch.as_tensor(s["time_mask"], dtype=torch.bool))
    for name, got in (("doy", doy), ("time_mask", masks)):
        if got and len(got) != len(samples):
            raise DatasetError(f"dataset {cfg.name!r}: {len(got)} of {len(samples)} series carry {name!r}; "
                               "give it for every series or for none")
    return SplitArrays(
        task=task, bands=bands, sensor=samples[0].get("sensor"),
        classes=tuple(getattr(getattr(ds, "spec", None), "classes", ()) or ()),
        image=torch.stack(series).numpy().astype(np.float32), label=np.asarray(labels, dtype=np.int64),
        doy=torch.stack(doy).numpy() if doy else None, time_mask=torch.stack(masks).numpy() if masks else None,
    )


def _is_pixel_series(image: torch.Tensor) -> bool:
    return image.ndim == 2 or (image.ndim == 4 and tuple(image.shape[-2:]) == (1, 1))


def _stack(cfg: DatasetCfg, task: TaskType, samples: list[dict[str, Any]], ds: Any) -> SplitArrays:
    first = samples[0]
    if task == TaskType.CLASSIFICATION and _is_pixel_series(first["image"]) and not cfg.size and not cfg.tile:
        return _stack_series(cfg, task, samples, ds)
    if first["image"].ndim != 3:
        raise ConfigError(
            f"dataset {cfg.name!r}: images of shape {tuple(first['image'].shape)} (time series) are not "
            "benchmarked yet; use a single-date dataset"
        )
    bands = tuple(first.get("bands") or ())
    spec = getattr(ds, "spec", None)
    classes = tuple(getattr(spec, "classes", ()) or ())
    size = cfg.size
    shapes = {tuple(s["image"].shape[-2:]) for s in samples}
    if size is None and len(shapes) > 1 and not cfg.tile:
        size = min(min(sh) for sh in shapes)
        log.info("dataset %s: images of different sizes %s resized to %d", cfg.name, sorted(shapes)[:3], size)
    imgs, imgs2, masks = [], [], []
    labels: list[Any] = []  # tensors (multi-label), ints (classes) or floats (regression)
    for s in samples:
        if tuple(s.get("bands") or ()) != bands:
            raise DatasetError(f"dataset {cfg.name!r}: samples disagree on bands ({bands} vs {s.get('bands')})")
        img = s["image"].float()
        imgs.append(_resize(img, size) if size else img)
        if task == TaskType.CHANGE_DETECTION:
            img2 = s["image2"].float()
            imgs2.append(_resize(img2, size) if size else img2)
        if task in DENSE_TASKS:
            m = s["mask"].long()
            masks.append(_resize(m, size, nearest=True) if size else m)
        elif task == TaskType.MULTILABEL:
            labels.append(torch.as_tensor(s["label"]).float())
        elif task == TaskType.CLASSIFICATION:
            labels.append(int(_label_of(s)))
        else:
            labels.append(float(torch.as_tensor(s["target"]).float().mean()))
    if not size and len({tuple(i.shape) for i in imgs}) > 1 and cfg.tile:
        # dense chips of different sizes: tile each chip separately
        return _tile_ragged(cfg, task, bands, first.get("sensor"), classes, imgs, imgs2, masks)
    out = SplitArrays(
        task=task, bands=bands, sensor=first.get("sensor"), classes=classes,
        image=torch.stack(imgs).numpy().astype(np.float32),
        image2=torch.stack(imgs2).numpy().astype(np.float32) if imgs2 else None,
        mask=torch.stack(masks).numpy().astype(np.int64) if masks else None,
        label=(np.asarray(labels, dtype=np.int64) if task == TaskType.CLASSIFICATION
               else np.asarray(torch.stack(labels).numpy(), dtype=np.float32) if task == TaskType.MULTILABEL
               else np.asarray(labels, dtype=np.float32) if labels else None),
    )
    return out


def _tile_ragged(cfg: DatasetCfg, task: TaskType, bands: tuple[str, ...], sensor: str | None, classes: tuple[str, ...],
                 imgs: list[torch.Tensor], imgs2: list[torch.Tensor], masks: list[torch.Tensor]) -> SplitArrays:
    parts = []
    for i in range(len(imgs)):
        one = SplitArrays(task, bands, sensor, classes, imgs[i][None].numpy(), None,
                          masks[i][None].numpy() if masks else None, imgs2[i][None].numpy() if imgs2 else None)
        parts.append(_tile(one, int(cfg.tile or 0)))
    return _concat(parts)


def _concat(parts: list[SplitArrays]) -> SplitArrays:
    first = parts[0]

    def cat(name: str) -> np.ndarray | None:
        vals = [getattr(p, name) for p in parts]
        return None if vals[0] is None else np.concatenate(vals)

    image = np.concatenate([p.image for p in parts])
    return SplitArrays(first.task, first.bands, first.sensor, first.classes, image, cat("label"),
                       cat("mask"), cat("image2"))


def _tile(a: SplitArrays, t: int) -> SplitArrays:
    """Cut dense samples into non-overlapping t×t tiles; tiles with no labelled pixel are dropped."""
    h, w = a.image.shape[-2:]
    if h < t or w < t:
        raise ConfigError(f"tile size {t} is larger than the images ({h}x{w}); lower 'tile'")
    ny, nx = h // t, w // t
    oy, ox = (h - ny * t) // 2, (w - nx * t) // 2

    def cut(x: np.ndarray | None) -> np.ndarray | None:
        if x is None:
            return None
        x = x[..., oy:oy + ny * t, ox:ox + nx * t]
        lead = x.shape[:-2]
        x = x.reshape(*lead, ny, t, nx, t)
        if len(lead) == 2:  # (N, C, ny, t, nx, t) -> (N*ny*nx, C, t, t)
            return x.transpose(0, 2, 4, 1, 3, 5).reshape(-1, lead[1], t, t)
        return x.transpose(0, 1, 3, 2, 4).reshape(-1, t, t)

    image = cut(a.image)
    assert image is not None  # cut() returns None only for None
    out = SplitArrays(a.task, a.bands, a.sensor, a.classes, image, None, cut(a.mask), cut(a.image2), a.key)
    if out.mask is not None:
        keep = (out.mask != IGNORE_INDEX).reshape(len(out), -1).any(axis=1)
        out = out.subset(np.flatnonzero(keep))
    return out


def fraction_indices(target: np.ndarray, fraction: float, seed: int, task: TaskType | str) -> np.ndarray:
    """Seeded label-fraction subset of the training items: stratified by class (≥ 1 per class)."""
    n = len(target)
    if fraction >= 1.0:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if task == TaskType.CLASSIFICATION:
        idx = []
        for c in np.unique(target):
            members = rng.permutation(np.flatnonzero(target == c))
            idx.extend(members[: max(1, math.ceil(len(members) * fraction))].tolist())
        return np.sort(np.asarray(idx, dtype=np.int64))
    k = max(1, math.ceil(n * fraction))
    if task == TaskType.MULTILABEL:  # make sure at least two items so both labels can appear
        k = max(k, min(n, 2))
    return np.sort(rng.permutation(n)[:k])
