"""What a model expects and returns at inference: its ``eokit.models.DataContract``.

``ModelContract`` is kept as a thin alias of :class:`eokit.models.DataContract` because the scene
inference API (``predict_scene(contract=...)``, ``eokit predict``) names it; new code uses
``DataContract`` (``ModelContract.from_config`` is ``DataContract.from_config``).
"""

from __future__ import annotations

from eokit.models.contract import ACTIVATIONS, DataContract

ModelContract = DataContract

__all__ = ["ACTIVATIONS", "DataContract", "ModelContract"]
