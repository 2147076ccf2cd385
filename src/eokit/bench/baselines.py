"""Baselines that every leaderboard carries, so a model is always compared to something simple.

- ``raw_pixels``: band statistics + a 4×4 thumbnail (pooled) or the pixels
  themselves (dense), with logistic regression / random forest / light decoder;
- ``spectral_indices``: NDVI-family indices (where the bands allow) with the
  same classifiers;
- ``<arch>.random``: the first backbone of the suite with seeded random
  weights (added when the suite's backbone has weights; a suite whose
  backbones are all random-init already shows it);
- ``<arch>.rgb``: the same backbone fed only the red, green and blue bands.

``with_baselines(suite)`` returns the suite with the missing ones appended
(role 'baseline'), unless the suite lists a model of that name already.
"""

from __future__ import annotations

from eokit.bench.config import ModelCfg, SuiteConfig

BASELINE_PROTOCOLS = ["linear", "random_forest", "knn5", "knn20", "decoder"]


def baseline_models(suite: SuiteConfig) -> list[ModelCfg]:
    """The standard baselines for ``suite`` (not yet filtered against the suite's own models)."""
    out = [
        ModelCfg(name="raw_pixels", kind="raw_pixels", role="baseline", protocols=BASELINE_PROTOCOLS),
        ModelCfg(name="spectral_indices", kind="spectral_indices", role="baseline", protocols=BASELINE_PROTOCOLS),
    ]
    first = next((m for m in suite.models if m.kind == "backbone" and m.role != "baseline"), None)
    if first is not None:
        stem = first.arch or first.name
        if first.weights:
            out.append(first.model_copy(update={"name": f"{stem}.random", "weights": None, "role": "baseline"}))
        if first.bands != "rgb":
            out.append(first.model_copy(update={"name": f"{first.name}.rgb", "bands": "rgb", "role": "baseline"}))
    return out


def with_baselines(suite: SuiteConfig) -> SuiteConfig:
    """``suite`` plus every standard baseline it does not list yet (when ``suite.baselines`` is true)."""
    if not suite.baselines:
        return suite
    names = {m.name for m in suite.models}
    kinds = {m.kind for m in suite.models}
    extra = [b for b in baseline_models(suite)
             if b.name not in names and not (b.kind != "backbone" and b.kind in kinds)]
    return suite.model_copy(update={"models": [*suite.models, *extra]})
