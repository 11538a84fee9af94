"""Make sure an agent learns within its step budget, or refuse to run it.

An SB3 agent whose budget ends before its first gradient update is a random policy
with extra steps. `fit_budget` checks the resolved hyperparameters against the budget
and shrinks what must shrink, returning one sentence per change so that the CLI can say
what it changed and why:

* DQN trains once ``num_timesteps > learning_starts`` at the end of each rollout of
  ``train_freq`` steps per env: ``learning_starts`` (and, when a single rollout would not
  fit, ``train_freq``) shrink; a target network that would never be updated gets a
  smaller ``target_update_interval``.
* PPO, MaskablePPO and A2C train after each rollout of ``n_steps * n_envs`` steps:
  ``n_steps`` shrinks to fit the budget (and PPO's ``batch_size`` with it).

With an evaluation budget (``--max-evaluations``) the run may stop long before
``n_timesteps``. Each env step and each reset evaluates at most one new genome, and an
episode has at least one step, so a run stopped at ``max_evaluations`` genomes has made at
least ``ceil(max_evaluations / 2)`` steps: the checks above then use that many steps
instead of ``n_timesteps`` when it is smaller.

What cannot be fixed (a budget smaller than one step per env, ``gradient_steps: 0``, a
rollout of a single step for PPO) raises `BudgetError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from agents.algos import ALGOS, is_on_policy
from agents.hyperparams import HyperparamError


class BudgetError(HyperparamError):
    """The budget is too small for the agent to make a single gradient update."""


def sb3_default(algo: str, key: str) -> Any:
    """The constructor default of ``key`` for ``algo`` (None when it has none)."""
    param = inspect.signature(ALGOS[algo].__init__).parameters.get(key)
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def _get(algo: str, hp: Mapping[str, Any], key: str) -> Any:
    return hp[key] if key in hp else sb3_default(algo, key)


def fit_budget(
    algo: str,
    hyperparams: Mapping[str, Any],
    n_timesteps: int,
    n_envs: int,
    horizon: int = 20,
    max_evaluations: int | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Hyperparameters that make at least one gradient update within ``n_timesteps``.

    Args:
        algo: Key of `ALGOS`.
        hyperparams: Resolved hyperparameters (not modified).
        n_timesteps: Env steps of the run (all envs together).
        n_envs: Parallel environments.
        horizon: Longest episode, in steps (for ``train_freq`` counted in episodes).
        max_evaluations: The run's budget in unique genomes (None: none).

    Returns:
        The adapted hyperparameters and one human-readable line per change or note.

    Raises:
        BudgetError: No adaptation gives a gradient update within the budget.
    """
    hp = dict(hyperparams)
    if n_timesteps < n_envs:
        raise BudgetError(
            f"n_timesteps {n_timesteps} is smaller than n_envs {n_envs}: not even one step "
            "per environment; raise -n/--n-timesteps or lower --n-envs"
        )
    fit = n_timesteps
    if max_evaluations is not None:
        fit = min(n_timesteps, max(n_envs, guaranteed_steps(max_evaluations)))
    if is_on_policy(algo):
        hp, changes = _fit_on_policy(algo, hp, fit, n_envs, n_timesteps)
    else:
        hp, changes = _fit_dqn(algo, hp, fit, n_envs, horizon)
    if changes and fit < n_timesteps:
        changes.insert(
            0,
            f"note: fitted to {fit} steps rather than n_timesteps {n_timesteps}: "
            f"--max-evaluations {max_evaluations} can stop the run after that many (each "
            "step and each reset evaluates at most one new genome)",
        )
    return hp, changes


def guaranteed_steps(max_evaluations: int) -> int:
    """The fewest env steps a run can make before evaluating ``max_evaluations`` genomes."""
    return -(-max_evaluations // 2)


def _fit_on_policy(
    algo: str, hp: dict[str, Any], n_timesteps: int, n_envs: int, total: int
) -> tuple[dict[str, Any], list[str]]:
    changes: list[str] = []
    n_steps = int(_get(algo, hp, "n_steps"))
    rollout = n_steps * n_envs
    if rollout > n_timesteps:
        new = n_timesteps // n_envs
        changes.append(
            f"n_steps {n_steps} -> {new}: a rollout of n_steps * n_envs = {rollout} steps "
            f"would not fit in n_timesteps {n_timesteps}, so no update would happen"
        )
        n_steps, rollout = new, new * n_envs
        hp["n_steps"] = new
    has_batches = "batch_size" in inspect.signature(ALGOS[algo].__init__).parameters
    if has_batches and rollout < 2:
        raise BudgetError(
            f"{algo} needs rollouts of at least 2 steps (n_steps * n_envs), but "
            f"n_timesteps {n_timesteps} with n_envs {n_envs} allows {rollout}; "
            "raise -n/--n-timesteps"
        )
    if has_batches:
        batch = int(_get(algo, hp, "batch_size"))
        if batch > rollout or (changes and rollout % batch):
            fitted = max(d for d in range(2, min(batch, rollout) + 1) if rollout % d == 0)
            changes.append(
                f"batch_size {batch} -> {fitted}: minibatches must fit (and divide) the "
                f"rollout of {rollout} steps"
            )
            hp["batch_size"] = fitted
    tail = total % rollout
    if tail:
        changes.append(
            f"note: the last {tail} of {total} steps do not fill a rollout of {rollout} "
            "steps and are not trained on"
        )
    return hp, changes


def _train_freq_steps(value: Any, horizon: int) -> tuple[int, bool]:
    """(steps per env, in_episodes) of a DQN ``train_freq``."""
    if isinstance(value, list | tuple):
        freq, unit = int(value[0]), str(value[1])
        if unit not in ("step", "episode"):
            raise HyperparamError(
                f"train_freq: unit {unit!r} is not allowed; allowed: step, episode"
            )
        return (freq * horizon, True) if unit == "episode" else (freq, False)
    return int(value), False


def _fit_dqn(
    algo: str, hp: dict[str, Any], n_timesteps: int, n_envs: int, horizon: int
) -> tuple[dict[str, Any], list[str]]:
    changes: list[str] = []
    if _get(algo, hp, "gradient_steps") == 0:
        raise BudgetError("gradient_steps is 0: the agent would never train; use >= 1 or -1")
    raw_freq = _get(algo, hp, "train_freq")
    freq, in_episodes = _train_freq_steps(raw_freq, horizon)
    if freq < 1:
        raise BudgetError(f"train_freq must be >= 1, got {raw_freq!r}")
    per_rollout = freq * n_envs
    if per_rollout > n_timesteps:
        new = max(1, n_timesteps // (2 * n_envs))
        unit = f" ({raw_freq[0]} episodes of up to {horizon} steps)" if in_episodes else ""
        changes.append(
            f"train_freq {raw_freq}{unit} -> {new}: one rollout would not fit in n_timesteps "
            f"{n_timesteps}"
        )
        hp["train_freq"] = new
        freq, per_rollout = new, new * n_envs
    starts = int(_get(algo, hp, "learning_starts"))
    last_train = (n_timesteps // per_rollout) * per_rollout  # timesteps at the last rollout end
    if last_train <= starts:
        new = min(starts, n_timesteps // 2)
        if last_train <= new:
            new = last_train - 1
        changes.append(
            f"learning_starts {starts} -> {new}: training starts after learning_starts steps "
            f"and at the end of a rollout of {per_rollout} steps; with n_timesteps "
            f"{n_timesteps} the first gradient update would never come"
        )
        hp["learning_starts"] = new
        starts = new
    target = int(_get(algo, hp, "target_update_interval"))
    training_steps = n_timesteps - starts
    if target > training_steps:
        new = max(n_envs, training_steps // 4)
        changes.append(
            f"target_update_interval {target} -> {new}: the target network would never be "
            f"updated in the {training_steps} steps after learning_starts"
        )
        hp["target_update_interval"] = new
    return hp, changes
