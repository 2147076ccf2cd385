"""Downstream tabular prediction from embeddings, scored by spatial block and random cross-validation.

Places (points or polygons) are joined to the chips they fall in or intersect (polygons: the mean
vector of the chips they touch), a ridge or gradient-boosting model is fitted, and R² is reported
for spatial block CV (no block in two folds) and random K-fold CV, with the gap between them and
95 % confidence intervals from a block bootstrap of the out-of-fold predictions over seeded
repeats. Random CV leaks between neighbouring chips; the gap says how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from eokit.errors import ConfigError, PlacesOutsideError

Model = Literal["ridge", "hgb"]


def _as_4326(frame: Any, what: str) -> Any:
    """``frame`` in EPSG:4326 (a frame without a CRS is taken as lon/lat)."""
    if frame.crs is None:
        return frame.set_crs("EPSG:4326")
    return frame.to_crs("EPSG:4326") if frame.crs.to_epsg() != 4326 else frame


def _chips_and_vectors(store_or_chips: Any, vectors: np.ndarray | None) -> tuple[Any, np.ndarray]:
    """(chip GeoDataFrame, (N, D) float32 vectors) from a store (or its path) or a frame + array."""
    from eokit.embed.store import EmbeddingStore, read_embeddings

    if isinstance(store_or_chips, str | Path):
        store_or_chips = read_embeddings(store_or_chips)
    if isinstance(store_or_chips, EmbeddingStore):
        return store_or_chips.table, store_or_chips.vectors
    if vectors is None:
        raise ConfigError("pass an EmbeddingStore (or its path), or a chip GeoDataFrame together "
                          "with vectors=")
    vec = np.asarray(vectors, dtype=np.float32)
    if vec.ndim != 2 or len(vec) != len(store_or_chips):
        raise ConfigError(f"vectors have shape {vec.shape}; expected ({len(store_or_chips)}, D), "
                          "one row per chip")
    return store_or_chips, vec


def join_places(places: Any, store_or_chips: Any, vectors: np.ndarray | None = None, *,
                where: str = "places") -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of ``places``: the chip a point falls in, the mean of the chips a polygon meets.

    ``store_or_chips`` is an ``EmbeddingStore`` (or its path) or a chip GeoDataFrame (EPSG:4326 footprints) with
    ``vectors`` (N, D). Returns ``(X, lonlat)``: one vector and one representative (lon, lat) per
    place, in the places' order. A point on the border of several chips (or in overlapping chips)
    gets their mean. Places outside every chip raise :class:`PlacesOutsideError` naming them.
    """
    import geopandas as gpd

    chips, vec = _chips_and_vectors(store_or_chips, vectors)
    if len(places) == 0:
        raise ConfigError(f"{where}: the table of places is empty; pass at least one place")
    pl = _as_4326(gpd.GeoDataFrame(places, geometry=places.geometry), where)
    ch = _as_4326(gpd.GeoDataFrame({"_chip": np.arange(len(chips))}, geometry=chips.geometry.values,
                                   crs=chips.crs), "chips")
    left = gpd.GeoDataFrame({"_place": np.arange(len(pl))}, geometry=pl.geometry.values, crs=pl.crs)
    hits = gpd.sjoin(left, ch, how="inner", predicate="intersects")
    place_idx = hits["_place"].to_numpy()
    chip_idx = hits["_chip"].to_numpy()
    counts = np.bincount(place_idx, minlength=len(pl))
    outside = np.flatnonzero(counts == 0)
    if len(outside):
        labels = [str(v) for v in pl.index[outside[:10]]]
        more = f" and {len(outside) - 10} more" if len(outside) > 10 else ""
        raise PlacesOutsideError(
            f"{where}: {len(outside)} of {len(pl)} places fall outside every chip of the embedding "
            f"store (index {', '.join(labels)}{more}); embed the scenes that cover them, or drop "
            "those rows")
    sums = np.zeros((len(pl), vec.shape[1]), dtype=np.float64)
    np.add.at(sums, place_idx, vec[chip_idx])
    X = (sums / counts[:, None]).astype(np.float32)
    rep = pl.geometry.representative_point()
    return X, np.column_stack([rep.x.to_numpy(), rep.y.to_numpy()])


def spatial_blocks(lonlat: np.ndarray, *, block_size: float | None = None,
                   units: Literal["m", "deg"] = "m", n_clusters: int | None = None,
                   seed: int = 0) -> np.ndarray:
    """Block id of each (lon, lat): square cells of ``block_size`` (metres or degrees) or k-means.

    Metres use the UTM zone that suits the points (``geopandas.estimate_utm_crs``); k-means
    (``n_clusters``) clusters unit vectors on the sphere, so it is right across the antimeridian.
    """
    ll = np.asarray(lonlat, dtype=np.float64)
    if ll.ndim != 2 or ll.shape[1] != 2:
        raise ConfigError(f"lonlat has shape {ll.shape}; expected (n, 2) longitude, latitude")
    if (block_size is None) == (n_clusters is None):
        raise ConfigError("give exactly one of block_size= (with units='m'|'deg') or n_clusters=")
    if n_clusters is not None:
        from sklearn.cluster import KMeans

        if not 2 <= n_clusters <= len(ll):
            raise ConfigError(f"n_clusters={n_clusters} must be between 2 and the {len(ll)} places")
        lon, lat = np.radians(ll[:, 0]), np.radians(ll[:, 1])
        xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        km = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(xyz)
        return np.asarray(km.labels_, dtype=np.int64)
    assert block_size is not None
    if block_size <= 0:
        raise ConfigError(f"block_size={block_size} must be > 0 ({units})")
    if units == "deg":
        xy = ll
    elif units == "m":
        import geopandas as gpd

        pts = gpd.GeoSeries(gpd.points_from_xy(ll[:, 0], ll[:, 1]), crs="EPSG:4326")
        utm = pts.to_crs(pts.estimate_utm_crs())
        xy = np.column_stack([utm.x.to_numpy(), utm.y.to_numpy()])
    else:
        raise ConfigError(f"units={units!r} is not 'm' or 'deg'")
    cells = np.floor(xy / block_size).astype(np.int64)
    _, ids = np.unique(cells, axis=0, return_inverse=True)
    return np.asarray(ids, dtype=np.int64).ravel()


def block_folds(blocks: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold of each sample such that every block lies in exactly one fold (sizes balanced)."""
    blocks = np.asarray(blocks)
    uniq, inv, sizes = np.unique(blocks, return_inverse=True, return_counts=True)
    if len(uniq) < k:
        raise ConfigError(f"only {len(uniq)} spatial blocks for {k} folds; use smaller blocks, more "
                          "clusters or fewer folds")
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(uniq)), -sizes))  # largest first, random ties
    load = np.zeros(k, dtype=np.int64)
    fold_of_block = np.empty(len(uniq), dtype=np.int64)
    for b in order:
        f = int(np.argmin(load + rng.random(k) * 1e-3))
        fold_of_block[b] = f
        load[f] += sizes[b]
    return fold_of_block[inv.ravel()]


def make_model(model: Model | Any, seed: int = 0) -> Any:
    """A fresh sklearn regressor: ``'ridge'`` (standardised RidgeCV) or ``'hgb'`` (gradient boosting)."""
    from sklearn.base import clone

    if not isinstance(model, str):
        return clone(model)
    if model == "ridge":
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15)))
    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(max_iter=200, learning_rate=0.1, random_state=seed)
    raise ConfigError(f"model={model!r} is not 'ridge' or 'hgb' (or an sklearn regressor)")


def _oof(model: Any, X: np.ndarray, y: np.ndarray, folds: np.ndarray, seed: int) -> np.ndarray:
    pred = np.empty_like(y, dtype=np.float64)
    for f in np.unique(folds):
        test = folds == f
        est = make_model(model, seed).fit(X[~test], y[~test])
        pred[test] = est.predict(X[test])
    return pred


def _weighted_r2(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> np.ndarray:
    """R² for each row of weights ``w`` (B, n)."""
    tot = w.sum(1)
    mean = (w * y).sum(1) / tot
    ss_res = (w * (y - pred) ** 2).sum(1)
    ss_tot = (w * (y[None, :] - mean[:, None]) ** 2).sum(1)
    return np.asarray(1.0 - ss_res / np.maximum(ss_tot, 1e-300))


@dataclass
class CVScore:
    """Cross-validated R²: mean over seeded repeats, 95 % block-bootstrap CI, per-repeat values."""

    r2: float
    ci: tuple[float, float]
    repeats: list[float] = field(default_factory=list)


@dataclass
class DownstreamReport:
    """Spatial vs random CV R² of one model, and their gap (random − spatial) with its CI."""

    model: str
    n: int
    n_blocks: int
    k: int
    spatial: CVScore
    random: CVScore
    gap: float
    gap_ci: tuple[float, float]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {"model": self.model, "n": self.n, "n_blocks": self.n_blocks, "k": self.k,
                "spatial_r2": self.spatial.r2, "spatial_ci": list(self.spatial.ci),
                "random_r2": self.random.r2, "random_ci": list(self.random.ci),
                "gap": self.gap, "gap_ci": list(self.gap_ci)}


def cross_validate(X: np.ndarray, y: np.ndarray, blocks: np.ndarray, *,
                   model: Model | Any = "ridge", k: int = 5, repeats: int = 3,
                   n_boot: int = 1000, seed: int = 0) -> DownstreamReport:
    """Spatial block K-fold and random K-fold R² of ``model`` on (X, y), with 95 % CIs.

    Each of ``repeats`` seeds draws new folds; the CI resamples spatial blocks with replacement
    (the same resample for both schemes, so the gap's CI is paired) over the repeats' out-of-fold
    predictions.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    blocks = np.asarray(blocks).ravel()
    if not len(X) == len(y) == len(blocks):
        raise ConfigError(f"X ({len(X)}), y ({len(y)}) and blocks ({len(blocks)}) differ in length")
    if not np.isfinite(y).all():
        raise ConfigError(f"the target has {int((~np.isfinite(y)).sum())} missing or infinite "
                          "values; drop those rows")
    if k < 2 or len(y) < 2 * k:
        raise ConfigError(f"k={k} folds need k >= 2 and at least {2 * k} places (got {len(y)})")
    _, binv = np.unique(blocks, return_inverse=True)
    binv = binv.ravel()
    nb = int(binv.max()) + 1
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, nb, size=(n_boot, nb))
    counts = np.zeros((n_boot, nb))
    np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1.0)
    w = counts[:, binv]
    sp, rd, sp_boot, rd_boot = [], [], [], []
    for r in range(repeats):
        s = seed + 1000 * r
        p_sp = _oof(model, X, y, block_folds(blocks, k, s), s)
        p_rd = _oof(model, X, y, np.random.default_rng(s).permutation(len(y)) % k, s)
        full = np.ones((1, len(y)))
        sp.append(float(_weighted_r2(y, p_sp, full)[0]))
        rd.append(float(_weighted_r2(y, p_rd, full)[0]))
        sp_boot.append(_weighted_r2(y, p_sp, w))
        rd_boot.append(_weighted_r2(y, p_rd, w))
    sb, rb = np.concatenate(sp_boot), np.concatenate(rd_boot)

    def ci(a: np.ndarray) -> tuple[float, float]:
        lo, hi = np.percentile(a, [2.5, 97.5])
        return float(lo), float(hi)

    name = model if isinstance(model, str) else type(model).__name__
    return DownstreamReport(
        model=name, n=len(y), n_blocks=nb, k=k,
        spatial=CVScore(float(np.mean(sp)), ci(sb), sp), random=CVScore(float(np.mean(rd)), ci(rb), rd),
        gap=float(np.mean(rd) - np.mean(sp)), gap_ci=ci(rb - sb))


def evaluate_downstream(places: Any, store_or_chips: Any, target: str, *,
                        vectors: np.ndarray | None = None,
                        models: Sequence[Model | Any] = ("ridge", "hgb"),
                        block_size: float | None = None, units: Literal["m", "deg"] = "m",
                        n_clusters: int | None = None, k: int = 5, repeats: int = 3,
                        seed: int = 0) -> list[DownstreamReport]:
    """Join ``places`` to the embeddings and score each model on ``places[target]``.

    Blocks are cells of ``block_size`` (``units`` metres or degrees) or ``n_clusters`` k-means
    clusters of the places' coordinates (default: ``5 * k`` k-means clusters).
    """
    if target not in places.columns:
        raise ConfigError(f"target column {target!r} is not in the table of places (columns: "
                          f"{', '.join(map(str, places.columns))})")
    X, lonlat = join_places(places, store_or_chips, vectors)
    y = places[target].to_numpy(dtype=np.float64)
    if block_size is None and n_clusters is None:
        n_clusters = min(5 * k, len(y))
    blocks = spatial_blocks(lonlat, block_size=block_size, units=units, n_clusters=n_clusters,
                            seed=seed)
    return [cross_validate(X, y, blocks, model=m, k=k, repeats=repeats, seed=seed) for m in models]
