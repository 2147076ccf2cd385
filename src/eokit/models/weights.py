"""WeightSpec: one set of weights plus its data contract, and how to fetch/load it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from eokit.env import cache_dir
from eokit.errors import ModelError
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
    citation: str = ""
    description: str = ""
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

    def transforms(self, bands: tuple[Band, ...] | None = None, sensor: str | None = None) -> NormalizeBands:
        """The input normalisation for ``bands`` (default: the checkpoint's) as an ``eokit.transforms.NormalizeBands``.

        It takes raw sensor values: ``sensor``'s (default: the weights')
        scale/offset convert them to the reflectance units of the statistics.
        """
        from eokit.transforms import NormalizeBands

        bands = bands or self.band_objects()
        if not bands:
            raise ModelError(f"weights {self.name!r} accept any bands; pass bands= to transforms()")
        mean, std = self.stats(bands)
        sensor_name = sensor or self.sensor
        s = get_sensor(sensor_name) if sensor_name else None
        return NormalizeBands.from_lists(
            [b.name for b in bands], mean, std, scale=s.scale if s else 1.0, offset=s.offset if s else 0.0,
            sensor=s.name if s else None,
        )

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
    return download(url, dest, sha256=sha256, expected=f"the weights {name or fname}")


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors file (no pickle involved)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise ModelError(f"weights file {str(path)!r} does not exist; pass an existing .safetensors path")
    if path.suffix in (".pt", ".pth", ".ckpt", ".bin"):
        sd = torch.load(path, map_location="cpu", weights_only=True)
        sd = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
        return dict(sd), {}
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"cannot read weights file {str(path)!r} as safetensors: {exc}") from exc
    return tensors, meta


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
