"""Small helpers shared by the catalogue loaders (not a loader itself)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eokit.data.sample import Sample, crs_string
from eokit.errors import DatasetError
from eokit.io import GridSpec

IGNORE_INDEX = -1
"""Mask value that segmentation losses/metrics must ignore (nodata, void, unlabelled)."""


def image_tensor(array: np.ndarray) -> torch.Tensor:
    """A float32 tensor from any numeric array (C×H×W or T×C×H×W)."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def mask_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))


def geo_meta(grid: GridSpec | None) -> Sample:
    """``crs``/``transform``/``bounds`` metadata of a grid (all None without georeferencing)."""
    if grid is None or grid.crs is None:
        return {"crs": None, "transform": None, "bounds": None}
    return {
        "crs": crs_string(grid.crs),
        "transform": tuple(grid.transform)[:6],
        "bounds": tuple(float(v) for v in grid.bounds),
    }


def check_same_grid(image: GridSpec, label: GridSpec, image_path: Any, label_path: Any) -> None:
    """Raise DatasetError unless ``label`` lies on the same pixel grid as ``image``."""
    if (image.height, image.width) != (label.height, label.width):
        raise DatasetError(
            f"label {str(label_path)!r} is {label.width}x{label.height} px but image "
            f"{str(image_path)!r} is {image.width}x{image.height} px; labels must share the image grid "
            "(re-export the label on the image grid, or pass skip_invalid=True to skip the pair)"
        )
    if image.crs is not None and label.crs is not None:
        if image.crs != label.crs:
            raise DatasetError(
                f"label {str(label_path)!r} has CRS {label.crs} but image {str(image_path)!r} has "
                f"{image.crs}; reproject the label onto the image grid"
            )
        a = np.array(tuple(image.transform)[:6])
        b = np.array(tuple(label.transform)[:6])
        tol = 1e-6 * max(1.0, float(np.abs(a).max()))
        res = min(image.res)
        if np.abs(a[[0, 1, 3, 4]] - b[[0, 1, 3, 4]]).max() > 1e-3 * res or np.abs(
            a[[2, 5]] - b[[2, 5]]
        ).max() > max(tol, 0.5 * res):
            raise DatasetError(
                f"label {str(label_path)!r} (transform {tuple(b)}) is not aligned with image "
                f"{str(image_path)!r} (transform {tuple(a)}); labels must share the image grid"
            )


def split_ids(
    dataset: str,
    ids: Sequence[str],
    split: str,
    labels: Sequence[Any] | None = None,
    seed: int = 0,
) -> list[str]:
    """Ids of ``split`` under eokit's stable seeded split (``eokit.datasets.splits``).

    Stratified by ``labels`` when given; 70/10/20 train/val/test; recorded in
    the split file ``$EOKIT_CACHE/splits/<dataset>-seed<seed>.json``.
    """
    from eokit.datasets.splits import split_file_path, stable_split

    return stable_split(list(ids), labels, split, path=split_file_path(dataset, seed), seed=seed)


def read_json(path: Path, what: str = "JSON file", kind: type = dict) -> Any:
    """The JSON value of ``path``, which must be a ``kind``; DatasetError naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(f"{what} {str(path)!r} is missing") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{what} {str(path)!r} is not valid JSON ({exc}); restore it from the dataset") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read {what} {str(path)!r}: {exc}") from exc
    if not isinstance(data, kind):
        raise DatasetError(
            f"{what} {str(path)!r} holds a JSON {type(data).__name__}, not a {kind.__name__}; restore it from the "
            "dataset"
        )
    return data


def read_mat(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a MATLAB .mat file (v5 via scipy, v7.3/HDF5 via h5py; never code or objects)."""
    import scipy.io

    try:
        raw = scipy.io.loadmat(path)
        return {k: v for k, v in raw.items() if not k.startswith("__") and isinstance(v, np.ndarray)}
    except NotImplementedError:  # MATLAB v7.3 = HDF5
        pass
    except Exception as exc:
        raise DatasetError(f"cannot read MATLAB file {str(path)!r}: {exc}") from exc
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            for k, v in f.items():
                if isinstance(v, h5py.Dataset) and v.dtype.kind in "iufb":
                    out[k] = np.asarray(v).T  # MATLAB is column-major
    except (OSError, KeyError, ValueError, RuntimeError) as exc:  # h5py's errors on corrupt HDF5
        raise DatasetError(f"cannot read MATLAB v7.3 (HDF5) file {str(path)!r}: {exc}") from exc
    return out


def rasterize_vectors(
    path: Path,
    grid: GridSpec,
    *,
    buffer_m: float = 0.0,
    burn: int = 1,
    all_touched: bool = False,
) -> np.ndarray:
    """Burn the features of a vector file (GeoJSON, GPKG, …) onto ``grid`` as a uint8 mask.

    Features are reprojected to the grid's CRS; ``buffer_m`` (metres, applied in
    the local UTM zone) widens lines such as roads before burning. An empty file
    gives an all-zero mask.
    """
    import geopandas as gpd
    from rasterio.features import rasterize

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise DatasetError(f"cannot read vector labels {str(path)!r}: {exc}") from exc
    out = np.zeros((grid.height, grid.width), dtype=np.uint8)
    if gdf.empty:
        return out
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if buffer_m > 0 and gdf.crs is not None:
        utm = gdf.estimate_utm_crs()
        gdf = gdf.to_crs(utm).set_geometry(gdf.to_crs(utm).buffer(buffer_m))
    if grid.crs is not None and gdf.crs is not None and gdf.crs != grid.crs:
        gdf = gdf.to_crs(grid.crs)
    geoms = list(gdf.geometry)
    if not geoms:
        return out
    return rasterize(
        ((g, burn) for g in geoms),
        out_shape=(grid.height, grid.width),
        transform=grid.transform,
        fill=0,
        all_touched=all_touched,
        dtype="uint8",
    )


@functools.lru_cache(maxsize=8)
def _colour_lut(colours: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """A 2**24-entry table: packed RGB -> class index (-2 where no class has the colour)."""
    lut = np.full(1 << 24, -2, dtype=np.int8 if len(colours) < 127 else np.int32)
    for k, (r, g, b) in enumerate(colours):
        lut[(r << 16) | (g << 8) | b] = k
    lut.setflags(write=False)
    return lut


def decode_colour_mask(
    rgb: np.ndarray,
    palette: Sequence[tuple[int, int, int]],
    path: Any,
    *,
    ignore: Sequence[tuple[int, int, int]] = (),
) -> np.ndarray:
    """Class ids (int64, H×W) of an RGB colour-coded mask (H×W×3 uint8).

    ``palette[k]`` is the colour of class k; pixels of an ``ignore`` colour get
    ``IGNORE_INDEX``. Any other colour raises a DatasetError naming ``path``, the
    colour, its pixel count and the first pixel, because a mask colour no class has is
    a wrong palette (or a lossy re-encoding), never something to guess.
    """
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise DatasetError(f"mask {str(path)!r} has shape {rgb.shape}; a colour mask is H x W x 3 (RGB)")
    colours = tuple((int(c[0]), int(c[1]), int(c[2])) for c in palette)
    lut = _colour_lut(colours)
    code = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    out = lut[code].astype(np.int64)
    hit = out >= 0
    out[~hit] = IGNORE_INDEX
    if not hit.all():
        ignore_keys = [(int(r) << 16) | (int(g) << 8) | int(b) for r, g, b in ignore]
        bad = ~hit & ~np.isin(code, ignore_keys)
        if bad.any():
            values, counts = np.unique(code[bad], return_counts=True)
            first = values[np.argmax(counts)]
            colour = (int(first >> 16) & 255, int(first >> 8) & 255, int(first) & 255)
            y, x = (int(v[0]) for v in np.nonzero(code == first))
            raise DatasetError(
                f"mask {str(path)!r}: colour {colour} (#{int(first):06X}, {int(counts.max())} px, first at "
                f"row {y}, col {x}) is no class colour; {len(values)} unknown colour(s) in all. The class colours "
                f"are {list(colours)}; fix the palette (or pass the colour as an ignore colour)"
            )
    return out


SPLIT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "train": ("train", "training"),
    "val": ("val", "validation", "valid"),
    "test": ("test", "testing"),
}
"""Folder names that mean each split in user-made layouts (``root/<alias>/...``)."""


def split_folders(root: Path, inner: str = "") -> dict[str, Path]:
    """``{split: root/<alias>}`` for each split whose folder exists (with ``inner`` inside it, when given)."""
    out = {}
    for split, aliases in SPLIT_ALIASES.items():
        for a in aliases:
            if (root / a / inner).is_dir():
                out[split] = root / a
                break
    return out
