"""Rewards: named, pluggable scoring rules for evaluated architectures.

A reward is a `Reward` object with a registry ``name``: its `Reward.score` turns a
successful `EvalResult` into a float (higher is better), its ``failure_penalty`` is what
a failed evaluation costs, and its `Reward.to_dict` records name and parameters so that
`make_reward` can rebuild it. Rewards are deterministic pure functions of the result.

Built-in rewards (see each class for its formula and defaults):

* ``target`` (`TargetReward`, the default of every registered id): quality normalised by
  the task's context-free cross-entropy, ordered by quality within the space's size and
  latency targets, with a smooth penalty beyond them.
* ``quality`` (`QualityReward`): the task quality alone.
* ``weighted`` (`WeightedReward`): ``0.5 * quality + 0.3 * size_score + 0.2 * latency_score``.
* ``mnasnet`` (`MnasNetReward`): ``quality * (latency / target) ** w * (size / target) ** w``.
* ``budget`` (`BudgetReward`): quality within a parameter / size budget, minus a penalty
  outside it.

Register your own with `register_reward` and build any of them by name or from a mapping
with `make_reward`. `step_reward` turns scores into the edit-mode step reward.
"""

from __future__ import annotations

from nas_env.rewards.base import (
    DEFAULT_FAILURE_PENALTY,
    DEFAULT_VOCAB_SIZE,
    MetricBounds,
    Reward,
    log_score,
    quality_score,
    step_reward,
)
from nas_env.rewards.builtin import BudgetReward, MnasNetReward, QualityReward, WeightedReward
from nas_env.rewards.registry import REWARDS, make_reward, register_reward, reward_class
from nas_env.rewards.target import TargetReward, normalized_quality

__all__ = [
    "DEFAULT_FAILURE_PENALTY",
    "DEFAULT_VOCAB_SIZE",
    "REWARDS",
    "BudgetReward",
    "MetricBounds",
    "MnasNetReward",
    "QualityReward",
    "Reward",
    "TargetReward",
    "WeightedReward",
    "log_score",
    "make_reward",
    "normalized_quality",
    "quality_score",
    "register_reward",
    "reward_class",
    "step_reward",
]
