"""Self-supervised pretraining: chips from scenes, folders and dataset splits -> curation -> a method -> weights.

Data flow: :mod:`eokit.pretrain.sources` turns the config's inputs into :class:`Chip` s (training splits only),
:mod:`eokit.pretrain.curation` drops nodata-heavy, cloudy and near-duplicate chips and balances sensors and
places, :mod:`eokit.pretrain.methods` holds the objectives (contrastive, MAE, DINO) and
:mod:`eokit.pretrain.run` fits one with Lightning and exports safetensors weights that load as ``arch.tag``.
"""

from eokit.pretrain.chips import Chip

__all__ = ["Chip"]
