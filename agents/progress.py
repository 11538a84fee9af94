"""Measure an SB3 agent's progress in whichever budget it spends faster: steps or genomes.

SB3's schedules (DQN's exploration rate, ``lin_<x>`` learning rates and clip ranges) read
``model._current_progress_remaining``, which SB3 computes from env steps alone. A run
limited by ``--max-evaluations`` usually stops long before its step budget: on the
benchmark table 100 unique genomes take 200-450 steps of a 20,000-step budget, so DQN's
epsilon would still be about 1 when the run ends and the agent would never act on what it
learned. `follow_evaluation_budget` makes the progress the larger of the two fractions
spent (``num_timesteps / total`` and ``unique_evaluations / max_evaluations``).

The hook is an instance attribute (not a subclass), so saved models load with the plain
SB3 class; `save_exclusions` names it for ``model.save(exclude=...)``.
"""

from __future__ import annotations

from collections.abc import Callable

from stable_baselines3.common.base_class import BaseAlgorithm

HOOK = "_update_current_progress_remaining"


def follow_evaluation_budget(
    model: BaseAlgorithm, spent: Callable[[], int], max_evaluations: int
) -> None:
    """Make ``model``'s progress also count unique evaluations against ``max_evaluations``.

    Args:
        model: An SB3 algorithm (modified in place).
        spent: Returns the unique genomes evaluated so far in the run.
        max_evaluations: The run's evaluation budget (>= 1).

    Raises:
        ValueError: ``max_evaluations`` is below 1.
    """
    if max_evaluations < 1:
        raise ValueError(f"max_evaluations must be >= 1, got {max_evaluations}")
    by_steps = type(model)._update_current_progress_remaining

    def update(num_timesteps: int, total_timesteps: int) -> None:
        by_steps(model, num_timesteps, total_timesteps)
        left = 1.0 - min(1.0, spent() / max_evaluations)
        model._current_progress_remaining = min(model._current_progress_remaining, left)

    setattr(model, HOOK, update)


def save_exclusions(model: BaseAlgorithm) -> list[str]:
    """Attributes `follow_evaluation_budget` added, which ``model.save`` must leave out."""
    return [HOOK] if HOOK in vars(model) else []
