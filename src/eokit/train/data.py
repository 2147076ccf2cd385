"""Datasets -> DataLoaders for training: split, subset, select bands, augment, normalise, collate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from eokit.data.sample import Sample, collate_samples
from eokit.errors import ConfigError, DatasetError
from eokit.sensors import get_sensor, match_bands
from eokit.train.config import DataConfig
from eokit.transforms import (
    CenterCrop,
    Compose,
    NormalizeBands,
    RandomCrop,
    RandomFlip,
    RandomRot90,
)

if TYPE_CHECKING:
    from eokit.datasets.base import EODataset

Transform = Callable[[Sample], Sample]
log = logging.getLogger(__name__)


class SelectBands:
    """Keep (and reorder) the channels of ``image``/``image2`` named ``bands`` (aliases allowed)."""

    def __init__(self, bands: Sequence[str], sensor: str | None = None) -> None:
        self.bands, self.sensor = tuple(bands), sensor

    def __call__(self, sample: Sample) -> Sample:
        have = list(sample["bands"])
        idx = match_bands(self.bands, have, self.sensor, where="the sample", what="data.bands")
        if idx == list(range(len(have))):
            return sample
        out = dict(sample)
        for k in ("image", "image2"):
            if isinstance(out.get(k), torch.Tensor):
                out[k] = out[k][..., idx, :, :]
        out["bands"] = tuple(sample["bands"][i] for i in idx)
        return out


class StackedModalities:
    """Keep a multi-modal sample's stacked view only (``image``/``bands``): crops, flips and
    normalisation then act on every modality at once, and a fusion model splits the bands again."""

    def __call__(self, sample: Sample) -> Sample:
        if "modalities" not in sample:
            return sample
        return {k: v for k, v in sample.items() if k != "modalities"}


class SizedDataset(Protocol):
    """A map-style dataset: ``len(ds)`` and ``ds[i]`` (every eokit dataset)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


class Mapped(Dataset):
    """A dataset (or subset) with a transform applied on ``__getitem__``."""

    def __init__(self, base: Dataset, indices: Sequence[int] | None, transform: Transform | None) -> None:
        self.base, self.indices, self.transform = base, list(indices) if indices is not None else None, transform

    def __len__(self) -> int:
        return len(self.indices) if self.indices is not None else len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Sample:
        s = self.base[self.indices[i] if self.indices is not None else i]
        return self.transform(s) if self.transform else s


def collate(samples: Sequence[Sample]) -> Sample:
    """``collate_samples``; images of different sizes (detection) stay a list."""
    shapes = {tuple(s["image"].shape) for s in samples}
    if len(shapes) == 1:
        return collate_samples(samples)
    if "boxes" not in samples[0]:
        raise DatasetError(f"cannot batch images of different sizes {sorted(shapes)}; set data.crop_size")
    images = [s["image"] for s in samples]
    batch = collate_samples([{**s, "image": torch.zeros(0)} for s in samples])
    batch["image"] = images
    return batch


def _subset(n: int, k: int | None, seed: int) -> list[int] | None:
    if k is None or k >= n:
        return None
    g = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(n, generator=g)[:k].tolist())


def dataset_stats(ds: SizedDataset, bands: Sequence[str], n: int = 256, seed: int = 0) -> NormalizeBands:
    """Per-band mean/std over up to ``n`` samples of ``ds`` (raw values) as a NormalizeBands."""
    idx = _subset(len(ds), n, seed) or list(range(len(ds)))
    s = torch.zeros(len(bands), dtype=torch.float64)
    s2 = torch.zeros(len(bands), dtype=torch.float64)
    count = 0
    for i in idx:
        x = ds[i]["image"].double()
        x = x.reshape(-1, x.shape[-3], x.shape[-2] * x.shape[-1]).transpose(0, 1).reshape(x.shape[-3], -1)
        x = x[:, torch.isfinite(x).all(0)]
        s += x.sum(1)
        s2 += (x * x).sum(1)
        count += x.shape[1]
    if count == 0:
        raise DatasetError("cannot compute normalisation statistics: no finite pixels in the sampled images")
    mean = s / count
    std = (s2 / count - mean**2).clamp(min=1e-12).sqrt()
    return NormalizeBands.from_lists(list(bands), mean.tolist(), [max(v, 1e-6) for v in std.tolist()])


class EODataModule(L.LightningDataModule):
    """Builds train/val/test loaders from a :class:`DataConfig` (registered datasets via ``get_dataset``)."""

    def __init__(self, cfg: DataConfig, seed: int = 0, task: str | None = None) -> None:
        super().__init__()
        self.cfg, self.seed, self.task = cfg, seed, task
        self.normalizer: NormalizeBands | None = None
        self.root: Path | None = None
        self.split_origin: str | None = None
        self._built = False

    # -- datasets -------------------------------------------------------------
    def _raw(self, split: str) -> EODataset:
        from eokit.datasets.base import get_dataset

        kw = dict(self.cfg.options)
        if self.cfg.root is not None:
            kw["root"] = self.cfg.root
        return get_dataset(self.cfg.dataset, split=split, **kw)

    def build(self) -> None:
        """Open the splits, pick bands and normalisation (called once, before the model is built)."""
        if self._built:
            return
        cfg = self.cfg
        train = self._raw(cfg.train_split)
        self.spec = getattr(train, "spec", None)
        self.root = getattr(train, "root", None)  # where it was read (its home, a given root, the mirror's copy)
        self.split_origin = getattr(train, "split_origin", None)  # e.g. a published list or eokit's seeded split
        val_idx = train_idx = None
        splits = tuple(getattr(self.spec, "splits", ()))
        if cfg.val_split and (cfg.val_split in splits or not splits):
            try:
                val = self._raw(cfg.val_split)
            except DatasetError as exc:
                log.warning("no usable %r split (%s); carving a validation part out of %r",
                            cfg.val_split, exc, cfg.train_split)
                val = None
        else:
            val = None
        if val is None or len(val) == 0:  # carve a seeded validation part out of train
            n = len(train)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed)).tolist()
            k = max(1, round(n * cfg.val_fraction))
            if n < 2:  # a one-sample dataset (a demo chip): validate on the training sample itself
                log.warning("dataset %r has %d training sample(s) and no validation split; validating on "
                            "the training data", cfg.dataset, n)
                val, val_idx, train_idx = train, perm, None
            else:
                val, val_idx, train_idx = train, sorted(perm[:k]), sorted(perm[k:])
        test = None
        if cfg.test_split and (cfg.test_split in splits or not splits):
            try:
                test = self._raw(cfg.test_split)
            except DatasetError as exc:
                log.warning("no usable %r split (%s); no test pass", cfg.test_split, exc)
                test = None
        if len(train) == 0:
            raise DatasetError(f"dataset {cfg.dataset!r} split {cfg.train_split!r} is empty")
        first = train[0]
        self.sensor = first.get("sensor") or getattr(self.spec, "sensor", None)
        self.bands = tuple(cfg.bands) if cfg.bands else tuple(first["bands"])
        self.classes = tuple(getattr(train, "classes", None) or getattr(self.spec, "classes", ()) or ()) or None
        t = first.get("target")  # a raster target (super-resolution): its band count sizes the output
        self.target_channels = int(t.shape[-3]) if isinstance(t, torch.Tensor) and t.ndim >= 3 else None
        select = SelectBands(self.bands, self.sensor) if cfg.bands else None
        self.modalities = self._modalities(first, select)
        self.normalizer = self._normalizer(train, select)

        def pipeline(train_mode: bool) -> Transform:
            ts: list[Transform] = [StackedModalities()] if self.modalities else []
            ts += [select] if select else []
            if cfg.crop_size:
                ts.append(RandomCrop(cfg.crop_size) if train_mode else CenterCrop(cfg.crop_size))
            if train_mode and "flip" in cfg.augment:
                ts.append(RandomFlip())
            if train_mode and "rot90" in cfg.augment:
                ts.append(RandomRot90())
            if self.normalizer is not None:
                ts.append(self.normalizer)
            return Compose(ts)

        def sized(ds: SizedDataset, idx: list[int] | None, split: Literal["train", "val", "test"]) -> list[int] | None:
            k = cfg.max_samples.get(split)
            base = idx if idx is not None else list(range(len(ds)))
            pick = _subset(len(base), k, self.seed)
            return [base[i] for i in pick] if pick is not None else idx

        self.train_ds = Mapped(train, sized(train, train_idx, "train"), pipeline(True))
        self.val_ds = Mapped(val, sized(val, val_idx, "val"), pipeline(False))
        self.test_ds = Mapped(test, sized(test, None, "test"), pipeline(False)) if test is not None else None
        self._built = True

    @staticmethod
    def _modalities(first: Sample, select: SelectBands | None) -> dict[str, dict[str, Any]]:
        """``{modality: {'bands': [...], 'sensor': ...}}`` of a multi-modal dataset ({} otherwise), limited to
        the bands ``select`` keeps (a modality left with no band is dropped)."""
        from eokit.data.modalities import modality_bands, modality_sensors

        mods = modality_bands(first)
        if not mods:
            return {}
        sensors = modality_sensors(first)
        keep = set(select(first)["bands"]) if select is not None else set(first["bands"])
        out = {n: {"bands": [b for b in bs if b in keep], "sensor": sensors[n]} for n, bs in mods.items()}
        return {n: v for n, v in out.items() if v["bands"]}

    def _normalizer(self, train: Dataset, select: SelectBands | None) -> NormalizeBands | None:
        mode = self.cfg.normalize
        if mode == "none":
            return None
        if mode == "reflectance":
            if not self.sensor:
                raise ConfigError("data.normalize='reflectance' needs a dataset with a sensor (for its DN scale)")
            return NormalizeBands.reflectance(self.sensor, self.bands)
        if mode in ("auto", "sensor") and self.sensor:
            s = get_sensor(self.sensor)
            if all(s.has(b) for b in self.bands):
                return NormalizeBands.from_sensor(s.name, self.bands)
            if mode == "sensor":
                missing = [b for b in self.bands if not s.has(b)]
                raise ConfigError(f"data.normalize='sensor': sensor {s.name!r} has no statistics for bands "
                                  f"{missing}; use normalize: dataset")
        if mode == "sensor":
            raise ConfigError("data.normalize='sensor' but the dataset names no sensor; use normalize: dataset")
        return dataset_stats(Mapped(train, None, select), self.bands, seed=self.seed)  # multi-modal: sensor None

    # -- Lightning hooks --------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        self.build()

    def _loader(self, ds: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            ds, batch_size=self.cfg.batch_size, shuffle=shuffle, num_workers=self.cfg.num_workers,
            collate_fn=collate, persistent_workers=self.cfg.num_workers > 0, drop_last=False,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_ds, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_ds, False)

    def test_dataloader(self) -> DataLoader:
        if self.test_ds is None:
            raise ConfigError(f"dataset {self.cfg.dataset!r} has no test split {self.cfg.test_split!r}")
        return self._loader(self.test_ds, False)

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.cfg.dataset, **({"root": str(self.root)} if self.root is not None else {}),
                **({"split_origin": self.split_origin} if self.split_origin else {}),
                "bands": list(self.bands), "sensor": self.sensor,
                **({"modalities": {n: v["bands"] for n, v in self.modalities.items()}} if self.modalities else {}),
                "train": len(self.train_ds), "val": len(self.val_ds),
                "test": len(self.test_ds) if self.test_ds is not None else 0}
