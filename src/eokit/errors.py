"""One exception tree for eokit.

Every error derives from :class:`EokitError` *and* from the builtin it
resembles, so callers may catch either. Messages name the file, the bad
value and the fix.
"""

from __future__ import annotations


class EokitError(Exception):
    """Root of all eokit errors."""


class RasterError(EokitError, OSError):
    """A raster could not be opened or read (not a raster, truncated, corrupt)."""


class MissingCRSError(EokitError, ValueError):
    """A raster has no coordinate reference system where one is required."""


class CRSMismatchError(EokitError, ValueError):
    """Two layers have different CRSs and the policy is ``on_mismatch='raise'``."""


class BandError(EokitError, KeyError):
    """A requested band is not present (or a band name is unknown)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class WindowError(EokitError, ValueError):
    """A window or bounds lies outside the raster, or is empty."""


class DTypeError(EokitError, TypeError):
    """An unsupported data type was given or found."""


class EmptyCollectionError(EokitError, ValueError):
    """A collection or query matched no scenes."""


class NoOverlapError(EokitError, ValueError):
    """Two layers (e.g. image and label) do not overlap."""


class StacError(EokitError, OSError):
    """A STAC item or one of its assets could not be read."""


class SensorError(EokitError, KeyError):
    """An unknown sensor name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(EokitError, ValueError):
    """A configuration file or value is invalid; the message names the key."""


class DatasetNotFoundError(EokitError, FileNotFoundError):
    """A dataset is not present under the data root."""


class DatasetError(EokitError, ValueError):
    """A dataset on disk is malformed (bad layout, corrupt file, mismatched label grid)."""


class ModalityError(EokitError, ValueError):
    """A modality is unknown to a model, missing where it is required, or named twice."""


class ModalityGridError(ModalityError, DatasetError):
    """Modalities of one sample lie on pixel grids that do not align."""


class DownloadError(EokitError, OSError):
    """A download failed (offline, HTTP error) or an archive is unsafe."""


class ChecksumError(DownloadError):
    """A downloaded file does not match its published checksum."""


class ModelError(EokitError, ValueError):
    """A model name, weight or checkpoint is invalid or incompatible."""


class CheckpointMismatchError(ModelError):
    """A checkpoint does not fit the model (architecture or band set differ)."""


class CheckpointFormatError(ModelError):
    """A weights file that cannot be read safely (truncated, unknown container, needs a full pickle)."""


class LicenseError(ModelError):
    """Weights whose licence the user's settings exclude (e.g. non-commercial with allow_noncommercial=False)."""


class MetricError(EokitError, ValueError):
    """A metric is undefined for the given predictions (no valid sample, pixel or positive label)."""


class EmbeddingError(EokitError, ValueError):
    """An embedding store is unreadable, malformed or from a different model than expected."""


class PlacesOutsideError(EmbeddingError):
    """Places of a table fall outside every chip of an embedding store."""


class OverlapError(EokitError, ValueError):
    """Treated and control units do not overlap (propensities separate them): no effect is identified."""


class MissingDependencyError(EokitError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


class TimeSeriesError(EokitError, ValueError):
    """Dates of a time series are missing, unparsable, or fewer than asked for."""


class GridAlignError(CRSMismatchError):
    """Members of a stack (dates, modalities) lie on grids that do not align and no warp was asked for."""


def suggest(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """Return ' Did you mean X?' for the closest choice, or an empty string."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""



class PretrainError(EokitError, ValueError):
    """A pretraining config, input or resume that cannot work (names the value and the fix)."""


class CurationError(PretrainError):
    """Curation left no usable window (the message gives the drop counts per reason and source)."""


class LeakageError(PretrainError):
    """A pretraining input overlaps data a benchmark evaluates on."""
