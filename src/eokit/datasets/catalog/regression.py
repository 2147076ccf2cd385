"""Regression benchmarks: AGBD (GEDI biomass) and pixel regression on co-registered rasters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, EODataset, register
from eokit.datasets.catalog._util import check_same_grid, geo_meta, image_tensor, split_ids
from eokit.errors import DatasetError
from eokit.io import open_raster
from eokit.tasktype import TaskType

AGBD_S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
ALOS_BANDS = ("HH", "HV")


def _s2_name(raw: str) -> str:
    """'B1'/'B01'/'B8A' -> eokit's Sentinel-2 name."""
    raw = raw.strip().upper()
    if raw in ("B8A", "B08A"):
        return "B8A"
    if raw.startswith("B") and raw[1:].isdigit():
        return f"B{int(raw[1:]):02d}"
    return raw


@register
class AGBD(EODataset):
    """AGBD: GEDI L4A above-ground biomass (Mg/ha) with 25x25 px Sentinel-2 L2A and PALSAR-2 patches.

    Reads the HDF5 release (``data_subset-<year>-v4_<i>-20.h5``: one group per
    Sentinel-2 tile with ``S2_bands`` (N, 25, 25, 12) uint16 and its ``order``
    attribute, ``ALOS_bands`` (N, 25, 25, 2) uint16 DN, ``GEDI/agbd``,
    ``GEDI/lat_offset|lat_decimal|lon_offset|lon_decimal`` and
    ``Sentinel_metadata/S2_boa_offset``). Sentinel-2 is converted to reflectance
    as the authors do (``(DN - 1000 * boa_offset) / 10000``, 0 stays 0), PALSAR-2
    to gamma-naught dB (``10 log10(DN^2) - 83``, DN 0 -> 0). ``modalities``
    picks ``"s2"`` and/or ``"alos"``; ``patch_size`` (odd, <= 25) centre-crops.
    The authors' split ships only as a pickle (``biomes_splits_to_name.pkl``),
    which eokit never unpickles: pass ``split_tiles={"train": [...], ...}`` (a
    JSON-able copy of it) or use the default seeded split by tile.
    """

    spec = DatasetSpec(
        name="agbd",
        task=TaskType.REGRESSION,
        sensor="sentinel2_l2a",
        bands=AGBD_S2,
        classes=(),
        splits=("train", "val", "test"),
        folder="agbd",
        layout="data_subset-<year>-v4_<i>-20.h5: <tile>/S2_bands (N,25,25,12 uint16, attr order), "
        "<tile>/ALOS_bands (N,25,25,2), <tile>/GEDI/agbd (N,), <tile>/GEDI/lat_*|lon_*, "
        "<tile>/Sentinel_metadata/S2_boa_offset",
        downloads=(),
        license="CC BY-NC 4.0",
        citation="Sialelli et al., AGBD: A Global-scale Biomass Dataset, ISPRS Annals 2025 "
        "(arXiv:2406.04928)",
        size="~300 GB HDF5 (2019-2020), ~9.5 M GEDI footprints",
        tags=frozenset({"gsd>=10", "multispectral", "sar"}),
        gsd=10.0,
        split_policy="split_tiles= mapping (a JSON copy of the authors' biome split) when given; "
        "otherwise a seeded (seed 0) 70/10/20 split by Sentinel-2 tile, so all patches of a tile "
        "share a split",
        description="target: GEDI L4A AGBD in Mg/ha (sample['target'], float32 scalar)",
        homepage="https://huggingface.co/datasets/prs-eth/AGBD",
    )

    def __init__(
        self,
        *args: Any,
        modalities: Sequence[str] = ("s2", "alos"),
        patch_size: int = 25,
        split_tiles: Mapping[str, Sequence[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        if not modalities or set(modalities) - {"s2", "alos"}:
            raise DatasetError(f"agbd: modalities must be from ('s2', 'alos'), got {modalities}")
        if patch_size % 2 != 1 or not 1 <= patch_size <= 25:
            raise DatasetError(f"agbd: patch_size must be odd and <= 25, got {patch_size}")
        self.modalities = tuple(modalities)
        self.patch_size = patch_size
        self.split_tiles = split_tiles
        super().__init__(*args, **kwargs)

    def _index(self) -> list[tuple[Path, str, int]]:
        files = sorted(self.root.glob("*.h5"))
        if not files:
            raise DatasetError(f"agbd: no data_subset-*.h5 files under {str(self.root)!r}")
        tiles: dict[str, tuple[Path, int]] = {}
        for path in files:
            try:
                with h5py.File(path, "r") as f:
                    for tile in f:
                        tiles[f"{path.name}/{tile}"] = (path, len(f[tile]["GEDI"]["agbd"]))
            except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:  # h5py on a corrupt file
                raise DatasetError(f"agbd: cannot index {str(path)!r} ({type(exc).__name__}: {exc})") from exc
        if self.split_tiles is not None:
            wanted = set(self.split_tiles.get(self.split, ()))
            chosen = [k for k in tiles if k.split("/", 1)[1] in wanted]
        else:
            chosen = split_ids(self.spec.name, list(tiles), self.split)
        return [(tiles[k][0], k.split("/", 1)[1], i) for k in chosen for i in range(tiles[k][1])]

    def describe(self, item: tuple[Path, str, int]) -> str:
        return f"{str(item[0])!r} tile {item[1]} patch {item[2]}"

    def _load(self, item: tuple[Path, str, int]) -> Sample:
        path, tile, i = item
        r = self.patch_size // 2
        sl = (i, slice(12 - r, 12 + r + 1), slice(12 - r, 12 + r + 1))
        layers, bands = [], []
        with h5py.File(path, "r") as f:
            g = f[tile]
            if "s2" in self.modalities:
                ds = g["S2_bands"]
                order = [_s2_name(b.decode() if isinstance(b, bytes) else str(b)) for b in ds.attrs["order"]]
                dn = ds[sl].astype(np.float32)
                meta = g["Sentinel_metadata"]
                boa = float(meta["S2_boa_offset"][i]) if "S2_boa_offset" in meta else 0.0
                sr = np.clip((dn - 1000.0 * boa) / 10000.0, 0, None)
                sr[dn == 0] = 0
                layers.append(np.moveaxis(sr, -1, 0))
                bands.extend(order)
            if "alos" in self.modalities:
                ds = g["ALOS_bands"]
                dn = ds[sl].astype(np.float32)
                with np.errstate(divide="ignore"):
                    db = np.where(dn > 0, 10 * np.log10(np.square(dn)) - 83.0, 0.0)
                layers.append(np.moveaxis(db.astype(np.float32), -1, 0))
                bands.extend(ALOS_BANDS)
            gedi = g["GEDI"]
            agbd = float(gedi["agbd"][i])
            lat = float(gedi["lat_offset"][i] + gedi["lat_decimal"][i])
            lon = float(gedi["lon_offset"][i] + gedi["lon_decimal"][i])
        if not np.isfinite(agbd):
            raise DatasetError(f"agbd: {str(path)!r} tile {tile} patch {i} has a non-finite AGBD {agbd}")
        return {
            "image": image_tensor(np.concatenate(layers)),
            "target": torch.tensor(agbd, dtype=torch.float32),
            "bands": tuple(bands),
            "sensor": "sentinel2_l2a" if self.modalities == ("s2",) else None,
            "crs": None,
            "transform": None,
            "bounds": None,
            "lat": lat,
            "lon": lon,
            "time": None,
            "id": f"{tile}/{i}",
            "path": str(path),
        }


@register
class PixelRegression(EODataset):
    """Generic per-pixel regression: an image raster and a target raster on the same grid.

    ``pairs=[(image, target), ...]`` (paths relative to ``root`` or absolute).
    ``chip_size`` cuts each pair into chips (edge chips padded, marked invalid);
    ``valid`` is False where the target or the image is nodata (e.g. -9999), and
    the target holds 0 there. ``image_bands``/``sensor`` name the image bands.
    ``split="all"`` keeps every chip; train/val/test are a seeded 70/10/20 split
    of chip ids.

    ``reduce`` (``mean``, ``median``, ``max``, ``sum``, ``std``, or ``fraction_above:<v>``)
    turns each chip's target raster into one value over its valid pixels, for
    image-level regression (mean canopy height or built-up fraction per chip, the
    way GEDI footprints or census counts label a chip); chips with fewer than
    ``min_valid`` valid target pixels (a fraction) are left out.
    """

    spec = DatasetSpec.generic(
        "pixel_regression", "pixel_regression",
        "any co-registered image raster + single-band target raster (canopy height, DSM, biomass maps), "
        "nodata masked",
        {"gsd<10", "multispectral", "pixelwise"},
    )

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        *,
        pairs: Sequence[tuple[str | Path, str | Path]],
        chip_size: int | None = None,
        image_bands: Sequence[str] | None = None,
        sensor: str | None = None,
        target_nodata: float | None = None,
        reduce: str | None = None,
        min_valid: float = 0.5,
        **kwargs: Any,
    ) -> None:
        if not pairs:
            raise DatasetError("pixel_regression: pass pairs=[(image, target), ...]")
        self.reduce = _reducer(reduce) if reduce is not None else None
        self.reduce_name = reduce
        if not 0.0 <= min_valid <= 1.0:
            raise DatasetError(f"pixel_regression: min_valid must be a fraction in [0, 1], got {min_valid}")
        self.min_valid = min_valid
        self.pairs = [(Path(root) / a, Path(root) / b) for a, b in pairs]
        self.chip_size = chip_size
        self.image_bands = tuple(image_bands) if image_bands else None
        self.sensor = sensor
        self.target_nodata = target_nodata
        super().__init__(root, split, **kwargs)

    def _index(self) -> list[tuple[Path, Path, tuple[int, int, int, int]]]:
        items = []
        for img_path, tgt_path in self.pairs:
            for p in (img_path, tgt_path):
                if not p.exists():
                    raise DatasetError(f"pixel_regression: {str(p)!r} does not exist")
            img = open_raster(img_path)
            tgt = open_raster(tgt_path)
            check_same_grid(img.grid, tgt.grid, img_path, tgt_path)
            h, w = img.grid.height, img.grid.width
            c = self.chip_size
            if c is None:
                items.append((img_path, tgt_path, (0, 0, w, h)))
            else:
                items += [(img_path, tgt_path, (x, y, c, c)) for y in range(0, h, c) for x in range(0, w, c)]
        if self.reduce is not None:  # image-level targets: drop chips whose target is mostly nodata
            items = [it for it in items if self._target(it)[1].mean() >= max(self.min_valid, 1e-9)]
        if self.split == "all":
            return items
        ids = [self._id(it) for it in items]
        keep = set(split_ids(self.spec.name, ids, self.split))
        return [it for it, i in zip(items, ids, strict=True) if i in keep]

    @staticmethod
    def _id(item: tuple[Path, Path, tuple[int, int, int, int]]) -> str:
        x, y, w, h = item[2]
        return f"{item[0].name}:{x},{y},{w},{h}"

    def describe(self, item: tuple[Path, Path, tuple[int, int, int, int]]) -> str:
        return f"{str(item[0])!r} + {str(item[1])!r} window {item[2]}"

    def _target(self, item: tuple[Path, Path, tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """The chip's target values and where they are valid (nodata and non-finite masked)."""
        t = open_raster(item[1], nodata=self.target_nodata).read(item[2], boundless=True)
        return t.array[0], t.valid & np.isfinite(t.array[0])

    def _load(self, item: tuple[Path, Path, tuple[int, int, int, int]]) -> Sample:
        img_path, _, window = item
        img = open_raster(img_path, band_names=self.image_bands, sensor=self.sensor)
        chip = img.read(window, boundless=True)
        values, t_valid = self._target(item)
        image = np.where(chip.valid[None], chip.array, 0.0)
        out: dict[str, Any] = {"image": image_tensor(image)}
        if self.reduce is not None:
            out["target"] = torch.tensor(self.reduce(values[t_valid]), dtype=torch.float32)
        else:
            valid = chip.valid & t_valid
            out["target"] = torch.from_numpy(np.where(valid, values, 0.0).astype(np.float32))
            out["valid"] = torch.from_numpy(valid)
        return {
            **out,
            "bands": chip.bands,
            "sensor": self.sensor,
            **geo_meta(chip.grid),
            "time": None,
            "id": self._id(item),
            "path": str(img_path),
        }


_REDUCERS: dict[str, Callable[..., Any]] = {"mean": np.mean, "median": np.median, "max": np.max, "sum": np.sum, "std": np.std}


def _reducer(name: str) -> Any:
    """A function of the valid target values of a chip -> one float (``reduce=`` of pixel_regression)."""
    if name in _REDUCERS:
        fn = _REDUCERS[name]
        return lambda v: float(fn(v))
    if name.startswith("fraction_above:"):
        try:
            thr = float(name.split(":", 1)[1])
        except ValueError:
            thr = None
        if thr is not None:
            return lambda v: float((v > thr).mean())
    raise DatasetError(f"pixel_regression: reduce={name!r} is not one of {sorted(_REDUCERS)} or "
                       "'fraction_above:<value>' (e.g. 'fraction_above:2' for the share of pixels above 2 m)")
