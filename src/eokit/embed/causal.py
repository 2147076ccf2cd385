"""Treatment effects with image embeddings as confounders, through DoubleML's doubly robust IRM.

A table of units (treatment 0/1, outcome, and a location or chip) is joined to its embeddings,
which enter as confounders next to any tabular covariates. Before estimating, cross-fitted
propensity scores are checked for overlap; no overlap between treated and control units stops
the estimate with :class:`~eokit.errors.OverlapError`. The result carries the ATE with its 95 %
CI, group effects (GATEs) by a covariate, the overlap diagnostics, and DoubleML's sensitivity
analysis (robustness values). Needs the optional extra: ``pip install 'eokit[causal]'``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from eokit.errors import ConfigError, MissingDependencyError, OverlapError


def _doubleml() -> Any:
    try:
        import doubleml
    except ImportError as exc:
        raise MissingDependencyError(
            "eokit.embed.causal needs DoubleML, which is not installed: "
            "pip install 'eokit[causal]' (or pip install doubleml==0.11.4)") from exc
    return doubleml


def learners(kind: str | tuple[Any, Any] = "linear", seed: int = 0) -> tuple[Any, Any]:
    """(outcome regressor, propensity classifier): ``'linear'``, ``'boosting'`` or your own pair.

    ``'linear'``: standardised ridge (RidgeCV) and L2 logistic regression; ``'boosting'``: small
    histogram gradient boosting for both (nonlinear confounding, more units needed).
    """
    from sklearn.base import clone

    if not isinstance(kind, str):
        reg, clf = kind
        return clone(reg), clone(clf)
    if kind == "linear":
        from sklearn.linear_model import LogisticRegression, RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return (make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13))),
                make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)))
    if kind == "boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        kw = {"max_iter": 150, "max_depth": 3, "learning_rate": 0.05, "random_state": seed}
        return HistGradientBoostingRegressor(**kw), HistGradientBoostingClassifier(**kw)
    raise ConfigError(f"learners={kind!r} is not 'linear' or 'boosting' (or a (regressor, "
                      "classifier) pair of sklearn estimators)")


@dataclass
class OverlapDiagnostics:
    """Propensity-score ranges of treated and control units and how much of them overlaps."""

    treated_range: tuple[float, float]
    control_range: tuple[float, float]
    common_support: tuple[float, float]
    share_in_support: float
    share_extreme: float  # propensity < trim or > 1 - trim
    trim: float


@dataclass
class CausalResult:
    """An effect estimate: ATE with 95 % CI, optional group effects, overlap and sensitivity."""

    ate: float
    se: float
    ci: tuple[float, float]
    n: int
    n_treated: int
    overlap: OverlapDiagnostics
    sensitivity: dict[str, float]
    gates: list[dict[str, Any]] = field(default_factory=list)
    confounders: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def overlap_diagnostics(propensity: np.ndarray, treatment: np.ndarray, *, trim: float = 0.01,
                        min_share: float = 0.5, max_extreme: float = 0.5,
                        where: str = "units") -> OverlapDiagnostics:
    """Summarise overlap; raise :class:`OverlapError` when treated and control do not overlap.

    Stops when the propensity ranges of the two groups are disjoint, when fewer than
    ``min_share`` of the units lie in their common support, or when more than ``max_extreme``
    have propensities outside [trim, 1 - trim].
    """
    ps = np.asarray(propensity, dtype=np.float64)
    d = np.asarray(treatment).astype(bool)
    pt, pc = ps[d], ps[~d]
    lo, hi = max(pt.min(), pc.min()), min(pt.max(), pc.max())
    inside = float(((ps >= lo) & (ps <= hi)).mean()) if lo <= hi else 0.0
    extreme = float(((ps < trim) | (ps > 1 - trim)).mean())
    diag = OverlapDiagnostics((float(pt.min()), float(pt.max())), (float(pc.min()), float(pc.max())),
                              (float(lo), float(hi)), inside, extreme, trim)
    why = None
    if lo > hi:
        why = (f"the propensity ranges do not meet: treated {diag.treated_range[0]:.3f}-"
               f"{diag.treated_range[1]:.3f}, control {diag.control_range[0]:.3f}-"
               f"{diag.control_range[1]:.3f}")
    elif inside < min_share:
        why = f"only {inside:.0%} of the units lie in the common support {lo:.3f}-{hi:.3f}"
    elif extreme > max_extreme:
        why = f"{extreme:.0%} of the units have propensities outside [{trim}, {1 - trim}]"
    if why:
        raise OverlapError(
            f"{where}: no overlap between treated and control units: {why}. The confounders "
            "predict treatment (almost) perfectly, so no effect is identified; restrict the units "
            "to comparable places (e.g. the common support) or study another contrast")
    return diag


def confounders_for(units: Any, *, embeddings: np.ndarray | None = None, store: Any = None,
                    chip_column: str | None = None, covariates: Sequence[str] = (),
                    n_components: int | None = None, seed: int = 0,
                    where: str = "units") -> np.ndarray:
    """The confounder matrix: unit embeddings (given, by chip id, or by location) + covariates.

    ``embeddings`` (n, D) are aligned with the rows; else ``store`` (an ``EmbeddingStore``) gives
    them by ``units[chip_column]`` matched to ``store.table['chip_id']``, or by the units'
    geometry (:func:`eokit.embed.downstream.join_places`). ``n_components`` reduces them by PCA.
    """
    parts: list[np.ndarray] = []
    emb: np.ndarray | None = None
    if embeddings is not None:
        emb = np.asarray(embeddings, dtype=np.float64)
        if emb.ndim != 2 or len(emb) != len(units):
            raise ConfigError(f"{where}: embeddings have shape {emb.shape}; expected "
                              f"({len(units)}, D), one row per unit")
    elif store is not None and chip_column is not None:
        ids = store.table["chip_id"].astype(str).to_numpy()
        pos = {c: i for i, c in enumerate(ids)}
        wanted = units[chip_column].astype(str).to_numpy()
        missing = [w for w in wanted if w not in pos]
        if missing:
            raise ConfigError(f"{where}: {len(missing)} chip ids of column {chip_column!r} are not "
                              f"in the embedding store (e.g. {', '.join(missing[:5])}); embed "
                              "those chips or drop the rows")
        emb = np.asarray(store.vectors, dtype=np.float64)[[pos[w] for w in wanted]]
    elif store is not None:
        from eokit.embed.downstream import join_places

        X, _ = join_places(units, store, where=where)
        emb = X.astype(np.float64)
    if emb is not None:
        if n_components:
            from sklearn.decomposition import PCA

            emb = PCA(n_components=n_components, random_state=seed).fit_transform(emb)
        parts.append(emb)
    for c in covariates:
        if c not in units.columns:
            raise ConfigError(f"{where}: covariate {c!r} is not a column (columns: "
                              f"{', '.join(map(str, units.columns))})")
        parts.append(units[c].to_numpy(dtype=np.float64)[:, None])
    if not parts:
        raise ConfigError(f"{where}: no confounders: pass embeddings=, store= or covariates=")
    X = np.hstack(parts)
    if not np.isfinite(X).all():
        raise ConfigError(f"{where}: the confounders have missing or infinite values; drop or "
                          "impute those rows")
    return X


def _groups(values: Any, n_bins: int) -> Any:
    import pandas as pd

    s = pd.Series(values).reset_index(drop=True)
    if s.dtype.kind in "fiu" and s.nunique() > 10:
        s = pd.qcut(s, n_bins, duplicates="drop").astype(str)
    return pd.get_dummies(s.astype(str)).astype(bool)


def estimate_effects(units: Any, *, treatment: str = "treatment", outcome: str = "outcome",
                     embeddings: np.ndarray | None = None, store: Any = None,
                     chip_column: str | None = None, covariates: Sequence[str] = (),
                     n_components: int | None = None, by: str | None = None, n_bins: int = 4,
                     learner: str | tuple[Any, Any] = "linear", n_folds: int = 5,
                     trim: float = 0.01, min_share: float = 0.5, max_extreme: float = 0.5,
                     cf_y: float = 0.03, cf_d: float = 0.03, seed: int = 0,
                     where: str = "units") -> CausalResult:
    """Average (and, with ``by``, group) treatment effects with embeddings as confounders.

    Doubly robust DoubleML IRM with ``n_folds`` cross-fitting; overlap is checked first on
    cross-fitted propensities (:func:`overlap_diagnostics`); the sensitivity analysis reports
    DoubleML's robustness values ``rv``/``rva`` and the bounds for confounding of strength
    ``cf_y``/``cf_d``.
    """
    for c in (treatment, outcome) + ((by,) if by else ()):
        if c not in units.columns:
            raise ConfigError(f"{where}: column {c!r} is missing (columns: "
                              f"{', '.join(map(str, units.columns))})")
    d = units[treatment].to_numpy()
    if not np.isin(d, (0, 1)).all():
        raise ConfigError(f"{where}: treatment column {treatment!r} must hold only 0 and 1 "
                          f"(found {sorted(set(np.unique(d).tolist()) - {0, 1})[:5]})")
    d = d.astype(np.float64)
    y = units[outcome].to_numpy(dtype=np.float64)
    n_t = int(d.sum())
    if n_t < n_folds or len(d) - n_t < n_folds:
        raise OverlapError(f"{where}: {n_t} treated and {len(d) - n_t} control units; each group "
                           f"needs at least {n_folds} units (one per fold) to compare them")
    if not np.isfinite(y).all():
        raise ConfigError(f"{where}: outcome {outcome!r} has missing values; drop those rows")
    X = confounders_for(units, embeddings=embeddings, store=store, chip_column=chip_column,
                        covariates=covariates, n_components=n_components, seed=seed, where=where)
    dml = _doubleml()
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    ml_g, ml_m = learners(learner, seed)
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    ps = cross_val_predict(clone(ml_m), X, d.astype(int), cv=cv, method="predict_proba")[:, 1]
    diag = overlap_diagnostics(ps, d, trim=trim, min_share=min_share, max_extreme=max_extreme,
                               where=where)
    with warnings.catch_warnings():  # DoubleML's own pandas deprecation notices
        warnings.filterwarnings("ignore", module="doubleml")
        state = np.random.get_state()  # DoubleML draws its sample splits from numpy's global RNG
        np.random.seed(seed)
        try:
            data = dml.DoubleMLData.from_arrays(X, y, d)
            irm = dml.DoubleMLIRM(data, ml_g, ml_m, n_folds=n_folds, trimming_threshold=trim)
            irm.fit()
        finally:
            np.random.set_state(state)
        lo, hi = (float(v) for v in irm.confint(level=0.95).iloc[0])
        irm.sensitivity_analysis(cf_y=cf_y, cf_d=cf_d, rho=1.0)
        sp = irm.sensitivity_params
        sens = {"rv": float(sp["rv"][0]), "rva": float(sp["rva"][0]), "cf_y": cf_y, "cf_d": cf_d,
                "theta_lower": float(sp["theta"]["lower"][0]),
                "theta_upper": float(sp["theta"]["upper"][0]),
                "ci_lower": float(sp["ci"]["lower"][0]), "ci_upper": float(sp["ci"]["upper"][0])}
        gates: list[dict[str, Any]] = []
        if by:
            groups = _groups(units[by].to_numpy(), n_bins)
            g = irm.gate(groups=groups)
            ci = g.confint(level=0.95)
            for name in groups.columns:
                gates.append({"group": f"{by}={name}", "n": int(groups[name].sum()),
                              "effect": float(ci.loc[name, "effect"]),
                              "ci": (float(ci.loc[name, "2.5 %"]), float(ci.loc[name, "97.5 %"]))})
    return CausalResult(ate=float(irm.coef[0]), se=float(irm.se[0]), ci=(lo, hi), n=len(d),
                        n_treated=n_t, overlap=diag, sensitivity=sens, gates=gates,
                        confounders=X.shape[1])
