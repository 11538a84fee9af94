"""A vector env whose step trains every env's candidate at once.

`InFlightVecEnv` is SB3's `DummyVecEnv` (the envs live in this process, stepped in
order) with one change in ``step_async``: before any env steps, it asks each env for the
genome its action would evaluate (`NASEnv.candidate`) and submits the uncached ones to the
envs' shared evaluator (`nas_env.evaluation.parallel.ParallelEvaluator`). ``step_wait``
then steps the envs as `DummyVecEnv` does; each env's evaluation waits on the future
already running, so N envs keep N workers busy. A genome two envs propose in one step is
trained once. With an evaluator that cannot submit (in-process training, a table) it is
exactly a `DummyVecEnv`.

`make_in_flight_vec_env` builds it the way ``make_vec_env`` would (seeds, `Monitor`),
with one evaluator made from the env kwargs and shared by every env, so that one
executor serves them all. `process_threads` sets the torch threads of a run, and of the
subprocess envs it starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv


def submitter(env: gym.Env) -> Any:
    """The ``submit`` method of ``env``'s evaluator, or None when it has none."""
    evaluator = getattr(env.unwrapped, "evaluator", None)
    submit = getattr(evaluator, "submit", None)
    return submit if callable(submit) else None


class InFlightVecEnv(DummyVecEnv):
    """`DummyVecEnv` that submits every env's candidate before stepping (module docs)."""

    def step_async(self, actions: np.ndarray) -> None:
        super().step_async(actions)
        for env, action in zip(self.envs, actions, strict=True):
            submit = submitter(env)
            candidate = getattr(env.unwrapped, "candidate", None)
            if submit is None or candidate is None:
                continue
            genome = candidate(action)
            if genome is not None:
                submit(genome)


def make_in_flight_vec_env(
    env_id: str, n_envs: int, seed: int, env_kwargs: Mapping[str, Any]
) -> InFlightVecEnv:
    """``n_envs`` envs of ``env_id`` sharing one evaluator built from ``env_kwargs``
    (seeded ``seed + i`` and wrapped in `Monitor`, as ``make_vec_env`` does)."""
    first = gym.make(env_id, **dict(env_kwargs))
    shared = first.unwrapped.evaluator
    rest = dict(env_kwargs)

    def make(index: int) -> Any:
        def build() -> gym.Env:
            env = first if index == 0 else gym.make(env_id, **{**rest, "evaluator": shared})
            env = Monitor(env)
            env.action_space.seed(seed + index)
            return env

        return build

    venv = InFlightVecEnv([make(i) for i in range(n_envs)])
    venv.seed(seed)
    return venv


@contextmanager
def process_threads(threads: int) -> Iterator[None]:
    """Use ``threads`` torch CPU threads here and in env subprocesses (0: leave as is)."""
    if threads <= 0:
        yield
        return
    before, env_before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # inherited by SubprocVecEnv workers
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if env_before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_before
