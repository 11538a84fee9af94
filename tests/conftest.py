"""Shared fixtures: small search spaces and deterministic random generators."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from config import preset_names
from nas_env import SearchSpace

PRESETS = preset_names("spaces")


@pytest.fixture(autouse=True, scope="session")
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; this also keeps parallel workers apart."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=PRESETS)
def preset_space(request: pytest.FixtureRequest) -> SearchSpace:
    """Every preset search space in turn."""
    return SearchSpace.load(request.param)


@pytest.fixture
def tiny() -> SearchSpace:
    """The `tiny` preset."""
    return SearchSpace.load("tiny")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator."""
    return np.random.default_rng(1234)
