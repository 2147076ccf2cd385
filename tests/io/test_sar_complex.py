"""Complex (single-look complex) SAR: info, explicit conversions, Pauli, against hand numpy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eokit.errors import BandError, DTypeError
from eokit.io import open_raster
from eokit.io.sar import COMPLEX_MODES, PAULI_BANDS, to_real

POLS = ("HH", "HV", "VH", "VV")


def make_slc(path: Path, dtype: str = "complex64", pols: tuple[str, ...] = POLS, seed: int = 0) -> np.ndarray:
    """A small georeferenced complex GeoTIFF with one described band per polarisation; returns its data."""
    rng = np.random.default_rng(seed)
    scale = 100 if dtype == "complex_int16" else 1
    z = (rng.normal(size=(len(pols), 6, 5)) + 1j * rng.normal(size=(len(pols), 6, 5))) * scale
    if dtype == "complex_int16":
        z = np.round(z.real) + 1j * np.round(z.imag)
    z = z.astype("complex128" if dtype == "complex128" else "complex64")
    z[0, 0, 0] = 0  # a zero-power pixel: intensity_db gives nan, never -inf
    with rasterio.open(path, "w", driver="GTiff", width=5, height=6, count=len(pols), dtype=dtype,
                       crs="EPSG:32631", transform=from_origin(500000, 100, 10, 10)) as ds:
        ds.write(z)
        ds.descriptions = pols
    return z


@pytest.mark.parametrize("dtype", ["complex64", "complex128", "complex_int16"])
def test_complex_modes_match_numpy(tmp_path: Path, dtype: str) -> None:
    p = tmp_path / f"slc_{dtype}.tif"
    z = make_slc(p, dtype)
    expect = {
        "amplitude": np.abs(z),
        "intensity": np.abs(z) ** 2,
        "phase": np.angle(z),
        "real_imag": np.stack([z.real, z.imag], axis=1).reshape(8, 6, 5),
    }
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(np.abs(z) ** 2)
    expect["intensity_db"] = np.where(np.isfinite(db), db, np.nan)
    for mode, want in expect.items():
        chip = open_raster(p, complex_mode=mode).read(dtype=None)
        assert chip.array.dtype == (np.float64 if dtype == "complex128" else np.float32)
        np.testing.assert_allclose(chip.array, want, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert np.isnan(open_raster(p, complex_mode="intensity_db").read().array[0, 0, 0])
    ri = open_raster(p, complex_mode="real_imag")
    assert ri.bands == ("HH_re", "HH_im", "HV_re", "HV_im", "VH_re", "VH_im", "VV_re", "VV_im")
    np.testing.assert_allclose(ri.read(bands=["VV_im", "HV_re"]).array, np.stack([z[3].imag, z[1].real]),
                               rtol=1e-6)
    np.testing.assert_allclose(open_raster(p, complex_mode="amplitude").read(bands=["VV"]).array[0],
                               np.abs(z[3]), rtol=1e-6)


def test_cint32_reads(tmp_path: Path) -> None:
    """GDAL CInt32 (made through a VRT, as rasterio cannot write it) reads like the others."""
    import rasterio.shutil

    src = tmp_path / "ci16.tif"
    z = make_slc(src, "complex_int16", pols=("VV",))
    vrt = tmp_path / "ci32.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="5" rasterYSize="6"><VRTRasterBand dataType="CInt32" band="1">'
        f"<SimpleSource><SourceFilename>{src}</SourceFilename><SourceBand>1</SourceBand></SimpleSource>"
        "</VRTRasterBand></VRTDataset>"
    )
    rasterio.shutil.copy(vrt, tmp_path / "ci32.tif", driver="GTiff")
    chip = open_raster(tmp_path / "ci32.tif", complex_mode="amplitude").read()
    np.testing.assert_allclose(chip.array[0], np.abs(z[0]), rtol=1e-6)


def test_pauli_quad_and_dual_cross_pol(tmp_path: Path) -> None:
    p = tmp_path / "quad.tif"
    z = make_slc(p)
    hh, hv, vh, vv = z
    s2 = np.sqrt(2)
    src = open_raster(p, complex_mode="pauli")
    assert src.bands == PAULI_BANDS
    want = np.stack([np.abs(hh - vv) / s2, np.abs(hv + vh) / s2, np.abs(hh + vv) / s2])
    np.testing.assert_allclose(src.read().array, want, rtol=1e-5)
    np.testing.assert_allclose(src.read(bands=["pauli_surface"]).array[0], want[2], rtol=1e-5)
    p3 = tmp_path / "hh_hv_vv.tif"
    z3 = make_slc(p3, pols=("HH", "HV", "VV"), seed=1)
    got = open_raster(p3, complex_mode="pauli").read().array
    np.testing.assert_allclose(got[1], np.abs(z3[1]) * s2, rtol=1e-5)
    np.testing.assert_allclose(got[0], np.abs(z3[0] - z3[2]) / s2, rtol=1e-5)


def test_pauli_needs_polarisations(tmp_path: Path) -> None:
    p = tmp_path / "dual.tif"
    make_slc(p, pols=("VV", "VH"))
    with pytest.raises(BandError, match=r"Pauli .*HH.*dual.tif.*\['VV', 'VH'\]"):
        open_raster(p, complex_mode="pauli")


def test_complex_without_choice_is_a_typed_error(tmp_path: Path) -> None:
    p = tmp_path / "slc.tif"
    make_slc(p)
    src = open_raster(p)  # opening (for info) works
    assert src.dtype == "complex64" and src.info().is_complex
    with pytest.raises(DTypeError, match=r"slc.tif.*complex.*amplitude.*intensity_db.*real_imag.*pauli"):
        src.read()
    with pytest.raises(DTypeError, match="unknown complex_mode 'magnitude'"):
        open_raster(p, complex_mode="magnitude")
    with pytest.raises(DTypeError, match="not complex"):
        open_raster(_real(tmp_path), complex_mode="amplitude")
    assert set(COMPLEX_MODES) == {"amplitude", "intensity", "intensity_db", "phase", "real_imag", "pauli"}


def _real(tmp_path: Path) -> Path:
    p = tmp_path / "real.tif"
    with rasterio.open(p, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32") as ds:
        ds.write(np.ones((1, 2, 2), "float32"))
    return p


def test_complex_boundless_read_pads(tmp_path: Path) -> None:
    p = tmp_path / "slc16.tif"
    z = make_slc(p, "complex_int16", pols=("VV",))
    chip = open_raster(p, complex_mode="amplitude").read((3, 4, 4, 4), boundless=True)
    assert chip.array.shape == (1, 4, 4) and chip.valid.sum() == 4
    np.testing.assert_allclose(chip.array[0, :2, :2], np.abs(z[0, 4:6, 3:5]), rtol=1e-6)


def test_to_real_directly() -> None:
    z = np.array([[[3 + 4j]]], dtype="complex64")
    out, names = to_real(z, ["VV"], "amplitude")
    assert out.tolist() == [[[5.0]]] and names == ("VV",)
    with pytest.raises(DTypeError, match="choose how"):
        to_real(z, ["VV"], None)


def test_complex_info_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from eokit.cli.main import cli

    p = tmp_path / "slc.tif"
    make_slc(p)
    res = CliRunner().invoke(cli, ["info", "--json", str(p)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["dtype"] == "complex64" and d["is_complex"] and d["bands"] == list(POLS)
    res = CliRunner().invoke(cli, ["info", str(p)], terminal_width=200)
    assert "complex" in res.output and "pauli" in res.output


def test_quicklook_pauli_rgb(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from PIL import Image

    from eokit.cli.main import cli

    p = tmp_path / "quad.tif"
    make_slc(p)
    out = tmp_path / "pauli.png"
    res = CliRunner().invoke(cli, ["quicklook", str(p), "-o", str(out)])
    assert res.exit_code != 0 and "complex_mode" in str(res.exception)
    res = CliRunner().invoke(cli, ["quicklook", str(p), "--complex", "pauli", "--no-legend", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "pauli_double_bounce" in res.stderr
    assert np.asarray(Image.open(out)).shape == (6, 5, 3)


def test_band_files_named_from_file_names(tmp_path: Path) -> None:
    """open_band_files renames single-band files (``..._VV.tif``); conversions follow by position."""
    from eokit.io import open_band_files

    vv = make_slc(tmp_path / "s1_VV.tif", pols=("1",), seed=3)
    vh = make_slc(tmp_path / "s1_VH.tif", pols=("1",), seed=4)
    stack = open_band_files([tmp_path / "s1_VV.tif", tmp_path / "s1_VH.tif"], sensor="sentinel1_grd_db",
                            complex_mode="intensity_db")
    assert stack.bands == ("VV", "VH")
    got = stack.read(bands=["VH", "VV"]).array
    with np.errstate(divide="ignore"):
        want = 10 * np.log10(np.abs(np.stack([vh[0], vv[0]])) ** 2)
    np.testing.assert_allclose(got, np.where(np.isfinite(want), want, np.nan), rtol=1e-5, equal_nan=True)
