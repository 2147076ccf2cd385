"""Turn blended model outputs into the bands of the map: classes, probabilities or values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eokit.errors import ConfigError

OUTPUTS = ("classes", "probabilities", "values")
_PROB_SCALE = {"uint8": 254.0, "uint16": 10000.0, "float32": 1.0}
_NODATA = {"uint8": 255, "uint16": 65535}


@dataclass(frozen=True)
class OutputSpec:
    """Bands, dtype, nodata and scaling of the written map."""

    kind: str
    dtype: str
    nodata: float
    band_names: tuple[str, ...]
    scale: float = 1.0
    extra: str | None = None  # 'agreement' or 'std' when an ensemble adds a band

    @property
    def count(self) -> int:
        return len(self.band_names)

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    def tags(self, classes: list[str]) -> dict[str, str]:
        t = {"EOKIT_OUTPUT": self.kind, "EOKIT_SCALE": str(self.scale)}
        if self.kind != "values":
            t["EOKIT_CLASSES"] = ",".join(classes)
        if self.kind == "classes":
            t["EOKIT_CONFIDENCE"] = "percent (0-100) of the winning class probability"
        if self.extra == "agreement":
            t["EOKIT_AGREEMENT"] = "percent (0-100) of ensemble members voting for the winning class"
        return t

    def encode(self, values: np.ndarray, valid: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
        """(K + E, h, w) blended float32 -> (count, h, w) in ``dtype``, nodata where not ``valid``.

        With ``weight`` (h, w), positive, ``values`` are weighted sums, divided here only where the
        output needs it: a class map's argmax does not (a positive weight keeps the order), only its
        confidence and extra band are divided (1-2 planes instead of K). ``values`` may be changed.
        """
        k = values.shape[0] - (1 if self.extra else 0)
        probs = values[:k]
        if self.kind == "classes":
            if k == 1:
                p = probs[0] if weight is None else np.divide(probs[0], weight, out=probs[0])
                cls, conf = (p >= 0.5).astype(np.uint8), np.maximum(p, 1 - p)
            else:
                cls, conf = _argmax_max(probs)
                if weight is not None:
                    conf /= weight
            bands = [cls, _pct(conf)]
            if self.extra:
                bands.append(_pct(values[k] if weight is None else values[k] / weight))
            out = np.stack(bands)
        else:
            if weight is not None:
                values /= weight[None]
            if self.kind == "probabilities":
                out = values if self.extra else probs
                if self.dtype != "float32":
                    out = np.clip(np.rint(out * self.scale), 0, self.scale).astype(self.dtype)
                    if self.extra:
                        out[k] = _pct(values[k])
                else:
                    out = out.astype(np.float32, copy=True)
            else:
                out = values.astype(self.dtype, copy=True)
        out[:, ~valid] = self.nodata
        return out


def _argmax_max(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class (first maximum, as argmax) and maximum over axis 0 in one pass over contiguous planes."""
    best = p[0].copy()
    cls = np.zeros(p.shape[1:], np.uint8)
    for i in range(1, p.shape[0]):
        np.copyto(cls, i, where=p[i] > best)
        np.maximum(best, p[i], out=best)
    return cls, best


def _pct(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 100), 0, 100).astype(np.uint8)


def output_spec(
    kind: str | None, *, classifier: bool, names: list[str], extra: str | None, prob_dtype: str = "uint8",
    nodata: float | None = None,
) -> OutputSpec:
    """Choose bands/dtype for ``kind`` ('classes', 'probabilities', 'values'; None: by model type)."""
    kind = kind or ("classes" if classifier else "values")
    if kind not in OUTPUTS:
        raise ConfigError(f"unknown output {kind!r}; choose one of {list(OUTPUTS)}")
    if kind != "values" and not classifier:
        raise ConfigError(f"output {kind!r} needs a classifier; this model is a regressor, use output='values'")
    if kind == "classes":
        if len(names) > 255:
            raise ConfigError(f"{len(names)} classes do not fit a uint8 class map; use output='probabilities'")
        bands = ("class", "confidence", *((extra,) if extra else ()))
        return OutputSpec(kind, "uint8", 255 if nodata is None else nodata, bands, 1.0, extra)
    if kind == "probabilities":
        if prob_dtype not in _PROB_SCALE:
            raise ConfigError(f"probability dtype {prob_dtype!r}: choose one of {list(_PROB_SCALE)}")
        nd = nodata if nodata is not None else _NODATA.get(prob_dtype, float("nan"))
        return OutputSpec(kind, prob_dtype, nd, (*names, *((extra,) if extra else ())), _PROB_SCALE[prob_dtype], extra)
    nd = float("nan") if nodata is None else nodata
    return OutputSpec(kind, "float32", nd, (*names, *((extra,) if extra else ())), 1.0, extra)
