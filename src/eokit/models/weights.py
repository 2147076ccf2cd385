"""WeightSpec: one set of weights plus its data contract, and how to fetch/load it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from eokit.env import cache_dir
from eokit.errors import ModelError
from eokit.models.contract import DataContract
from eokit.sensors import Band, get_sensor

if TYPE_CHECKING:
    from eokit.transforms import NormalizeBands

SOURCES = ("random", "timm", "url", "file")


@dataclass(frozen=True)
class WeightSpec:
    """A named set of weights (``arch.tag``) and the data it expects.

    ``bands`` are the checkpoint's input bands (names of ``sensor``), in
    channel order; empty for random init (any bands). ``mean``/``std`` are per
    band, in ``sensor`` reflectance units (ImageNet RGB: 0-1 pixel values).

    Published weights also say: ``noncommercial`` (the licence forbids commercial
    use; refused under ``allow_noncommercial=False``), ``family`` (the published
    model family, e.g. ``"SSL4EO-S12"``; empty for ImageNet/random), ``patch_size``,
    ``normalization`` (the published rule in words, e.g. "divide by 10000"),
    ``proof`` (how eokit proves it loads them: the reference-equivalence test or the
    key manifest, with its source commit) and ``sha256`` (None: none is published).
    ``extra`` holds family-specific facts (modalities, frames, feature levels).
    """

    arch: str
    tag: str
    source: str = "random"
    bands: tuple[str, ...] = ()
    sensor: str | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    gsd: float | None = None
    input_size: int = 224
    url: str | None = None
    sha256: str | None = None
    file: str | None = None
    timm_name: str | None = None
    license: str = "n/a"
    noncommercial: bool = False
    family: str = ""
    citation: str = ""
    description: str = ""
    patch_size: int | None = None
    normalization: str = ""
    proof: str = ""
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ModelError(f"weights {self.name!r}: source {self.source!r} is not one of {SOURCES}")
        if self.bands and self.mean and not (len(self.mean) == len(self.std) == len(self.bands)):
            raise ModelError(
                f"weights {self.name!r}: {len(self.bands)} bands but {len(self.mean)} means and "
                f"{len(self.std)} stds; give one mean and std per band"
            )

    @property
    def name(self) -> str:
        return f"{self.arch}.{self.tag}"

    @property
    def pretrained(self) -> bool:
        return self.source != "random"

    def band_objects(self) -> tuple[Band, ...]:
        if not self.bands:
            return ()
        sensor = get_sensor(self.sensor or "rgb")
        return tuple(sensor.band(b) for b in self.bands)

    def stats(self, bands: tuple[Band, ...]) -> tuple[list[float], list[float]]:
        """Per-band mean/std for ``bands``: the checkpoint's own for bands of its sensor, else the sensor default.

        Normalisation is by band name: a Sentinel-2 red band fed to an ImageNet
        RGB model is standardised with Sentinel-2 statistics, not ImageNet's.
        """
        own = dict(zip(self.band_objects(), zip(self.mean, self.std, strict=True), strict=False)) \
            if self.mean else {}
        mean, std = [], []
        for b in bands:
            m, s = own.get(b, (b.mean, b.std))
            mean.append(float(m))
            std.append(float(s))
        return mean, std

    def data_contract(self, bands: tuple[Band, ...] | None = None, sensor: str | None = None) -> DataContract:
        """The data contract for ``bands`` (default: the checkpoint's) fed as raw values of ``sensor``.

        Statistics follow :meth:`stats`; ``sensor``'s (default: the weights') scale/offset convert raw
        values to the reflectance units of the statistics; gsd and input size are the weights'.
        """
        bands = bands or self.band_objects()
        if not bands:
            raise ModelError(f"weights {self.name!r} accept any bands; pass bands= to data_contract()")
        mean, std = self.stats(bands)
        name = sensor or self.sensor
        s = get_sensor(name) if name else None
        return DataContract(
            bands=tuple(b.name for b in bands), sensor=s.name if s else None,
            wavelengths=tuple(b.center_nm if b.center_nm > 0 else None for b in bands),
            mean=tuple(mean), std=tuple(std), scale=s.scale if s else 1.0, offset=s.offset if s else 0.0,
            gsd=self.gsd, input_size=self.input_size,
        )

    def transforms(self, bands: tuple[Band, ...] | None = None, sensor: str | None = None) -> NormalizeBands:
        """The input normalisation of :meth:`data_contract` as an ``eokit.transforms.NormalizeBands``."""
        norm = self.data_contract(bands, sensor).normalizer()
        assert norm is not None  # a weights contract always has statistics
        return norm

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["name"] = self.name
        return d


def fetch(url: str, sha256: str | None, filename: str | None = None, root: Path | None = None,
          name: str | None = None) -> Path:
    """Download weights into ``$EOKIT_CACHE/weights/<sha256[:12]>/`` with eokit's verified downloader.

    ``eokit.datasets.download.fetch`` streams to a ``.part`` file (resuming
    dropped connections), checks the sha256 and only then renames it; a cached
    file that no longer matches is fetched again.
    """
    from eokit.datasets.download import fetch as download
    from eokit.datasets.download import file_digest

    root = root or cache_dir() / "weights"
    fname = filename or url.rstrip("/").rsplit("/", 1)[-1] or "weights.safetensors"
    dest = root / (sha256[:12] if sha256 else "unverified") / fname
    if dest.exists() and sha256 is not None and file_digest(dest) != sha256:
        dest.unlink()
    return download(url, dest, sha256=sha256, expected=f"the weights {name or fname}", root_env="EOKIT_CACHE")


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a weights file (a torch container's ``state_dict`` nesting removed).

    safetensors without pickle; torch containers with ``weights_only=True`` only
    (see :mod:`eokit.models.state_dict`). Keys are otherwise as in the file: a
    family's backbone converts published layouts in ``convert_checkpoint``.
    """
    from eokit.models.state_dict import read_state_dict, unwrap

    tensors, meta = read_state_dict(path)
    return (tensors if meta or Path(path).suffix == ".safetensors" else unwrap(tensors, ("state_dict",))), meta


def save_backbone_weights(path: str | Path, state_dict: dict[str, torch.Tensor], *, arch: str,
                          bands: tuple[str, ...], sensor: str | None) -> Path:
    """Write backbone weights as safetensors with the band contract in the metadata (atomically)."""
    from safetensors.torch import save_file

    from eokit.io import atomic_path

    path = Path(path)
    meta = {"eokit_arch": arch, "bands": json.dumps(list(bands)), "sensor": sensor or ""}
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, str(tmp), metadata=meta)
    return path
