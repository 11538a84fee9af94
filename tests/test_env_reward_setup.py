"""The env's reward: completed from the task's vocabulary and the space's targets."""

from __future__ import annotations

from nas_env.env.reward_setup import env_reward
from nas_env.rewards import TargetReward, WeightedReward
from nas_env.space import SearchSpace


def test_names_and_mappings_are_completed_from_the_task_and_the_space() -> None:
    space = SearchSpace.load("tiny")
    target = env_reward("target", space, 512)
    assert isinstance(target, TargetReward) and target.vocab_size == 512
    assert (target.target_size_mb, target.target_latency_ms) == (1.0, 1.5)
    given = env_reward({"name": "target", "target_latency_ms": 9.0}, space, 512)
    assert (given.target_size_mb, given.target_latency_ms) == (1.0, 9.0)
    weighted = env_reward({"name": "weighted", "w_size": 0.1}, space, 300)
    assert isinstance(weighted, WeightedReward) and weighted.vocab_size == 300


def test_a_reward_object_is_used_as_given() -> None:
    reward = TargetReward(target_size_mb=3.0)
    assert env_reward(reward, SearchSpace.load("tiny"), 512) is reward
