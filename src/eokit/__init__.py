"""eokit: machine learning on Earth-observation imagery."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eokit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
