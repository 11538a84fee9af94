"""Shared fixtures: small search spaces and deterministic random generators."""

from __future__ import annotations

import numpy as np
import pytest

from config import preset_names
from nas_env import SearchSpace

PRESETS = preset_names("spaces")


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
