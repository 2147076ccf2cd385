"""Benchmark datasets read from their published layouts."""

from eokit.datasets.base import (
    DATASETS,
    DatasetSpec,
    Download,
    EODataset,
    get_dataset,
    list_datasets,
    register,
)

__all__ = ["DATASETS", "DatasetSpec", "Download", "EODataset", "get_dataset", "list_datasets", "register"]
