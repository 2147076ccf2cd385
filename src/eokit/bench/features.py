"""Feature extraction, once per (model, dataset, split, corruption, severity), cached on disk.

An *extractor* turns a raw image batch (dataset units) into a pooled vector
and a list of feature maps. Three kinds exist:

- ``backbone``: an ``eokit.models`` backbone, seeded random init or given
  weights, fed the suite's band selection ('all', 'rgb' or a list), inputs
  converted to reflectance and normalised with the backbone's own data contract;
- ``raw_pixels``: per-band means, standard deviations and a 4×4 average-pooled
  thumbnail (pooled) / the pixels themselves (maps) — the "does a model beat
  the pixels?" baseline; for pixel time series (N, T, C), the flattened series;
- ``spectral_indices``: NDVI, NDWI, MNDWI, NDBI, NBR, NDMI, EVI, SAVI, GNDVI
  (those the bands allow; ``eokit.sensors.spectral_index``) summarised by
  mean/std/percentiles, plus band means; for pixel time series, each index at
  every date, plus band means.

Pixel time-series encoders (``ArchSpec.input == "series"``) run only on pixel time
series, and image backbones only on images (:func:`applicable`).

Features are cached as safetensors files under ``cache_dir()/bench/features``,
keyed by the extractor's fingerprint (a hash of its config *and* of its weight
tensors) + the data split key + corruption + severity, and written atomically.
Adding a protocol, a fraction or a seed re-uses them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from eokit.bench.config import ModelCfg, stable_hash
from eokit.bench.data import SplitArrays
from eokit.env import cache_dir
from eokit.errors import BandError, ConfigError
from eokit.io import atomic_path
from eokit.models.engine import Engine, EngineOptions, GuardReport, build_engine, guarded

if TYPE_CHECKING:
    from eokit.models.backbone import Backbone

log = logging.getLogger(__name__)

FEATURES_VERSION = 1
INDEX_NAMES = ("NDVI", "NDWI", "MNDWI", "NDBI", "NBR", "NDMI", "EVI", "SAVI", "GNDVI")
DN_THRESHOLD = 10.0  # a 99th percentile above this means raw digital numbers, not reflectance
STATS = {"backbone_calls": 0, "feature_reads": 0}  # forward passes / feature files read in this process (tests)


@dataclass
class FeatureSet:
    """Features of one split: pooled (N, D) and maps [(N, C_i, h_i, w_i)] (+ second date for change)."""

    pooled: np.ndarray
    maps: list[np.ndarray]
    pooled2: np.ndarray | None = None
    maps2: list[np.ndarray] | None = None


# -- band selection and units ------------------------------------------------------------------

def select_bands(cfg: ModelCfg, bands: Sequence[str], sensor: str | None) -> list[int]:
    """Channel indices the model gets: 'all', 'rgb' (red, green, blue by common name) or explicit names."""
    from eokit.sensors import match_bands

    if cfg.bands == "all":
        return list(range(len(bands)))
    wanted = ["red", "green", "blue"] if cfg.bands == "rgb" else list(cfg.bands)
    return match_bands(wanted, list(bands), sensor, where="the dataset", what=f"model {cfg.name!r}")


def reflectance_scale(data: SplitArrays) -> tuple[float, float]:
    """(scale, offset) that bring ``data`` to reflectance-like units.

    The sensor's scale applies when the optical values look like raw DN (99th
    percentile > 10, as ``eokit.transforms.corruptions`` decides); data that a
    loader already scaled (e.g. GEO-Bench NAIP chips in 0-1) is left as it is.
    """
    from eokit.sensors import get_sensor

    if not data.sensor:
        return 1.0, 0.0
    s = get_sensor(data.sensor)
    if s.scale == 1.0 and s.offset == 0.0:
        return 1.0, 0.0
    sample = data.image[: min(len(data), 64)]
    p99 = float(np.nanpercentile(sample, 99)) if sample.size else 0.0
    return (float(s.scale), float(s.offset)) if p99 > DN_THRESHOLD else (1.0, 0.0)


# -- extractors --------------------------------------------------------------------------------

class Extractor:
    """Base: ``extract(x) -> (pooled, maps)`` on a raw batch (B, C, H, W) in dataset units."""

    fingerprint: str = ""
    model: torch.nn.Module | None = None
    num_features: int = 0

    def extract(self, x: torch.Tensor, maps: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError


def _create_backbone(arch: str, **kwargs: Any) -> Any:
    from eokit.models import create_backbone

    return create_backbone(arch, **kwargs)


def weights_problem(cfg: ModelCfg, allow_noncommercial: bool | None = None) -> str | None:
    """Why a backbone row cannot run here (its weights cannot be fetched, or their licence is excluded), or None.

    Published weights are downloaded now (once, into the cache), so a suite run offline says per model
    what is missing and where to place the file by hand, and still runs every other model.
    """
    if cfg.kind != "backbone" or not cfg.arch:
        return None
    from eokit.errors import DownloadError, ModelError
    from eokit.models.factory import check_license, resolve_spec, weights_path

    try:
        _, spec, path = resolve_spec(cfg.arch, cfg.weights)
        check_license(spec, allow_noncommercial)
        if path is not None and not path.exists():
            return f"weights file {str(path)!r} does not exist"
        if path is None and spec.source in ("url", "file"):
            weights_path(spec)
    except (ModelError, DownloadError) as exc:
        return str(exc)
    return None


def _forward(model: Any, x: torch.Tensor, bands: Sequence[str]) -> Any:
    """One backbone forward pass (counted; tests patch this to prove the cache is used)."""
    STATS["backbone_calls"] += 1
    return model(x, bands)


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer (name, shape, bytes)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class BackboneExtractor(Extractor):
    def __init__(self, cfg: ModelCfg, bands: Sequence[str], sensor: str | None, scale: tuple[float, float]) -> None:
        self.cfg = cfg
        self.index = select_bands(cfg, bands, sensor)
        self.bands = tuple(bands[i] for i in self.index)
        self.scale, self.offset = scale
        self.sensor = sensor
        torch.manual_seed(cfg.init_seed)
        self.model: Backbone = _create_backbone(cfg.arch or "", bands=self.bands, sensor=sensor, weights=cfg.weights, **cfg.options)
        self.model.eval()
        self.num_features = int(self.model.num_features)
        # the weights' own statistics, per band, in reflectance units; the dataset's scale takes it there
        contract = replace(self.model.data_contract, scale=self.scale, offset=self.offset)
        norm = contract.module()
        self.normalize = norm if norm is not None else torch.nn.Identity()
        self.engine = EngineOptions(cfg.engine, cfg.precision)
        self._runner: Engine | None = None  # the engine of the pooled features (None: torch fp32)
        self._engines: dict[tuple[int, ...], Engine | None] = {}
        self.engine_report: GuardReport | None = None
        self.state_dict_sha256 = weights_digest(self.model)  # the initial weights (the run card records it)
        key = {"kind": "backbone", "bands": self.bands, "sensor": sensor, "scale": scale,
               "cfg": cfg.model_dump(mode="json", exclude={"name", "role", "protocols"}),
               "weights": self.state_dict_sha256}
        if not self.engine.is_default:  # features of another engine are other features (fp32's keys unchanged)
            key["engine"] = self.engine.label
        self.fingerprint = stable_hash(key)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:  # pixel series (B, T, C): bands last; normalise as (B, C, T, 1)
            return self.normalize(x[..., self.index].transpose(1, 2)[..., None])[..., 0].transpose(1, 2)
        return self.normalize(x[:, self.index])

    def pooled(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of a raw batch through ``model`` (used by fine-tuning, with gradients)."""
        return model(self.prepare(x), self.bands).pooled

    def extract(self, x: torch.Tensor, maps: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Pooled features and feature maps; with ``cfg.engine``/``cfg.precision`` the pooled features
        come from that engine (guarded against fp32 on the first batch of each shape), maps from torch."""
        with torch.inference_mode():
            xp = self.prepare(x)
            if self.engine.is_default or maps or xp.ndim != 4:
                if not self.engine.is_default:
                    log.info("%s: dense feature maps (or a series) run in torch fp32, not %s", self.cfg.name,
                             self.engine.label)
                out = _forward(self.model, xp, self.bands)
                return out.pooled, list(out.maps)
            return self._engine_pooled(xp), []

    def _engine_pooled(self, xp: torch.Tensor) -> torch.Tensor:
        shape = tuple(xp.shape[1:])
        fp32 = PooledBackbone(self.model, self.bands)
        if shape not in self._engines:
            engine = build_engine(fp32, self.engine, shape=shape,
                                  calibration=xp.float().numpy() if self.engine.precision == "int8" else None)
            self.engine_report = guarded(fp32, engine, xp, self.engine, classifier=False)
            self._engines[shape] = None if self.engine_report.fell_back else engine
        runner = self._engines[shape]
        STATS["backbone_calls"] += 1
        return runner(xp) if runner is not None else fp32(xp)


class PooledBackbone(torch.nn.Module):
    """A backbone fed fixed ``bands`` as a (B, C, h, w) -> (B, D) module (what an inference engine exports)."""

    def __init__(self, model: torch.nn.Module, bands: Sequence[str]) -> None:
        super().__init__()
        self.model, self.bands = model, tuple(bands)

    def extra_repr(self) -> str:
        return f"bands={self.bands}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.bands).pooled  # type: ignore[no-any-return]


class RawPixelExtractor(Extractor):
    def __init__(self, cfg: ModelCfg, bands: Sequence[str], sensor: str | None, scale: tuple[float, float]) -> None:
        self.index = select_bands(cfg, bands, sensor)
        self.scale, self.offset = scale
        self.fingerprint = stable_hash({"kind": "raw_pixels", "v": 1, "index": self.index, "scale": scale})

    def extract(self, x: torch.Tensor, maps: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if x.ndim == 3:  # pixel time series (B, T, C): every value of the series
            pooled = (x[..., self.index] * self.scale + self.offset).flatten(1)
            self.num_features = pooled.shape[1]
            return pooled, []
        x = x[:, self.index] * self.scale + self.offset
        thumb = F.adaptive_avg_pool2d(x, 4).flatten(1)
        pooled = torch.cat([x.mean((2, 3)), x.std((2, 3)), thumb], 1)
        self.num_features = pooled.shape[1]
        return pooled, [x]


class SpectralIndexExtractor(Extractor):
    def __init__(self, cfg: ModelCfg, bands: Sequence[str], sensor: str | None, scale: tuple[float, float]) -> None:
        from eokit.sensors import spectral_index

        self.bands = tuple(bands)
        self.sensor = sensor
        self.scale, self.offset = scale
        probe = np.ones((len(bands), 2, 2), dtype=np.float32)
        self.indices = []
        for name in INDEX_NAMES:
            try:
                spectral_index(name, probe, self.bands, sensor)
                self.indices.append(name)
            except BandError:
                continue
        if not self.indices:
            raise BandError(f"no spectral index can be computed from bands {list(bands)} (sensor {sensor!r})")
        self.fingerprint = stable_hash({"kind": "spectral_indices", "v": 1, "indices": self.indices,
                                        "bands": self.bands, "sensor": sensor, "scale": scale})

    def extract(self, x: torch.Tensor, maps: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        from eokit.sensors import spectral_index

        refl = (x * self.scale + self.offset).numpy()
        if refl.ndim == 3:  # pixel time series (B, T, C): each index at every date, plus band means
            series = np.stack([spectral_index(n, np.moveaxis(refl, -1, 0), self.bands, self.sensor)
                               for n in self.indices], 1)  # (B, n, T)
            series = np.clip(np.nan_to_num(series, nan=0.0, posinf=0.0, neginf=0.0), -10, 10)
            pooled = np.concatenate([series.reshape(len(refl), -1), refl.mean(1)], 1).astype(np.float32)
            self.num_features = pooled.shape[1]
            return torch.from_numpy(pooled), []
        chans = np.moveaxis(refl, 1, 0)  # (C, B, H, W)
        idx = np.stack([spectral_index(n, chans, self.bands, self.sensor) for n in self.indices], 1)
        idx = np.clip(np.nan_to_num(idx, nan=0.0, posinf=0.0, neginf=0.0), -10, 10)
        flat = idx.reshape(idx.shape[0], idx.shape[1], -1)
        stats = [flat.mean(-1), flat.std(-1), *np.percentile(flat, [10, 50, 90], axis=-1)]
        pooled = np.concatenate([*stats, refl.mean((2, 3))], 1).astype(np.float32)
        self.num_features = pooled.shape[1]
        dense = np.concatenate([idx, refl], 1).astype(np.float32)
        return torch.from_numpy(pooled), [torch.from_numpy(dense)]


def make_extractor(cfg: ModelCfg, data: SplitArrays) -> Extractor:
    """The extractor of model ``cfg`` for the bands/sensor/units of ``data``."""
    scale = reflectance_scale(data)
    if cfg.kind == "backbone":
        return BackboneExtractor(cfg, data.bands, data.sensor, scale)
    if cfg.kind == "raw_pixels":
        return RawPixelExtractor(cfg, data.bands, data.sensor, scale)
    if cfg.kind == "spectral_indices":
        return SpectralIndexExtractor(cfg, data.bands, data.sensor, scale)
    raise ConfigError(f"model {cfg.name!r}: unknown kind {cfg.kind!r}")


def series_model(cfg: ModelCfg) -> bool:
    """``cfg`` is a pixel time-series encoder (``ArchSpec.input == 'series'``: tempcnn, ltae, ...)."""
    if cfg.kind != "backbone" or not cfg.arch:
        return False
    from eokit.models.registry import get_arch, split_name

    return get_arch(split_name(cfg.arch)[0]).input == "series"


def applicable(cfg: ModelCfg, data: SplitArrays) -> str | None:
    """None if ``cfg`` can run on ``data``, else the reason why not."""
    if series_model(cfg) and not data.series:
        return f"{cfg.arch} encodes pixel time series (N, T, C); this dataset has images {tuple(data.image.shape[1:])}"
    if cfg.kind == "backbone" and data.series and not series_model(cfg):
        return (f"{cfg.arch} is an image backbone; this dataset has pixel time series "
                f"{tuple(data.image.shape[1:])} (T, C): use a series encoder (tempcnn, ltae, temporal_transformer)")
    try:
        if cfg.kind == "spectral_indices":
            SpectralIndexExtractor(cfg, data.bands, data.sensor, (1.0, 0.0))
        else:
            select_bands(cfg, data.bands, data.sensor)
    except BandError as exc:
        return str(exc)
    return None


# -- extraction with corruption and caching ---------------------------------------------------------

def feature_path(fingerprint: str, data_key: str, corruption: str, severity: int, dense: bool) -> Path:
    key = stable_hash({"v": FEATURES_VERSION, "model": fingerprint, "data": data_key, "corruption": corruption,
                       "severity": severity, "dense": dense})
    return cache_dir() / "bench" / "features" / f"{key}.safetensors"


def corrupt_batch(x: np.ndarray, data: SplitArrays, corruption: str, severity: int, start: int, seed_offset: int = 0) -> np.ndarray:
    """Corrupt each image of a batch with its own seed (index in the split), in the dataset's units."""
    if corruption == "none":
        return x
    from eokit.transforms.corruptions import corrupt

    return np.stack([corrupt(img, corruption, severity, bands=data.bands, sensor=data.sensor,
                             seed=(start + i) * 2 + seed_offset) for i, img in enumerate(x)])


def corrupted_images(images: np.ndarray, data: SplitArrays, corruption: str, severity: int, seed_offset: int) -> np.ndarray:
    """The whole split under a corruption, cached on disk (shared by every model of the suite)."""
    if corruption == "none":
        return images
    path = cache_dir() / "bench" / "corrupted" / (
        stable_hash({"data": data.key, "c": corruption, "s": severity, "o": seed_offset}) + ".npy")
    if path.exists():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.shape == images.shape:
                return arr
        except (OSError, ValueError) as exc:
            log.warning("recomputing damaged corrupted-image cache %s: %s", path, exc)
    arr = corrupt_batch(images, data, corruption, severity, 0, seed_offset).astype(np.float32)
    with atomic_path(path, suffix=".npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    return arr


def _run(extractor: Extractor, images: np.ndarray, data: SplitArrays, corruption: str, severity: int,
         batch_size: int, dense: bool, seed_offset: int) -> tuple[np.ndarray, list[np.ndarray]]:
    pooled, maps = [], []
    images = corrupted_images(images, data, corruption, severity, seed_offset)
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        p, m = extractor.extract(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), maps=dense)
        pooled.append(p.float().numpy())
        if dense:
            maps.append([t.to(torch.float16).numpy() for t in m])
    out_maps = [np.concatenate([b[j] for b in maps]) for j in range(len(maps[0]))] if dense else []
    return np.concatenate(pooled), out_maps


def save_features(path: Path, fs: FeatureSet) -> None:
    from safetensors.numpy import save_file

    tensors = {"pooled": np.ascontiguousarray(fs.pooled)}
    for j, m in enumerate(fs.maps):
        tensors[f"map{j}"] = np.ascontiguousarray(m)
    if fs.pooled2 is not None:
        tensors["second_pooled"] = np.ascontiguousarray(fs.pooled2)
        for j, m in enumerate(fs.maps2 or []):
            tensors[f"second_map{j}"] = np.ascontiguousarray(m)
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "eokit-bench-features", "v": str(FEATURES_VERSION)})


_MEMO: OrderedDict[tuple[str, int, int], FeatureSet] = OrderedDict()
MEMO_BYTES = 512 * 2**20
"""Feature sets kept in memory per process: the eval jobs of one (model, dataset) — every
protocol, fraction and seed — read the same files, one after another on a worker."""


def _nbytes(fs: FeatureSet) -> int:
    arrays = [fs.pooled, *fs.maps, *([fs.pooled2] if fs.pooled2 is not None else []), *(fs.maps2 or [])]
    return sum(a.nbytes for a in arrays)


def load_features(path: str | Path) -> FeatureSet:
    """The feature set stored at ``path``, read-only (kept in a per-process LRU; keyed by path,
    size and mtime, so a rewritten file is read again)."""
    from safetensors.numpy import load_file

    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    STATS["feature_reads"] += 1
    t = load_file(str(path))
    for a in t.values():
        a.flags.writeable = False
    maps = [t[f"map{j}"] for j in range(sum(k.startswith("map") for k in t))]
    maps2 = [t[f"second_map{j}"] for j in range(sum(k.startswith("second_map") for k in t))]
    fs = FeatureSet(t["pooled"], maps, t.get("second_pooled"), maps2 or None)
    if _nbytes(fs) <= MEMO_BYTES:
        _MEMO[key] = fs
        while sum(_nbytes(v) for v in _MEMO.values()) > MEMO_BYTES:
            _MEMO.popitem(last=False)
    return fs


def _readable(path: Path) -> bool:
    """A complete eokit feature file (header and sizes checked without reading the tensors)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "np") as f:
            return "pooled" in list(f.keys()) and (f.metadata() or {}).get("format") == "eokit-bench-features"
    except Exception as exc:
        log.warning("recomputing damaged feature cache %s: %s", path, exc)
        return False


def extract_features(extractor: Extractor, data: SplitArrays, corruption: str = "none", severity: int = 0,
                     batch_size: int = 64, on_compute: Callable[[], None] | None = None) -> Path:
    """Path of the cached features of ``data`` under ``corruption``; computed and stored when missing."""
    dense = data.task.dense
    path = feature_path(extractor.fingerprint, data.key, corruption, severity, dense)
    if path.exists() and _readable(path):
        return path
    if on_compute:
        on_compute()
    pooled, maps = _run(extractor, data.image, data, corruption, severity, batch_size, dense, 0)
    fs = FeatureSet(pooled, maps)
    if data.image2 is not None:
        fs.pooled2, fs.maps2 = _run(extractor, data.image2, data, corruption, severity, batch_size, dense, 1)
    save_features(path, fs)
    return path
