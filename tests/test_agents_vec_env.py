"""InFlightVecEnv: every env's candidate submitted before any env steps, a candidate two
envs propose trained once, and exactly DummyVecEnv where nothing can be submitted."""

from __future__ import annotations

import threading
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from fakes import FakeExecutor
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

import nas_env  # noqa: F401  (registers the ids)
from agents.vec_env import InFlightVecEnv, make_in_flight_vec_env
from nas_env.evaluation import TrainSettings
from nas_env.evaluation.jobs import EvaluatorRecipe
from nas_env.evaluation.parallel import ParallelEvaluator

EDIT_ID = "nas_env/TransformerLM-v2"


def parallel(executor: FakeExecutor) -> ParallelEvaluator:
    recipe = EvaluatorRecipe.of("tiny", "lm/stdlib", "tiny", TrainSettings(threads=1))
    return ParallelEvaluator(recipe, executor, cache=False)


def distinct_actions(venv: Any) -> np.ndarray:
    """One allowed edit per env, each leading to another genome (not ``stop``)."""
    picks: list[int] = []
    seen: set[str] = set()
    for env in venv.envs:
        base = env.unwrapped
        for action in np.flatnonzero(base.action_masks()[:-1]):
            genome = base.candidate(int(action))
            if genome is not None and genome.key() not in seen:
                seen.add(genome.key())
                picks.append(int(action))
                break
    return np.array(picks)


def test_every_candidate_of_a_step_trains_at_once() -> None:
    executor = FakeExecutor(capacity=2)
    venv = make_in_flight_vec_env(EDIT_ID, 2, 0, {"evaluator": parallel(executor)})
    try:
        venv.reset()
        assert len(executor.runs) == 1  # both envs start at the default genome: one run
        executor.barrier = threading.Barrier(2, timeout=10)  # sequential runs would break it
        _obs, _rewards, _dones, infos = venv.step(distinct_actions(venv))
        assert [i["status"] for i in infos] == ["ok", "ok"]
        assert [i["cache_hit"] for i in infos] == [False, False]
        assert executor.peak == 2 and len(executor.runs) == 3
    finally:
        venv.close()
    assert executor.closed


def test_a_candidate_two_envs_propose_trains_once() -> None:
    executor = FakeExecutor(capacity=2)
    venv = make_in_flight_vec_env(EDIT_ID, 2, 0, {"evaluator": parallel(executor)})
    try:
        venv.reset()
        action = distinct_actions(venv)[0]
        _obs, _rewards, _dones, infos = venv.step(np.array([action, action]))
        assert infos[0]["candidate_key"] == infos[1]["candidate_key"]
        assert len(executor.runs) == 2  # the start genome, then the shared candidate
        assert len(set(executor.runs)) == 2
    finally:
        venv.close()


@pytest.mark.parametrize("env_id", ["nas_env/SurrogateLM-v0", "nas_env/SurrogateLMDesign-v0"])
def test_without_a_submitting_evaluator_it_is_dummy_vec_env(env_id: str) -> None:
    venvs = [
        make_vec_env(env_id, n_envs=2, seed=4, vec_env_cls=cls)
        for cls in (DummyVecEnv, InFlightVecEnv)
    ]
    rng = np.random.default_rng(0)
    outputs: list[list[Any]] = [[], []]
    observations = [v.reset() for v in venvs]
    assert np.array_equal(observations[0], observations[1])
    for _ in range(12):
        masks = venvs[0].env_method("action_masks")
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        for out, venv in zip(outputs, venvs, strict=True):
            obs, rewards, dones, _infos = venv.step(actions)
            out.append((obs.copy(), rewards.copy(), dones.copy()))
    for a, b in zip(*outputs, strict=True):
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)
    for venv in venvs:
        venv.close()


def test_candidate_is_what_step_evaluates() -> None:
    env = gym.make(EDIT_ID, evaluator=parallel(FakeExecutor()))
    env.reset(seed=0)
    base = env.unwrapped
    stop = len(base.action_names) - 1
    assert base.candidate(stop) is None and base.candidate(10_000) is None
    action = int(np.flatnonzero(base.action_masks()[:-1])[0])
    expected = base.candidate(action)
    _obs, _reward, _term, _trunc, info = env.step(action)
    assert info["candidate_key"] == expected.key()
    env.close()
