"""The env's reward: a name, mapping or `Reward`, completed from the task and the space."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nas_env.rewards import MetricBounds, Reward, make_reward, reward_class
from nas_env.space import SearchSpace


def env_reward(
    reward: str | dict[str, Any] | Reward, space: SearchSpace, vocab_size: int
) -> Reward:
    """The reward an env scores with.

    A `Reward` object is used as given. A name or mapping is built with `make_reward`,
    measuring perplexity against the task's vocabulary (``vocab_size``) unless it says
    otherwise, and, for rewards with ``space_targets``, aiming at the space's size and
    latency targets wherever the mapping leaves a target unset.
    """
    if isinstance(reward, Reward):
        return reward
    spec = {"name": reward} if isinstance(reward, str) else dict(reward)
    cls = reward_class(str(spec.get("name")))
    if "vocab_size" in cls.parameter_names() and vocab_size >= 2:  # a series task has no ids
        spec.setdefault("vocab_size", vocab_size)
    if getattr(cls, "space_targets", False):
        if spec.get("target_size_mb") is None:
            spec["target_size_mb"] = space.targets.size_mb
        if spec.get("target_latency_ms") is None:
            spec["target_latency_ms"] = space.targets.latency_ms
    return make_reward(spec)


def metric_bounds(reward: Reward, vocab_size: int) -> MetricBounds:
    """How the observation's metric slots normalise a result under ``reward``
    (`Reward.metric_bounds`, with the task's vocabulary where the reward names none)."""
    bounds = reward.metric_bounds()
    if bounds.vocab_size is not None or vocab_size < 2:  # a series task has no vocabulary
        return bounds
    return replace(bounds, vocab_size=vocab_size)
