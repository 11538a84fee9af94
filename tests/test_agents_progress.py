"""Schedules follow the evaluation budget when it is spent faster than the step budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback

from agents.callbacks import save_checkpoint
from agents.progress import SCHEDULES, BudgetSchedule, follow_evaluation_budget


class Count(BaseCallback):
    """Pretends every env step evaluates a new genome."""

    def __init__(self) -> None:
        super().__init__()
        self.spent = 0

    def _on_step(self) -> bool:
        self.spent += 1
        return True


class StopAt(BaseCallback):
    """Stops training after ``steps`` env steps."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def _on_step(self) -> bool:
        return self.num_timesteps < self.steps


def dqn() -> DQN:
    return DQN(
        "MlpPolicy",
        gym.make("CartPole-v1"),
        learning_starts=10,
        exploration_fraction=0.5,
        exploration_final_eps=0.05,
        seed=0,
        device="cpu",
    )


def test_dqn_epsilon_decays_over_the_evaluation_budget() -> None:
    followed, plain = dqn(), dqn()
    count = Count()
    follow_evaluation_budget(followed, lambda: count.spent, max_evaluations=100)
    followed.learn(10_000, callback=[count, StopAt(100)])
    plain.learn(10_000, callback=StopAt(100))
    # 100 of 100 evaluations spent: past exploration_fraction, so epsilon is final...
    assert followed.exploration_rate == pytest.approx(0.05)
    # ...while by steps alone (100 of 10,000) it has barely moved from 1.
    assert plain.exploration_rate > 0.9


def test_progress_is_the_faster_of_the_two_budgets() -> None:
    model = dqn()
    budget = follow_evaluation_budget(model, lambda: 10, max_evaluations=100)
    assert budget.remaining() == pytest.approx(0.9)
    seen = BudgetSchedule(lambda progress: progress, budget)  # what the schedules are given
    assert seen(1.0) == pytest.approx(0.9)  # 0 of 1000 steps, 10 of 100 genomes spent
    assert seen(0.5) == pytest.approx(0.5)  # 500 of 1000 steps: the steps are faster now
    epsilon = model.exploration_schedule
    assert isinstance(epsilon, BudgetSchedule)
    assert epsilon(1.0) == pytest.approx(epsilon.base(0.9))
    with pytest.raises(ValueError, match="max_evaluations"):
        follow_evaluation_budget(model, lambda: 0, max_evaluations=0)


def test_following_twice_replaces_the_budget() -> None:
    model = dqn()
    follow_evaluation_budget(model, lambda: 10, max_evaluations=100)
    follow_evaluation_budget(model, lambda: 50, max_evaluations=100)
    epsilon = model.exploration_schedule
    assert not isinstance(epsilon.base, BudgetSchedule)
    assert epsilon(1.0) == pytest.approx(epsilon.base(0.5))


def test_followed_model_saves_and_loads_with_the_plain_class(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=16, batch_size=16, device="cpu")
    follow_evaluation_budget(model, lambda: 3, max_evaluations=10)
    assert isinstance(model.clip_range, BudgetSchedule)
    save_checkpoint(model, tmp_path)
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    assert not any(isinstance(getattr(loaded, n, None), BudgetSchedule) for n in SCHEDULES)
    assert loaded.clip_range(0.5) == model.clip_range.base(0.5)
    # ...and without this project importable at all:
    script = (
        "import sys; sys.modules['agents'] = None\n"
        "from stable_baselines3 import PPO\n"
        f"model = PPO.load({str(tmp_path / 'model.zip')!r}, device='cpu')\n"
        "print(type(model.clip_range).__module__, model.clip_range(1.0))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert out.split() == ["stable_baselines3.common.utils", "0.2"]
