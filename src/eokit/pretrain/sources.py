"""Pretraining inputs -> :class:`Chip` s: dataset splits, image folders and random windows from scenes.

Three kinds of source (``PretrainSource.kind``), each read through eokit's own readers:

- ``dataset``: a registered eokit dataset (``loader`` + ``kwargs``, e.g. ``eurosat_rgb``) and its ``split``
  (training splits only: ``val``/``test`` are refused). Items larger than ``size`` are cut into ``windows``
  random windows; labels are kept (multi-hot) for soft contrastive targets.
- ``folder``: an image folder (``image_folder`` loader: ``<Class>/<image>`` or plain files), same rules.
- ``scenes``: rasters (a glob; one-file-per-band rasters given as ``band_files`` are stacked) sampled with
  :class:`eokit.data.RandomWindowSampler` on their native grid (no reprojection); ``qa`` names a QA band
  file and its rules (``eokit.sensors.qa``) so curation can use the scene's own cloud flags.

Every chip is in reflectance units (the sensor's scale/offset) with NaN for nodata, and carries an
identifier (:func:`eokit.pretrain.leakage.item_ident` for dataset items) for the split lists.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from eokit.env import data_root
from eokit.errors import PretrainError
from eokit.pretrain.chips import Chip
from eokit.pretrain.leakage import item_ident
from eokit.sensors import get_sensor

EVAL_SPLITS = ("val", "valid", "validation", "test")


class QACfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    rules: str | list[Any]


class PretrainSource(BaseModel):
    """One input of a pretraining run (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["dataset", "folder", "scenes"] = "dataset"
    loader: str | None = Field(None, description="eokit dataset name (kind dataset)")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    split: str | list[str] = "train"
    paths: str | list[str] | None = Field(None, description="rasters or a glob, relative to EOKIT_DATA (scenes)")
    band_files: str | None = Field(None, description="glob of one-file-per-band rasters stacked into one scene")
    sensor: str | None = None
    bands: list[str] | None = Field(None, description="keep these bands, in this order")
    band_names: list[str] | None = Field(None, description="names of every band of the scene files, in order")
    size: int = Field(64, gt=0, description="chip size (px); larger items are cut into windows")
    windows: int = Field(1, gt=0, description="random windows per scene (scenes) or per large item")
    max_items: int | None = Field(None, gt=0, description="class-balanced, seeded subset of a dataset split")
    labels: bool = Field(False, description="keep class labels (soft contrastive targets)")
    qa: QACfg | None = None
    seed: int = 0

    def check_training_split(self) -> None:
        for s in ([self.split] if isinstance(self.split, str) else self.split):
            if s.lower() in EVAL_SPLITS:
                raise PretrainError(
                    f"pretraining source {self.name!r} reads split {s!r}: pretraining reads training splits only "
                    "(an evaluation split seen in pretraining inflates every score measured on it); use split: train")


def _path(p: str | Path) -> Path:
    q = Path(str(p)).expanduser()
    return q if q.is_absolute() else data_root() / q


def _reflectance(image: np.ndarray, sensor: str | None) -> np.ndarray:
    s = get_sensor(sensor) if sensor else None
    x = image.astype(np.float32)
    return x * s.scale + s.offset if s is not None else x


def _windows(image: np.ndarray, size: int, n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    h, w = image.shape[-2:]
    if h <= size and w <= size:
        return [(0, 0)]
    return [(int(rng.integers(0, max(h - size, 0) + 1)), int(rng.integers(0, max(w - size, 0) + 1)))
            for _ in range(n)]


def _dataset_chips(src: PretrainSource) -> Iterator[Chip]:
    from eokit.datasets.base import get_dataset

    loader = src.loader or ("image_folder" if src.kind == "folder" else None)
    if loader is None:
        raise PretrainError(f"pretraining source {src.name!r}: kind 'dataset' needs loader: <eokit dataset name>")
    kwargs = dict(src.kwargs)
    if "root" in kwargs:
        kwargs["root"] = _path(kwargs["root"])
    rng = np.random.default_rng(src.seed)
    for split in ([src.split] if isinstance(src.split, str) else src.split):
        ds = get_dataset(loader, split=split, **kwargs)
        index = np.arange(len(ds))
        if src.max_items and src.max_items < len(ds):
            from eokit.bench.data import balanced_subset, item_labels

            labels = item_labels(ds)
            index = balanced_subset(labels, src.max_items, src.seed) if labels is not None \
                else np.sort(rng.permutation(len(ds))[: src.max_items])
        classes = getattr(ds, "classes", None) or getattr(getattr(ds, "spec", None), "classes", None) or ()
        for i in index:
            s = ds[int(i)]
            sensor = src.sensor or s.get("sensor") or getattr(ds, "sensor", None)
            bands = tuple(s.get("bands") or src.bands or ())
            if sensor is None or not bands:
                raise PretrainError(f"pretraining source {src.name!r}: item {int(i)} has no sensor/band names; set "
                                    "sensor: and bands: in the source")
            img = _reflectance(np.asarray(s["image"]), sensor)
            if img.ndim != 3:
                raise PretrainError(f"pretraining source {src.name!r}: items of shape {img.shape} are not (C, H, W)")
            label = None
            if src.labels and "label" in s and classes:
                label = np.zeros(len(classes), np.float32)
                lab = np.asarray(s["label"])
                if lab.ndim == 0:
                    label[int(lab)] = 1.0
                else:
                    label[: lab.shape[-1]] = lab.astype(np.float32)
            ident = item_ident(src.name, ds, int(i))
            for y, x in _windows(img, src.size, src.windows, rng):
                win = img[:, y:y + src.size, x:x + src.size]
                suffix = f"@{y},{x}" if win.shape[-2:] != img.shape[-2:] else ""
                yield Chip(image=win, sensor=get_sensor(sensor).name, bands=bands, source=src.name, place=ident,
                           ident=ident + suffix, date=s.get("time"), labels=label)


def _scene_chips(src: PretrainSource) -> Iterator[Chip]:
    from eokit.data import RandomWindowSampler, SceneCollection, SceneDataset
    from eokit.io.stack import open_band_files

    if src.sensor is None:
        raise PretrainError(f"pretraining source {src.name!r}: scenes need sensor: (how DN become reflectance)")
    if src.band_files:
        files = sorted(glob.glob(str(_path(src.band_files))))
        if not files:
            raise PretrainError(f"pretraining source {src.name!r}: band_files {src.band_files!r} matched no file")
        stack = open_band_files(files, src.sensor, bands=src.bands)
        collection = SceneCollection([stack])  # type: ignore[list-item]  # a BandStack reads like a RasterSource
        names = [files[0]]
    else:
        pats = [src.paths] if isinstance(src.paths, str) else list(src.paths or [])
        files = sorted({f for p in pats for f in glob.glob(str(_path(p)))})
        if not files:
            raise PretrainError(f"pretraining source {src.name!r}: paths {src.paths!r} matched no raster")
        collection = SceneCollection.from_paths(files, sensor=src.sensor, band_names=src.band_names)
        names = files
    sampler = RandomWindowSampler(collection, src.size, src.windows * len(collection.scenes), seed=src.seed)
    ds = SceneDataset(collection, bands=src.bands)
    qa = None
    if src.qa is not None:
        from eokit.io import open_raster

        qa = open_raster(_path(src.qa.file))
    for spec in sampler:
        s = ds[spec]
        img = _reflectance(np.asarray(s["image"], dtype=np.float32), src.sensor)
        valid = np.asarray(s["valid"], dtype=bool) if "valid" in s else np.isfinite(img).all(axis=0)
        img[:, ~valid] = np.nan  # the raster's nodata (and anything not finite) becomes NaN
        cloud = None
        if qa is not None and src.qa is not None:
            from eokit.data.cloud import qa_cloud_mask

            cloud = qa_cloud_mask(qa.read(window=spec.window).array[0], src.qa.rules)
        scene = Path(names[min(spec.scene, len(names) - 1)])
        rel = scene.relative_to(data_root()).as_posix() if scene.is_relative_to(data_root()) else scene.as_posix()
        place = f"{src.name}:{rel}"
        yield Chip(image=img, sensor=get_sensor(src.sensor).name, bands=tuple(s["bands"]), source=src.name,
                   place=place, ident=f"{place}@{spec.row},{spec.col}", date=s.get("time"), qa_cloud=cloud)


def iter_chips(src: PretrainSource) -> Iterator[Chip]:
    """The chips of one source (training splits only)."""
    src.check_training_split()
    if src.kind == "scenes":
        yield from _scene_chips(src)
    else:
        yield from _dataset_chips(src)


def load_chips(sources: Sequence[PretrainSource]) -> list[Chip]:
    """Every chip of every source, in config order."""
    return [c for s in sources for c in iter_chips(s)]
