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


@pytest.fixture(scope="session")
def ray_session() -> Iterator[object]:
    """One local Ray instance for the whole session (2 CPUs, no dashboard); skips where
    the ray extra is not installed. Executors made meanwhile join it and leave it up."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
