"""Satellite image time series: eo-learn EOPatches, PASTIS patches, multi-date raster stacks.

Samples hold ``image`` (T, C, H, W) float32, ``dates`` (one ISO string per
time step), ``doy`` (T,) int64 day of year and ``time_mask`` (T,) bool (False on
padded steps; see :func:`time_axis`); ``time`` is the first date. ``n_dates=``
fits every series to one T so that patches with different date counts batch.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from rasterio.transform import from_bounds

from eokit.data.collection import parse_time
from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, Download, EODataset, register
from eokit.datasets.catalog._util import (
    IGNORE_INDEX,
    check_same_grid,
    geo_meta,
    image_tensor,
    mask_tensor,
    split_ids,
)
from eokit.errors import DatasetError, EokitError
from eokit.io import GridSpec, open_raster
from eokit.sensors import get_sensor
from eokit.tasktype import TaskType

S2_L1C = get_sensor("sentinel2_l1c").band_names
LULC_CLASSES = (
    "no data", "cultivated land", "forest", "grassland", "shrubland", "water", "wetland", "tundra",
    "artificial surface", "bareland", "snow and ice",
)


def load_npy(path: Path) -> np.ndarray:
    """A ``.npy`` or ``.npy.gz`` array; object arrays (pickles) are refused."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return np.load(fh, allow_pickle=False)
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DatasetError(f"{str(path)!r}: {exc} (eokit never loads pickled object arrays)") from exc
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{str(path)!r} is not a readable .npy array: {exc}") from exc


def npy_shape(path: Path) -> tuple[int, ...]:
    """Shape of a ``.npy``/``.npy.gz`` array, read from the header where possible."""
    if path.suffix != ".npy":
        return load_npy(path).shape
    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
    except (ValueError, OSError) as exc:
        raise DatasetError(f"{str(path)!r} is not a readable .npy array: {exc}") from exc
    if dtype.hasobject:
        raise DatasetError(f"{str(path)!r} holds Python objects (a pickle); eokit never loads those")
    return tuple(shape)


def _windows(h: int, w: int, size: int | None) -> list[tuple[int, int, int, int]]:
    if size is None:
        return [(0, 0, w, h)]
    return [(x, y, size, size) for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)]


def _split_items(name: str, items: list[Any], split: str, key: Any) -> list[Any]:
    if split == "all":
        return items
    ids = [key(it) for it in items]
    keep = set(split_ids(name, ids, split))
    return [it for it, i in zip(items, ids, strict=True) if i in keep]


def time_axis(image: np.ndarray, dates: Sequence[str], where: str, n_dates: int | None = None
              ) -> tuple[np.ndarray, Sample]:
    """``image`` (T, ...) fitted to ``n_dates`` and its ``doy``/``time_mask``/``dates`` Sample keys.

    With ``n_dates`` below T, that many dates evenly spread over the series are kept; above T,
    the series is padded at the end with zeros whose ``time_mask`` is False (``doy`` 0, date
    None): padding is marked, never passed off as data. Without dates ``doy`` is None.
    """
    t = image.shape[0]
    doy: list[int] | None = None
    if dates:
        doy = []
        for d in dates:
            try:
                doy.append(parse_time(d).timetuple().tm_yday)
            except EokitError:
                raise DatasetError(
                    f"{where}: date {d!r} is not a date; write ISO 8601 dates ('2018-09-01' or "
                    "'2018-09-01T10:30:00') or YYYYMMDD"
                ) from None
    out_dates: list[str | None] = list(dates) if dates else [None] * t
    mask = [True] * t
    if n_dates is not None and n_dates != t:
        if n_dates < 1:
            raise DatasetError(f"{where}: n_dates must be at least 1, got {n_dates}")
        if n_dates < t:
            keep = np.linspace(0, t - 1, n_dates).round().astype(int)
            image = image[keep]
            out_dates, mask = [out_dates[k] for k in keep], [True] * n_dates
            doy = [doy[k] for k in keep] if doy is not None else None
        else:
            pad = np.zeros((n_dates - t, *image.shape[1:]), dtype=image.dtype)
            image = np.concatenate([image, pad])
            out_dates += [None] * (n_dates - t)
            mask += [False] * (n_dates - t)
            doy = doy + [0] * (n_dates - t) if doy is not None else None
    fields: Sample = {
        "doy": torch.tensor(doy, dtype=torch.int64) if doy is not None else None,
        "time_mask": torch.tensor(mask, dtype=torch.bool),
        "dates": out_dates,
    }
    return image, fields


# --------------------------------------------------------------------------- eo-learn EOPatch
@register
class EOPatchSeries(EODataset):
    """eo-learn EOPatch folders: ``data/<FEATURE>.npy`` (T, H, W, C) stacked to (T, C, H, W).

    ``root`` is one EOPatch (a folder with ``timestamps.json``) or a folder of
    them. ``features`` picks the ``data/`` features (default: all, sorted);
    a 13-channel ``BANDS*`` feature is named with Sentinel-2 L1C bands, a
    single-channel feature by its own name, others ``<FEATURE>_<i>``.
    ``mask_feature`` (default ``LULC`` in ``mask_timeless/``) gives the (H, W)
    mask (eo-learn LULC codes, 0 = no data). ``chip_size`` tiles each patch;
    ``n_dates`` fits the series to T dates (:func:`time_axis`). ``cloud_mask`` (e.g. ``'CLM'`` in
    ``mask/``, 1 = cloud) marks cloudy pixels False in ``valid`` (T, H, W) and a date cloudy over
    the whole chip False in ``time_mask``: its pixels stay as observed, never filled.
    Arrays are read with ``allow_pickle=False``; the legacy ``timestamp.pkl``
    is not read.
    """

    spec = DatasetSpec(
        name="eopatch",
        task=TaskType.TIMESERIES_SEGMENTATION,
        sensor="sentinel2_l1c",
        bands=S2_L1C,
        classes=LULC_CLASSES,
        splits=("all", "train", "val", "test"),
        folder="eopatch",
        layout="<patch>/data/<FEATURE>.npy[.gz] (T,H,W,C), <patch>/mask_timeless/LULC.npy (H,W,1), "
        "<patch>/timestamps.json, <patch>/bbox.geojson",
        downloads=(),
        license="MIT (eo-learn example data); Copernicus Sentinel data",
        citation="Sinergise, eo-learn: Earth observation processing framework for machine learning "
        "in Python, https://github.com/sentinel-hub/eo-learn",
        size="any number of EOPatches (the Slovenia example: 101x100 px, 68 dates)",
        tags=frozenset({"gsd>=10", "multispectral", "temporal", "pixelwise"}),
        gsd=10.0,
        split_policy="'all', or a seeded (seed 0) 70/10/20 split over patch/chip ids",
        homepage="https://eo-learn.readthedocs.io/",
    )

    def __init__(
        self,
        *args: Any,
        features: Sequence[str] | None = None,
        mask_feature: str | None = "LULC",
        chip_size: int | None = None,
        n_dates: int | None = None,
        cloud_mask: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.n_dates = n_dates
        self.cloud_mask = cloud_mask
        self.features = tuple(features) if features else None
        self.mask_feature = mask_feature
        self.chip_size = chip_size
        super().__init__(*args, **kwargs)

    def _patches(self) -> list[Path]:
        if (self.root / "timestamps.json").exists() or (self.root / "data").is_dir():
            return [self.root]
        out = sorted(p for p in self.root.iterdir() if p.is_dir() and (p / "data").is_dir())
        if not out:
            raise DatasetError(f"eopatch: {str(self.root)!r} is neither an EOPatch nor a folder of EOPatches")
        return out

    def _index(self) -> list[tuple[Path, tuple[int, int, int, int]]]:
        items = []
        for patch in self._patches():
            arrays = self._feature_files(patch)
            shape = npy_shape(arrays[0][1])
            if len(shape) != 4:
                raise DatasetError(f"{str(arrays[0][1])!r} has shape {shape}, not (T, H, W, C)")
            h, w = shape[1:3]
            items += [(patch, win) for win in _windows(h, w, self.chip_size)]
        return _split_items(self.spec.name, items, self.split, lambda it: f"{it[0].name}:{it[1]}")

    def _feature_files(self, patch: Path) -> list[tuple[str, Path]]:
        files = {re.sub(r"\.npy(\.gz)?$", "", p.name): p for p in sorted((patch / "data").glob("*.npy*"))}
        names = self.features or tuple(sorted(files))
        missing = [n for n in names if n not in files]
        if missing or not names:
            raise DatasetError(
                f"eopatch: {str(patch / 'data')!r} lacks features {missing or 'any'}; it has {sorted(files)}"
            )
        return [(n, files[n]) for n in names]

    def describe(self, item: Any) -> str:
        return f"{str(item[0])!r} window {item[1]}"

    def _load(self, item: tuple[Path, tuple[int, int, int, int]]) -> Sample:
        patch, (x, y, w, h) = item
        layers, bands = [], []
        t = None
        for name, path in self._feature_files(patch):
            a = load_npy(path)
            if a.ndim != 4 or (t is not None and a.shape[0] != t):
                raise DatasetError(f"{str(path)!r} has shape {a.shape}; expected (T={t or 'T'}, H, W, C)")
            t = a.shape[0]
            c = a.shape[3]
            layers.append(np.moveaxis(a[:, y : y + h, x : x + w, :], -1, 1))
            if c == 13 and name.upper().startswith("BANDS"):
                bands += list(S2_L1C)
            elif c == 1:
                bands.append(name)
            else:
                bands += [f"{name}_{i}" for i in range(c)]
        image = np.concatenate(layers, axis=1)
        full_h, full_w = a.shape[1:3]
        dates = self._dates(patch, image.shape[0])
        clouds = self._clouds(patch, image.shape[0], (full_h, full_w), (x, y, w, h)) if self.cloud_mask else None
        if clouds is not None:  # cloudy pixels travel as a channel through time_axis, then become `valid`
            image = np.concatenate([image, clouds[:, None].astype(image.dtype)], axis=1)
        image, time_fields = time_axis(image, dates, f"{str(patch / 'timestamps.json')!r}", self.n_dates)
        if clouds is not None:
            valid = (image[:, -1] == 0) & time_fields["time_mask"].numpy()[:, None, None]
            image = image[:, :-1]
            time_fields["valid"] = torch.from_numpy(np.ascontiguousarray(valid))
            time_fields["time_mask"] = torch.from_numpy(valid.reshape(len(valid), -1).any(axis=1))
        sample: Sample = {
            "image": image_tensor(image),
            "bands": tuple(bands),
            "sensor": "sentinel2_l1c" if all(b in S2_L1C for b in bands) else None,
            **geo_meta(self._grid(patch, (full_h, full_w), (x, y, w, h))),
            "time": dates[0] if dates else None,
            **time_fields,
            "id": f"{patch.name}:{x},{y}",
            "path": str(patch),
        }
        if self.mask_feature:
            mpath = next(iter(sorted((patch / "mask_timeless").glob(f"{self.mask_feature}.npy*"))), None)
            if mpath is None:
                raise DatasetError(f"eopatch: {str(patch)!r} has no mask_timeless/{self.mask_feature}.npy")
            m = load_npy(mpath)
            if m.shape[:2] != (full_h, full_w):
                raise DatasetError(
                    f"{str(mpath)!r} is {m.shape[:2]} but the data features are {(full_h, full_w)}; "
                    "labels must share the image grid"
                )
            sample["mask"] = mask_tensor(m[y : y + h, x : x + w, 0] if m.ndim == 3 else m[y : y + h, x : x + w])
        return sample

    def _clouds(self, patch: Path, t: int, full: tuple[int, int], window: tuple[int, int, int, int]) -> np.ndarray:
        """(T, h, w) bool: True where ``mask/<cloud_mask>.npy`` (eo-learn CLM: 1 = cloud) flags the pixel."""
        path = next(iter(sorted((patch / "mask").glob(f"{self.cloud_mask}.npy*"))), None)
        if path is None:
            have = sorted(p.name for p in (patch / "mask").glob("*.npy*"))
            raise DatasetError(f"eopatch: {str(patch / 'mask')!r} has no {self.cloud_mask}.npy (it has {have}); "
                               "pass cloud_mask= one of those, or None")
        m = load_npy(path)
        if m.ndim != 4 or m.shape[:3] != (t, *full):
            raise DatasetError(f"{str(path)!r} has shape {m.shape}; a cloud mask is (T={t}, {full[0]}, {full[1]}, 1)")
        x, y, w, h = window
        return m[:, y : y + h, x : x + w, 0] != 0

    @staticmethod
    def _dates(patch: Path, t: int) -> list[str]:
        path = patch / "timestamps.json"
        if not path.exists():
            return []
        try:
            dates = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{str(path)!r} is not valid JSON ({exc}); it should list one ISO date per "
                               "time step") from None
        if not isinstance(dates, list) or len(dates) != t:
            n = len(dates) if isinstance(dates, list) else type(dates).__name__
            raise DatasetError(f"{str(path)!r} lists {n} dates but the data has {t} time steps; "
                               "give one date per time step")
        return [str(d) for d in dates]

    @staticmethod
    def _grid(patch: Path, full: tuple[int, int], window: tuple[int, int, int, int]) -> GridSpec | None:
        """The chip's grid from ``bbox.geojson`` (bbox + CRS) and the full array size."""
        from rasterio.windows import Window

        path = patch / "bbox.geojson"
        if not path.exists():
            return None
        geo = json.loads(path.read_text())
        m = re.search(r"EPSG::?(\d+)", geo.get("crs", {}).get("properties", {}).get("name", ""))
        if not m:
            return None
        xs = [p[0] for p in geo["coordinates"][0]]
        ys = [p[1] for p in geo["coordinates"][0]]
        hh, ww = full
        grid = GridSpec(f"EPSG:{m.group(1)}", from_bounds(min(xs), min(ys), max(xs), max(ys), ww, hh), hh, ww)
        return grid.window_grid(Window(*window))


# --------------------------------------------------------------------------- PASTIS
PASTIS_BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
PASTIS_CLASSES = (
    "background", "meadow", "soft winter wheat", "corn", "winter barley", "winter rapeseed",
    "spring barley", "sunflower", "grapevine", "beet", "winter triticale", "winter durum wheat",
    "fruits, vegetables, flowers", "potatoes", "leguminous fodder", "soybeans", "orchard",
    "mixed cereal", "sorghum",
)
PASTIS_VOID = 19


@register
class Pastis(EODataset):
    """PASTIS: Sentinel-2 time series (T, 10, 128, 128) of French parcels, 18 crop classes.

    Reads ``DATA_S2/S2_<id>.npy``, ``ANNOTATIONS/TARGET_<id>.npy`` (channel 0 =
    semantic class; 19 = void -> ``ignore_index`` -1) and ``metadata.geojson``
    (``ID_PATCH``, ``Fold``, ``dates-S2`` as YYYYMMDD). Folds follow the
    benchmark: train 1-3, val 4, test 5 (``folds=`` overrides). Patches have 38-61 dates:
    ``n_dates`` fits them to one T (padding masked in ``time_mask``) so they batch.
    """

    ignore_index = IGNORE_INDEX
    spec = DatasetSpec(
        name="pastis",
        task=TaskType.TIMESERIES_SEGMENTATION,
        sensor="sentinel2_l2a",
        bands=PASTIS_BANDS,
        classes=PASTIS_CLASSES,
        splits=("train", "val", "test"),
        folder="pastis",
        layout="metadata.geojson, DATA_S2/S2_<id>.npy (T,10,128,128 int16), "
        "ANNOTATIONS/TARGET_<id>.npy (3,128,128 uint8; [0] = class, 19 void), NORM_S2_patch.json",
        downloads=(),
        license="CC BY 4.0",
        citation="Sainte Fare Garnot & Landrieu, Panoptic Segmentation of Satellite Image Time "
        "Series with Convolutional Temporal Attention Networks, ICCV 2021",
        size="2,433 patches of 128x128 px, 38-61 dates, ~29 GB",
        tags=frozenset({"gsd>=10", "multispectral", "temporal", "pixelwise"}),
        gsd=10.0,
        split_policy="official 5 folds from metadata.geojson: train folds 1-3, val 4, test 5",
        homepage="https://github.com/VSainteuf/pastis-benchmark",
    )
    default_folds: ClassVar[dict[str, tuple[int, ...]]] = {"train": (1, 2, 3), "val": (4,), "test": (5,)}

    def __init__(self, *args: Any, folds: Sequence[int] | None = None, n_dates: int | None = None,
                 **kwargs: Any) -> None:
        self.folds = tuple(folds) if folds else None
        self.n_dates = n_dates
        super().__init__(*args, **kwargs)

    def _index(self) -> list[dict[str, Any]]:
        meta = self.root / "metadata.geojson"
        if not meta.exists():
            raise DatasetError(f"pastis: {str(meta)!r} is missing")
        folds = self.folds or self.default_folds[self.split]
        feats = json.loads(meta.read_text()).get("features", [])
        return [f for f in feats if int(f["properties"]["Fold"]) in folds]

    def describe(self, item: dict[str, Any]) -> str:
        return f"patch {item['properties'].get('ID_PATCH')} in {str(self.root)!r}"

    def _load(self, feat: dict[str, Any]) -> Sample:
        props = feat["properties"]
        pid = props["ID_PATCH"]
        img_path = self.root / "DATA_S2" / f"S2_{pid}.npy"
        tgt_path = self.root / "ANNOTATIONS" / f"TARGET_{pid}.npy"
        image = load_npy(img_path)
        target = load_npy(tgt_path)
        if image.ndim != 4 or image.shape[1] != len(PASTIS_BANDS):
            raise DatasetError(f"{str(img_path)!r} has shape {image.shape}, expected (T, 10, H, W)")
        if target.shape[-2:] != image.shape[-2:]:
            raise DatasetError(
                f"{str(tgt_path)!r} is {target.shape[-2:]} but {str(img_path)!r} is {image.shape[-2:]}; "
                "labels must share the image grid"
            )
        mask = (target[0] if target.ndim == 3 else target).astype(np.int64)
        mask[mask == PASTIS_VOID] = IGNORE_INDEX
        raw = props.get("dates-S2", {})
        where = f"pastis: patch {pid} in {str(self.root / 'metadata.geojson')!r}"
        try:
            raw = json.loads(raw) if isinstance(raw, str) else raw
            dates = [_yyyymmdd(raw[k]) for k in sorted(raw, key=int)]
        except (ValueError, TypeError, AttributeError):
            raise DatasetError(
                f"{where}: dates-S2 {str(raw)[:80]!r} is not a mapping of step -> YYYYMMDD date; "
                "write it as {\"0\": 20180924, \"1\": 20181004, ...}"
            ) from None
        if dates and len(dates) != image.shape[0]:
            raise DatasetError(f"pastis: patch {pid} has {image.shape[0]} images but {len(dates)} dates")
        grid = None
        coords = (feat.get("geometry") or {}).get("coordinates")
        if coords:
            xs = [p[0] for p in coords[0]]
            ys = [p[1] for p in coords[0]]
            h, w = image.shape[-2:]
            grid = GridSpec("EPSG:2154", from_bounds(min(xs), min(ys), max(xs), max(ys), w, h), h, w)
        image, time_fields = time_axis(image, dates, where, self.n_dates)
        return {
            "image": image_tensor(image),
            "mask": mask_tensor(mask),
            "bands": PASTIS_BANDS,
            "sensor": "sentinel2_l2a",
            **geo_meta(grid),
            "time": dates[0] if dates else None,
            **time_fields,
            "id": str(pid),
            "path": str(img_path),
        }


def _yyyymmdd(v: Any) -> str:
    s = str(int(v))
    if len(s) != 8:
        raise ValueError(f"{v!r} is not YYYYMMDD")
    return date(int(s[:4]), int(s[4:6]), int(s[6:8])).isoformat()


# --------------------------------------------------------------------------- multi-date stacks
DATE_TOKEN = re.compile(r"(?<!\d)(\d{4})(?:[-_]?(\d{2})[-_]?(\d{2}))?(?!\d)")


@register
class MultiDateStack(EODataset):
    """Generic reader: one raster per date on a common grid -> (T, C, H, W) chips.

    Dates come from a year or date token in each file name (``1985.tif``,
    ``S2_2021-06-01.tif``; a year alone is dated 1 January, so ``doy`` is 1); files are
    ordered by date. ``mask`` names an optional
    label raster on the same grid (-> ``mask``). ``chip_size`` tiles the stack;
    ``split="all"`` keeps every chip, train/val/test are a seeded 70/10/20 split.
    """

    spec = DatasetSpec.generic(
        "multidate_stack", "timeseries_segmentation",
        "<folder>/<date or year>.tif (same grid and bands), optional label raster",
        {"gsd>=10", "multispectral", "temporal", "pixelwise"}, classes=("background", "foreground"),
    )

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        *,
        pattern: str = "*.tif",
        band_names: Sequence[str] | None = None,
        sensor: str | None = None,
        mask: str | Path | None = None,
        chip_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.pattern = pattern
        self.band_names = tuple(band_names) if band_names else None
        self.sensor = sensor
        self.mask_path = Path(root) / mask if mask is not None else None
        self.chip_size = chip_size
        super().__init__(root, split, **kwargs)

    def _index(self) -> list[tuple[int, int, int, int]]:
        dated = []
        for p in sorted(self.root.glob(self.pattern)):
            if self.mask_path is not None and p.resolve() == self.mask_path.resolve():
                continue
            m = DATE_TOKEN.search(p.stem)
            if m:
                dated.append((date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)).isoformat(), p))
        if len(dated) < 2:
            raise DatasetError(
                f"multidate_stack: need at least 2 dated rasters matching {self.pattern!r} in {str(self.root)!r}, "
                f"found {[str(p) for _, p in dated]}"
            )
        dated.sort()
        self.files = dated
        ref = open_raster(dated[0][1])
        for _, p in dated[1:]:
            check_same_grid(ref.grid, open_raster(p).grid, dated[0][1], p)
        if self.mask_path is not None:
            check_same_grid(ref.grid, open_raster(self.mask_path).grid, dated[0][1], self.mask_path)
        items = _windows(ref.grid.height, ref.grid.width, self.chip_size)
        return _split_items(self.spec.name, items, self.split, lambda w: f"{self.root.name}:{w}")

    def _load(self, window: tuple[int, int, int, int]) -> Sample:
        frames, grid, bands = [], None, None
        for _, p in self.files:
            chip = open_raster(p, band_names=self.band_names, sensor=self.sensor).read(window)
            frames.append(chip.array)
            grid, bands = grid or chip.grid, bands or chip.bands
        image, time_fields = time_axis(np.stack(frames), [d for d, _ in self.files], repr(str(self.root)))
        sample: Sample = {
            "image": image_tensor(image),
            "bands": bands,
            "sensor": self.sensor,
            **geo_meta(grid),
            "time": self.files[0][0],
            **time_fields,
            "id": f"{self.root.name}:{window[0]},{window[1]}",
            "path": str(self.root),
        }
        if self.mask_path is not None:
            sample["mask"] = mask_tensor(open_raster(self.mask_path).read(window, dtype=None).array[0])
        return sample


# --------------------------------------------------------------------------- TempCNN Formosat-2
TEMPCNN_CLASSES = (
    "wheat", "barley", "rapeseed", "corn", "soy", "sunflower", "sorghum", "pea", "grassland",
    "deciduous", "conifer", "water", "urban",
)  # fmt: skip
TEMPCNN_COMMIT = "d081da2f6eef19f36b5517549eab3bbbedd18598"
TEMPCNN_RAW = f"https://raw.githubusercontent.com/charlotte-pel/temporalCNN/{TEMPCNN_COMMIT}/"


@register
class TempCNNFormosat2(EODataset):
    """Formosat-2 pixel time series of the TempCNN paper: 149 dates x (NIR, R, G), 13 classes.

    Reads the authors' CSVs as shipped (``example/{train,test}_dataset.csv``, no header; a row is
    ``class, polygonID, d1.NIR, d1.R, d1.G, ..., d149.G``). A sample is one pixel series:
    ``image`` (T=149, C=3, 1, 1) float32 (``image[:, :, 0, 0]`` is the T x C series), ``label``
    (0..12), ``polygon`` (the plot id; train and test share none). The CSVs carry no dates (the
    series are gap-filled onto a regular grid by the authors): ``dates`` is None unless passed
    as ``dates=`` (149 ISO dates), which also fills ``doy`` (day of year per step).
    """

    spec = DatasetSpec(
        name="tempcnn_formosat2",
        task=TaskType.TIMESERIES_CLASSIFICATION,
        sensor="formosat2",
        bands=("B4", "B3", "B2"),  # NIR, red, green: the CSV's order per date
        classes=TEMPCNN_CLASSES,
        splits=("train", "test"),
        folder="tempcnn_formosat2",
        layout="example/train_dataset.csv, example/test_dataset.csv (no header; class 0..12, polygonID, "
        "149 x (NIR, R, G)), map/class_map.txt (value = class + 1, name, colour)",
        downloads=(
            Download(TEMPCNN_RAW + "example/train_dataset.csv", "example/train_dataset.csv",
                     sha256="06936ce3cb79666403fbc2dbe55dfe6af766864bd6a145a19159100b600f3fa1"),
            Download(TEMPCNN_RAW + "example/test_dataset.csv", "example/test_dataset.csv",
                     sha256="414c4d7eab67f680ce2d81138d92bdfe2c0c5f8644da6d6a08399deb05eb9328"),
            Download(TEMPCNN_RAW + "map/class_map.txt", "map/class_map.txt",
                     sha256="a6068be38b3ef860bbe73e2e992cd076b9be8d84b16995fc3653bab853d4e928"),
        ),
        license="GPL-3.0 (the temporalCNN repository, which ships these example files)",
        citation="Pelletier, Webb and Petitjean, Temporal convolutional neural network for the classification "
        "of satellite image time series, Remote Sensing 11(5):523, 2019",
        size="2 MB: 260 train + 260 test pixel series (20 per class), 149 dates x 3 bands",
        tags=frozenset({"gsd<10", "rgbn", "temporal"}),
        gsd=8.0,
        split_policy="the official train/test CSVs as shipped (260/260, 20 per class; no polygon in both)",
        description="Formosat-2 (2006, gap-filled) pixel series of crop and land-cover classes",
        homepage="https://github.com/charlotte-pel/temporalCNN",
        mirror="timeseries/tempcnn_formosat2",
    )
    N_DATES = 149
    FILES: ClassVar[dict[str, str]] = {"train": "example/train_dataset.csv", "test": "example/test_dataset.csv"}

    def __init__(self, *args: Any, dates: Sequence[str | date] | None = None, **kwargs: Any) -> None:
        if dates is not None and len(dates) != self.N_DATES:
            raise DatasetError(f"tempcnn_formosat2: dates= lists {len(dates)} dates; the series have {self.N_DATES}")
        try:
            parsed = [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in dates or ()]
        except ValueError as exc:
            raise DatasetError(f"tempcnn_formosat2: dates= must be ISO dates (YYYY-MM-DD): {exc}") from exc
        self.dates = [d.isoformat() for d in parsed] if dates is not None else None
        self.doy = [d.timetuple().tm_yday for d in parsed] if dates is not None else None
        super().__init__(*args, **kwargs)

    def _check_classes(self) -> None:
        path = self.root / "map" / "class_map.txt"
        if not path.exists():
            return
        rows = [ln.split(",") for ln in path.read_text().splitlines()[1:] if ln.strip()]
        names = {int(r[0]) - 1: r[1].strip() for r in rows if len(r) >= 2}
        if [names.get(i) for i in range(len(TEMPCNN_CLASSES))] != list(TEMPCNN_CLASSES):
            raise DatasetError(
                f"{str(path)!r} names the classes {[names[k] for k in sorted(names)]}, not {list(TEMPCNN_CLASSES)}; "
                "this is not the TempCNN Formosat-2 release"
            )

    def _index(self) -> list[int]:
        path = self.root / self.FILES[self.split]
        if not path.exists():
            raise DatasetError(
                f"tempcnn_formosat2: {str(path)!r} not found (layout: {self.spec.layout}); download it with "
                "`eokit datasets download tempcnn_formosat2`"
            )
        self._check_classes()
        try:
            table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise DatasetError(f"{str(path)!r} is not a numeric CSV of pixel series: {exc}") from exc
        want = 2 + 3 * self.N_DATES
        if table.shape[1] != want:
            raise DatasetError(
                f"{str(path)!r} has {table.shape[1]} columns; a TempCNN row has {want} "
                f"(class, polygonID, {self.N_DATES} dates x NIR/R/G)"
            )
        labels = table[:, 0]
        bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= len(TEMPCNN_CLASSES)))
        if bad.size:
            raise DatasetError(
                f"{str(path)!r} row {int(bad[0]) + 1}: class {float(labels[bad[0]]):g} is not one of 0..{len(TEMPCNN_CLASSES) - 1}"
            )
        if not np.isfinite(table[:, 2:]).all():
            row = int(np.flatnonzero(~np.isfinite(table[:, 2:]).all(1))[0])
            raise DatasetError(f"{str(path)!r} row {row + 1} has a missing or non-finite value")
        self.path = path
        self.labels = labels.astype(np.int64)
        self.polygons = table[:, 1].astype(np.int64)
        self.series = np.ascontiguousarray(table[:, 2:].reshape(len(table), self.N_DATES, 3), dtype=np.float32)
        return list(range(len(table)))

    def describe(self, item: int) -> str:
        return f"row {item + 1} of {str(self.path)!r}"

    def _load(self, item: int) -> Sample:
        series = self.series[item]
        return {
            "image": image_tensor(series[:, :, None, None]),
            "bands": self.spec.bands,
            "sensor": self.spec.sensor,
            "label": torch.tensor(int(self.labels[item]), dtype=torch.int64),
            "polygon": int(self.polygons[item]),
            "dates": list(self.dates) if self.dates is not None else None,
            "doy": list(self.doy) if self.doy is not None else None,
            "time": self.dates[0] if self.dates else None,
            "crs": None, "transform": None, "bounds": None,
            "path": str(self.path),
            "id": f"{self.split}-{item + 1}",
        }
