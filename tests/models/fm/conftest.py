"""Fixtures for the foundation-model tests (helpers live in fm_ref.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


@pytest.fixture
def seeded_input() -> Callable[..., torch.Tensor]:
    def make(*shape: int, seed: int = 0) -> torch.Tensor:
        return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))

    return make
