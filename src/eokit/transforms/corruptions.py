"""REOBench's 12 image corruptions at severities 1-5: seeded and band-aware.

``corrupt(image, name, severity, bands=..., sensor=..., seed=...)`` degrades a
(C, H, W) (or (T, C, H, W)) image the way a sensor, the atmosphere or a
processing chain would, in *reflectance space*:

- the image is converted to reflectance first (``reflectance = image * scale +
  offset``; see ``scale`` below) and converted back afterwards, so the output
  has the input's units, shape, dtype (and torch device);
- each band is placed on the spectrum through the sensor's band table
  (``eokit.sensors``): clouds brighten visible/NIR bands strongly and SWIR
  less, and leave SAR untouched; haze adds a path radiance that decays with
  wavelength (Angstrom law) and attenuates the surface signal the same way;
  noise and contrast changes are scaled per band by the band's own dynamic
  range; salt is a saturated pixel (reflectance >= 1), pepper and data gaps
  are zero (no data);
- everything random comes from ``numpy.random.default_rng(seed)``: the same
  seed gives the same output, bit for bit.

Severity parameters were chosen so that the error against the clean image
grows with severity for every corruption (``tests/corruptions`` checks it on
real Sentinel-2 and RGB chips).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from eokit.errors import BandError, ConfigError, suggest

CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "salt_and_pepper_noise",
    "gaussian_blur",
    "motion_blur",
    "brightness_contrast",
    "clouds",
    "haze",
    "data_gaps",
    "compression_artifacts",
    "rotate",
    "scale",
    "translate",
)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

# -- severity tables (index = severity - 1) ---------------------------------
NOISE_SIGMA = (0.04, 0.08, 0.12, 0.18, 0.26)  # x band range (p2..p98)
SP_AMOUNT = (0.01, 0.03, 0.06, 0.10, 0.16)  # fraction of pixel-band values hit
BLUR_SIGMA = (0.6, 1.0, 1.5, 2.2, 3.0)  # pixels
MOTION_LENGTH = (3, 5, 7, 11, 15)  # pixels
CONTRAST = (0.85, 0.7, 0.55, 0.42, 0.3)  # contrast factor
BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)  # x band range, sign from the seed
CLOUD_COVER = (0.1, 0.25, 0.4, 0.55, 0.7)  # fraction of the image under cloud
CLOUD_OPACITY = (0.6, 0.7, 0.8, 0.9, 1.0)  # peak opacity
HAZE_TAU550 = (0.15, 0.3, 0.5, 0.8, 1.2)  # aerosol optical depth at 550 nm
GAP_FRACTION = (0.05, 0.1, 0.18, 0.28, 0.4)  # fraction of pixels lost (stripes)
JPEG_QUALITY = (80, 60, 40, 20, 8)
ROTATE_DEG = (8, 16, 24, 32, 45)  # sign from the seed
SCALE_FACTOR = (1.1, 1.2, 1.35, 1.5, 1.7)  # zoom in or out (1/f), from the seed
TRANSLATE_FRAC = (0.04, 0.08, 0.12, 0.18, 0.25)  # of the image size

# Cloud top-of-atmosphere reflectance vs wavelength (nm): bright and flat over
# VIS/NIR, lower in the SWIR where water and ice absorb.
_CLOUD_WL = (400.0, 1000.0, 1300.0, 1600.0, 2200.0, 2500.0)
_CLOUD_RHO = (0.78, 0.72, 0.55, 0.45, 0.25, 0.2)
HAZE_ANGSTROM = 1.3  # aerosol optical depth ~ wavelength ** -1.3
HAZE_AIRLIGHT = 0.35  # reflectance of the scattered path radiance at full optical depth
DEFAULT_WAVELENGTH = 560.0  # an optical band the sensor table does not know
DN_THRESHOLD = 10.0  # a 99th percentile above this is raw DN, not reflectance

# Sensors tried (in order) to place band names when no sensor is given.
_FALLBACK_SENSORS = ("sentinel2_l1c", "landsat8", "rgb", "sentinel1_grd_db")


@dataclass(frozen=True)
class BandInfo:
    """Where a channel sits on the spectrum: 'optical', 'thermal' or 'sar'."""

    kind: str
    wavelength: float
    common_name: str | None = None


def band_info(bands: Sequence[str], sensor: str | None) -> list[BandInfo]:
    """Resolve band names to wavelengths via the sensor table (or common fallbacks)."""
    from eokit.sensors import get_sensor

    names = (sensor,) if sensor is not None else _FALLBACK_SENSORS
    sensors = [get_sensor(n) for n in names]
    out = []
    for name in bands:
        hit = next((s for s in sensors if s.has(name)), None)
        if hit is None:
            out.append(BandInfo("optical", DEFAULT_WAVELENGTH))
            continue
        b = hit.band(name)
        if hit.units in ("dB", "linear") or b.center_nm > 1e6:
            kind = "sar"
        elif b.center_nm > 3000:
            kind = "thermal"
        else:
            kind = "optical"
        out.append(BandInfo(kind, float(b.center_nm), b.common_name))
    return out


def _smooth_field(rng: np.random.Generator, h: int, w: int, octaves: int = 5) -> np.ndarray:
    """Fractal value noise in [0, 1] (sum of upsampled random grids, 1/f weights)."""
    field = np.zeros((h, w))
    total = 0.0
    for o in range(1, octaves + 1):
        n = 2**o + 1
        grid = rng.random((n, n))
        up = ndimage.zoom(grid, (h / n, w / n), order=3, mode="reflect", grid_mode=True)
        up = up[:h, :w]
        if up.shape != (h, w):  # zoom rounding
            up = np.pad(up, ((0, h - up.shape[0]), (0, w - up.shape[1])), mode="edge")
        weight = 0.55**o
        field += weight * up
        total += weight
    field /= total
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo) if hi > lo else np.zeros_like(field)


@dataclass
class _Ctx:
    """Per-call context: band info, per-band ranges and fill values."""

    info: list[BandInfo]
    lo: np.ndarray  # per-band minimum (<= 0 for optical)
    hi: np.ndarray  # per-band maximum (>= 1 for optical)
    span: np.ndarray  # robust band range p2..p98
    fill: np.ndarray  # no-data value per band
    mean: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, info: list[BandInfo]) -> _Ctx:
        flat = x.reshape(x.shape[0], -1)
        vmin, vmax = flat.min(1), flat.max(1)
        p2, p98 = np.percentile(flat, [2, 98], axis=1)
        span = np.maximum(p98 - p2, 1e-3 * np.maximum(np.abs(vmax), 1e-3))
        optical = np.array([b.kind == "optical" for b in info])
        lo = np.where(optical, np.minimum(vmin, 0.0), vmin)
        hi = np.where(optical, np.maximum(vmax, 1.0), vmax)
        fill = np.where(optical, 0.0, vmin)
        return cls(info, lo, hi, span, fill, flat.mean(1))

    def clip(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.lo[:, None, None], self.hi[:, None, None])


def _gaussian_noise(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    sigma = NOISE_SIGMA[s - 1] * c.span
    return c.clip(x + rng.standard_normal(x.shape) * sigma[:, None, None])


def _salt_and_pepper(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    u = rng.random(x.shape)
    amount = SP_AMOUNT[s - 1]
    out = x.copy()
    salt = np.broadcast_to(c.hi[:, None, None], x.shape)
    pepper = np.broadcast_to(c.fill[:, None, None], x.shape)
    out = np.where(u < amount / 2, pepper, out)
    return np.where((u >= amount / 2) & (u < amount), salt, out)


def _gaussian_blur(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    sg = BLUR_SIGMA[s - 1]
    return ndimage.gaussian_filter(x, sigma=(0, sg, sg), mode="reflect")


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length))
    r = (length - 1) / 2
    for t in np.linspace(-r, r, 8 * length):
        yy, xx = r + t * np.sin(angle), r + t * np.cos(angle)
        y0, x0 = int(np.floor(yy)), int(np.floor(xx))
        fy, fx = yy - y0, xx - x0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                if 0 <= y0 + dy < length and 0 <= x0 + dx < length:
                    k[y0 + dy, x0 + dx] += wy * wx
    return k / k.sum()


def _motion_blur(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    kernel = _motion_kernel(MOTION_LENGTH[s - 1], rng.uniform(0, np.pi))
    return np.stack([ndimage.convolve(b, kernel, mode="reflect") for b in x])


def _brightness_contrast(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    sign = 1.0 if rng.random() < 0.5 else -1.0
    m = c.mean[:, None, None]
    out = (x - m) * CONTRAST[s - 1] + m + sign * BRIGHTNESS[s - 1] * c.span[:, None, None]
    return c.clip(out)


def _clouds(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    field = _smooth_field(rng, *x.shape[1:])
    t = np.quantile(field, 1 - CLOUD_COVER[s - 1])
    alpha = CLOUD_OPACITY[s - 1] * np.clip((field - t) / 0.12, 0, 1) ** 0.7
    out = x.copy()
    for i, b in enumerate(c.info):
        if b.kind == "optical":
            rho = float(np.interp(b.wavelength, _CLOUD_WL, _CLOUD_RHO))
            out[i] = (1 - alpha) * x[i] + alpha * rho
        elif b.kind == "thermal":  # cloud tops are cold: towards the scene minimum
            out[i] = (1 - alpha) * x[i] + alpha * c.lo[i]
    return c.clip(out)


def _haze(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    modulation = 0.75 + 0.5 * _smooth_field(rng, x.shape[1], x.shape[2], octaves=2)
    out = x.copy()
    for i, b in enumerate(c.info):
        if b.kind != "optical":
            continue
        tau = HAZE_TAU550[s - 1] * modulation * (b.wavelength / 550.0) ** -HAZE_ANGSTROM
        trans = np.exp(-tau)
        out[i] = x[i] * trans + HAZE_AIRLIGHT * (1 - trans)
    return c.clip(out)


def _data_gaps(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    """Landsat-7 SLC-off-like stripes of missing data, same pixels in every band."""
    h, w = x.shape[1:]
    theta = np.deg2rad(rng.uniform(-12, 12))
    period = max(4.0, min(h, w) / 6)
    yy, xx = np.mgrid[0:h, 0:w]
    u = yy * np.cos(theta) + xx * np.sin(theta) + rng.uniform(0, period)
    gap = np.mod(u, period) < GAP_FRACTION[s - 1] * period
    return np.where(gap[None], c.fill[:, None, None], x)


def _jpeg(img8: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img8).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB" if img8.ndim == 3 else "L"))


def _compression(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    """JPEG (libjpeg via Pillow): colour JPEG on the red/green/blue bands, greyscale per other band."""
    q = JPEG_QUALITY[s - 1]
    flat = x.reshape(x.shape[0], -1)
    vmin, vmax = flat.min(1), flat.max(1)
    rngs = np.where(vmax > vmin, vmax - vmin, 1.0)

    def to8(i: int) -> np.ndarray:
        return np.clip(np.round((x[i] - vmin[i]) / rngs[i] * 255), 0, 255).astype(np.uint8)

    def back(i: int, a: np.ndarray) -> np.ndarray:
        return a.astype(np.float64) / 255 * rngs[i] + vmin[i]

    out = x.copy()
    names = [b.common_name for b in c.info]
    rgb = [names.index(n) for n in ("red", "green", "blue") if n in names]
    done = set()
    if len(rgb) == 3 and min(x.shape[1:]) >= 8:
        dec = _jpeg(np.stack([to8(i) for i in rgb], -1), q)
        for k, i in enumerate(rgb):
            out[i] = back(i, dec[..., k])
        done = set(rgb)
    for i in range(x.shape[0]):
        if i not in done:
            out[i] = back(i, _jpeg(to8(i), q))
    return out


def _affine(x: np.ndarray, matrix: np.ndarray, offset: np.ndarray, c: _Ctx) -> np.ndarray:
    return np.stack(
        [
            ndimage.affine_transform(b, matrix, offset=offset, order=1, mode="constant", cval=c.fill[i])
            for i, b in enumerate(x)
        ]
    )


def _centre_affine(x: np.ndarray, m: np.ndarray, c: _Ctx, shift: np.ndarray | None = None) -> np.ndarray:
    """Apply output->input matrix ``m`` about the image centre, then ``shift`` (pixels)."""
    centre = (np.array(x.shape[1:]) - 1) / 2
    off = centre - m @ centre
    if shift is not None:
        off = off - m @ shift
    return _affine(x, m, off, c)


def _rotate(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    a = np.deg2rad(ROTATE_DEG[s - 1] * (1 if rng.random() < 0.5 else -1))
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return _centre_affine(x, m, c)


def _scale(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    f = SCALE_FACTOR[s - 1]
    f = f if rng.random() < 0.5 else 1 / f
    return _centre_affine(x, np.eye(2) / f, c)


def _translate(x: np.ndarray, s: int, rng: np.random.Generator, c: _Ctx) -> np.ndarray:
    a = rng.uniform(0, 2 * np.pi)
    d = TRANSLATE_FRAC[s - 1] * np.array(x.shape[1:], dtype=float)
    return _centre_affine(x, np.eye(2), c, shift=np.array([np.sin(a), np.cos(a)]) * d)


_FUNCS: dict[str, Callable[[np.ndarray, int, np.random.Generator, _Ctx], np.ndarray]] = {
    "gaussian_noise": _gaussian_noise,
    "salt_and_pepper_noise": _salt_and_pepper,
    "gaussian_blur": _gaussian_blur,
    "motion_blur": _motion_blur,
    "brightness_contrast": _brightness_contrast,
    "clouds": _clouds,
    "haze": _haze,
    "data_gaps": _data_gaps,
    "compression_artifacts": _compression,
    "rotate": _rotate,
    "scale": _scale,
    "translate": _translate,
}
assert tuple(_FUNCS) == CORRUPTIONS


def check_corruption(name: str, severity: int) -> None:
    """Raise ConfigError unless ``name`` is one of CORRUPTIONS and ``severity`` is 1..5."""
    if name not in _FUNCS:
        raise ConfigError(
            f"unknown corruption {name!r}; allowed: {list(CORRUPTIONS)}.{suggest(name, CORRUPTIONS)}"
        )
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer) or severity not in SEVERITIES:
        raise ConfigError(
            f"corruption {name!r}: severity {severity!r} is not allowed; use an integer in {list(SEVERITIES)} "
            "(severity 0 means clean: do not call corrupt)"
        )


def _resolve_scale(x: np.ndarray, info: list[BandInfo], sensor: str | None, scale: float | None,
                   offset: float) -> tuple[float, float]:
    if scale is not None:
        return float(scale), float(offset)
    optical = [i for i, b in enumerate(info) if b.kind == "optical"]
    if not optical:
        return 1.0, 0.0
    p99 = float(np.percentile(x[..., optical, :, :], 99))
    if p99 <= DN_THRESHOLD:
        return 1.0, 0.0
    if sensor is not None:
        from eokit.sensors import get_sensor

        s = get_sensor(sensor)
        return float(s.scale), float(s.offset)
    raise ConfigError(
        f"image values look like raw digital numbers (99th percentile {p99:.4g} > {DN_THRESHOLD}); "
        "corruptions work in reflectance: pass scale= (e.g. scale=1e-4 for Sentinel-2 DN, 1/255 for 8-bit) "
        "or sensor= so its scale applies"
    )


def corrupt(
    image: Any,
    name: str,
    severity: int,
    *,
    bands: Sequence[str],
    sensor: str | None = None,
    seed: int = 0,
    scale: float | None = None,
    offset: float = 0.0,
) -> Any:
    """Apply corruption ``name`` at ``severity`` (1-5) to a (C,H,W) or (T,C,H,W) image.

    ``image`` is a numpy array or torch tensor; the result has the same type,
    shape, dtype and device. ``bands`` names the channels; ``sensor`` places
    them on the spectrum (without it, Sentinel-2/Landsat/RGB names are tried).
    ``scale``/``offset`` map the input to reflectance (``image*scale+offset``);
    when ``scale`` is None the input is taken as reflectance-like, unless its
    optical bands look like raw DN (99th percentile > 10), in which case the
    sensor's own scale/offset is used (or ConfigError without a sensor).
    Time series are corrupted frame by frame with seeds ``seed + t``.
    """
    check_corruption(name, severity)
    is_torch = type(image).__module__.startswith("torch")
    arr = image.detach().cpu().numpy() if is_torch else np.asarray(image)
    if arr.ndim not in (3, 4):
        raise ConfigError(f"corrupt expects a (C, H, W) or (T, C, H, W) image, got shape {tuple(arr.shape)}")
    nchan = arr.shape[-3]
    if len(bands) != nchan:
        raise BandError(f"image has {nchan} channels but {len(bands)} band names were given: {list(bands)}")
    info = band_info(bands, sensor)
    x = arr.astype(np.float64)
    sc, off = _resolve_scale(x, info, sensor, scale, offset)
    frames = x[None] if x.ndim == 3 else x
    out = np.empty_like(frames)
    for t, frame in enumerate(frames):
        refl = frame * sc + off
        ctx = _Ctx.of(refl, info)
        # same pattern for every severity of a seed: curves vs severity are nested
        rng = np.random.default_rng([int(seed) + t, CORRUPTIONS.index(name)])
        out[t] = (_FUNCS[name](refl, int(severity), rng, ctx) - off) / sc
    out = out[0] if arr.ndim == 3 else out
    if np.issubdtype(arr.dtype, np.integer):
        info_t = np.iinfo(arr.dtype)
        out = np.clip(np.round(out), info_t.min, info_t.max)
    res = out.astype(arr.dtype)
    if is_torch:
        import torch

        return torch.from_numpy(res).to(device=image.device)
    return res


def corrupt_sample(sample: dict[str, Any], name: str, severity: int, *, seed: int,
                   scale: float | None = None, offset: float = 0.0) -> dict[str, Any]:
    """Corrupt a Sample's ``image`` (and ``image2``, seed+1) in place of a copy; targets are left as they are.

    Severity 0 or name 'none' returns the sample unchanged (clean).
    """
    if name == "none" or severity == 0:
        return sample
    out = dict(sample)
    for k, extra in (("image", 0), ("image2", 1)):
        if k in sample and sample[k] is not None:
            out[k] = corrupt(sample[k], name, severity, bands=sample["bands"], sensor=sample.get("sensor"),
                             seed=seed + extra, scale=scale, offset=offset)
    return out


class Corrupt:
    """A Sample transform: ``Corrupt('haze', 3, seed=0)(sample)``; the seed is offset by the sample's index key."""

    def __init__(self, name: str, severity: int, *, seed: int = 0, scale: float | None = None,
                 offset: float = 0.0) -> None:
        if name != "none":
            check_corruption(name, severity)
        self.name, self.severity, self.seed, self.scale, self.offset = name, severity, seed, scale, offset

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        key = sample.get("id") or sample.get("path") or ""
        import zlib

        sub = zlib.crc32(str(key).encode()) if key else 0
        return corrupt_sample(sample, self.name, self.severity, seed=self.seed * 1_000_003 + sub,
                              scale=self.scale, offset=self.offset)

    def __repr__(self) -> str:
        return f"Corrupt({self.name!r}, {self.severity}, seed={self.seed})"
