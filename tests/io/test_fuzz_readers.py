"""Property-based fuzzing of every file reader: truncated, byte-flipped, zero-size and
wrong-format files give an EokitError naming the file (or read), never a raw traceback or a hang.

Each reader gets a small valid file made here, and hypothesis mutates it. Examples are
bounded (``max_examples``) and each has a deadline, so the module runs in well under 20 s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from rasterio.transform import from_origin

import eokit.datasets.catalog  # noqa: F401 - registers the loaders
from eokit.errors import EokitError
from eokit.io import close_all, open_raster, open_stac_item

DATA = Path(__file__).resolve().parents[1] / "data"
N = int(os.environ.get("EOKIT_FUZZ_EXAMPLES", "40"))  # raise it for a deeper (slower) run
FUZZ = settings(max_examples=N, deadline=2000, derandomize=N <= 40, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(FUZZ, max_examples=max(1, N // 2), deadline=3000)  # per example: a dataset is built


# -- valid small files ------------------------------------------------------------------------
def write_geotiff(path: Path) -> None:
    data = np.arange(3 * 32 * 32, dtype="uint16").reshape(3, 32, 32)
    with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=3, dtype="uint16",
                       crs="EPSG:32631", transform=from_origin(0, 320, 10, 10), compress="lzw",
                       tiled=True, blockxsize=16, blockysize=16) as ds:
        ds.write(data)


def write_envi(path: Path) -> None:
    """``path`` (.img) and its ``.hdr``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="ENVI", width=16, height=12, count=2, dtype="float32",
                           crs="EPSG:32631", transform=from_origin(0, 120, 10, 10)) as ds:
            ds.write(np.ones((2, 12, 16), "float32"))


def write_image(path: Path) -> None:
    rgb = np.add.outer(np.arange(24), np.arange(20))[..., None] * np.array([1, 2, 3])
    Image.fromarray((rgb % 256).astype("uint8")).save(path)


def write_stac(path: Path) -> None:
    write_geotiff(path.parent / "b.tif")
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "fuzz", "properties": {"datetime": None},
            "geometry": None, "links": [],
            "assets": {"b": {"href": "b.tif", "type": "image/tiff", "roles": ["data"],
                             "eo:bands": [{"name": "B02"}, {"name": "B03"}, {"name": "B04"}]}}}
    path.write_text(json.dumps(item))


def write_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("scene/Patch/001_x1_y1.txt", "x" * 300)
        zf.writestr("scene/Ship.xml", "<ShipList>" + "<ship/>" * 40 + "</ShipList>")


def write_targz(path: Path) -> None:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        blob = b"y" * 500
        info = tarfile.TarInfo("scene/chip.bin")
        info.size = len(blob)
        tf.addfile(info, io.BytesIO(blob))


def write_geoparquet(path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    gpd.GeoDataFrame({"cls": [1, 2]}, geometry=[box(0, 0, 1, 1), box(1, 1, 2, 2)], crs="EPSG:4326").to_parquet(path)


def write_mat73(path: Path) -> None:
    """A MATLAB v7.3 file: HDF5 behind a 512-byte MATLAB header (scipy then defers to h5py)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("cube", data=np.ones((4, 5, 6), "float32"))
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM")


def _geobench() -> object:
    spec = importlib.util.spec_from_file_location("gen_geobench_fuzz", DATA / "geobench" / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- mutations --------------------------------------------------------------------------------
OTHER = b"\x89PNG\r\n\x1a\n" + b"\0" * 40  # a PNG header: "a file of another format, renamed"


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "zero", "renamed", "garbage"]))
    if kind == "zero":
        return b""
    if kind == "renamed":
        return draw(st.sampled_from([OTHER, b"<html>not found</html>", b'{"type": "FeatureCollection"}']))
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=256))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    head = min(len(data) - 1, 511)
    where = st.one_of(st.integers(0, head), st.integers(0, len(data) - 1))  # headers matter most
    for pos in draw(st.lists(where, min_size=1, max_size=8)):
        out[pos] ^= draw(st.integers(1, 255))
    return bytes(out)


def survives(read: Callable[[], object], path: Path) -> None:
    """``read()`` succeeds or raises an EokitError whose message names ``path``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read()
    except EokitError as exc:
        assert path.name in str(exc), f"error does not name {path.name}: {exc}"
    finally:
        close_all()


def fuzz_one(make: Callable[[Path], None], name: str, read: Callable[[Path], object],
             target: str | None = None) -> Callable[[], None]:
    """A hypothesis test: build a valid ``name`` with ``make``, mutate ``target`` (default ``name``), ``read``."""
    with tempfile.TemporaryDirectory() as d:
        make(Path(d) / name)
        valid = (Path(d) / (target or name)).read_bytes()

    @FUZZ
    @given(blob=mutated(valid))
    def run(blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / name
            make(path)
            bad = Path(d) / (target or name)
            bad.write_bytes(blob)
            survives(lambda: read(path), bad)

    return run


def _read_raster(path: Path) -> None:
    src = open_raster(path)
    src.read()


def _read_image(path: Path) -> None:
    from eokit.datasets.catalog.classification import read_image

    read_image(path, None)


def _read_vectors(path: Path) -> None:
    from eokit.data.labels import read_vectors

    read_vectors(path)


def _unpack(path: Path) -> None:
    from eokit.datasets.download import unpack_into

    out = path.parent / "out"
    out.mkdir()
    unpack_into(path, out)


def _read_mat(path: Path) -> None:
    from eokit.datasets.catalog._util import read_mat

    read_mat(path)


READERS = pytest.mark.parametrize(
    ("make", "name", "read", "target"),
    [
        (write_geotiff, "scene.tif", _read_raster, None),
        (write_envi, "cube.img", lambda p: _read_raster(p.with_suffix(".hdr")), "cube.hdr"),
        (write_envi, "cube.img", lambda p: _read_raster(p.with_suffix(".hdr")), None),
        (write_image, "chip.png", _read_image, None),
        (write_image, "chip.jpg", _read_image, None),
        (write_stac, "item.json", open_stac_item, None),
        (write_stac, "item.json", open_stac_item, "b.tif"),
        (write_zip, "package.zip", _unpack, None),
        (write_targz, "package.tar.gz", _unpack, None),
        (write_geoparquet, "labels.parquet", _read_vectors, None),
        (write_mat73, "cube.mat", _read_mat, None),
    ],
    ids=["geotiff", "envi-hdr", "envi-img", "png", "jpeg", "stac-json", "stac-asset", "zip", "targz", "geoparquet",
         "hdf5-mat"],
)


@READERS
def test_valid_files_read(tmp_path: Path, make: Callable[[Path], None], name: str,
                          read: Callable[[Path], object], target: str | None) -> None:
    """The unmutated files read: the fuzz tests start from files each reader accepts."""
    make(tmp_path / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read(tmp_path / name)
    close_all()


@pytest.mark.timeout(60)
@READERS
def test_fuzz_reader(make: Callable[[Path], None], name: str, read: Callable[[Path], object],
                     target: str | None) -> None:
    fuzz_one(make, name, read, target)()


def test_envi_missing_img(tmp_path: Path) -> None:
    write_envi(tmp_path / "cube.img")
    (tmp_path / "cube.img").unlink()
    with pytest.raises(EokitError, match="cube"):
        open_raster(tmp_path / "cube.hdr")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", ["id_00000.hdf5", "default_partition.json", "label_map.json"])
def test_fuzz_geobench_hdf5(tmp_path_factory: pytest.TempPathFactory, target: str) -> None:
    """GEO-Bench chips (HDF5) and their JSON partition files, through the dataset."""
    from eokit.datasets import get_dataset

    base = _geobench().write_task(tmp_path_factory.mktemp("gb"), "m-eurosat")
    valid = (base / target).read_bytes()

    @SLOW
    @given(blob=mutated(valid))
    def run(blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            root = Path(d) / "m-eurosat"
            shutil.copytree(base, root)
            (root / target).write_bytes(blob)
            survives(lambda: get_dataset("m_eurosat", root=root, split="train")[0], root / target)

    run()


def test_fuzz_image_folder_dataset(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A corrupt JPEG inside an image-folder tree fails as a DatasetError naming it."""
    from eokit.datasets.catalog.classification import ImageFolderEO

    base = tmp_path_factory.mktemp("folder")
    for c in ("Forest", "River"):
        (base / c).mkdir()
        write_image(base / c / "a.jpg")
    valid = (base / "Forest" / "a.jpg").read_bytes()

    @FUZZ
    @given(blob=mutated(valid))
    def run(blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            root = Path(d) / "tree"
            shutil.copytree(base, root)
            (root / "Forest" / "a.jpg").write_bytes(blob)
            ds = ImageFolderEO(root, split="train", classes=["Forest", "River"])
            survives(lambda: [ds[i] for i in range(len(ds))], root / "Forest" / "a.jpg")

    run()


def _ben_provider() -> object:
    spec = importlib.util.spec_from_file_location("prov_ben_fuzz", DATA / "bigearthnet_s2" / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(60)
def test_fuzz_bigearthnet_metadata(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """BigEarthNet v2's metadata.parquet and v1's bz2 split lists, through the dataset."""
    from eokit.datasets.catalog.multilabel import BigEarthNetS2

    prov = _ben_provider()
    root = prov.build_v2(tmp_path_factory.mktemp("ben"), mirror)
    meta = root / "metadata.parquet"
    valid_meta = meta.read_bytes()
    splits = mirror / prov.EXAMPLES / "splits"
    valid_list = (splits / "train.csv.bz2").read_bytes()

    @SLOW
    @given(blob=mutated(valid_meta))
    def v2(blob: bytes) -> None:
        meta.write_bytes(blob)
        survives(lambda: BigEarthNetS2(root, "train")[0], meta)

    @SLOW
    @given(blob=mutated(valid_list))
    def v1(blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            lst = Path(d) / "train.csv.bz2"
            lst.write_bytes(blob)
            kwargs = {**prov.v1_kwargs(mirror, "train"), "splits_dir": d}
            survives(lambda: BigEarthNetS2(**kwargs)[0], lst)

    v2()
    v1()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("rel", "read"),
    [("scenes/rasterio_landsat7_rgb/RGBA.uint16.tif", _read_raster),
     ("classification/eurosat_rgb/SeaLake/SeaLake_827.jpg", _read_image)],
    ids=["rgba-geotiff", "eurosat-jpeg"],
)
def test_fuzz_real_files(mirror: Path, rel: str, read: Callable[[Path], object]) -> None:
    """Mutations of real files from the data mirror (a GeoTIFF and a EuroSAT JPEG)."""
    real = mirror / rel
    fuzz_one(lambda p: shutil.copy(real, p), real.name, read)()


@pytest.mark.timeout(60)
def test_fuzz_agbd_hdf5(tmp_path_factory: pytest.TempPathFactory) -> None:
    """AGBD's HDF5 tiles, indexed and read through the dataset."""
    from eokit.datasets import get_dataset

    spec = importlib.util.spec_from_file_location("gen_agbd_fuzz", DATA / "agbd" / "data.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    base = gen.write(tmp_path_factory.mktemp("agbd") / "agbd")
    name = "data_subset-2019-v4_0-20.h5"
    valid = (base / name).read_bytes()
    tiles = {"train": list(gen.TILES)}

    @SLOW
    @given(blob=mutated(valid))
    def run(blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            root = Path(d) / "agbd"
            root.mkdir()
            (root / name).write_bytes(blob)
            survives(lambda: [s for s in get_dataset("agbd", root=root, split="train", split_tiles=tiles)],
                     root / name)

    run()
