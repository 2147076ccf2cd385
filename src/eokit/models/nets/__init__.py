"""Pure-PyTorch network bodies (no eokit imports), wrapped as Backbones elsewhere in ``eokit.models``.

They import nothing from eokit, so a bare training driver on a machine without eokit's geospatial
dependencies can load them by file path (docs/pretrain.md).
"""
