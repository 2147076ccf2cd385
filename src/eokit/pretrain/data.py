"""Curated chips -> batches of one band set each: groups, a balanced group sampler, seasonal positives.

A batch holds chips of one sensor and band set and one size (a band-dependent stem cannot mix them); groups
are drawn equally often (``balance='sensor'``) or in proportion to their chips. A chip whose place has other
dates gets one of them as its ``positive`` (seasonal contrast, as SeCo / SSL4EO-S12).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from eokit.pretrain.chips import Chip
from eokit.pretrain.methods.base import PretrainBatch
from eokit.sensors import Band, get_sensor


@dataclass
class ChipGroup:
    """Chips sharing sensor, bands and size, stacked: images (N, C, H, W) float32, NaN filled by band means."""

    sensor: str
    bands: tuple[Band, ...]
    images: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    positives: list[list[int]]  # per chip: indices (in this group) of the same place at other dates
    labels: torch.Tensor | None
    idents: list[str]


def group_chips(chips: Sequence[Chip]) -> list[ChipGroup]:
    """Stack chips by (sensor, bands, size); statistics are the sensor's per-band defaults."""
    by_key: dict[tuple[str, tuple[str, ...], tuple[int, int]], list[Chip]] = defaultdict(list)
    for c in chips:
        by_key[(c.sensor, tuple(c.bands), c.shape)].append(c)
    groups = []
    for (sensor, names, _), cs in sorted(by_key.items(), key=lambda kv: kv[0][:2]):
        s = get_sensor(sensor)
        bands = tuple(s.band(n) for n in names)
        mean = torch.tensor([b.mean for b in bands], dtype=torch.float32)
        std = torch.tensor([b.std for b in bands], dtype=torch.float32)
        images = torch.from_numpy(np.stack([c.image for c in cs]).astype(np.float32))
        fill = mean.view(1, -1, 1, 1).expand_as(images)
        images = torch.where(torch.isfinite(images), images, fill)
        places: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(cs):
            places[c.place].append(i)
        positives = [[j for j in places[c.place] if cs[j].date != c.date and c.date is not None] for c in cs]
        labels = None
        if all(c.labels is not None for c in cs):
            labels = torch.from_numpy(np.stack([c.labels for c in cs]).astype(np.float32))  # type: ignore[misc]
        groups.append(ChipGroup(s.name, bands, images, mean, std, positives, labels, [c.ident for c in cs]))
    return groups


class GroupBatchSampler(Sampler[list[tuple[int, int]]]):
    """Endless batches of (group, index) pairs, one group per batch, seeded; ``balance`` weights the groups."""

    def __init__(self, groups: Sequence[ChipGroup], batch_size: int, seed: int = 0, balance: str = "sensor",
                 rank: int = 0, world_size: int = 1) -> None:
        self.sizes = [len(g.idents) for g in groups]
        w = np.ones(len(groups)) if balance == "sensor" else np.asarray(self.sizes, dtype=np.float64)
        self.p = w / w.sum()
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world_size

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        rng = np.random.default_rng([self.seed, self.rank])
        while True:
            g = int(rng.choice(len(self.sizes), p=self.p))
            n = min(self.batch_size, self.sizes[g])  # never the same chip twice in a batch (false negatives)
            yield [(g, int(i)) for i in rng.choice(self.sizes[g], size=n, replace=False)]

    def __len__(self) -> int:  # an endless sampler; Lightning stops at max_steps
        return 10**9


class GroupDataset(Dataset[tuple[int, int, int]]):
    """Indexing by (group, index) returns the pair and a seasonal positive's index (or -1)."""

    def __init__(self, groups: Sequence[ChipGroup], seed: int = 0) -> None:
        self.groups = list(groups)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return sum(len(g.idents) for g in self.groups)

    def __getitem__(self, key: tuple[int, int]) -> tuple[int, int, int]:  # type: ignore[override]
        g, i = key
        pos = self.groups[g].positives[i]
        return g, i, int(self.rng.choice(pos)) if pos else -1


class Collate:
    """(group, index, positive) triples of one group -> a PretrainBatch (positives when every chip has one)."""

    def __init__(self, groups: Sequence[ChipGroup]) -> None:
        self.groups = list(groups)

    def __call__(self, items: list[tuple[int, int, int]]) -> PretrainBatch:
        g = self.groups[items[0][0]]
        idx = torch.tensor([i for _, i, _ in items])
        pos = [p for _, _, p in items]
        positive = g.images[torch.tensor(pos)] if all(p >= 0 for p in pos) else None
        return PretrainBatch(image=g.images[idx], bands=g.bands, sensor=g.sensor, mean=g.mean, std=g.std,
                             positive=positive, labels=g.labels[idx] if g.labels is not None else None)
