"""What the agents rely on in SB3: its public schedule attributes, rollouts of ``n_steps``
vector steps, and the one private counter (`agents.sb3_counters`).

If an SB3 release changes one of these, a test here fails first and names it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from agents.algos import ALGOS
from agents.progress import SCHEDULES, BudgetSchedule, follow_evaluation_budget
from agents.sb3_counters import N_UPDATES, gradient_updates

SMALL: dict[str, dict[str, Any]] = {
    "dqn": {"learning_starts": 8, "train_freq": 4, "target_update_interval": 8},
    "ppo": {"n_steps": 16, "batch_size": 8, "n_epochs": 2, "clip_range_vf": 0.3},
    "a2c": {"n_steps": 8},
    "maskable_ppo": {"n_steps": 16, "batch_size": 8, "n_epochs": 2},
}


def make(algo: str) -> BaseAlgorithm:
    env = ActionMasker(gym.make("CartPole-v1"), lambda _env: np.ones(2, dtype=bool))
    return ALGOS[algo]("MlpPolicy", env, seed=0, device="cpu", **SMALL[algo])


class RolloutSteps(BaseCallback):
    """Counts ``on_step`` calls between ``on_rollout_start`` and ``on_rollout_end``."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: list[int] = []

    def _on_rollout_start(self) -> None:
        self.rollouts.append(0)

    def _on_step(self) -> bool:
        self.rollouts[-1] += 1
        return True


@pytest.mark.parametrize("algo", list(ALGOS))
def test_sb3_reads_every_schedule_through_its_public_attribute(algo: str) -> None:
    model = make(algo)
    follow_evaluation_budget(model, lambda: 0, max_evaluations=10)
    wrapped = [n for n in SCHEDULES if isinstance(getattr(model, n, None), BudgetSchedule)]
    expected = {
        "dqn": ["lr_schedule", "exploration_schedule"],
        "ppo": ["lr_schedule", "clip_range", "clip_range_vf"],
        "a2c": ["lr_schedule"],
        "maskable_ppo": ["lr_schedule", "clip_range"],
    }
    assert wrapped == expected[algo]
    calls: Counter[str] = Counter()
    for name in wrapped:
        schedule = getattr(model, name)
        base = schedule.base

        def counted(progress: float, name: str = name, base: Any = base) -> Any:
            calls[name] += 1
            return base(progress)

        schedule.base = counted
    model.learn(48)
    assert set(calls) == set(wrapped)  # SB3 asked each of them during learn


@pytest.mark.parametrize("algo", [a for a in ALGOS if issubclass(ALGOS[a], OnPolicyAlgorithm)])
def test_an_on_policy_rollout_is_n_steps_vector_steps(algo: str) -> None:
    model = make(algo)
    steps = RolloutSteps()
    model.learn(3 * model.n_steps, callback=steps)
    assert steps.rollouts == [model.n_steps] * 3


@pytest.mark.parametrize("algo", list(ALGOS))
def test_the_private_update_counter_counts_and_is_saved(algo: str, tmp_path: Path) -> None:
    model = make(algo)
    assert N_UPDATES in vars(model) and gradient_updates(model) == 0
    model.learn(48)
    first = gradient_updates(model)
    assert first > 0
    model.learn(48, reset_num_timesteps=False)
    assert gradient_updates(model) > first
    model.save(tmp_path / "model.zip")
    loaded = ALGOS[algo].load(tmp_path / "model.zip", device="cpu")
    assert gradient_updates(loaded) == gradient_updates(model)
