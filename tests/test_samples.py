"""Seeded genome samples: uniform over valid genomes, and the depth-stratified decision
sample near the size target."""

from __future__ import annotations

import pytest

from nas_env import SearchSpace
from nas_env.errors import ConfigError
from nas_env.samples import decision_sample, genome_size_mb, uniform_sample


def test_uniform_sample_is_distinct_valid_and_seeded(tiny: SearchSpace) -> None:
    first = uniform_sample(tiny, 12, seed=5)
    assert len(set(first)) == 12 and all(tiny.is_valid(g) for g in first)
    assert first == uniform_sample(tiny, 12, seed=5)
    assert first != uniform_sample(tiny, 12, seed=6)


def test_decision_sample_is_in_the_band_stratified_and_interleaved(tiny: SearchSpace) -> None:
    genomes = decision_sample(tiny, 3, seed=1)
    assert [g["layers"] for g in genomes] == [1, 2, 3, 4] * 3
    assert len(set(genomes)) == 12 and all(tiny.is_valid(g) for g in genomes)
    target = tiny.targets.size_mb
    assert all(0.6 * target <= genome_size_mb(tiny, g) <= target for g in genomes)
    assert genomes == decision_sample(tiny, 3, seed=1)
    assert genomes != decision_sample(tiny, 3, seed=2)


def test_decision_sample_band_and_depths(tiny: SearchSpace) -> None:
    genomes = decision_sample(tiny, 2, seed=3, band=(0.2, 0.5), depths=[2, 3])
    assert [g["layers"] for g in genomes] == [2, 3, 2, 3]
    assert all(0.2 <= genome_size_mb(tiny, g) <= 0.5 for g in genomes)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"band": (1.0, 0.5)}, "allowed 0 < low < high"),
        ({"band": (50.0, 60.0), "max_tries": 200}, "fewer than 2 genomes of depth 1"),
    ],
)
def test_decision_sample_errors(tiny: SearchSpace, kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        decision_sample(tiny, 2, seed=0, **kwargs)


def test_decision_sample_needs_a_size_target(tiny: SearchSpace) -> None:
    raw = tiny.to_dict()
    raw["targets"] = {}
    untargeted = SearchSpace.from_dict(raw)
    with pytest.raises(ConfigError, match="no size target"):
        decision_sample(untargeted, 1, seed=0)
