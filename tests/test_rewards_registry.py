"""Reward registry: built-ins, make_reward from names and mappings, custom rewards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pytest

from nas_env.errors import ConfigError
from nas_env.evaluation.result import EvalResult
from nas_env.rewards import (
    REWARDS,
    BudgetReward,
    MnasNetReward,
    QualityReward,
    Reward,
    WeightedReward,
    make_reward,
    register_reward,
    step_reward,
)


def lm(
    perplexity: float = 32.0,
    params: int = 1000,
    size_mb: float | None = 0.5,
    latency_ms: float | None = 1.0,
) -> EvalResult:
    """A successful language-model result (quality 0.5 at perplexity 32, vocabulary 1024)."""
    return EvalResult(
        status="ok",
        metric="perplexity",
        perplexity=perplexity,
        params=params,
        size_mb=size_mb,
        latency_ms=latency_ms,
    )


def failed(status: str = "oom") -> EvalResult:
    return EvalResult(status=status, message="boom", metric="perplexity")  # type: ignore[arg-type]


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Restore the registry after a test that registers rewards."""
    before = dict(REWARDS)
    yield
    REWARDS.clear()
    REWARDS.update(before)


# --- registry and make_reward -----------------------------------------------------------


def test_builtins_registered() -> None:
    assert REWARDS["quality"] is QualityReward
    assert REWARDS["weighted"] is WeightedReward
    assert REWARDS["mnasnet"] is MnasNetReward
    assert REWARDS["budget"] is BudgetReward


def test_make_reward_from_mapping_with_overrides() -> None:
    reward = make_reward({"name": "weighted", "w_size": 0.5, "w_latency": 0.0}, vocab_size=100)
    assert isinstance(reward, WeightedReward)
    assert (reward.w_quality, reward.w_size, reward.w_latency) == (0.5, 0.5, 0.0)
    assert reward.vocab_size == 100
    overridden = make_reward({"name": "weighted", "w_size": 0.5}, w_size=0.1)
    assert overridden.w_size == 0.1  # type: ignore[attr-defined]
    assert make_reward("mnasnet", mode="hard") == MnasNetReward(mode="hard")


def test_make_reward_from_reward() -> None:
    reward = BudgetReward(max_params=5)
    assert make_reward(reward) is reward
    changed = make_reward(reward, over_penalty=2.0)
    assert changed == BudgetReward(max_params=5, over_penalty=2.0)
    assert reward.over_penalty == 1.0


@pytest.mark.parametrize(
    "reward",
    [
        QualityReward(vocab_size=50),
        WeightedReward(w_quality=1, w_size=0, size_high_mb=10, failure_penalty=0.5),
        MnasNetReward(target_latency_ms=2, target_size_mb=None, mode="hard"),
        BudgetReward(max_params=100, max_size_mb=2, over_penalty=0.3),
    ],
)
def test_to_dict_round_trips(reward: Reward) -> None:
    data = reward.to_dict()
    assert data["name"] == reward.name
    rebuilt = make_reward(data)
    assert rebuilt == reward
    assert rebuilt.to_dict() == data
    assert make_reward(dict(data)).score(lm()) == reward.score(lm())


def test_custom_reward_registered_and_made_by_name(clean_registry: None) -> None:
    @register_reward("small")
    class SmallReward(Reward):
        """Score ``scale / params``."""

        def __init__(self, scale: float = 1.0, failure_penalty: float = 2.0) -> None:
            self.scale = scale
            self.failure_penalty = failure_penalty

        def score(self, result: EvalResult) -> float:
            assert result.params is not None
            return self.scale / result.params

    assert SmallReward.name == "small"
    reward = make_reward({"name": "small", "scale": 10.0})
    assert isinstance(reward, SmallReward)
    assert reward.score(lm(params=100)) == pytest.approx(0.1)
    assert reward.to_dict() == {"name": "small", "scale": 10.0, "failure_penalty": 2.0}
    assert make_reward(reward.to_dict()).to_dict() == reward.to_dict()
    assert step_reward(reward, 0.5, failed()) == (-2.0, 0.5)
    with pytest.raises(ConfigError, match="scael"):
        make_reward("small", scael=1.0)


def test_custom_dataclass_reward(clean_registry: None) -> None:
    @dataclass(frozen=True, kw_only=True)
    class Params(Reward):
        name: ClassVar[str] = "params"
        limit: int

        def score(self, result: EvalResult) -> float:
            return float((result.params or 0) <= self.limit)

    register_reward("params", Params)
    assert make_reward("params", limit=2000).score(lm(params=1000)) == 1.0
    with pytest.raises(ConfigError, match="missing required parameter 'limit'"):
        make_reward("params")


def test_duplicate_registration(clean_registry: None) -> None:
    class Mine(QualityReward):
        name: ClassVar[str] = "weighted"

    with pytest.raises(ConfigError, match="'weighted' is already registered"):
        register_reward("weighted", Mine)
    assert REWARDS["weighted"] is WeightedReward
    register_reward("weighted", Mine, overwrite=True)
    assert REWARDS["weighted"] is Mine
    assert isinstance(make_reward("weighted"), Mine)


def test_registration_errors(clean_registry: None) -> None:
    with pytest.raises(ConfigError, match="concrete subclass of Reward"):
        register_reward("thing", dict)  # type: ignore[type-var]
    with pytest.raises(ConfigError, match="concrete subclass of Reward"):
        register_reward("abstract", Reward)
    with pytest.raises(ConfigError, match="non-empty string"):
        register_reward("", QualityReward)

    class Other(QualityReward):
        name: ClassVar[str] = "other"

    with pytest.raises(ConfigError, match="'other'"):
        register_reward("renamed", Other)
    assert "renamed" not in REWARDS
