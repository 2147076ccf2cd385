"""Benchmark datasets read from their published layouts."""

from eokit.datasets.base import DATASETS, EODataset, get_dataset, list_datasets, register
from eokit.datasets.spec import DatasetSpec, Download

__all__ = ["DATASETS", "DatasetSpec", "Download", "EODataset", "get_dataset", "list_datasets", "register"]
