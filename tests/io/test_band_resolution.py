"""Bands wanted by name, alias, wavelength or position, on every kind of scene, from what files carry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eokit.cli.main import main
from eokit.errors import BandError
from eokit.infer.source import open_scene
from eokit.io import BandStack, open_band_files, open_raster, open_stac_item
from eokit.sensors import spectral_index

ETM_UM = (0.483, 0.560, 0.662, 0.835, 1.648, 2.206)  # Landsat 7 ETM+ B1-B5, B7
CRS, TRANSFORM = "EPSG:32633", from_origin(500000, 4000000, 30, 30)


def etm_array(h: int = 12, w: int = 10) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(20, 250, size=(6, h, w)).astype("uint8")


def write_envi_etm(path: Path, arr: np.ndarray, band_names: tuple[str, ...] | None = None) -> Path:
    """An ENVI .img/.hdr pair whose header gives the ETM+ wavelengths (µm) and, unless given, no band names."""
    with rasterio.open(path, "w", driver="ENVI", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=arr.dtype.name, crs=CRS, transform=TRANSFORM) as ds:
        ds.write(arr)
    hdr = path.with_suffix(".hdr")
    text = re.sub(r"band names = \{[^}]*\}\n?", "", hdr.read_text())
    if band_names:
        text += "band names = {" + ", ".join(band_names) + "}\n"
    text += "wavelength units = Micrometers\nwavelength = {" + ", ".join(map(str, ETM_UM)) + "}\n"
    hdr.write_text(text)
    return path


def write_tif(path: Path, arr: np.ndarray, descriptions: tuple[str, ...] | None = None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=arr.dtype.name, crs=CRS, transform=TRANSFORM) as ds:
        ds.write(arr)
        for i, d in enumerate(descriptions or ()):
            ds.set_band_description(i + 1, d)
    return path


def ndvi(nir: np.ndarray, red: np.ndarray) -> np.ndarray:
    nir, red = nir.astype("float64"), red.astype("float64")
    return (nir - red) / (nir + red)


def test_envi_wavelengths_name_sensor_bands_and_ndvi(tmp_path: Path) -> None:
    arr = etm_array()
    img = write_envi_etm(tmp_path / "etm.img", arr)
    plain = open_raster(img)
    assert plain.bands == ("1", "2", "3", "4", "5", "6")
    np.testing.assert_allclose(plain.wavelengths, [u * 1000 for u in ETM_UM])
    assert plain.read(bands=["660nm"]).bands == ("3",)
    src = open_raster(tmp_path / "etm.hdr", sensor="landsat7")  # the header stands for its data file
    assert src.bands == ("B1", "B2", "B3", "B4", "B5", "B7")
    chip = src.read()
    values = spectral_index("NDVI", src.sensor.to_reflectance(chip.array), chip.bands, "landsat7")
    np.testing.assert_allclose(values, ndvi(arr[3], arr[2]), rtol=1e-6)
    # unnamed bands + wavelengths, no sensor: spectral_index resolves through wavelengths= with the sensor
    raw = plain.read().array
    np.testing.assert_allclose(spectral_index("NDVI", raw, plain.bands, "landsat7", wavelengths=plain.wavelengths),
                               ndvi(arr[3], arr[2]), rtol=1e-6)
    out = tmp_path / "ndvi.tif"
    assert main(["index", "NDVI", str(img), "--sensor", "landsat7", "-o", str(out)]) == 0
    with rasterio.open(out) as ds:
        np.testing.assert_allclose(ds.read(1), ndvi(arr[3], arr[2]), rtol=1e-6)


def test_descriptions_carry_names_generic_ones_do_not(tmp_path: Path) -> None:
    arr = etm_array()[:3]
    named = write_envi_etm(tmp_path / "named.img", np.concatenate([arr, arr]),
                           band_names=("B1", "B2", "B3", "B4", "B5", "B7"))
    assert open_raster(named).bands == ("B1", "B2", "B3", "B4", "B5", "B7")
    generic = write_tif(tmp_path / "g.tif", arr, ("Band 1", "Band 2", "Band 3"))
    assert open_raster(generic).bands == ("1", "2", "3")
    assert open_raster(generic, sensor="rgb").bands == ("R", "G", "B")


def test_band_map_names_positions_and_bands_selects(tmp_path: Path) -> None:
    arr = etm_array()[:4]
    tif = write_tif(tmp_path / "four.tif", arr)
    src = open_raster(tif, band_map="red=3,nir=4")
    assert src.bands == ("1", "2", "red", "nir")
    l7 = open_raster(tif, sensor="landsat7", band_map={"red": 3, "nir": 4})
    assert l7.bands == ("1", "2", "B3", "B4")
    sub = open_raster(tif, sensor="landsat7", band_map="red=3,nir=4", bands=["nir", "B3"])
    assert sub.bands == ("B4", "B3") and sub.indexes == (4, 3)
    chip = sub.read()
    np.testing.assert_array_equal(chip.array, arr[[3, 2]].astype("float32"))
    assert chip.bands == ("B4", "B3") and sub.read(bands=["red"]).array[0].tolist() == arr[2].tolist()
    with pytest.raises(BandError, match=r"position 5 .*has 4 band"):
        open_raster(tif, band_map="red=5")
    with pytest.raises(BandError, match=r"\['swir16'\] not found in .*four.tif"):
        open_raster(tif, sensor="landsat7", band_map="red=3", bands=["red", "swir16"])


def _band_files(folder: Path, arr: np.ndarray) -> list[Path]:
    folder.mkdir()
    return [write_tif(folder / f"l7_{name}.tif", arr[i:i + 1]) for i, name in enumerate(("B2", "B3", "B4"))]


def _stac_item(tmp_path: Path, files: list[Path]) -> Path:
    common = ("green", "red", "nir")
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": "etm-item", "properties": {"datetime": None},
        "geometry": None, "links": [],
        "assets": {
            f.stem: {"href": f"bands/{f.name}", "type": "image/tiff", "roles": ["data"],
                     "eo:bands": [{"name": f.stem.split("_")[1], "common_name": c,
                                   "center_wavelength": ETM_UM[k + 1]}]}
            for k, (f, c) in enumerate(zip(files, common, strict=True))
        },
    }
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    return path


def test_open_scene_bands_for_every_scene_kind(tmp_path: Path) -> None:
    arr = etm_array()[1:4]  # green, red, nir
    files = _band_files(tmp_path / "bands", arr)
    multi = write_tif(tmp_path / "multi.tif", arr, ("B2", "B3", "B4"))
    item = _stac_item(tmp_path, files)
    scenes = {
        "raster": str(multi), "glob": str(tmp_path / "bands" / "l7_B*.tif"), "folder": tmp_path / "bands",
        "list": [str(f) for f in files], "stac": item, "stac-dict": json.loads(item.read_text()) | {
            "assets": {k: v | {"href": str(tmp_path / v["href"])}
                       for k, v in json.loads(item.read_text())["assets"].items()}},
        "source": open_raster(multi, sensor="landsat7"), "stack": open_band_files(files, sensor="landsat7"),
    }
    for kind, scene in scenes.items():
        src = open_scene(scene, sensor="landsat7", bands=["nir", "red"])
        assert len(src.bands) == 2, kind
        chip = src.read()
        np.testing.assert_array_equal(chip.array, arr[[2, 1]].astype("float32"), err_msg=kind)
        with pytest.raises(BandError, match=r"\['swir16'\].*not found in .*(multi\.tif|l7_B\d\.tif)"):
            open_scene(scene, sensor="landsat7", bands=["red", "swir16"])
    # without a sensor the STAC item still resolves common names and centre wavelengths from eo:bands
    stac = open_stac_item(item, bands=["nir", "560nm"])
    assert isinstance(stac, BandStack) and stac.bands == ("B4", "B2")
    np.testing.assert_allclose(stac.wavelengths, [835.0, 560.0])


def test_stack_band_map_over_unnamed_files(tmp_path: Path) -> None:
    arr = etm_array()[:2]
    a, b = write_tif(tmp_path / "a.tif", arr[:1]), write_tif(tmp_path / "b.tif", arr[1:])
    stack = open_band_files([a, b], band_map="red=1,nir=2", bands=["nir"])
    assert stack.bands == ("nir",)
    np.testing.assert_array_equal(stack.read().array[0], arr[1].astype("float32"))
    assert open_band_files([a, b]).bands == ("1", "1")  # the caller's sources keep their names


def test_cli_band_map_on_unnamed_bands(tmp_path: Path, capsys) -> None:
    arr = etm_array()[:4]
    tif = write_tif(tmp_path / "u.tif", arr)
    assert main(["info", str(tif), "--band-map", "red=3,nir=4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bands"] == ["1", "2", "red", "nir"]
    out = tmp_path / "n.tif"
    assert main(["index", "NDVI", str(tif), "--sensor", "landsat7", "--band-map", "red=3,nir=4", "-o", str(out)]) == 0
    with rasterio.open(out) as ds:
        np.testing.assert_allclose(ds.read(1), ndvi(arr[3], arr[2]), rtol=1e-6)
    assert main(["index", "NDVI", str(tif), "--sensor", "landsat7", "-o", str(out)]) == 2
    assert "band-map" in capsys.readouterr().err
    png = tmp_path / "q.png"
    assert main(["quicklook", str(tif), "--band-map", "red=3,green=2,blue=1", "-o", str(png)]) == 0
    assert png.stat().st_size > 0
    capsys.readouterr()
    # without names or a map: the first three bands as RGB, with a note saying so and how to choose
    assert main(["quicklook", str(tif), "-o", str(tmp_path / "x.png")]) == 0
    assert "as R,G,B" in capsys.readouterr().err
    assert main(["quicklook", str(tif), "--bands", "red,green,blue", "-o", str(tmp_path / "y.png")]) == 2


def test_real_file_bands_by_wavelength_and_alias(mirror: Path) -> None:
    tif = mirror / "segmentation/sen1floods11_sample/S2Hand/Spain_7370579_S2Hand.tif"
    src = open_scene(tif, sensor="sentinel2_l1c", bands=["665nm", "nir"])
    assert src.bands == ("B4", "B8") and src.indexes == (4, 8)
    with rasterio.open(tif) as ds:
        np.testing.assert_array_equal(src.read(window=(0, 0, 32, 16)).array,
                                      ds.read([4, 8], window=((0, 16), (0, 32))).astype("float32"))
