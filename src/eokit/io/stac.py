"""Read STAC Items: one asset per band or multi-band assets, band names from eo:bands."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eokit.errors import BandError, RasterError, StacError
from eokit.io.raster import BandMap, RasterSource, to_nm
from eokit.io.stack import BandStack
from eokit.sensors.bands import Sensor


def _load_item(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "to_dict"):
        d = item.to_dict()
        self_href = item.get_self_href() if hasattr(item, "get_self_href") else None
        if self_href:
            d.setdefault("links", []).append({"rel": "self", "href": self_href})
        return dict(d)
    path = Path(item)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StacError(f"STAC item {str(path)!r} does not exist") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StacError(f"STAC item {str(path)!r} is not valid JSON: {exc}") from exc
    except OSError as exc:  # a folder, no permission, an I/O error
        raise StacError(f"cannot read STAC item {str(path)!r}: {exc}") from exc
    if not isinstance(d, dict) or d.get("type") != "Feature" or not isinstance(d.get("assets"), dict):
        raise StacError(f"{str(path)!r} is not a STAC Item (needs type 'Feature' and an 'assets' object)")
    d.setdefault("links", []).append({"rel": "self", "href": str(path.resolve())})
    return d


def _asset_bands(asset: dict[str, Any], key: str) -> tuple[list[str], list[float | None], list[str | None]] | None:
    """(names, centre wavelengths in nm, common names) from an asset's ``eo:bands`` (or STAC 1.1 ``bands``)."""
    bands = asset.get("eo:bands") or asset.get("bands")
    if not bands:
        return None
    names = [b.get("name") or b.get("common_name") or b.get("eo:common_name") or f"{key}_{i + 1}"
             for i, b in enumerate(bands)]
    waves = []
    for b in bands:
        um = b.get("center_wavelength", b.get("eo:center_wavelength"))
        waves.append(to_nm(um, "um") if um is not None else None)
    common = [b.get("common_name") or b.get("eo:common_name") for b in bands]
    return names, waves, common


def open_stac_item(
    item: Any,
    assets: Sequence[str] | None = None,
    bands: Sequence[str | float] | None = None,
    sensor: str | Sensor | None = None,
    reference: int | str = 0,
    resampling: str | None = None,
    *,
    band_map: BandMap = None,
) -> BandStack:
    """Open a STAC Item (path, dict or pystac.Item) as a BandStack.

    ``assets`` picks asset keys (default: every asset with role 'data' or an
    image media type). Band names, centre wavelengths and common names come from
    ``eo:bands``; a one-band asset without them is named by its key. ``band_map``
    names bands by 1-based position in the stack; ``bands`` keeps only those bands,
    in that order (names, common names, aliases or wavelengths, see ``BandStack``).
    """
    d = _load_item(item)
    self_href = next((ln["href"] for ln in d.get("links", []) if ln.get("rel") == "self"), None)
    base = Path(self_href).parent if self_href and "://" not in self_href else None
    all_assets: dict[str, Any] = d["assets"]
    bad = [k for k, a in all_assets.items() if not isinstance(a, dict) or not isinstance(a.get("href"), str)]
    if bad:
        where = self_href or repr(d.get("id"))
        raise StacError(f"STAC item {where}: assets {bad} have no 'href' string; fix or drop them")
    if assets is None:
        keys = [
            k for k, a in all_assets.items()
            if "data" in a.get("roles", []) or "image/tiff" in a.get("type", "") or "jp2" in a.get("type", "")
        ]
    else:
        missing = [k for k in assets if k not in all_assets]
        if missing:
            raise StacError(f"item {d.get('id')!r} has no assets {missing}; it has {list(all_assets)}")
        keys = list(assets)
    if not keys:
        raise StacError(f"item {d.get('id')!r} has no data assets; pass assets= explicitly")
    sources = []
    for k in keys:
        a = all_assets[k]
        href = a["href"]
        if base is not None and "://" not in href and not os.path.isabs(href):
            href = str((base / href).resolve())
        meta = _asset_bands(a, k)
        try:
            if meta is None:
                src = RasterSource(href, sensor=sensor)
            else:
                try:
                    src = RasterSource(href, band_names=meta[0], sensor=sensor, wavelengths=meta[1],
                                       common_names=meta[2])
                except BandError:  # eo:bands does not list every band of the file
                    src = RasterSource(href, sensor=sensor)
        except RasterError as exc:
            where = f" ({self_href})" if self_href else ""
            raise StacError(
                f"asset {k!r} of STAC item {d.get('id')!r}{where} at {href!r} cannot be read: {exc}"
            ) from exc
        if meta is None and src.dataset.count == 1:
            src.bands = (k,)
        sources.append(src)
    try:
        stack = BandStack(sources, reference=reference, resampling=resampling, bands=bands, band_map=band_map)
    except BandError as exc:
        raise BandError(f"STAC item {d.get('id')!r} (assets {keys}): {exc}") from None
    stack.item_id = d.get("id")
    stack.datetime = (d.get("properties") or {}).get("datetime")
    return stack
