"""Published Earth-observation foundation models: one module per family.

Each module (``prithvi``, ``ssl4eo``, ``dofa``...) builds its architectures behind the
:class:`eokit.models.Backbone` contract, registers them and their published weights
(``arch.tag`` :class:`eokit.models.WeightSpec` entries with URL, sha256, licence, bands,
normalisation) on import, and converts the published checkpoint layout in its
backbone's ``convert_checkpoint``. :mod:`eokit.models.zoo` imports every module here
(:func:`load_families`), so a new family is a new file. How each entry is proven equal
to its reference code is its ``proof`` (docs/models.md has the table).
"""

from __future__ import annotations

import importlib
import pkgutil

FAMILY_MODULES: tuple[str, ...] = tuple(
    sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
)


def load_families() -> None:
    """Import every family module (each registers its architectures and weights)."""
    for name in FAMILY_MODULES:
        importlib.import_module(f"{__name__}.{name}")
