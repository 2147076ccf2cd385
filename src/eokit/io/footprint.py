"""Footprints and bounds across CRSs that survive points outside a projection's domain.

A geostationary full-disk raster (``+proj=geos``) has corners in space: GDAL's
corner transform fails there with "Point outside of projection domain". These
helpers sample dense grids of points with pyproj (which marks failed points as
``inf`` instead of raising), drop the invalid ones and keep the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

from eokit.errors import WindowError


def _transformer(src: CRS, dst: CRS) -> Transformer:
    return Transformer.from_crs(src.to_wkt(), dst.to_wkt(), always_xy=True)


def _grid_points(bounds: tuple[float, float, float, float], n: int) -> tuple[np.ndarray, np.ndarray]:
    w, s, e, north = bounds
    xs, ys = np.meshgrid(np.linspace(w, e, n), np.linspace(s, north, n))
    return xs.ravel(), ys.ravel()


def _apply(t: Transformer, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = t.transform(xs, ys, errcheck=False)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return x, y, np.isfinite(x) & np.isfinite(y)


def _edge_points(
    t: Transformer, xs: np.ndarray, ys: np.ndarray, ok: np.ndarray, steps: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Bisect every valid/invalid pair of grid neighbours to the last point that transforms."""
    good_x, good_y, bad_x, bad_y = [], [], [], []
    for axis in (0, 1):
        a = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        b = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        for g, h in ((a, b), (b, a)):
            m = ok[g] & ~ok[h]
            good_x.append(xs[g][m])
            good_y.append(ys[g][m])
            bad_x.append(xs[h][m])
            bad_y.append(ys[h][m])
    gx, gy, bx, by = (np.concatenate(v) for v in (good_x, good_y, bad_x, bad_y))
    for _ in range(steps):
        mx, my = (gx + bx) / 2, (gy + by) / 2
        _, _, fine = _apply(t, mx, my)
        gx, gy = np.where(fine, mx, gx), np.where(fine, my, gy)
        bx, by = np.where(fine, bx, mx), np.where(fine, by, my)
    ex, ey, _ = _apply(t, gx, gy)
    return ex, ey


def sampled_footprint(
    crs: CRS, transform: Affine, width: int, height: int, dst: CRS | str = "EPSG:4326", n: int = 65
) -> tuple[dict[str, Any] | None, str | None]:
    """The convex hull (GeoJSON, in ``dst``) of an ``n`` x ``n`` grid of the raster's points that
    ``dst`` can represent, and a note saying what was dropped (None when nothing was).

    Returns ``(None, reason)`` when no sampled point transforms.
    """
    import shapely.geometry

    dst = CRS.from_user_input(dst)
    cols, rows = _grid_points((0, 0, width, height), n)
    xs, ys = transform * (cols, rows)  # type: ignore[operator]  # affine maps arrays elementwise
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    to_dst = _transformer(crs, dst)
    lon, lat, ok = _apply(to_dst, xs, ys)
    if ok.any() and not ok.all():  # trace the domain's edge between valid and invalid neighbours
        ex, ey = _edge_points(to_dst, xs.reshape(n, n), ys.reshape(n, n), ok.reshape(n, n))
        lon, lat = np.concatenate([lon, ex]), np.concatenate([lat, ey])
        ok = np.concatenate([ok, np.ones(ex.size, dtype=bool)])
        total = n * n
    else:
        total = ok.size
    if not ok.any():
        return None, (
            f"none of {ok.size} sampled points of the raster lies inside the domain of {dst.to_string()} "
            "(the raster's CRS places them outside the Earth)"
        )
    lon, lat = lon[ok], lat[ok]
    notes = []
    if dst.is_geographic and lon.max() - lon.min() > 180:
        lon = np.where(lon < 0, lon + 360, lon)
        notes.append("it crosses the antimeridian, so longitudes run past 180")
    if not ok.all():
        notes.insert(0, f"{total - int(ok[:total].sum())} of {total} sampled points lie outside the projection "
                        "domain (e.g. off the Earth's disk) and were dropped; the footprint is the hull of "
                        "the valid part")
    hull = shapely.geometry.MultiPoint(np.column_stack([lon, lat])).convex_hull
    if hull.geom_type != "Polygon":
        hull = hull.buffer(1e-9)
    return shapely.geometry.mapping(hull), ("; ".join(notes) or None)


def safe_transform_bounds(
    src: CRS, dst: CRS, bounds: tuple[float, float, float, float], where: str, n: int = 21
) -> tuple[float, float, float, float]:
    """``bounds`` (in ``src``) as bounds in ``dst``, from the part of an ``n`` x ``n`` grid of points
    that ``dst`` can represent; a WindowError naming ``where`` when none can."""
    xs, ys = _grid_points(bounds, n)
    t = _transformer(src, dst)
    x, y, ok = _apply(t, xs, ys)
    if ok.any() and not ok.all():  # add the domain's edge, so the bounds reach it
        ex, ey = _edge_points(t, xs.reshape(n, n), ys.reshape(n, n), ok.reshape(n, n))
        x, y = np.concatenate([x[ok], ex]), np.concatenate([y[ok], ey])
        ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise WindowError(
            f"bounds {tuple(bounds)} in {src.to_string()} lie wholly outside the projection domain of "
            f"{where} (its CRS cannot represent them, e.g. the far side of a geostationary view); "
            "choose bounds inside its footprint (see `eokit info`)"
        )
    return float(x[ok].min()), float(y[ok].min()), float(x[ok].max()), float(y[ok].max())
