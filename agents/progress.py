"""Schedules that follow the evaluation budget when it is spent faster than the steps.

SB3 passes a model's ``progress_remaining`` (1 at the start, 0 at ``total_timesteps``),
computed from env steps alone, to its schedules: the learning rate (``model.lr_schedule``),
PPO's and MaskablePPO's clip ranges (``model.clip_range``, ``model.clip_range_vf``) and
DQN's exploration rate (``model.exploration_schedule``). A run limited by
``--max-evaluations`` usually stops long before its step budget: on the benchmark table 100
unique genomes take 200-450 steps of a 20,000-step budget, so DQN's epsilon would still be
about 1 when the run ends and the agent would never act on what it learned.

`follow_evaluation_budget` wraps each of those schedules in a `BudgetSchedule`, which
calls the original at ``min(progress_remaining, budget.remaining())``: progress is the
larger of the two fractions spent (``num_timesteps / total`` and ``unique evaluations /
max_evaluations``). `EvaluationBudget.remaining` reads the run's count of unique genomes
whenever SB3 asks (DQN: after every env step; learning rates and clip ranges: at every
update), so nothing has to be pushed into the model and SB3's own bookkeeping is left
alone.

Saved models stay plain SB3 objects: a `BudgetSchedule` pickles as the schedule it wraps,
and ``load`` rebuilds ``lr_schedule`` and ``exploration_schedule`` anyway, so ``DQN.load``
never needs this module; a resumed run wraps the loaded model's schedules again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm

from nas_env.errors import ConfigError

SCHEDULES: tuple[str, ...] = ("lr_schedule", "clip_range", "clip_range_vf", "exploration_schedule")
"""The public schedule attributes of SB3 algorithms (each a callable of
``progress_remaining``; an algorithm has those that apply to it)."""


@dataclass(frozen=True)
class EvaluationBudget:
    """A budget of unique genomes and how much of it is left.

    Attributes:
        max_evaluations: The budget (>= 1).
        spent: Returns the unique genomes evaluated so far in the run.
    """

    max_evaluations: int
    spent: Callable[[], int]

    def __post_init__(self) -> None:
        if self.max_evaluations < 1:
            raise ConfigError(f"max_evaluations must be >= 1, got {self.max_evaluations}")

    def remaining(self) -> float:
        """The fraction of the budget left, from 1 (nothing spent) to 0."""
        return 1.0 - min(1.0, self.spent() / self.max_evaluations)


class BudgetSchedule:
    """An SB3 schedule that runs at least as fast as an evaluation budget is spent.

    Args:
        base: The schedule SB3 built (``progress_remaining -> value``).
        budget: The evaluation budget it follows.
    """

    def __init__(self, base: Callable[[float], Any], budget: EvaluationBudget) -> None:
        self.base = base
        self.budget = budget

    def __call__(self, progress_remaining: float) -> Any:
        return self.base(min(progress_remaining, self.budget.remaining()))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as ``base`` (a copy of it), so that a saved model holds SB3's own schedule."""
        return copy.copy, (self.base,)

    def __repr__(self) -> str:
        return f"BudgetSchedule({self.base!r}, max_evaluations={self.budget.max_evaluations})"


def follow_evaluation_budget(
    model: BaseAlgorithm, spent: Callable[[], int], max_evaluations: int
) -> EvaluationBudget:
    """Make ``model``'s schedules also count unique evaluations against ``max_evaluations``.

    Calling it again replaces the budget (schedules are never wrapped twice).

    Args:
        model: An SB3 algorithm (its schedule attributes are replaced).
        spent: Returns the unique genomes evaluated so far in the run.
        max_evaluations: The run's evaluation budget (>= 1).

    Returns:
        The budget the schedules follow.

    Raises:
        ConfigError: ``max_evaluations`` is below 1.
    """
    budget = EvaluationBudget(max_evaluations, spent)
    for name in SCHEDULES:
        schedule = getattr(model, name, None)
        if isinstance(schedule, BudgetSchedule):
            schedule = schedule.base
        if callable(schedule):
            setattr(model, name, BudgetSchedule(schedule, budget))
    return budget
