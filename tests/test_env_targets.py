"""Targets drawn per episode (``targets="random"``) or observed (``"observed"``): in the
observation, in the reward, set by reset options, replayable, and refused where they cannot
work."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import nas_env  # noqa: F401  (registers the ids)
from nas_env.env.targets import EpisodeTargets, check_range, declared_ranges
from nas_env.errors import ConfigError

IDS = ("nas_env/SurrogateLM-v0", "nas_env/SurrogateLMDesign-v0")


def make(env_id: str = IDS[0], **kwargs: Any) -> gym.Env:
    return gym.make(env_id, targets="random", **kwargs)


@pytest.mark.parametrize("env_id", IDS)
def test_both_checkers_pass_with_targets_in_the_observation(env_id: str) -> None:
    env = make(env_id)
    base = env.unwrapped
    assert base.observation_names[-2:] == ("target.size_mb", "target.latency_ms")
    gym_check_env(base, skip_render_check=True)
    sb3_check_env(base, warn=False)
    env.close()


@pytest.mark.parametrize("observation", ("flat", "dict", "masked"))
def test_each_episode_draws_targets_in_the_ranges_and_observes_them(observation: str) -> None:
    env = make(observation=observation)
    low, high = declared_ranges()["mid"]["size_mb"]
    seen = set()
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        targets = info["targets"]
        assert low <= targets["size_mb"] <= high
        flat = obs if observation == "flat" else obs.get("targets", obs.get("observations"))
        slot = (math.log(targets["size_mb"]) - math.log(low)) / (math.log(high) - math.log(low))
        position = flat[0] if observation == "dict" else flat[-2]
        assert position == pytest.approx(slot, abs=1e-6)
        assert env.observation_space.contains(obs)
        seen.add(round(targets["size_mb"], 6))
    assert len(seen) == 6  # a new draw per episode
    again = env.reset(seed=3)[1]["targets"]
    assert again == make(observation=observation).reset(seed=3)[1]["targets"]  # seeded
    env.close()


def test_the_reward_aims_at_the_episode_targets() -> None:
    env = make()
    genome = env.unwrapped.space.default_genome()
    size = env.unwrapped.evaluator.evaluate(genome).size_mb
    scores = {}
    for target in (size / 4, size * 2):
        targets = {"size_mb": target, "latency_ms": 100.0}
        _, info = env.reset(seed=0, options={"genome": genome, "targets": targets})
        assert info["targets"] == {"size_mb": target, "latency_ms": 100.0}
        assert env.unwrapped.reward_fn.target_size_mb == target
        scores[target] = info["score"]
    assert scores[size / 4] < scores[size * 2]  # penalised only under the tight budget
    # the metric slots are relative to the episode's target: at the target it reads 0.5
    env.reset(options={"genome": genome, "targets": {"size_mb": size, "latency_ms": 100.0}})
    index = env.unwrapped.observation_names.index("metric.size")
    assert env.unwrapped._observation()[index] == pytest.approx(0.5, abs=1e-6)
    env.close()


def test_a_design_episode_is_scored_under_its_targets() -> None:
    env = make(IDS[1])
    _, info = env.reset(seed=0, options={"targets": {"size_mb": 0.2}})
    assert info["targets"]["size_mb"] == 0.2
    assert info["targets"]["latency_ms"] == env.unwrapped.space.targets.latency_ms
    done = False
    while not done:
        action = int(np.flatnonzero(env.unwrapped.action_masks())[0])
        _, reward, done, _, info = env.step(action)
    result = env.unwrapped.result
    assert reward == pytest.approx(env.unwrapped.reward_fn.score(result))
    assert env.unwrapped.reward_fn.target_size_mb == 0.2
    env.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 1.0}, "unknown field 'size'"),
        ({"size_mb": 0}, r"size_mb: must be"),
        ({"latency_ms": "fast"}, "expected a number"),
    ],
)
def test_bad_reset_targets_are_named(options: dict[str, Any], message: str) -> None:
    env = make()
    with pytest.raises(ConfigError, match=message):
        env.reset(options={"targets": options})
    env.close()


def test_fixed_targets_keep_the_observation_and_refuse_reset_targets() -> None:
    fixed = gym.make(IDS[0])
    drawn = make()
    assert drawn.observation_space.shape[0] == fixed.observation_space.shape[0] + 2
    _, info = fixed.reset(seed=0)
    assert "targets" not in info
    with pytest.raises(ConfigError, match="targets='fixed'"):
        fixed.reset(options={"targets": {"size_mb": 1.0}})
    fixed.close()
    drawn.close()


@pytest.mark.parametrize("env_id", IDS)
def test_observed_targets_are_the_fixed_ones_in_the_random_layout(env_id: str) -> None:
    observed = gym.make(env_id, targets="observed")
    drawn, fixed = make(env_id), gym.make(env_id)
    assert observed.observation_space == drawn.observation_space
    assert observed.unwrapped.observation_names == drawn.unwrapped.observation_names
    gym_check_env(observed.unwrapped, skip_render_check=True)
    space_targets = fixed.unwrapped.targets
    low, high = declared_ranges()["mid"]["size_mb"]
    slot = (math.log(space_targets["size_mb"]) - math.log(low)) / (math.log(high) - math.log(low))
    genome = observed.unwrapped.space.default_genome().to_dict()["genes"]
    for seed in range(3):
        obs, info = observed.reset(
            seed=seed, options={"genome": genome} if "Design" not in env_id else None
        )
        assert info["targets"] == space_targets
        assert obs[observed.unwrapped.observation_names.index("target.size_mb")] == pytest.approx(
            slot
        )
    if "Design" not in env_id:
        _, info_fixed = fixed.reset(seed=0, options={"genome": genome})
        _, info_observed = observed.reset(seed=0, options={"genome": genome})
        assert info_observed["score"] == info_fixed["score"]
    _, info = observed.reset(seed=0, options={"targets": {"size_mb": 0.3}})
    assert info["targets"]["size_mb"] == 0.3
    for env in (observed, drawn, fixed):
        env.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reward": "quality"}, "takes no size or latency targets"),
        ({"start": "incumbent"}, "targets='random'"),
        ({"targets": "sometimes"}, "allowed: fixed, random, observed"),
    ],
)
def test_what_cannot_be_conditioned_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        gym.make(IDS[0], **{"targets": "random", **kwargs})


def test_a_space_without_ranges_is_refused_with_the_ones_that_have_them() -> None:
    reward = gym.make(IDS[0]).unwrapped.reward_fn
    with pytest.raises(ConfigError, match=r"space 'gpt2' has no target ranges.*mid"):
        EpisodeTargets.of("random", reward, "gpt2")


def test_ranges_are_checked() -> None:
    assert check_range([0.1, 2], "x") == (0.1, 2.0)
    for bad in ([2, 1], [0, 1], [1], "1-2"):
        with pytest.raises(ConfigError, match="x"):
            check_range(bad, "x")
    assert all(low < high for r in declared_ranges().values() for low, high in r.values())
