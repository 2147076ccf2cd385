"""Cloud masks of (C, H, W) reflectance arrays: QA bits, the s2cloudless model, a reflectance test.

:data:`CLOUD_METHODS` lists the methods; :func:`cloud_mask` runs one (``method="auto"`` picks the best
one the input allows: the scene's QA band where there is one, else s2cloudless for Sentinel-2 L1C with
its ten bands, else the reflectance test where it can be trusted (calibrated reflectance with blue, red and
a NIR or SWIR band), else ``untested``; SAR and other non-optical sensors have no clouds).

* ``qa``: decodes the QA band (Landsat BQA / QA_PIXEL) with :mod:`eokit.sensors.qa`; cloud = class 1.
* ``s2cloudless``: Sentinel Hub's pixel classifier (LightGBM, CC BY-SA 4.0), loaded from the model file
  the PyPI package ``s2cloudless`` ships, run with ``lightgbm`` directly (the package itself imports
  ``sentinelhub``, which eokit does not need). Inputs: TOA reflectance of B01, B02, B04, B05, B08, B8A,
  B09, B10, B11, B12; post-processing as ``S2PixelCloudDetector``: probability averaged over a disk of
  radius ``average_over`` (reflected borders), thresholded (``> threshold``), dilated by a disk of radius
  ``dilation_size``. Defaults are the package's (0.4, 1, 1).
* ``reflectance``: the last resort, the potential-cloud-pixel first pass of Fmask (Zhu & Woodcock 2012,
  Remote Sensing of Environment 118:83-94, Eq. 1-4) without its thermal test: basic test (SWIR2 > 0.03,
  NDSI < 0.8, NDVI < 0.8), whiteness (sum of |visible - mean| / mean < 0.7), haze-optimised
  transformation (blue - 0.5 red - 0.08 > 0) and NIR/SWIR1 > 0.75; each test runs where its bands
  exist. Without SWIR2 the brightness floor of ACCA's first filter (Irish 2000, red > 0.08) stands in
  for the SWIR2 test. Bright bare soil, sand and buildings can pass it: use it only where neither QA
  nor a trained model applies.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from eokit.errors import BandError, ConfigError, MissingDependencyError
from eokit.sensors import Sensor, get_sensor, match_bands
from eokit.sensors.qa import QARule, decode_qa

#: The ten Sentinel-2 L1C bands the s2cloudless model reads, in its feature order.
S2CLOUDLESS_BANDS = ("B01", "B02", "B04", "B05", "B08", "B8A", "B09", "B10", "B11", "B12")
S2CLOUDLESS_MODEL = "pixel_s2_cloud_detector_lightGBM_v0.1.txt"
S2CLOUDLESS_VERSION = "1.7.3"
CLOUD_INSTALL = f"pip install lightgbm==4.7.0 && pip install --no-deps s2cloudless=={S2CLOUDLESS_VERSION}"

#: Reflectance-test thresholds (Fmask first pass; ACCA filter 1 for the red floor).
SWIR2_MIN = 0.03
NDSI_MAX = 0.8
NDVI_MAX = 0.8
WHITENESS_MAX = 0.7
HOT_OFFSET = 0.08
NIR_SWIR1_MIN = 0.75
RED_MIN = 0.08

QAInput = str | Sequence[QARule | Mapping[str, Any]]


@dataclass(frozen=True)
class CloudMethod:
    """One way to mask clouds: its name, what it needs and where it comes from."""

    name: str
    needs: str
    source: str


CLOUD_METHODS: dict[str, CloudMethod] = {
    "qa": CloudMethod("qa", "the scene's QA band (qa=, eokit mask --qa) and its bit rules",
                      "eokit.sensors.qa presets (USGS Landsat BQA / QA_PIXEL layouts)"),
    "s2cloudless": CloudMethod("s2cloudless", "Sentinel-2 L1C TOA reflectance of " + ",".join(S2CLOUDLESS_BANDS),
                               f"Sentinel Hub s2cloudless {S2CLOUDLESS_VERSION} LightGBM model ({CLOUD_INSTALL})"),
    "reflectance": CloudMethod("reflectance", "at least two of blue/green/red and blue+red (TOA reflectance)",
                               "Fmask first pass without thermal (Zhu & Woodcock 2012) + ACCA red floor"),
    "auto": CloudMethod("auto", "anything: qa if given, else s2cloudless if possible, else reflectance",
                        "picks one of the above; reflectance only on calibrated data with blue, red and NIR "
                        "or SWIR (else 'untested'); SAR and other non-optical sensors: no cloud ('none')"),
}


def is_optical(sensor: Sensor) -> bool:
    """Whether any band of ``sensor`` lies in the solar-reflective range (350-2600 nm)."""
    return any(350.0 <= b.center_nm <= 2600.0 for b in sensor.bands)


def _positions(bands: Sequence[str], sensor: Sensor, wanted: Sequence[str]) -> list[int] | None:
    try:
        return match_bands(wanted, bands, sensor)
    except BandError:
        return None


def pick_method(bands: Sequence[str], sensor: str | Sensor, method: str = "auto", *,
                has_qa: bool = False) -> str:
    """The method ``cloud_mask`` runs for this input: ``method`` itself, or what ``auto`` picks.

    ``'none'``: the sensor has no clouds to mask (SAR, elevation, other non-optical data).
    ``'untested'``: optical data no method can judge reliably (8-bit display RGB, no NIR/SWIR band);
    ``cloud_mask`` then returns no cloud, and callers report the chip as untested.
    """
    if method not in CLOUD_METHODS:
        raise ConfigError(f"unknown cloud method {method!r}; choose one of {sorted(CLOUD_METHODS)}")
    if method != "auto":
        return method
    s = get_sensor(sensor)
    if not is_optical(s):
        return "none"
    if has_qa:
        return "qa"
    if s.name == "sentinel2_l1c" and _positions(bands, s, S2CLOUDLESS_BANDS) is not None:
        return "s2cloudless"
    if reflectance_applies(bands, s):
        return "reflectance"
    return "untested"


def reflectance_applies(bands: Sequence[str], sensor: str | Sensor) -> bool:
    """Whether ``auto`` trusts the reflectance test here: calibrated data with blue, red and a NIR or SWIR band.

    8-bit display products (``uint8`` sensors such as ``rgb``: stretched, not reflectance) and
    visible-only inputs fail it: on the EuroSAT RGB JPEGs the visible-only test flags 90 % of chips.
    """
    s = get_sensor(sensor)
    if np.dtype(s.dtype) == np.uint8:
        return False
    has = [_positions(bands, s, [n]) is not None for n in ("blue", "red", "nir", "swir16", "swir22")]
    return has[0] and has[1] and any(has[2:])


def cloud_mask(
    image: np.ndarray,
    bands: Sequence[str],
    sensor: str | Sensor,
    method: str = "auto",
    *,
    qa: np.ndarray | None = None,
    qa_rules: QAInput = "landsat8_precollection_bqa_cloud",
    threshold: float = 0.4,
    average_over: int = 1,
    dilation_size: int = 1,
) -> np.ndarray:
    """(H, W) bool cloud mask of a (C, H, W) reflectance ``image`` whose channels are ``bands``.

    ``qa`` is the raw QA band (H, W) of the same window, decoded with ``qa_rules`` (a preset of
    :data:`eokit.sensors.qa.QA_PRESETS` or a list of rules; cloud = class 1). ``threshold``,
    ``average_over`` and ``dilation_size`` are the s2cloudless post-processing settings. NaN pixels
    (nodata) are never cloud.
    """
    s = get_sensor(sensor)
    if image.ndim != 3 or image.shape[0] != len(bands):
        raise ConfigError(f"cloud_mask needs a (C, H, W) image with one channel per band name; got shape "
                          f"{image.shape} for {len(bands)} bands {list(bands)}")
    chosen = pick_method(bands, s, method, has_qa=qa is not None)
    valid = ~np.isnan(image).any(axis=0)
    if chosen in ("none", "untested"):
        return np.zeros(image.shape[1:], dtype=bool)
    if chosen == "qa":
        if qa is None:
            raise ConfigError(f"cloud method 'qa' needs the scene's QA band (qa= on cloud_mask, --qa on eokit "
                              f"mask) for {s.name} bands {list(bands)}; use method='auto' to fall back without one")
        out = qa_cloud_mask(qa, qa_rules)
    elif chosen == "s2cloudless":
        prob = s2cloudless_probability(image, bands, s)
        out = s2cloudless_mask(prob, threshold=threshold, average_over=average_over, dilation_size=dilation_size)
    else:
        out = reflectance_cloud_mask(image, bands, s)
    if out.shape != valid.shape:
        raise ConfigError(f"the QA band has shape {out.shape} but the image {valid.shape}; read both on one grid")
    return np.asarray(out & valid, dtype=bool)


def qa_cloud_mask(qa: np.ndarray, rules: QAInput = "landsat8_precollection_bqa_cloud") -> np.ndarray:
    """(H, W) bool: where the decoded QA class is 1 (cloud); fill and 'ignored' classes are not cloud."""
    cls: np.ndarray = decode_qa(np.asarray(qa), rules)
    return np.asarray(cls == 1, dtype=bool)


def qa_fill_mask(qa: np.ndarray) -> np.ndarray:
    """(H, W) bool: designated fill (bit 0 set), the same bit in every Landsat QA layout eokit decodes."""
    return np.asarray((np.asarray(qa).astype(np.int64) & 1) == 1)


# --- s2cloudless -------------------------------------------------------------------------------------


def s2cloudless_model_path() -> Path:
    """Path of the LightGBM model file inside the installed ``s2cloudless`` distribution."""
    try:
        dist = importlib.metadata.distribution("s2cloudless")
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec("s2cloudless")
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(
                f"cloud method 's2cloudless' needs the model file the s2cloudless package ships; install it "
                f"with `{CLOUD_INSTALL}` (or `make cloud-deps`), or choose method='reflectance'") from None
        path = Path(next(iter(spec.submodule_search_locations))) / "models" / S2CLOUDLESS_MODEL
    else:
        path = Path(str(dist.locate_file(f"s2cloudless/models/{S2CLOUDLESS_MODEL}")))
    if not path.is_file():
        raise MissingDependencyError(f"the s2cloudless model file {path} is missing (a broken install); reinstall "
                                     f"with `{CLOUD_INSTALL}`")
    return path


@functools.lru_cache(maxsize=1)
def _booster() -> Any:
    try:
        import lightgbm
    except ImportError:
        raise MissingDependencyError(
            f"cloud method 's2cloudless' needs lightgbm; install eokit's 'cloud' extra (`{CLOUD_INSTALL}`, or "
            "`make cloud-deps`), or choose method='reflectance'") from None
    return lightgbm.Booster(model_file=str(s2cloudless_model_path()))


def s2cloudless_probability(image: np.ndarray, bands: Sequence[str], sensor: str | Sensor = "sentinel2_l1c",
                            *, num_threads: int = 0) -> np.ndarray:
    """(H, W) float32 cloud probability of the s2cloudless model; NaN where the input is nodata."""
    s = get_sensor(sensor)
    idx = match_bands(S2CLOUDLESS_BANDS, bands, s, where=f"the {s.name} input", what="s2cloudless")
    data = np.asarray(image[idx], dtype=np.float32)
    h, w = data.shape[1:]
    pixels = data.reshape(len(idx), -1).T
    valid = ~np.isnan(pixels).any(axis=1)
    prob = np.full(h * w, np.nan, dtype=np.float32)
    if valid.any():
        kwargs = {"num_threads": num_threads} if num_threads else {}
        prob[valid] = np.asarray(_booster().predict(pixels[valid], **kwargs), dtype=np.float32)
    return prob.reshape(h, w)


def disk(radius: int) -> np.ndarray:
    """Disk structuring element of ``radius`` (x^2 + y^2 <= r^2), as s2cloudless's ``cv2_disk`` draws it."""
    y, x = np.mgrid[-radius: radius + 1, -radius: radius + 1]
    return np.asarray(x * x + y * y <= radius * radius)


def s2cloudless_mask(prob: np.ndarray, *, threshold: float = 0.4, average_over: int = 1,
                     dilation_size: int = 1) -> np.ndarray:
    """s2cloudless post-processing of a (H, W) probability map: disk average, threshold, disk dilation."""
    p = np.nan_to_num(np.asarray(prob, dtype=np.float32), nan=0.0)
    if average_over and average_over > 0:
        k = disk(average_over).astype(np.float32)
        # cv2.filter2D(..., BORDER_REFLECT) == scipy 'reflect' (edge pixel repeated)
        p = ndimage.correlate(p, k / k.sum(), mode="reflect")
    out = p > threshold
    if dilation_size and dilation_size > 0:
        out = ndimage.binary_dilation(out, structure=disk(dilation_size), border_value=0)
    return np.asarray(out)


# --- reflectance test --------------------------------------------------------------------------------


def reflectance_cloud_mask(image: np.ndarray, bands: Sequence[str], sensor: str | Sensor) -> np.ndarray:
    """(H, W) bool potential-cloud pixels of the Fmask first pass without thermal (module docstring)."""
    s = get_sensor(sensor)

    def band(name: str) -> np.ndarray | None:
        pos = _positions(bands, s, [name])
        return None if pos is None else np.asarray(image[pos[0]], dtype=np.float32)

    blue, green, red = band("blue"), band("green"), band("red")
    nir, swir1, swir2 = band("nir"), band("swir16"), band("swir22")
    vis = [b for b in (blue, green, red) if b is not None]
    if len(vis) < 2 or blue is None or red is None:
        raise BandError(f"the reflectance cloud test needs blue and red (and ideally green, nir, swir16, swir22); "
                        f"{s.name} input has bands {list(bands)}. Name the bands (band_map=/--band-map) or use "
                        "method='qa' with the scene's QA band")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_vis = sum(vis) / len(vis)
        whiteness = sum(np.abs(v - mean_vis) for v in vis) / mean_vis
        cloud = (whiteness < WHITENESS_MAX) & (blue - 0.5 * red - HOT_OFFSET > 0)
        cloud &= (swir2 > SWIR2_MIN) if swir2 is not None else (red > RED_MIN)
        if green is not None and swir1 is not None:
            cloud &= (green - swir1) / (green + swir1) < NDSI_MAX
        if nir is not None:
            cloud &= (nir - red) / (nir + red) < NDVI_MAX
            if swir1 is not None:
                cloud &= nir / swir1 > NIR_SWIR1_MIN
    return np.asarray(cloud & np.isfinite(mean_vis))


def methods_table() -> list[dict[str, str]]:
    """The methods as rows (name, needs, source), for docs and ``eokit mask --help``."""
    return [{"name": m.name, "needs": m.needs, "source": m.source} for m in CLOUD_METHODS.values()]

