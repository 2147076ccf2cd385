"""Multi-label scene classification: BigEarthNet (v2 / reBEN and v1), Sentinel-2 and Sentinel-1.

Two published layouts (``layout=``):

- ``'v2'`` (default, reBEN, Zenodo 10891137): ``BigEarthNet-S2/<tile>/<patch_id>/<patch_id>_B02.tif``,
  ``BigEarthNet-S1/<tile>/<s1_name>/<s1_name>_VV.tif`` and ``metadata.parquet`` (``patch_id``,
  ``labels`` in the 19-class nomenclature, ``split`` train/validation/test, ``s1_name``).
- ``'v1'``: one folder per patch (``BigEarthNet-v1.0/<patch>/<patch>_B02.tif`` + ``<patch>_labels_metadata.json``
  with 43-class CORINE names; S1 in ``BigEarthNet-S1-v1.0/<s1 patch>/`` whose JSON names its
  ``corresponding_s2_patch``) with the official split lists ``train.csv``/``val.csv``/``test.csv``
  (plain or ``.bz2``), minus the patches of ``patches_with_cloud_and_shadow.csv`` and
  ``patches_with_seasonal_snow.csv`` as the authors recommend. The example archives of
  ``bigearthnet-common`` use this layout with other folder names: pass ``s2_dir=``/``s1_dir=``/``splits_dir=``,
  and ``missing='skip'`` for a copy that holds only some patches of the lists.

Sentinel-2 bands come at 10/20/60 m (120/60/20 px); the 20 m and 60 m bands are
resampled onto the 120x120 10 m grid of B02 with ``resampling`` (default
bilinear, as reBEN's own pipeline and TorchGeo do). Labels: 19 classes
(default) or 43 (v1 only: v2 publishes 19-class labels), multi-hot float32.
"""

from __future__ import annotations

import bz2
import dataclasses
import functools
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from eokit.data.modalities import check_modality_grids, multimodal_sample
from eokit.data.sample import Sample
from eokit.datasets.base import DatasetSpec, Download, EODataset, register
from eokit.datasets.catalog._util import geo_meta, image_tensor
from eokit.errors import DatasetError
from eokit.io import open_band_files
from eokit.sensors import get_sensor

log = logging.getLogger(__name__)

CLASSES_43 = (
    "Continuous urban fabric", "Discontinuous urban fabric", "Industrial or commercial units",
    "Road and rail networks and associated land", "Port areas", "Airports", "Mineral extraction sites",
    "Dump sites", "Construction sites", "Green urban areas", "Sport and leisure facilities",
    "Non-irrigated arable land", "Permanently irrigated land", "Rice fields", "Vineyards",
    "Fruit trees and berry plantations", "Olive groves", "Pastures", "Annual crops associated with permanent crops",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas", "Broad-leaved forest", "Coniferous forest", "Mixed forest", "Natural grassland",
    "Moors and heathland", "Sclerophyllous vegetation", "Transitional woodland/shrub", "Beaches, dunes, sands",
    "Bare rock", "Sparsely vegetated areas", "Burnt areas", "Inland marshes", "Peatbogs", "Salt marshes",
    "Salines", "Intertidal flats", "Water courses", "Water bodies", "Coastal lagoons", "Estuaries", "Sea and ocean",
)  # fmt: skip
CLASSES_19 = (
    "Urban fabric", "Industrial or commercial units", "Arable land", "Permanent crops", "Pastures",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas", "Broad-leaved forest", "Coniferous forest", "Mixed forest",
    "Natural grassland and sparsely vegetated areas", "Moors, heathland and sclerophyllous vegetation",
    "Transitional woodland, shrub", "Beaches, dunes, sands", "Inland wetlands", "Coastal wetlands",
    "Inland waters", "Marine waters",
)  # fmt: skip
# 43-class index -> 19-class index (BigEarthNet label_indices.json); the others have no 19-class label
MAP_43_TO_19 = {
    0: 0, 1: 0, 2: 1, 11: 2, 12: 2, 13: 2, 14: 3, 15: 3, 16: 3, 18: 3, 17: 4, 19: 5, 20: 6, 21: 7,
    22: 8, 23: 9, 24: 10, 25: 11, 31: 11, 26: 12, 27: 12, 28: 13, 29: 14, 33: 15, 34: 15, 35: 16,
    36: 16, 38: 17, 39: 17, 40: 18, 41: 18, 42: 18,
}  # fmt: skip
S2_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
S1_BANDS = ("VV", "VH")
NOISY_LISTS = ("patches_with_cloud_and_shadow", "patches_with_seasonal_snow")
ZENODO = "https://zenodo.org/records/10891137/files/"
CITATION = (
    "Clasen et al., reBEN: Refined BigEarthNet Dataset for Remote Sensing Image Analysis, IGARSS 2025 (v2); "
    "Sumbul et al., BigEarthNet-MM, IEEE GRSM 2021 (v1)"
)


def _read_list(path: Path) -> list[str]:
    """Patch names (first column) of a split CSV, plain or bz2; cached per file version."""
    st = path.stat()
    return list(_read_list_cached(str(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=16)
def _read_list_cached(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    try:
        raw = bz2.decompress(Path(path).read_bytes()) if path.endswith(".bz2") else Path(path).read_bytes()
        text = raw.decode("utf-8")
    except (OSError, ValueError, EOFError) as exc:  # bz2: "Invalid data stream"; bad UTF-8
        raise DatasetError(f"split list {path!r} is corrupt or truncated ({exc}); restore it") from exc
    return tuple(line.split(",")[0].strip() for line in text.splitlines() if line.strip())


def _find_list(folder: Path, stem: str) -> Path | None:
    return next((p for p in (folder / f"{stem}.csv", folder / f"{stem}.csv.bz2") if p.exists()), None)


class _BigEarthNet(EODataset):
    modality: ClassVar[str] = "s2"
    V1_DIR: ClassVar[str] = "BigEarthNet-v1.0"
    V2_DIR: ClassVar[str] = "BigEarthNet-S2"

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        *,
        layout: str = "v2",
        num_classes: int = 19,
        bands: Sequence[str] | None = None,
        resampling: str = "bilinear",
        s2_dir: str | None = None,
        s1_dir: str | None = None,
        splits_dir: str | None = None,
        exclude_noisy: bool = True,
        missing: str = "error",
        **kwargs: Any,
    ) -> None:
        if layout not in ("v1", "v2"):
            raise DatasetError(f"{self.spec.name}: layout must be 'v2' or 'v1', not {layout!r}")
        if num_classes not in (19, 43):
            raise DatasetError(f"{self.spec.name}: num_classes must be 19 or 43, not {num_classes}")
        if layout == "v2" and num_classes == 43:
            raise DatasetError(f"{self.spec.name}: BigEarthNet v2 publishes 19-class labels only; use layout='v1' for 43")
        if missing not in ("error", "skip"):
            raise DatasetError(f"missing must be 'error' or 'skip', not {missing!r}")
        self.layout = layout
        self.num_classes = num_classes
        self.classes = CLASSES_19 if num_classes == 19 else CLASSES_43
        self.spec = dataclasses.replace(type(self).spec, classes=self.classes)  # type: ignore[misc]  # per-instance classes
        self.band_subset = list(bands) if bands is not None else list(self.spec.bands)
        self.resampling = resampling
        self.s2_dir = s2_dir or ("BigEarthNet-S2" if layout == "v2" else "BigEarthNet-v1.0")
        self.s1_dir = s1_dir or ("BigEarthNet-S1" if layout == "v2" else "BigEarthNet-S1-v1.0")
        self.splits_dir = splits_dir
        self.exclude_noisy = exclude_noisy
        self.missing = missing
        super().__init__(root, split, **kwargs)

    # -- index ---------------------------------------------------------------
    def _index(self) -> list[dict[str, Any]]:
        return self._index_v2() if self.layout == "v2" else self._index_v1()

    def _index_v2(self) -> list[dict[str, Any]]:
        import pandas as pd

        meta = self.root / "metadata.parquet"
        if not meta.exists():
            raise DatasetError(
                f"{self.spec.name}: {str(meta)!r} not found (layout v2); run `eokit datasets download "
                f"{self.spec.name}`, or pass layout='v1' for the v1 folder layout"
            )
        import pyarrow

        try:
            df = pd.read_parquet(meta, columns=["patch_id", "labels", "split", "s1_name"])
        except (OSError, ValueError, KeyError, pyarrow.ArrowException) as exc:
            raise DatasetError(
                f"{self.spec.name}: cannot read {str(meta)!r} ({type(exc).__name__}: {exc}); it should be "
                "BigEarthNet v2's metadata.parquet with patch_id, labels, split and s1_name columns"
            ) from exc
        want = "validation" if self.split == "val" else self.split
        entries = []
        try:  # the table's values (strings decode lazily; nulls where names belong)
            df = df[df["split"] == want]
            for pid, labels, s1 in zip(df["patch_id"], df["labels"], df["s1_name"], strict=True):
                name, cut = (pid, 2) if self.modality == "s2" else (s1, 3)
                rel = "_".join(name.split("_")[:-cut]) + "/" + name
                entries.append((str(pid), rel, [str(x) for x in labels]))
        except (ValueError, TypeError, AttributeError) as exc:
            raise DatasetError(
                f"{self.spec.name}: {str(meta)!r} holds invalid values ({type(exc).__name__}: {exc}); restore it"
            ) from exc
        return self._keep_present(entries, nested=True, nomenclature=19, source=meta)

    def _index_v1(self) -> list[dict[str, Any]]:
        sdir = self.root / (self.splits_dir or "")
        lst = _find_list(sdir, self.split)
        if lst is None:
            raise DatasetError(
                f"{self.spec.name}: split list {self.split}.csv(.bz2) not found in {str(sdir)!r}; pass splits_dir="
            )
        names = _read_list(lst)
        if self.exclude_noisy:
            noisy: set[str] = set()
            for stem in NOISY_LISTS:
                p = _find_list(sdir, stem)
                if p is not None:
                    noisy.update(_read_list(p))
            names = [n for n in names if n not in noisy]
        if self.modality == "s2":
            return self._keep_present([(n, n, None) for n in names], nested=False, nomenclature=43, source=lst)
        base = self._base()
        s1_of = {}
        for d in sorted(os.listdir(base)):
            js = base / d / f"{d}_labels_metadata.json"
            if js.exists():
                s1_of[json.loads(js.read_text()).get("corresponding_s2_patch")] = d
        entries = [(n, s1_of.get(n, f"<S1 patch of {n}>"), None) for n in names]
        return self._keep_present(entries, nested=False, nomenclature=43, source=lst)

    def _base(self) -> Path:
        base = self.root / (self.s2_dir if self.modality == "s2" else self.s1_dir)
        if not base.is_dir():
            raise DatasetError(
                f"{self.spec.name}: patch folder {str(base)!r} not found; pass "
                f"{'s2_dir' if self.modality == 's2' else 's1_dir'}= or run `eokit datasets download {self.spec.name}`"
            )
        return base

    def _keep_present(
        self, entries: Sequence[tuple[str, str, list[str] | None]], nested: bool, nomenclature: int,
        source: Path | None = None,
    ) -> list[dict[str, Any]]:
        """Items whose patch folder exists (one directory listing, not one stat per patch)."""
        base = self._base()
        if nested:
            present = {f"{t}/{p}" for t in os.listdir(base) if (base / t).is_dir() for p in os.listdir(base / t)}
        else:
            present = set(os.listdir(base))
        items = [
            {"id": i, "folder": base / rel, "labels": labels, "nomenclature": nomenclature}
            for i, rel, labels in entries
            if rel in present
        ]
        listed = f" listed in {str(source)!r}" if source is not None else ""
        if len(items) < len(entries):
            absent = next(rel for _, rel, _ in entries if rel not in present)
            if self.missing == "error":
                raise DatasetError(
                    f"{self.spec.name}: {len(entries) - len(items)} of {len(entries)} {self.split} patches{listed} "
                    f"are missing, e.g. {str(base / absent)!r}; the download is incomplete (pass missing='skip' to "
                    "read the patches present)"
                )
            log.info("%s: %d of %d %s patches present", self.spec.name, len(items), len(entries), self.split)
        if not items:
            raise DatasetError(
                f"{self.spec.name}: no {self.split} patch{listed} ({len(entries)} names) is under {str(base)!r}"
            )
        return items

    # -- load ----------------------------------------------------------------
    def _labels(self, item: dict[str, Any]) -> torch.Tensor:
        names = item["labels"]
        source = self.root / "metadata.parquet"
        if names is None:
            source = item["folder"] / f"{item['folder'].name}_labels_metadata.json"
            names = json.loads(source.read_text())["labels"]
        out = torch.zeros(self.num_classes, dtype=torch.float32)
        table = CLASSES_43 if item["nomenclature"] == 43 else CLASSES_19
        for name in names:
            if name not in table:
                raise DatasetError(
                    f"{self.spec.name}: unknown label {name!r} for patch {item['id']} (labels from {str(source)!r})"
                )
            k = table.index(name)
            if item["nomenclature"] == 43 and self.num_classes == 19:
                if k not in MAP_43_TO_19:
                    continue  # classes with no 19-class counterpart
                k = MAP_43_TO_19[k]
            out[k] = 1.0
        return out

    def describe(self, item: dict[str, Any]) -> str:
        return repr(str(item["folder"]))

    def _load(self, item: dict[str, Any]) -> Sample:
        folder: Path = item["folder"]
        paths = sorted(folder.glob("*.tif"))
        if not paths:
            raise DatasetError(f"{self.spec.name}: no band files in {str(folder)!r}")
        if self.modality == "s2":
            stack = open_band_files(paths, sensor="sentinel2_l2a", reference="B02", resampling=self.resampling)
        else:
            stack = open_band_files(paths, sensor="sentinel1_grd_db")
        chip = stack.read(bands=self.band_subset)
        return {
            "image": image_tensor(chip.array),
            "label": self._labels(item),
            "bands": tuple(chip.bands),
            "sensor": self.spec.sensor,
            **geo_meta(chip.grid),
            "time": None,
            "path": str(folder),
            "id": item["id"],
        }


_COMMON: dict[str, Any] = {
    "task": "multilabel",
    "classes": CLASSES_19,
    "splits": ("train", "val", "test"),
    "license": "CDLA-Permissive-1.0 (BigEarthNet); contains modified Copernicus Sentinel data",
    "citation": CITATION,
    "split_policy": "official: metadata.parquet 'split' column (v2) or train/val/test.csv minus the "
    "cloud/shadow and seasonal-snow patches (v1); checksums are not published (downloads unverified)",
    "homepage": "https://bigearth.net/",
}


@register
class BigEarthNetS2(_BigEarthNet):
    """BigEarthNet Sentinel-2 L2A patches (120x120 px at 10 m, 12 bands), multi-label CORINE classes."""

    modality = "s2"
    spec = DatasetSpec(
        name="bigearthnet_s2",
        sensor="sentinel2_l2a",
        bands=S2_BANDS,
        folder="bigearthnet",
        layout="v2: BigEarthNet-S2/<tile>/<patch>/<patch>_B01..B12,B8A.tif + metadata.parquet; "
        "v1: <s2_dir>/<patch>/<patch>_Bxx.tif + <patch>_labels_metadata.json + train/val/test.csv[.bz2]",
        downloads=(
            Download(ZENODO + "BigEarthNet-S2.tar.zst", "BigEarthNet-S2.tar.zst", extract=True),
            Download(ZENODO + "metadata.parquet", "metadata.parquet"),
        ),
        size="v2: 549,488 S2 patches, ~60 GB uncompressed",
        tags=frozenset({"gsd>=10", "multispectral"}),
        gsd=10.0,
        **_COMMON,
    )


@register
class BigEarthNetS1(_BigEarthNet):
    """BigEarthNet Sentinel-1 GRD patches (120x120 px, VV and VH backscatter in dB), multi-label."""

    modality = "s1"
    spec = DatasetSpec(
        name="bigearthnet_s1",
        sensor="sentinel1_grd_db",
        bands=S1_BANDS,
        folder="bigearthnet",
        layout="v2: BigEarthNet-S1/<tile>/<s1_name>/<s1_name>_VV.tif,_VH.tif + metadata.parquet (s1_name); "
        "v1: <s1_dir>/<s1 patch>/<s1 patch>_{VV,VH}.tif + labels JSON naming corresponding_s2_patch",
        downloads=(
            Download(ZENODO + "BigEarthNet-S1.tar.zst", "BigEarthNet-S1.tar.zst", extract=True),
            Download(ZENODO + "metadata.parquet", "metadata.parquet"),
        ),
        size="v2: 549,488 S1 patches, ~55 GB uncompressed",
        tags=frozenset({"gsd>=10", "sar"}),
        gsd=10.0,
        **_COMMON,
    )


@register
class BigEarthNetS1S2(_BigEarthNet):
    """BigEarthNet Sentinel-1 + Sentinel-2 pairs (BigEarthNet-MM): one multi-modal sample per patch.

    ``modalities`` ``s1`` (VV, VH dB) and ``s2`` (12 L2A bands, 20/60 m bands resampled onto B02's
    10 m grid with ``resampling``), stacked S1 then S2 under ``image``; the S1 patch of each S2
    patch comes from ``metadata.parquet`` (v2) or the S1 label JSON (v1). ``bands`` picks from both.
    """

    modality = "s2"
    spec = DatasetSpec(
        name="bigearthnet_s1s2",
        sensor=None,
        bands=S1_BANDS + S2_BANDS,
        folder="bigearthnet",
        layout="both layouts of bigearthnet_s2 and bigearthnet_s1 under one root (S2 and S1 patch folders)",
        downloads=BigEarthNetS2.spec.downloads + BigEarthNetS1.spec.downloads[:1],
        size="v2: 549,488 S1 + S2 patch pairs, ~115 GB uncompressed",
        tags=frozenset({"gsd>=10", "multispectral", "sar"}),
        gsd=10.0,
        **_COMMON,
    )

    def _index(self) -> list[dict[str, Any]]:
        s2 = self._index_of("s2")
        s1 = {it["id"]: it["folder"] for it in self._index_of("s1")}
        items = [{**it, "s1_folder": s1[it["id"]]} for it in s2 if it["id"] in s1]
        if len(items) < len(s2):
            absent = next(it for it in s2 if it["id"] not in s1)
            if self.missing == "error":
                raise DatasetError(
                    f"{self.spec.name}: {len(s2) - len(items)} of {len(s2)} {self.split} S2 patches have no S1 patch "
                    f"under {str(self.root / self.s1_dir)!r}, e.g. {absent['id']!r}; pass missing='skip' to read the "
                    "pairs present"
                )
        if not items:
            raise DatasetError(f"{self.spec.name}: no {self.split} S2 patch has its S1 patch under {str(self.root)!r}")
        return items

    def _index_of(self, modality: str) -> list[dict[str, Any]]:
        self.modality = modality  # type: ignore[misc]  # the S1 and S2 indexes differ only in their folders
        try:
            return super()._index()
        finally:
            self.modality = "s2"  # type: ignore[misc]  # back to the class's own

    def describe(self, item: dict[str, Any]) -> str:
        return f"{str(item['folder'])!r} + {str(item['s1_folder'])!r}"

    def _load(self, item: dict[str, Any]) -> Sample:
        s1_sensor = get_sensor("sentinel1_grd_db")
        want_s1 = [b for b in self.band_subset if s1_sensor.has(b)]
        want_s2 = [b for b in self.band_subset if not s1_sensor.has(b)]
        parts: dict[str, Sample] = {}
        grids: dict[str, tuple[Any, Path]] = {}
        for mod, folder, want in (("s1", item["s1_folder"], want_s1), ("s2", item["folder"], want_s2)):
            if not want:
                continue
            paths = sorted(Path(folder).glob("*.tif"))
            if not paths:
                raise DatasetError(f"{self.spec.name}: no band files in {str(folder)!r}")
            if mod == "s2":
                stack = open_band_files(paths, sensor="sentinel2_l2a", reference="B02", resampling=self.resampling)
            else:
                stack = open_band_files(paths, sensor="sentinel1_grd_db")
            chip = stack.read(bands=want)
            grids[mod] = (chip.grid, Path(folder))
            parts[mod] = {"image": image_tensor(chip.array), "bands": tuple(chip.bands),
                          "sensor": "sentinel2_l2a" if mod == "s2" else "sentinel1_grd_db"}
        check_modality_grids(grids)
        grid = next(iter(grids.values()))[0]
        top = {"label": self._labels(item), **geo_meta(grid), "time": None, "path": str(item["folder"]),
               "id": item["id"]}
        if len(parts) == 1:
            (only,) = parts.values()
            return {**only, **top}
        return multimodal_sample(parts, **top)
