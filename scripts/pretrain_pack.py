"""Pack the mirror's unlabelled *training* imagery into one compact file for the eokit_small.ssl GPU run.

The GPU machine has no eokit geospatial stack and a 64 MiB transfer limit, so this script reads the mirror
(through eokit's dataset classes, so the splits are the ones the quick suite uses) and writes
``pretrain_pack.npz``: JPEG-coded sources as their original bytes, GeoTIFF sources as uint8 with a per-band
reflectance scale (``reflectance = u8 * scale``), SAR as float16, plus a JSON ``meta`` (sources, sensors,
bands, wavelengths, polarisation codes, eokit's per-band normalisation, and every chip's identifier: the
split lists written beside the checkpoint). Only training splits are read; EuroSAT stems that the quick
suite evaluates in either EuroSAT version are left out (the RGB and MS files of one stem are one place).

    EOKIT_DATA=../shared/data python scripts/pretrain_pack.py --out .pack/pretrain_pack.npz [--rgb 10000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import rasterio
import torch
import torch.nn.functional as F

from eokit.bench.config import load_suite
from eokit.bench.data import open_dataset
from eokit.models.eokit_small import band_codes
from eokit.pretrain.leakage import (
    check_no_leakage,
    eurosat_stem,
    item_ident,
    quick_suite_eval_idents,
)
from eokit.sensors import get_sensor


def quantise(refl: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """(..., C, H, W) reflectance -> uint8 and per-band scale (p99.5 of the band maps to 255)."""
    c_axis = refl.ndim - 3
    moved = np.moveaxis(refl, c_axis, 0).reshape(refl.shape[c_axis], -1)
    scale = np.maximum(np.nanpercentile(moved, 99.5, axis=1), 1e-6) / 255.0
    shape = [1] * refl.ndim
    shape[c_axis] = -1
    u8 = np.clip(np.round(np.nan_to_num(refl) / scale.reshape(shape)), 0, 255).astype(np.uint8)
    return u8, [float(s) for s in scale]


def describe(sensor: str, bands: list[str]) -> dict:
    s = get_sensor(sensor)
    objs = [s.band(b) for b in bands]
    wv, codes = band_codes(objs)
    return {"sensor": s.name, "bands": bands, "wavelengths": wv.tolist(), "codes": codes.tolist(),
            "mean": [b.mean for b in objs], "std": [b.std for b in objs], "sensor_scale": s.scale,
            "sensor_offset": s.offset}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rgb", type=int, default=10000, help="EuroSAT RGB training images (class-balanced, seeded)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    suite = load_suite("quick")
    cfg = {d.name: d for d in suite.datasets}
    held_out = quick_suite_eval_idents(suite)  # what the quick suite evaluates: never packed
    held_stems = {eurosat_stem(i) for i in held_out if eurosat_stem(i)}
    arrays: dict[str, np.ndarray] = {}
    sources: list[dict] = []

    # EuroSAT RGB: the training list (minus stems the suite evaluates in either version), JPEG bytes
    ds = open_dataset(cfg["eurosat_rgb"], "train")
    by_class: dict[int, list] = {}
    for i, (p, y) in enumerate(ds.items):
        if Path(p).stem not in held_stems:
            by_class.setdefault(int(y), []).append(i)
    per = args.rgb // len(by_class)
    chosen = sorted(int(i) for y in sorted(by_class) for i in rng.permutation(by_class[y])[:per])
    blobs = [Path(ds.items[i][0]).read_bytes() for i in chosen]
    arrays["rgb_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    arrays["rgb_off"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    sources.append({"name": "eurosat_rgb", "kind": "jpeg", **describe("rgb", ["R", "G", "B"]),
                    "idents": [item_ident("eurosat_rgb", ds, i) for i in chosen]})

    # Dubai aerial land cover: the training and validation tiles (the suite tests on the test tile), JPEG bytes
    blobs, idents = [], []
    for split in ("train", "val"):
        ds = open_dataset(cfg["dubai_aerial"], split)
        for i, (_tile, img, _mask) in enumerate(ds.items):
            blobs.append(Path(img).read_bytes())
            idents.append(item_ident("dubai_aerial", ds, i))
    arrays["dubai_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    arrays["dubai_off"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    sources.append({"name": "dubai_aerial", "kind": "jpeg_scene", **describe("rgb", ["R", "G", "B"]),
                    "idents": idents})

    # EuroSAT MS subset: train folder, minus stems the suite evaluates as RGB
    ds = open_dataset(cfg["eurosat_ms"], "train")
    s2 = get_sensor("sentinel2_l1c")
    chips, idents = [], []
    for i in range(len(ds)):
        path = Path(ds.items[i][0])
        if path.stem in held_stems:
            continue
        with rasterio.open(path) as src:
            chips.append(src.read().astype(np.float32) * s2.scale + s2.offset)
        idents.append(item_ident("eurosat_ms", ds, i))
    arrays["ms_u8"], scale = quantise(np.stack(chips))
    sources.append({"name": "eurosat_ms", "kind": "chips", "scale": scale,  # the files' band order (B8A last)
                    **describe("sentinel2_l1c", list(ds[0]["bands"])), "idents": idents})

    # OpenSARShip: train + val chips (linear), resized to 64 px like the suite's resize, float16
    chips, idents = [], []
    for split in ("train", "val"):
        ds = open_dataset(cfg["opensarship"], split)
        for i in range(len(ds)):
            s = ds[i]
            chips.append(F.interpolate(s["image"][None].float(), size=(64, 64), mode="bilinear",
                                       align_corners=False)[0].numpy())
            idents.append(item_ident("opensarship", ds, i))
    arrays["sar_f16"] = np.stack(chips).astype(np.float16)
    sources.append({"name": "opensarship", "kind": "chips_float", **describe("sentinel1_grd_linear", ["VV", "VH"]),
                    "idents": idents})

    # Scenes: Landsat 8 (B1-B7, 30 m), Sentinel-2 18SVG (20 m bands), eo-learn EOPatch reference scenes (5 dates)
    from eokit.env import data_root

    base = data_root()
    l8 = get_sensor("landsat8")
    bands = ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]
    stack = []
    for b in bands:
        with rasterio.open(base / f"scenes/landsat8_LC80200392015216/l8_{b}.tif") as src:
            stack.append(src.read(1).astype(np.float32) * l8.scale + l8.offset)
    arrays["l8_u8"], scale = quantise(np.clip(np.stack(stack), 0, None))
    sources.append({"name": "landsat8_scene", "kind": "scene", "scale": scale, **describe("landsat8", bands),
                    "idents": ["landsat8_scene:LC80200392015216"]})
    bands = ["B05", "B06", "B07", "B8A", "B11", "B12"]
    stack = []
    for b in bands:
        with rasterio.open(base / f"scenes/sentinel2_18SVG_20160112/s2_{b}.tif") as src:
            stack.append(src.read(1).astype(np.float32) * s2.scale + s2.offset)
    arrays["s2_u8"], scale = quantise(np.stack(stack))
    sources.append({"name": "sentinel2_scene", "kind": "scene", "scale": scale,
                    **describe("sentinel2_l1c", bands), "idents": ["sentinel2_scene:18SVG_20160112"]})
    ref = np.load(base / "timeseries/eolearn_TestEOPatch_S2_slovenia/REFERENCE_SCENES.npy")  # (T, H, W, 13)
    arrays["eol_u8"], scale = quantise(np.moveaxis(ref.astype(np.float32), -1, 1))  # (T, 13, H, W)
    sources.append({"name": "eolearn_series", "kind": "series", "scale": scale,
                    **describe("sentinel2_l1c", [b.name for b in s2.bands]),
                    "idents": ["eolearn_series:TestEOPatch_S2_slovenia/REFERENCE_SCENES"]})
    check_no_leakage([i for s in sources for i in s["idents"]], held_out, "in the pack ")

    meta = {"format": "eokit-pretrain-pack/1", "seed": args.seed, "sources": sources}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(args.out)
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB; " +
          ", ".join(f"{s['name']} {len(s['idents'])}" for s in sources))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
